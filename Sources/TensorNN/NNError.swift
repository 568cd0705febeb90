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

/// Faults in state dicts and optimizer state given to modules and optimizers.
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
        }
    }
}
