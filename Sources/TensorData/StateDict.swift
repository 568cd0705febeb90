/// Named tensors in file order, like a PyTorch `state_dict`.
///
/// Names are unique by their bytes (two names that differ only by Unicode normalization are two
/// entries, as in a Python dict); insertion order is kept and is the order writers see.
public struct StateDict: Sendable, Equatable, Sequence {
    /// The names, in order.
    public private(set) var names: [String] = []
    private var tensorsByName: [ExactString: RawTensor] = [:]

    /// An empty state dict.
    public init() {}

    /// A state dict holding `entries` in order.
    ///
    /// - Throws: `TensorDataError.duplicateName` if a name repeats.
    public init(_ entries: [(String, RawTensor)]) throws {
        for (name, tensor) in entries { try append(name, tensor) }
    }

    /// Adds `tensor` under `name` at the end.
    ///
    /// - Throws: `TensorDataError.duplicateName` if `name` is already present.
    public mutating func append(_ name: String, _ tensor: RawTensor) throws {
        let key = ExactString(name)
        guard tensorsByName[key] == nil else { throw TensorDataError.duplicateName(name) }
        names.append(name)
        tensorsByName[key] = tensor
    }

    /// The tensor named `name` (compared by bytes).
    public subscript(name: String) -> RawTensor? { tensorsByName[ExactString(name)] }

    /// The number of tensors.
    public var count: Int { names.count }

    /// Whether there are no tensors.
    public var isEmpty: Bool { names.isEmpty }

    /// `(name, tensor)` pairs in order.
    public func makeIterator() -> AnyIterator<(name: String, tensor: RawTensor)> {
        var index = 0
        return AnyIterator {
            guard index < names.count, let tensor = tensorsByName[ExactString(names[index])] else { return nil }
            defer { index += 1 }
            return (names[index], tensor)
        }
    }

    public static func == (lhs: StateDict, rhs: StateDict) -> Bool {
        lhs.names.map { ExactString($0) } == rhs.names.map { ExactString($0) } && lhs.tensorsByName == rhs.tensorsByName
    }
}
