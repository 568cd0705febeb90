// Tensor names are compared by their bytes everywhere (ExactString); every module that handles
// tensors sees the type through TensorData.
@_exported import ExactText
