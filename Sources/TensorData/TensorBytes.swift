/// Read-only bytes of one tensor: little-endian, row-major, with no padding.
///
/// The bytes either live in memory this value owns (allocated 64-byte aligned) or are borrowed
/// from a longer-lived owner such as a memory-mapped file, which `owner` keeps alive. Copying a
/// `TensorBytes` never copies the bytes.
public struct TensorBytes: @unchecked Sendable {
    // The buffer is never written after creation, and `owner` keeps it alive, so sharing
    // across threads is safe.
    private let owner: AnyObject?
    private let buffer: UnsafeRawBufferPointer

    /// Borrows `buffer`, which stays valid as long as `owner` is alive.
    public init(borrowing buffer: UnsafeRawBufferPointer, owner: AnyObject) {
        self.owner = owner
        self.buffer = buffer
    }

    /// Allocates `count` bytes (64-byte aligned) and lets `initialize` fill them.
    public init(
        count: Int,
        initializingWith initialize: (UnsafeMutableRawBufferPointer) throws -> Void
    ) rethrows {
        let storage = HeapBytes(count: count)
        try initialize(storage.mutableBuffer)
        self.owner = storage
        self.buffer = UnsafeRawBufferPointer(storage.mutableBuffer)
    }

    /// Copies `bytes`.
    public init<C: Collection>(copying bytes: C) where C.Element == UInt8 {
        self.init(count: bytes.count) { destination in
            _ = destination.initializeMemory(as: UInt8.self, from: bytes)
        }
    }

    /// Copies the bytes of `values` in native (little-endian on supported hosts) order.
    public init<T: BitwiseCopyable>(copyingValuesOf values: [T]) {
        self.init(count: values.count * MemoryLayout<T>.stride) { destination in
            values.withUnsafeBytes { source in
                if let base = source.baseAddress, source.count > 0 {
                    destination.baseAddress?.copyMemory(from: base, byteCount: source.count)
                }
            }
        }
    }

    /// No bytes.
    public static let empty = TensorBytes(count: 0) { _ in }

    /// The number of bytes.
    public var count: Int { buffer.count }

    /// Calls `body` with the bytes. The pointer must not escape `body`.
    public func withUnsafeBytes<R>(_ body: (UnsafeRawBufferPointer) throws -> R) rethrows -> R {
        try withExtendedLifetime(owner) { try body(buffer) }
    }

    /// A copy of the bytes as an array.
    public var array: [UInt8] { withUnsafeBytes { Array($0) } }

    /// The bytes `range` of this buffer, sharing storage. Traps if `range` is out of bounds.
    public func slice(_ range: Range<Int>) -> TensorBytes {
        precondition(range.lowerBound >= 0 && range.upperBound <= count, "slice \(range) outside \(count) bytes")
        guard let owner else { return .empty }
        return TensorBytes(borrowing: UnsafeRawBufferPointer(rebasing: buffer[range]), owner: owner)
    }

    /// Reads the elements as values of `T`, whatever the alignment of the bytes.
    ///
    /// Traps if the byte count is not a multiple of `T`'s size.
    public func values<T: BitwiseCopyable>(as type: T.Type) -> [T] {
        let size = MemoryLayout<T>.size
        precondition(count % size == 0, "\(count) bytes are not a whole number of \(T.self)")
        let n = count / size
        return withUnsafeBytes { source in
            [T](unsafeUninitializedCapacity: n) { destination, initialized in
                if n > 0, let base = source.baseAddress {
                    UnsafeMutableRawPointer(destination.baseAddress!).copyMemory(from: base, byteCount: n * size)
                }
                initialized = n
            }
        }
    }
}

extension TensorBytes: Equatable {
    /// Byte-for-byte equality.
    public static func == (lhs: TensorBytes, rhs: TensorBytes) -> Bool {
        guard lhs.count == rhs.count else { return false }
        return lhs.withUnsafeBytes { a in
            rhs.withUnsafeBytes { b in
                guard let pa = a.baseAddress, let pb = b.baseAddress else { return true }
                return memcmp(pa, pb, a.count) == 0
            }
        }
    }
}

/// 64-byte aligned heap memory owned by a ``TensorBytes``.
final class HeapBytes {
    let mutableBuffer: UnsafeMutableRawBufferPointer

    init(count: Int) {
        precondition(count >= 0, "negative byte count \(count)")
        mutableBuffer = UnsafeMutableRawBufferPointer.allocate(byteCount: count, alignment: 64)
    }

    deinit { mutableBuffer.deallocate() }
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
