// The module abstraction: a function of a tensor with named parameters and named children.
//
// Names follow PyTorch's `state_dict`: a module's own parameters first, then each child's in
// registration order, joined with dots (`linear1.weight`, `0.bias`, `encoder.0.weight`). A module
// that does not list its parameters and children is reflected (ModuleReflection.swift): its stored
// properties are its attributes, named as PyTorch names attributes.

import TensorData

/// A layer or a network: maps a tensor to a tensor and owns named parameters and child modules.
///
/// A custom network needs no registration code: its stored `Parameter`, module, optional and
/// array-of-module properties are found by reflection and named by their property names, in
/// declaration order, as PyTorch names the attributes of an `nn.Module`:
///
/// ```swift
/// final class Net: Module {
///     let linear1 = Linear(inFeatures: 8, outFeatures: 6)
///     let blocks = [Linear(inFeatures: 6, outFeatures: 6), Linear(inFeatures: 6, outFeatures: 6)]
///     let output = Linear(inFeatures: 6, outFeatures: 1)
///     func forward(_ x: Tensor) -> Tensor {
///         var h = linear1(x).relu()
///         for block in blocks { h = block(h).relu() }
///         return output(h).sigmoid()
///     }
/// }
/// // linear1.weight, linear1.bias, blocks.0.weight, blocks.0.bias, blocks.1.weight, …, output.bias
/// ```
///
/// See ``ownParameters`` for the reflection rules and what traps. A module may instead list its
/// parameters and children itself by implementing ``ownParameters`` and ``children``.
public protocol Module: AnyObject {
    /// Computes the module's output for `input`.
    func forward(_ input: Tensor) -> Tensor

    /// The parameters this module owns directly, with their local names (`weight`, `bias`), in
    /// registration order.
    ///
    /// By default they are found by reflection: every stored property holding a ``Parameter``
    /// (directly or as an optional), in declaration order, superclass properties first, named by the
    /// property name. Array properties and module properties become ``children``. Traps, naming the
    /// property, when a property holds modules or parameters inside a value reflection cannot name
    /// (a tuple, a dictionary, a set, a struct or an enum); ``checkReflection()`` throws the same
    /// fault as an error.
    var ownParameters: [(name: String, parameter: Parameter)] { get }

    /// The child modules, with their names, in registration order.
    ///
    /// By default they are found by reflection (see ``ownParameters``): every stored property
    /// holding a module (directly or as an optional) is a child named by the property; an array of
    /// modules or parameters is a child named by the property whose entries are named `0`, `1`, …
    /// as in PyTorch's `nn.ModuleList` and `nn.ParameterList`.
    var children: [(name: String, module: any Module)] { get }
}

extension Module {
    /// The stored `Parameter` properties, found by reflection (see ``Module/ownParameters``).
    public var ownParameters: [(name: String, parameter: Parameter)] {
        ModuleReflection.membersOrTrap(of: self).parameters
    }

    /// The stored module properties and arrays of modules, found by reflection (see ``Module/children``).
    public var children: [(name: String, module: any Module)] {
        ModuleReflection.membersOrTrap(of: self).children
    }

    /// Runs ``forward(_:)``: `model(x)`.
    public func callAsFunction(_ input: Tensor) -> Tensor { forward(input) }

    /// Every parameter with its dotted name, in PyTorch's `state_dict` order: own parameters, then
    /// each child's, recursively. A parameter shared by two modules appears under both names. A
    /// module that contains itself (a cycle) is visited once.
    public func namedParameters() -> [(name: String, parameter: Parameter)] {
        var result: [(name: String, parameter: Parameter)] = []
        var path: [ObjectIdentifier] = []
        ModuleTree.collectParameters(of: self, prefix: "", path: &path, into: &result)
        return result
    }

    /// The distinct parameters in ``namedParameters()`` order (a shared parameter once), the list
    /// optimizers take, like PyTorch's `module.parameters()`. Optimizer state indices refer to it.
    public func parameters() -> [Parameter] {
        var seen = Set<ObjectIdentifier>()
        return namedParameters().compactMap { seen.insert(ObjectIdentifier($0.parameter)).inserted ? $0.parameter : nil }
    }

    /// The distinct parameters that require a gradient, in ``parameters()`` order: what an
    /// optimizer should update when part of the model is frozen (PyTorch's
    /// `[p for p in model.parameters() if p.requires_grad]`), e.g. only the adapters after
    /// ``applyLoRA(to:rank:alpha:useRSLoRA:using:)``.
    public func trainableParameters() -> [Parameter] {
        parameters().filter(\.requiresGrad)
    }

    /// Every module of the tree with its dotted name, the module itself first under `""`, then each
    /// child before its own children (PyTorch's `named_modules()`); a module reachable twice is listed once.
    public func namedModules() -> [(name: String, module: any Module)] {
        var result: [(name: String, module: any Module)] = []
        var seen = Set<ObjectIdentifier>()
        var pending: [(name: String, module: any Module)] = [("", self)]
        while let (name, module) = pending.popLast() {
            guard seen.insert(ObjectIdentifier(module)).inserted else { continue }
            result.append((name, module))
            for (childName, child) in module.children.reversed() {
                pending.append((name.isEmpty ? childName : name + "." + childName, child))
            }
        }
        return result
    }

    /// The total number of elements in ``parameters()``.
    public var parameterCount: Int { parameters().reduce(0) { $0 + $1.elementCount } }

    /// Drops every parameter's gradient (PyTorch's `module.zero_grad()`).
    public func zeroGrad() {
        for parameter in parameters() { parameter.zeroGrad() }
    }

    /// Sets ``Parameter/requiresGrad`` on every parameter: `false` freezes the whole module.
    public func setRequiresGrad(_ requiresGrad: Bool) {
        for parameter in parameters() { parameter.requiresGrad = requiresGrad }
    }

    /// Checks that every module of the tree can be reflected: throws
    /// ``NNError/unreflectableProperty(module:property:kind:)`` for the first property that holds
    /// modules or parameters inside a value reflection cannot name (a tuple, dictionary, set, struct
    /// or enum), the fault that ``namedParameters()`` would trap on. Modules that list their own
    /// parameters and children are not reflected and always pass.
    public func checkReflection() throws {
        let collector = ModuleReflection.FaultCollector()
        ModuleReflection.$faultCollector.withValue(collector) {
            _ = namedParameters()
        }
        if let fault = collector.firstFault { throw fault }
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

/// Walks of the module tree.
enum ModuleTree {
    /// Appends the parameters of `module` and its descendants, depth first, skipping a child that is
    /// already on the path from the root (a cycle).
    static func collectParameters(
        of module: any Module, prefix: String, path: inout [ObjectIdentifier],
        into result: inout [(name: String, parameter: Parameter)]
    ) {
        path.append(ObjectIdentifier(module))
        defer { path.removeLast() }
        for (name, parameter) in module.ownParameters { result.append((prefix + name, parameter)) }
        for (name, child) in module.children where !path.contains(ObjectIdentifier(child)) {
            collectParameters(of: child, prefix: prefix + name + ".", path: &path, into: &result)
        }
    }
}
