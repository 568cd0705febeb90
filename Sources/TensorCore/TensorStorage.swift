// Heap memory behind a tensor's elements.
//
// A `Tensor` is a value: copies share one `TensorStorage` until one of them writes, and the writer
// then copies (copy-on-write, checked with `isKnownUniquelyReferenced`, the same scheme as `Array`).
//
// Small tensors keep their elements in the same heap block as the object (`ManagedBuffer`), so
// creating one costs one allocation. Large tensors (from `BufferPool.minimumElementCount` up) take
// their elements from `BufferPool`, which keeps freed buffers for reuse: a training step frees and
// allocates the same large sizes every time, and handing those back to the system (as the C
// allocator does past its trim threshold) costs a page fault per 4 KiB on the next step.

import Synchronization

/// The header of a storage block: the element count and, for large tensors, the pooled buffer.
/// Two words, so that inline elements start 16 bytes after the header, 16-byte aligned.
struct TensorStorageHeader {
    var count: Int
    var external: UnsafeMutablePointer<Float>?
}

/// The elements of a tensor: `count` floats in row-major order.
///
/// Kernels receive storages (not raw pointers) as arguments, so the memory stays alive for the
/// whole call.
final class TensorStorage: ManagedBuffer<TensorStorageHeader, Float> {
    /// Uninitialised memory for `count` floats; the caller writes every element before reading.
    static func make(uninitializedCount count: Int) -> TensorStorage {
        precondition(count >= 0, "negative element count \(count)")
        let external = count >= BufferPool.minimumElementCount ? BufferPool.shared.take(count) : nil
        let buffer = TensorStorage.create(minimumCapacity: external == nil ? count : 0) { _ in
            TensorStorageHeader(count: count, external: external)
        }
        // `create` called on the subclass allocates an instance of the subclass.
        return unsafeDowncast(buffer, to: TensorStorage.self)
    }

    /// `count` copies of `value`.
    static func make(repeating value: Float, count: Int) -> TensorStorage {
        let storage = make(uninitializedCount: count)
        storage.pointer.initialize(repeating: value, count: count)
        return storage
    }

    /// A copy of `other`'s elements.
    static func make(copying other: TensorStorage) -> TensorStorage {
        let storage = make(uninitializedCount: other.count)
        storage.pointer.initialize(from: other.pointer, count: other.count)
        return storage
    }

    /// A copy of `values`.
    static func make<C: Collection>(copying values: C) -> TensorStorage where C.Element == Float {
        let storage = make(uninitializedCount: values.count)
        _ = UnsafeMutableBufferPointer(start: storage.pointer, count: values.count).initialize(from: values)
        return storage
    }

    // The header is read through its pointer rather than the `header` property, which would be
    // checked for exclusive access at run time on every read (it is never written after creation).

    /// The number of elements.
    var count: Int { withUnsafeMutablePointerToHeader { $0.pointee.count } }

    /// The first element. Valid for `count` elements while the storage is alive: the elements are
    /// part of this object's allocation, or a pooled buffer it owns; neither moves.
    var pointer: UnsafeMutablePointer<Float> {
        withUnsafeMutablePointers { header, elements in header.pointee.external ?? elements }
    }

    /// The elements as a read-only buffer.
    var buffer: UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: pointer, count: count) }

    /// The elements as a writable buffer.
    var mutableBuffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    deinit {
        withUnsafeMutablePointerToHeader { header in
            if let external = header.pointee.external { BufferPool.shared.give(external, count: header.pointee.count) }
        }
    }
}

/// Freed buffers of large tensors, kept for reuse by size, up to a byte budget.
public final class BufferPool: Sendable {
    /// Tensors with at least this many elements (64 KiB) use pooled buffers.
    static let minimumElementCount = 16_384

    /// The pool every tensor uses.
    static let shared = BufferPool()

    /// A free buffer's address. Only the pool refers to a free buffer, so moving the address between
    /// threads under the pool's lock is safe.
    private struct Address: @unchecked Sendable {
        let pointer: UnsafeMutablePointer<Float>
    }

    /// Free buffers by element count, and the bytes they hold.
    private struct Contents: Sendable {
        var free: [Int: [Address]] = [:]
        var byteCount = 0
        var byteBudget = 256 << 20
    }

    private let contents = Mutex(Contents())

    /// A buffer of exactly `count` elements, reused if one is free.
    func take(_ count: Int) -> UnsafeMutablePointer<Float> {
        let reused: Address? = contents.withLock { contents in
            guard let address = contents.free[count]?.popLast() else { return nil }
            contents.byteCount -= count * MemoryLayout<Float>.stride
            return address
        }
        if let reused { return reused.pointer }
        // 64-byte alignment: a cache line, and what BLAS kernels like.
        return UnsafeMutableRawPointer.allocate(byteCount: count * MemoryLayout<Float>.stride, alignment: 64)
            .bindMemory(to: Float.self, capacity: count)
    }

    /// Returns a buffer of `count` elements; it is kept if the budget allows, freed otherwise.
    func give(_ pointer: UnsafeMutablePointer<Float>, count: Int) {
        let bytes = count * MemoryLayout<Float>.stride
        let address = Address(pointer: pointer)
        let kept = contents.withLock { contents in
            guard contents.byteCount + bytes <= contents.byteBudget else { return false }
            contents.free[count, default: []].append(address)
            contents.byteCount += bytes
            return true
        }
        if !kept { pointer.deallocate() }
    }

    /// Frees every buffer the pool keeps and sets how many bytes it may keep from now on
    /// (256 MiB unless changed). Tensors that are alive are not affected.
    ///
    /// Traps if `byteBudget` is negative.
    public static func clear(keepingUpTo byteBudget: Int = 256 << 20) {
        precondition(byteBudget >= 0, "BufferPool.clear: negative budget \(byteBudget)")
        let buffers: [Address] = shared.contents.withLock { contents in
            let all = contents.free.values.flatMap { $0 }
            contents.free = [:]
            contents.byteCount = 0
            contents.byteBudget = byteBudget
            return all
        }
        for buffer in buffers { buffer.pointer.deallocate() }
    }

    /// The number of bytes held in free buffers right now.
    public static var cachedByteCount: Int { shared.contents.withLock { $0.byteCount } }
}
