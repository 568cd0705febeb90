// The library product: `import ModelFile` gives a Swift program everything in the library
// contract without naming an internal module: plain tensor values, every file
// format, the tensor runtime, modules, optimizers and data, and the workflows behind the command.

@_exported import TensorData
@_exported import ModelFormats
@_exported import TensorCore
@_exported import TensorNN
@_exported import ModelFileKit
