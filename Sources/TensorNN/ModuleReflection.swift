// Finding a module's parameters and children from its stored properties, so that a custom network
// needs no registration code.
//
// PyTorch registers an attribute when it is assigned: a Parameter goes to `_parameters`, a Module
// to `_modules`, and `state_dict()` lists own parameters first, then each child's, in assignment
// order. Here the stored properties play the attributes: `Mirror` lists them in declaration order
// (superclass properties first), and the same two lists come out. An array property is PyTorch's
// `nn.ModuleList` (entries named 0, 1, …).
//
// Values that reflection cannot name faithfully — a tuple, dictionary, set, struct or enum that
// holds a module or a parameter — are refused rather than skipped, so a model never silently has
// fewer parameters than its author wrote. Objects that are neither modules nor parameters are not
// searched (they may refer back to the model).

import Synchronization

/// Reflection of module properties.
enum ModuleReflection {
    /// The parameters and children found in a module's stored properties.
    struct Members {
        var parameters: [(name: String, parameter: Parameter)] = []
        var children: [(name: String, module: any Module)] = []
    }

    /// Records faults instead of trapping while ``Module/checkReflection()`` runs.
    final class FaultCollector: Sendable {
        private let fault = Mutex<NNError?>(nil)

        /// The first fault recorded.
        var firstFault: NNError? { fault.withLock { $0 } }

        /// Keeps `error` if it is the first.
        func record(_ error: NNError) {
            fault.withLock { if $0 == nil { $0 = error } }
        }
    }

    /// Set while ``Module/checkReflection()`` walks the tree.
    @TaskLocal static var faultCollector: FaultCollector?

    /// The members of `module`; a fault traps with its description, or is recorded (and nothing
    /// returned) while a ``FaultCollector`` is active.
    static func membersOrTrap(of module: any Module) -> Members {
        do {
            return try members(of: module)
        } catch let error as NNError {
            if let collector = faultCollector {
                collector.record(error)
                return Members()
            }
            preconditionFailure(error.description)
        } catch {
            preconditionFailure("\(error)")
        }
    }

    /// The members of `module` from its stored properties, superclass properties first.
    ///
    /// - Throws: ``NNError/unreflectableProperty(module:property:kind:)`` for a property holding
    ///   modules or parameters inside a tuple, dictionary, set, struct or enum.
    static func members(of module: any Module) throws -> Members {
        var mirrors: [Mirror] = []
        var mirror: Mirror? = Mirror(reflecting: module)
        while let current = mirror {
            mirrors.append(current)
            mirror = current.superclassMirror
        }
        let typeName = String(describing: type(of: module))
        var members = Members()
        for mirror in mirrors.reversed() {
            for child in mirror.children {
                guard let label = child.label else { continue }
                let name = propertyName(label)
                let fault = { (kind: String) in NNError.unreflectableProperty(module: typeName, property: name, kind: kind) }
                try classify(child.value, name: name, fault: fault, into: &members)
            }
        }
        return members
    }

    /// The attribute name of a stored property: its label, without the storage prefix that `lazy`
    /// properties have.
    static func propertyName(_ label: String) -> String {
        let lazyPrefix = "$__lazy_storage_$_"
        return label.hasPrefix(lazyPrefix) ? String(label.dropFirst(lazyPrefix.count)) : label
    }

    /// Adds `value` (a property, or an array element) to `members` under `name`.
    private static func classify(
        _ value: Any, name: String, fault: (String) -> NNError, into members: inout Members
    ) throws {
        if isPlainValue(value) { return }
        if let parameter = value as? Parameter {
            members.parameters.append((name, parameter))
            return
        }
        if let module = value as? any Module {
            members.children.append((name, module))
            return
        }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .optional:
            if let wrapped = mirror.children.first?.value {
                try classify(wrapped, name: name, fault: fault, into: &members)
            }
        case .collection:
            guard !holdsPlainValues(value) else { return }
            var list = Members()
            for (index, element) in mirror.children.enumerated() {
                try classify(element.value, name: String(index), fault: fault, into: &list)
            }
            if !list.parameters.isEmpty || !list.children.isEmpty {
                members.children.append((name, ModuleList(list)))
            }
        default:
            if let kind = containerKind(mirror.displayStyle), try holdsModulesOrParameters(value) {
                throw fault(kind)
            }
        }
    }

    /// What to call a value reflection cannot name, or `nil` for values that are never searched.
    private static func containerKind(_ style: Mirror.DisplayStyle?) -> String? {
        switch style {
        case .tuple: return "a tuple"
        case .dictionary: return "a dictionary"
        case .set: return "a set"
        case .struct: return "a struct"
        case .enum: return "an enum"
        default: return nil
        }
    }

    /// Whether `value` holds a module or a parameter anywhere inside its value-type structure
    /// (tuples, optionals, collections, dictionaries, sets, structs, enums; objects are not entered).
    private static func holdsModulesOrParameters(_ value: Any) throws -> Bool {
        if isPlainValue(value) { return false }
        if value is Parameter || value is any Module { return true }
        let mirror = Mirror(reflecting: value)
        switch mirror.displayStyle {
        case .class, nil:
            return false
        case .collection, .set, .dictionary:
            if holdsPlainValues(value) { return false }
            fallthrough
        default:
            for child in mirror.children where try holdsModulesOrParameters(child.value) { return true }
            return false
        }
    }

    /// Whether `value` is a collection of numbers, strings or tensors, which need not be searched
    /// element by element.
    private static func holdsPlainValues(_ value: Any) -> Bool {
        guard let collection = type(of: value) as? any ReflectedElementType.Type else { return false }
        let element = collection.reflectedElementType
        return plainTypes.contains { $0 == element }
    }

    /// Whether `value` is a number, string or tensor (never searched).
    private static func isPlainValue(_ value: Any) -> Bool {
        let valueType = type(of: value)
        return plainTypes.contains { $0 == valueType }
    }

    /// Element types that can hold neither a module nor a parameter.
    private static let plainTypes: [Any.Type] = [
        Float.self, Double.self, Int.self, Int8.self, Int16.self, Int32.self, Int64.self,
        UInt.self, UInt8.self, UInt16.self, UInt32.self, UInt64.self, Bool.self, String.self, Tensor.self,
        [Float].self, [Double].self, [Int].self,
    ]
}

/// A collection whose element type can be read without visiting its elements.
protocol ReflectedElementType {
    /// The element type (for a dictionary, the value type).
    static var reflectedElementType: Any.Type { get }
}

extension Array: ReflectedElementType {
    static var reflectedElementType: Any.Type { Element.self }
}

extension Set: ReflectedElementType {
    static var reflectedElementType: Any.Type { Element.self }
}

extension Dictionary: ReflectedElementType {
    static var reflectedElementType: Any.Type { Value.self }
}

/// The entries of an array property, as PyTorch's `nn.ModuleList` / `nn.ParameterList`: parameters
/// and modules named by their positions.
final class ModuleList: Module {
    private let members: ModuleReflection.Members

    /// A list with the given entries.
    init(_ members: ModuleReflection.Members) {
        self.members = members
    }

    var ownParameters: [(name: String, parameter: Parameter)] { members.parameters }
    var children: [(name: String, module: any Module)] { members.children }

    /// A list is a container, not a layer: calling it is a programming error.
    func forward(_ input: Tensor) -> Tensor {
        preconditionFailure("an array of modules has no forward(_:); call its elements")
    }
}
