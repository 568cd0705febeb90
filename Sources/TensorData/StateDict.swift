/// Named tensors in file order, like a PyTorch `state_dict`.
///
/// Names are unique; insertion order is kept and is the order writers see.
public struct StateDict: Sendable, Equatable, Sequence {
    /// The names, in order.
    public private(set) var names: [String] = []
    private var tensorsByName: [String: RawTensor] = [:]

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
        guard tensorsByName[name] == nil else { throw TensorDataError.duplicateName(name) }
        names.append(name)
        tensorsByName[name] = tensor
    }

    /// The tensor named `name`.
    public subscript(name: String) -> RawTensor? { tensorsByName[name] }

    /// The number of tensors.
    public var count: Int { names.count }

    /// Whether there are no tensors.
    public var isEmpty: Bool { names.isEmpty }

    /// `(name, tensor)` pairs in order.
    public func makeIterator() -> AnyIterator<(name: String, tensor: RawTensor)> {
        var index = 0
        return AnyIterator {
            guard index < names.count else { return nil }
            defer { index += 1 }
            let name = names[index]
            return (name, tensorsByName[name]!)
        }
    }

    public static func == (lhs: StateDict, rhs: StateDict) -> Bool {
        lhs.names == rhs.names && lhs.tensorsByName == rhs.tensorsByName
    }
}
