// Faults in data given to the network runtime: state dicts and optimizer state that do not fit.

import TensorData

/// A parameter whose stored shape differs from the model's.
public struct ShapeMismatch: Sendable, Equatable, CustomStringConvertible {
    /// The parameter's dotted name.
    public var name: String
    /// The shape in the file (state dict).
    public var foundShape: [Int]
    /// The shape the model expects.
    public var expectedShape: [Int]

    /// Creates a mismatch record.
    public init(name: String, foundShape: [Int], expectedShape: [Int]) {
        self.name = name
        self.foundShape = foundShape
        self.expectedShape = expectedShape
    }

    /// `linear1.weight is [6, 8] in the file and [8, 6] in the model`, with a hint when the
    /// shapes are each other's transpose.
    public var description: String {
        let transposed = foundShape.count == 2 && foundShape.reversed() == expectedShape ? " (was it saved transposed?)" : ""
        return "\(name) is \(Shape(foundShape)) in the file and \(Shape(expectedShape)) in the model\(transposed)"
    }
}

/// Faults in state dicts and optimizer state given to modules and optimizers, in module
/// reflection, and in choosing LoRA targets.
public enum NNError: Error, Equatable, CustomStringConvertible {
    /// A strict state-dict load found names or shapes that do not match the model; nothing was loaded.
    case stateDictMismatch(missing: [String], unexpected: [String], shapeMismatches: [ShapeMismatch])
    /// A tensor's dtype cannot be converted to float32 (complex, packed 6-bit floats).
    case unconvertibleTensor(name: String, dtype: DType)
    /// The layer sizes of a feed-forward network could not be read from a state dict.
    case notAFeedForwardStateDict(reason: String)
    /// Optimizer state that does not fit the optimizer: `path` locates the value
    /// (`param_groups[0].lr`, `state[3].exp_avg`), `problem` says what is wrong with it.
    case optimizerStateMismatch(path: String, problem: String)
    /// A module property holds modules or parameters inside a value that reflection cannot name
    /// (`kind`: "a tuple", "a dictionary", "a set", "a struct", "an enum").
    case unreflectableProperty(module: String, property: String, kind: String)
    /// A LoRA target name matched no module of the model (`available` lists the names of its
    /// linear layers).
    case loraTargetNotFound(target: String, available: [String])
    /// A LoRA target matched a module that is not a `Linear` layer.
    case loraTargetNotLinear(name: String, type: String)
    /// A LoRA target is a layer that already has an adapter.
    case loraAlreadyApplied(name: String)

    /// One line: what did not fit, with names and shapes.
    public var description: String {
        switch self {
        case .stateDictMismatch(let missing, let unexpected, let mismatches):
            var parts: [String] = []
            if !missing.isEmpty { parts.append("missing \(missing.joined(separator: ", "))") }
            if !unexpected.isEmpty { parts.append("unexpected \(unexpected.joined(separator: ", "))") }
            parts += mismatches.map(\.description)
            return "state dict does not match the model: " + parts.joined(separator: "; ")
        case .unconvertibleTensor(let name, let dtype):
            return "\(name): \(dtype) values cannot be converted to float32"
        case .notAFeedForwardStateDict(let reason):
            return "not a feed-forward network's state dict: \(reason)"
        case .optimizerStateMismatch(let path, let problem):
            return "optimizer state \(path): \(problem)"
        case .unreflectableProperty(let module, let property, let kind):
            return "\(module).\(property) holds modules or parameters inside \(kind), which cannot be named as PyTorch names "
                + "attributes (store them in separate properties or an array, or implement children and ownParameters)"
        case .loraTargetNotFound(let target, let available):
            let names = available.isEmpty ? "none" : available.joined(separator: ", ")
            return "LoRA target \"\(target)\" matches no module of the model (linear layers: \(names))"
        case .loraTargetNotLinear(let name, let type):
            return "LoRA target \"\(name)\" is a \(type), not a Linear layer"
        case .loraAlreadyApplied(let name):
            return "LoRA target \"\(name)\" already has an adapter"
        }
    }
}
