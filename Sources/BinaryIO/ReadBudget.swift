import Synchronization

// One budget for everything a read of one file materialises (docs/security.md, "Every resource a
// file controls has a budget"): the bytes of every tensor handed out (so one storage viewed by a
// million tensors counts a million times), copies made to gather strided or zero-stride views or
// to swap a big-endian archive's bytes, and entries inflated from a zip. A file can always be read
// once through, and its storages twice over (tied weights, overlapping views), so the allowance is
// twice the file's size plus a limit of its own (`maxMaterializedBytes`). Bytes are reserved
// before anything is allocated or copied.

/// The bytes one read of one file may materialise, counted as they are handed out.
public final class ReadBudget: Sendable {
    /// The name of the limit in `--limits` and in messages.
    public static let limitName = "maxMaterializedBytes"

    /// The file's size in bytes.
    public let fileByteCount: Int
    /// The limit beyond twice the file's size.
    public let limit: Int
    /// The total allowance: twice the file's size plus ``limit`` (saturating).
    public let allowance: Int
    private let used = Atomic<Int>(0)

    /// A budget for a file of `fileByteCount` bytes with `limit` bytes beyond twice its size.
    public init(fileByteCount: Int, limit: Int) {
        self.fileByteCount = max(0, fileByteCount)
        self.limit = max(0, limit)
        allowance = ReadBudget.allowance(fileByteCount: fileByteCount, limit: limit)
    }

    /// Twice `fileByteCount` plus `limit`, saturating at `Int.max`.
    public static func allowance(fileByteCount: Int, limit: Int) -> Int {
        max(0, fileByteCount).saturatingMultiplied(by: 2).saturatingAdded(max(0, limit))
    }

    /// Bytes materialised so far.
    public var usedByteCount: Int { used.load(ordering: .relaxed) }

    /// Counts `byteCount` more bytes for `what` (`tensor "w"`, `zip entry archive/data/0`), or
    /// throws without counting them if the allowance would be exceeded. `tensor` names the tensor
    /// the bytes are for, when they are a tensor's (``ReadBudgetExceeded/tensor``).
    ///
    /// - Throws: ``ReadBudgetExceeded``.
    public func reserve(_ byteCount: Int, for what: @autoclosure () -> String, tensor: String? = nil) throws(ReadBudgetExceeded) {
        guard byteCount > 0 else { return }
        var current = used.load(ordering: .relaxed)
        while true {
            let (total, overflow) = current.addingReportingOverflow(byteCount)
            guard !overflow, total <= allowance else {
                throw ReadBudgetExceeded(what: what(), requested: byteCount, alreadyUsed: current, fileByteCount: fileByteCount,
                                         limit: limit, allowance: allowance, tensor: tensor)
            }
            let (exchanged, original) = used.compareExchange(expected: current, desired: total, ordering: .relaxed)
            if exchanged { return }
            current = original
        }
    }

    /// Throws if `byteCount` more bytes would not fit in what is left, without counting them (a
    /// writer checks its whole plan before it starts).
    ///
    /// - Throws: ``ReadBudgetExceeded``.
    public func check(_ byteCount: Int, for what: @autoclosure () -> String) throws(ReadBudgetExceeded) {
        let current = usedByteCount
        let (total, overflow) = current.addingReportingOverflow(max(0, byteCount))
        guard !overflow, total <= allowance else {
            throw ReadBudgetExceeded(what: what(), requested: byteCount, alreadyUsed: current, fileByteCount: fileByteCount,
                                     limit: limit, allowance: allowance)
        }
    }
}

/// A read would materialise more bytes than its budget allows.
public struct ReadBudgetExceeded: Error, Equatable, CustomStringConvertible {
    /// What needed the bytes (`tensor "w"`, `zip entry archive/data/0`).
    public let what: String
    /// Bytes it needed.
    public let requested: Int
    /// Bytes already materialised by the same read.
    public let alreadyUsed: Int
    /// The file's size.
    public let fileByteCount: Int
    /// The limit beyond twice the file's size.
    public let limit: Int
    /// The whole allowance.
    public let allowance: Int
    /// The tensor the bytes were for, when they were a tensor's (not a zip entry's): lets a caller
    /// that names the tensor itself tell whether the message already does.
    public let tensor: String?

    /// The error for `what` needing `requested` bytes with `alreadyUsed` materialised.
    public init(what: String, requested: Int, alreadyUsed: Int, fileByteCount: Int, limit: Int, allowance: Int, tensor: String? = nil) {
        self.what = what
        self.requested = requested
        self.alreadyUsed = alreadyUsed
        self.fileByteCount = fileByteCount
        self.limit = limit
        self.allowance = allowance
        self.tensor = tensor
    }

    public var description: String {
        "\(what) needs \(requested) bytes, over the read budget of \(allowance) bytes (limit \(ReadBudget.limitName) = \(limit), "
            + "plus twice the file's \(fileByteCount) bytes; \(alreadyUsed) already materialised)"
    }
}

extension ReadBudgetExceeded: LimitReporting {
    /// `maxMaterializedBytes`, with the limit that was in force.
    public var exceededLimit: ExceededLimit? { ExceededLimit(name: ReadBudget.limitName, value: limit) }
}
