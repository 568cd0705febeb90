import BinaryIO
@testable import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport

// Tensor geometry and rebuild arguments (docs/security.md, "Every number from a file is checked before use"): every offset, size, stride
// and storage size comes from the file and is checked before any byte is touched.
extension TorchHostileInputTests {
    /// The label errors give storage `0` as a float32 storage of `elements`.
    static func floatStorage(_ elements: Int) -> String { "data/0 (FloatStorage, \(elements * 4) bytes)" }

    /// A state dict `{"w": _rebuild_tensor_v2(FloatStorage of numel, offset, size, stride)}` with
    /// a storage record of `numel` floats.
    static func view(numel: Int64 = 4, offset: Int64 = 0, size: [Int64], stride: [Int64]) -> [UInt8] {
        archive(P.stateDict([("w", P.rebuildV2(P.storage(numel: numel), offset: offset, size: size, stride: stride))]),
                storages: [float32Bytes((0..<Int(numel)).map { Float($0 + 1) })])
    }

    static func expectGeometry(_ error: TensorGeometryError, numel: Int64 = 4, offset: Int64 = 0, size: [Int64], stride: [Int64],
                               sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "w", storage: floatStorage(Int(numel)), error), sourceLocation: sourceLocation) {
            _ = try open(view(numel: numel, offset: offset, size: size, stride: stride))
        }
    }

    // MARK: - Offsets, sizes and strides

    @Test("a negative size is refused")
    func negativeSize() {
        Self.expectGeometry(.negative(what: "size", value: -1), size: [-1], stride: [1])
    }

    @Test("a negative stride is refused")
    func negativeStride() {
        // torch refuses it too ("Storage size calculation overflowed with sizes=[4] and strides=[-1]").
        Self.expectGeometry(.negative(what: "stride", value: -1), offset: 3, size: [4], stride: [-1])
    }

    @Test("a negative storage offset is refused")
    func negativeOffset() {
        Self.expectGeometry(.negative(what: "storage offset", value: -1), offset: -1, size: [4], stride: [1])
    }

    @Test("size × stride that overflows 64 bits is refused")
    func sizeStrideOverflow() {
        // (3 − 1) × 2^62 = 2^63: one past Int64.max.
        Self.expectGeometry(.overflow(sizes: [3], strides: [1 << 62]), size: [3], stride: [1 << 62])
    }

    @Test("a size product that wraps to 0 is refused")
    func sizeProductWrapsToZero() {
        // 2^32 × 2^32 = 2^64 ≡ 0: an unchecked product would make this an empty tensor.
        Self.expectGeometry(.overflow(sizes: [1 << 32, 1 << 32], strides: [0, 0]), size: [1 << 32, 1 << 32], stride: [0, 0])
    }

    @Test("a size product that wraps to exactly the elements present is refused")
    func sizeProductWrapsToStorage() {
        // (2^62 + 1) × 4 = 2^64 + 4 ≡ 4, the storage's element count.
        Self.expectGeometry(.overflow(sizes: [(1 << 62) + 1, 4], strides: [0, 1]), size: [(1 << 62) + 1, 4], stride: [0, 1])
    }

    @Test("a storage numel whose byte count wraps to 0 or to the record's size is refused")
    func storageByteCountWraps() {
        // FloatStorage numel 2^62 is 2^64 bytes ≡ 0, matching an empty data/0; 2^62 + 1 is ≡ 4,
        // matching a 4-byte record. Both overflow before any record is compared.
        for (numel, record) in [(Int64(1) << 62, [UInt8]()), ((Int64(1) << 62) + 1, float32Bytes([1]))] {
            let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(numel: numel), size: [1], stride: [1]))]), storages: [record])
            #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "numel \(numel), which overflows")) {
                _ = try Self.open(bytes)
            }
        }
    }

    @Test("a view past the end of its storage is refused")
    func viewPastEnd() {
        Self.expectGeometry(.outOfStorage(offset: 0, sizes: [5], strides: [1], lastElement: 4, storageElements: 4), size: [5], stride: [1])
        Self.expectGeometry(.outOfStorage(offset: 3, sizes: [2], strides: [1], lastElement: 4, storageElements: 4), offset: 3, size: [2], stride: [1])
        Self.expectGeometry(.outOfStorage(offset: 0, sizes: [2, 2], strides: [3, 1], lastElement: 4, storageElements: 4),
                            size: [2, 2], stride: [3, 1])
    }

    /// The error for reading tensor "w" of a file of `fileBytes` bytes when it needs `requested`
    /// bytes, with `used` already materialised and `limit` beyond twice the file's size.
    static func overBudget(_ requested: Int, fileBytes: Int, used: Int = 0, limit: Int = 1 << 29) -> ReadBudgetExceeded {
        ReadBudgetExceeded(what: "tensor \"w\"", requested: requested, alreadyUsed: used, fileByteCount: fileBytes, limit: limit,
                           allowance: 2 * fileBytes + limit, tensor: "w")
    }

    @Test("a zero-stride expansion of 1 element to 2^40 is refused when read, by the read budget")
    func zeroStrideExpansion() throws {
        // torch.load accepts this lazily (a 4 TiB view of one float); copying it is what is refused.
        let bytes = Self.view(numel: 1, size: [1 << 40], stride: [0])
        let file = try Self.open(bytes)
        #expect(file.entries[0].shape == Shape([1 << 40]))
        #expect(throws: Self.overBudget(1 << 42, fileBytes: bytes.count)) { _ = try file.tensor(at: 0) }
        // 2^62 elements of 4 bytes overflow: reported as Int.max bytes.
        let hugeBytes = Self.view(numel: 1, size: [1 << 62], stride: [0])
        let huge = try Self.open(hugeBytes)
        #expect(throws: Self.overBudget(Int.max, fileBytes: hugeBytes.count)) { _ = try huge.tensor(at: 0) }
    }

    @Test("a small zero-stride expansion is accepted and copied (control); past the budget it is refused")
    func zeroStrideControl() throws {
        let file = try Self.open(Self.view(numel: 4, offset: 2, size: [2, 3], stride: [0, 0]))
        #expect(Self.floats(try file.tensor(at: 0)) == [3, 3, 3, 3, 3, 3])
        var options = ReadOptions()
        options.maxMaterializedBytes = 0
        // With no limit beyond twice the file's size, an expansion to more than that is refused.
        let bytes = Self.view(numel: 4, offset: 2, size: [1000], stride: [0])
        let limited = try Self.open(bytes, options: options)
        #expect(4000 > 2 * bytes.count)
        #expect(throws: Self.overBudget(4000, fileBytes: bytes.count, limit: 0)) { _ = try limited.tensor(at: 0) }
    }

    @Test("a tensor rank above the limit is refused")
    func rankTooHigh() {
        // torch loads rank 65; the limit is ReadOptions.maxTensorRank.
        let ones = [Int64](repeating: 1, count: 65)
        Self.expectGeometry(.rankTooHigh(rank: 65, limit: 64), size: ones, stride: ones)
    }

    @Test("sizes and strides of different ranks are refused")
    func rankMismatch() {
        Self.expectGeometry(.rankMismatch(sizes: [2, 2], strides: [1]), size: [2, 2], stride: [1])
    }

    @Test("a storage numel larger than its record is refused (CVE-2026-24747, second half)")
    func storageLargerThanRecord() {
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(numel: 5), size: [5], stride: [1]))]))
        #expect(throws: TorchFormatError.storageSizeMismatch(record: "data/0", expected: 20, found: 16)) { _ = try Self.open(bytes) }
    }

    @Test("a storage numel smaller than its record is refused")
    func storageSmallerThanRecord() {
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(numel: 3), size: [3], stride: [1]))]))
        #expect(throws: TorchFormatError.storageSizeMismatch(record: "data/0", expected: 12, found: 16)) { _ = try Self.open(bytes) }
    }

    @Test("one storage key declared with two classes or sizes reads as torch does: the first load is kept")
    func storageKeyTwoClasses() throws {
        // torch caches the storage by key: "b" comes back as float32 [1, 2, 3, 4] although its
        // persistent id says IntStorage, and a second numel is ignored.
        let asInt = P.rebuildV2(P.storage("IntStorage", numel: 4), size: [4], stride: [1])
        let file = try Self.open(Self.archive(P.stateDict([("a", Self.weight), ("b", asInt)])))
        #expect(file.entries.map(\.dtype) == [.f32, .f32])
        #expect(Self.floats(try file.tensor(at: 1)) == [1, 2, 3, 4])
        let longer = P.rebuildV2(P.storage(numel: 8), size: [4], stride: [1])
        let second = try Self.open(Self.archive(P.stateDict([("a", Self.weight), ("b", longer)])))
        #expect(Self.floats(try second.tensor(at: 1)) == [1, 2, 3, 4])
        // A view too large for the first class's storage is refused, as torch refuses it.
        let bytes = P.rebuildV2(P.storage("ByteStorage", numel: 16), size: [16], stride: [1])
        #expect(throws: TorchFormatError.invalidGeometry(
            tensor: "b", storage: "data/0 (FloatStorage, 16 bytes)",
            .outOfStorage(offset: 0, sizes: [16], strides: [1], lastElement: 15, storageElements: 4))) {
            _ = try Self.open(Self.archive(P.stateDict([("a", Self.weight), ("b", bytes)])))
        }
    }

    // MARK: - Containers (CVE-2026-24747, first half)

    @Test("SETITEM onto a tensor is refused")
    func setItemOntoTensor() {
        let prefix = P.proto2 + Self.weight + P.string("k") + P.string("v")
        let bytes = prefix + P.setItem + P.stop
        #expect(throws: Self.inDataPkl(.wrongOperand(opcode: .setItem, operand: .setItemTarget, found: .object, at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: bytes, storages: [Self.weightBytes]).bytes)
        }
    }

    @Test("SETITEMS onto a list is refused")
    func setItemsOntoList() {
        let prefix = P.proto2 + P.emptyList + P.mark + P.string("k") + P.string("v")
        let bytes = prefix + P.setItems + P.stop
        #expect(throws: Self.inDataPkl(.wrongOperand(opcode: .setItems, operand: .setItemTarget, found: .list, at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: bytes).bytes)
        }
    }

    @Test("APPEND onto a storage (persistent id) and APPENDS onto a dict are refused")
    func appendOntoNonList() {
        let prefix = P.proto2 + P.storage(numel: 4) + P.int(7)
        #expect(throws: Self.inDataPkl(.wrongOperand(opcode: .append, operand: .appendTarget, found: .persistentID, at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: prefix + P.append + P.stop, storages: [Self.weightBytes]).bytes)
        }
        let dictPrefix = P.proto2 + P.orderedDict + P.mark + P.int(7)
        #expect(throws: Self.inDataPkl(.wrongOperand(opcode: .appends, operand: .appendTarget, found: .dict, at: dictPrefix.count))) {
            _ = try Self.open(TorchZip(pickle: dictPrefix + P.appends + P.stop).bytes)
        }
    }

    // MARK: - Persistent ids

    @Test("a persistent id that is a 4-tuple is refused")
    func persistentID4Tuple() {
        let id = P.persistentID([P.string("storage"), P.global("torch", "FloatStorage"), P.string("0"), P.string("cpu")])
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(id, size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "a 4-tuple (string, global, string, string)")) {
            _ = try Self.open(bytes)
        }
    }

    @Test("a persistent id that is an int is refused")
    func persistentIDInt() {
        // torch's weights-only unpickler lets an int through to persistent_load, which then fails.
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.int(0) + P.binaryPersistentID, size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "an int")) { _ = try Self.open(bytes) }
    }

    @Test("a ('module', class, file, source) persistent id (a pickled module's source) is refused")
    func persistentIDModule() {
        let id = P.persistentID([P.string("module"), P.global("torch.nn.modules.linear", "Linear"), P.string("linear.py"),
                                 P.string("import os; os.system('id')")])
        let bytes = Self.archive(P.stateDict([("m", id)]))
        // The class is refused first: the id's GLOBAL comes before BINPERSID.
        let at = P.proto2.count + P.orderedDict.count + P.mark.count + P.string("m").count + P.mark.count + P.string("module").count
        #expect(throws: Self.inDataPkl(.unsupportedGlobal(module: "torch.nn.modules.linear", name: "Linear", at: at))) {
            _ = try Self.open(bytes)
        }
        // With an allowed class in that slot, the id itself is refused.
        let allowed = P.persistentID([P.string("module"), P.global("torch", "FloatStorage"), P.string("linear.py"), P.string("source")])
        #expect(throws: TorchFormatError.invalidPersistentID(path: "m", found: "a 4-tuple (string, global, string, string)")) {
            _ = try Self.open(Self.archive(P.stateDict([("m", allowed)])))
        }
    }

    @Test("a persistent id whose key is not a string is refused")
    func persistentIDKeyNotString() {
        // torch loads this one (it formats the key into the record name "data/0").
        let id = P.persistentID([P.string("storage"), P.global("torch", "FloatStorage"), P.int(0), P.string("cpu"), P.int(4)])
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(id, size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "a 5-tuple (string, global, int, string, int)")) {
            _ = try Self.open(bytes)
        }
    }

    @Test("a persistent id with a negative numel is refused")
    func persistentIDNegativeNumel() {
        let bytes = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage(numel: -4), size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.invalidPersistentID(path: "w.0", found: "a 5-tuple (string, global, string, string, int)")) {
            _ = try Self.open(bytes)
        }
    }

    @Test("a quantized storage outside _rebuild_qtensor, or an allowed global that is no storage, is refused")
    func persistentIDQuantized() {
        let quantized = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage("QInt8Storage", numel: 16), size: [16], stride: [1]))]))
        #expect(throws: TorchFormatError.unsupportedObject(path: "w", description: "_rebuild_tensor_v2 on a QInt8Storage: a quantized storage needs _rebuild_qtensor")) {
            _ = try Self.open(quantized)
        }
        let size = Self.archive(P.stateDict([("w", P.rebuildV2(P.storage("Size", numel: 4), size: [4], stride: [1]))]))
        #expect(throws: TorchFormatError.unsupportedStorage(key: "0", className: "torch.Size")) { _ = try Self.open(size) }
    }

    @Test("_rebuild_tensor_v2 over an UntypedStorage reads uint8 bytes, as torch does")
    func rebuildV2Untyped() throws {
        let call = P.rebuildV2(P.storage("UntypedStorage", key: "weights", numel: 16, module: "torch.storage"), size: [16], stride: [1])
        var zip = TorchZip(pickle: P.pickle(P.stateDict([("w", call)])))
        zip.records.insert(TorchZip.Record("archive/data/weights", (0..<16).map(UInt8.init)), at: 2)
        let file = try Self.open(zip.bytes)
        #expect(file.entries.first?.dtype == .u8)
        #expect(try file.tensor(at: 0).bytes.array == (0..<16).map(UInt8.init))
    }

    // MARK: - Rebuild arguments

    static let v2Expected = "(storage, offset, size, stride, requires_grad, hooks[, metadata])"

    @Test("a rebuild call with wrong argument types is refused")
    func rebuildWrongTypes() {
        let sizeAsString = P.rebuild("_rebuild_tensor_v2", [P.storage(numel: 4), P.int(0), P.string("4"), P.ints([1]), P.newFalse, P.orderedDict])
        #expect(throws: TorchFormatError.invalidRebuildArguments(path: "w", function: "_rebuild_tensor_v2", expected: Self.v2Expected,
                                                                 found: "(storage, 0, '4', (1,), False, OrderedDict of 0)")) {
            _ = try Self.open(Self.archive(P.stateDict([("w", sizeAsString)])))
        }
        let noStorage = P.rebuild("_rebuild_tensor_v2", [P.int(0), P.int(0), P.ints([4]), P.ints([1]), P.newFalse, P.orderedDict])
        #expect(throws: TorchFormatError.invalidRebuildArguments(path: "w", function: "_rebuild_tensor_v2", expected: Self.v2Expected,
                                                                 found: "(0, 0, (4,), (1,), False, OrderedDict of 0)")) {
            _ = try Self.open(Self.archive(P.stateDict([("w", noStorage)])))
        }
        let tooFew = P.rebuild("_rebuild_tensor_v2", [P.storage(numel: 4), P.int(0), P.ints([4])])
        #expect(throws: TorchFormatError.invalidRebuildArguments(path: "w", function: "_rebuild_tensor_v2", expected: Self.v2Expected,
                                                                 found: "(storage, 0, (4,))")) {
            _ = try Self.open(Self.archive(P.stateDict([("w", tooFew)])))
        }
    }

    @Test("a Parameter or tensor subclass wrapping something that is not a plain tensor is refused")
    func rebuildWrappers() {
        let parameter = P.rebuild("_rebuild_parameter", [P.int(5), P.newTrue, P.orderedDict])
        #expect(throws: TorchFormatError.invalidRebuildArguments(
            path: "p", function: "_rebuild_parameter", expected: "(tensor, requires_grad, hooks)", found: "(5, True, OrderedDict of 0)")) {
            _ = try Self.open(Self.archive(P.stateDict([("p", parameter)])))
        }
        // torch._tensor._rebuild_from_type_v2(function, type, args, state) with a type that is no tensor class.
        let arguments = P.tuple([P.storage(numel: 4), P.int(0), P.ints([4]), P.ints([1]), P.newFalse, P.orderedDict])
        let subclass = P.global("torch._tensor", "_rebuild_from_type_v2") + P.mark + P.global("torch._utils", "_rebuild_tensor_v2")
            + P.global("collections", "OrderedDict") + arguments + P.emptyDict + P.tupleMark + P.reduce
        #expect(throws: TorchFormatError.unsupportedObject(path: "t", description: "tensor subclass collections.OrderedDict is not supported")) {
            _ = try Self.open(Self.archive(P.stateDict([("t", subclass)])))
        }
    }

    @Test("_rebuild_tensor_v3 with a dtype that is not a dtype is refused")
    func rebuildV3NotDType() {
        let expected = "(storage, offset, size, stride, requires_grad, hooks, dtype[, metadata])"
        let untyped = P.storage("UntypedStorage", numel: 16, module: "torch.storage")
        for (dtype, summary) in [(P.string("float32"), "'float32'"), (P.global("torch", "FloatStorage"), "torch.FloatStorage")] {
            let call = P.rebuild("_rebuild_tensor_v3", [untyped, P.int(0), P.ints([4]), P.ints([1]), P.newFalse, P.orderedDict, dtype])
            #expect(throws: TorchFormatError.invalidRebuildArguments(path: "w", function: "_rebuild_tensor_v3", expected: expected,
                                                                     found: "(storage, 0, (4,), (1,), False, OrderedDict of 0, \(summary))")) {
                _ = try Self.open(Self.archive(P.stateDict([("w", call)])))
            }
        }
    }

    @Test("storage-less tensors (meta, sparse) with negative or overflowing sizes are refused, not trapped on")
    func storagelessShapes() {
        let meta = { (size: [Int64]) in
            P.rebuild("_rebuild_meta_tensor_no_storage", [P.global("torch", "float32"), P.ints(size), P.ints(size.map { _ in 1 }), P.newFalse])
        }
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "m", storage: "no storage (meta)", .negative(what: "size", value: -1))) {
            _ = try Self.open(Self.archive(P.stateDict([("m", meta([-1]))]), storages: []))
        }
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "m", storage: "no storage (meta)",
                                                         .overflow(sizes: [1 << 32, 1 << 32], strides: [1, 1]))) {
            _ = try Self.open(Self.archive(P.stateDict([("m", meta([1 << 32, 1 << 32]))]), storages: []))
        }
        let ones = [Int64](repeating: 1, count: 65)
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "m", storage: "no storage (meta)", .rankTooHigh(rank: 65, limit: 64))) {
            _ = try Self.open(Self.archive(P.stateDict([("m", meta(ones))]), storages: []))
        }
        // A sparse COO tensor whose declared size is negative (its parts are fine).
        let indices = P.rebuildV2(P.storage("LongStorage", key: "0", numel: 2), size: [1, 2], stride: [2, 1])
        let values = P.rebuildV2(P.storage(key: "1", numel: 2), size: [2], stride: [1])
        let layout = P.global("torch.serialization", "_get_layout") + P.string("torch.sparse_coo") + P.tuple1 + P.reduce
        let sparse = P.rebuild("_rebuild_sparse_tensor", [layout, P.tuple([indices, values, P.ints([-3]), P.newFalse])])
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "s", storage: "no storage (sparse_coo)", .negative(what: "size", value: -3))) {
            _ = try Self.open(Self.archive(P.stateDict([("s", sparse)]), storages: [P.le(Int64(0)) + P.le(Int64(1)), float32Bytes([1, 2])]))
        }
    }

    @Test("a float4 zero-stride view whose logical shape (last size × 2) overflows is refused, not trapped on")
    func float4LogicalShapeOverflow() {
        let call = P.rebuild("_rebuild_tensor_v3", [P.storage("UntypedStorage", numel: 1, module: "torch.storage"), P.int(0),
                                                    P.ints([1 << 62]), P.ints([0]), P.newFalse, P.orderedDict, P.global("torch", "float4_e2m1fn_x2")])
        #expect(throws: TorchFormatError.invalidGeometry(tensor: "w", storage: "data/0 (UntypedStorage, 1 bytes)",
                                                         .overflow(sizes: [1 << 62], strides: [0]))) {
            _ = try Self.open(Self.archive(P.stateDict([("w", call)]), storages: [[0x21]]))
        }
    }

    @Test("a big-endian archive is byte-swapped correctly (control)")
    func bigEndianControl() throws {
        let bigEndian = [Float(1.5), -2, 3.25, 1e-3].flatMap { withUnsafeBytes(of: $0.bitPattern.bigEndian) { Array($0) } }
        let zip = TorchZip(pickle: P.pickle(P.stateDict([("w", P.floatTensor(numel: 4, size: [2, 2]))])), storages: [bigEndian], byteorder: "big")
        let file = try Self.open(zip.bytes)
        #expect(file.isBigEndian)
        #expect(file.warnings == [.bigEndianArchive])
        let tensor = try file.tensor(at: 0)
        #expect(tensor.shape == [2, 2])
        #expect(Self.floats(tensor) == [1.5, -2, 3.25, 1e-3])
    }
}
