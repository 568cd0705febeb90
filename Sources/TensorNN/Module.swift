// The module abstraction: a function of a tensor with named parameters and named children.
//
// Names follow PyTorch's `state_dict`: a module's own parameters first, then each child's in
// registration order, joined with dots (`linear1.weight`, `0.bias`, `encoder.0.weight`).

import TensorData

/// A layer or a network: maps a tensor to a tensor and owns named parameters and child modules.
///
/// Conforming types list their own parameters and children in registration order; everything
/// else (parameter names, `parameters()`, state dicts) follows from those two lists:
///
/// ```swift
/// final class TwoLayers: Module {
///     let hidden = Linear(inFeatures: 4, outFeatures: 8)
///     let output = Linear(inFeatures: 8, outFeatures: 1)
///     var children: [(name: String, module: any Module)] { [("hidden", hidden), ("output", output)] }
///     func forward(_ x: Tensor) -> Tensor { output(hidden(x).relu()).sigmoid() }
/// }
/// ```
public protocol Module: AnyObject {
    /// Computes the module's output for `input`.
    func forward(_ input: Tensor) -> Tensor

    /// The parameters this module owns directly, with their local names (`weight`, `bias`), in
    /// registration order. Defaults to none.
    var ownParameters: [(name: String, parameter: Parameter)] { get }

    /// The child modules, with their names, in registration order. Defaults to none.
    var children: [(name: String, module: any Module)] { get }
}

extension Module {
    /// No parameters of its own.
    public var ownParameters: [(name: String, parameter: Parameter)] { [] }

    /// No children.
    public var children: [(name: String, module: any Module)] { [] }

    /// Runs ``forward(_:)``: `model(x)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input) }

    /// Every parameter with its dotted name, in PyTorch's `state_dict` order: own parameters, then
    /// each child's, recursively. A parameter shared by two modules appears under both names.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        var result: [(name: String, parameter: Parameter)] = []
        // An explicit stack instead of recursion; children are pushed in reverse to keep their order.
        var pending: [(prefix: String, module: any Module)] = [("", self)]
        while let (prefix, module) = pending.popLast() {
            for (name, parameter) in module.ownParameters { result.append((prefix + name, parameter)) }
            for (name, child) in module.children.reversed() { pending.append((prefix + name + ".", child)) }
        }
        return result
    }

    /// The distinct parameters in ``namedParameters()`` order (a shared parameter once), the list
    /// optimizers take, like PyTorch's `module.parameters()`. Optimizer state indices refer to it.
    public func parameters() -> [Parameter] {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().compactMap { seen.insert(ObjectIdentifier($0.parameter)).inserted ? $0.parameter : nil }
    }

    /// The total number of elements in ``parameters()``.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.elementCount } }

    /// Drops every parameter's gradient (PyTorch's `module.zero_grad()`).
    public func zeroGrad() {
        for parameter in parameters() { parameter.zeroGrad() }
    }

    /// The parameters as a state dict: PyTorch's names and order, values stored as `dtype`
    /// (float32 by default).
    ///
    /// Traps if two parameters have the same name (a module listing a name twice is a bug).
    public func stateDict(as dtype: DType = .f32) -> StateDict {
        var result = StateDict()
        for (name, parameter) in namedParameters() {
            do {
                try result.append(name, parameter.value.rawTensor(as: dtype))
            } catch {
                preconditionFailure("stateDict(): the module lists the parameter name \"\(name)\" twice")
            }
        }
        return result
    }
}
