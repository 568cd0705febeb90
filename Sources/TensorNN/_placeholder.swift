// TensorNN
