@testable import ModelFormats
import PickleVM
import TensorData
import Testing
import TestSupport
import ZipFormat

// Resource exhaustion (docs/security.md, "Every resource a file controls has a budget"): every budget trips with an error naming it,
// before the work it protects, in bounded time and memory.
extension TorchHostileInputTests {
    @Test("billion laughs: a list doubled through the memo 40 times fails fast with tooManyNodes")
    func billionLaughs() throws {
        // L0 = [w]; L(i) = [L(i-1), L(i-1)]: 41 lists in the pickle, 2^40 paths to the tensor.
        // torch loads this instantly (sharing is kept); naming the tensors walks every path, so
        // that walk is what the budget stops.
        var body = P.emptyList + Self.weight + P.append + P.put(0)
        for level in 1...40 {
            body += P.emptyList + P.mark + P.get(UInt8(level - 1)) + P.get(UInt8(level - 1)) + P.appends + P.put(UInt8(level))
        }
        var options = ReadOptions()
        options.maxTreeNodes = 10_000
        let bytes = Self.archive(body)
        let clock = ContinuousClock()
        let elapsed = clock.measure {
            #expect(throws: TorchFormatError.tooManyNodes(limit: 10_000)) { _ = try Self.open(bytes, options: options) }
        }
        #expect(elapsed < .seconds(2))
        // Three levels stay within the budget: 8 names for one tensor.
        var small = P.emptyList + Self.weight + P.append + P.put(0)
        for level in 1...3 { small += P.emptyList + P.mark + P.get(UInt8(level - 1)) + P.get(UInt8(level - 1)) + P.appends + P.put(UInt8(level)) }
        let file = try Self.open(Self.archive(small), options: options)
        #expect(file.entries.map(\.name) == ["0.0.0.0", "0.0.1.0", "0.1.0.0", "0.1.1.0", "1.0.0.0", "1.0.1.0", "1.1.0.0", "1.1.1.0"])
        #expect(file.tensors.count == 1)
    }

    @Test("nesting past the pickle depth limit is refused at the APPEND that crosses it")
    func deepNesting() {
        // 150 empty lists, then APPENDs folding each into the one below: the 100th APPEND makes
        // a list 101 levels deep.
        let prefix = P.proto2 + Array(repeating: P.emptyList, count: 150).joined() + Array(repeating: P.append, count: 99).joined()
        let bytes = prefix + Array(repeating: P.append, count: 50).joined() + P.stop
        #expect(throws: Self.inDataPkl(.limitExceeded(.nestingDepth, limit: 100, found: 101, at: prefix.count))) {
            _ = try Self.open(TorchZip(pickle: bytes).bytes)
        }
        // MARKs nested past their own limit.
        let marks = P.proto2 + Array(repeating: P.mark, count: 1000).joined()
        #expect(throws: Self.inDataPkl(.limitExceeded(.markDepth, limit: 1000, found: 1001, at: marks.count))) {
            _ = try Self.open(TorchZip(pickle: marks + P.mark + P.stop).bytes)
        }
    }

    @Test("a string declaring 4 GiB is refused against the bytes present, before any allocation")
    func hugeStringLength() {
        let bytes = P.proto2 + P.string(declaring: 0xFFFF_FFFF, Array("abc".utf8)) + P.stop
        #expect(throws: Self.inDataPkl(.declaredLengthPastEnd(opcode: .binaryUnicode, declared: 0xFFFF_FFFF, available: 4, at: 2))) {
            _ = try Self.open(TorchZip(pickle: bytes).bytes)
        }
        // A string that is present but over the configured limit.
        var options = ReadOptions()
        options.pickleLimits.maxStringByteCount = 1024
        let long = P.pickle(P.string(String(repeating: "a", count: 1025)))
        #expect(throws: Self.inDataPkl(.limitExceeded(.stringByteCount, limit: 1024, found: 1025, at: 2))) {
            _ = try Self.open(TorchZip(pickle: long).bytes, options: options)
        }
    }

    @Test("memo indices near 2^32 cost one entry; a missing one is refused")
    func memoIndexNear2To32() throws {
        let body = P.stateDict([("w", Self.weight)]) + P.longPut(0xFFFF_FFFF) + P.emptyList + P.longGet(0xFFFF_FFFF) + P.append
        let file = try Self.open(Self.archive(body))
        #expect(file.entries.map(\.name) == ["0.w"])
        let unset = P.proto2 + P.none + P.longPut(0xFFFF_FFFF)
        #expect(throws: Self.inDataPkl(.missingMemoEntry(index: 0xFFFF_FFFE, opcode: .longBinaryGet, at: unset.count))) {
            _ = try Self.open(TorchZip(pickle: unset + P.longGet(0xFFFF_FFFE) + P.stop).bytes)
        }
    }

    /// An archive whose data.pkl is the state dict followed by `zeros` zero bytes, deflated.
    static func pickleBomb(zeros: Int) -> (zip: TorchZip, inflated: Int) {
        let pickle = P.pickle(stateDict)
        var zip = TorchZip(pickle: pickle, storages: [weightBytes])
        zip.records[0] = TorchZip.Record(dataPkl, pickle + [UInt8](repeating: 0, count: zeros),
                                         deflated: Deflate.run(prefix: pickle, of: 0, count: zeros))
        return (zip, pickle.count + zeros)
    }

    @Test("a zip bomb data.pkl (deflated, over the inflation budget) is refused before inflating")
    func pickleZipBomb() throws {
        let (zip, inflated) = Self.pickleBomb(zeros: 1 << 20)
        var options = ReadOptions()
        options.zipLimits = ZipReadLimits(maxInflatedByteCount: 256 << 10)
        let expected = ZipError.inflationBudgetExceeded(entry: Self.dataPkl, byteCount: inflated, alreadyInflated: 0, budget: 256 << 10)
        #expect(throws: TorchFormatError.zip(expected)) {
            _ = try Self.open(zip.bytes, options: options)
        }
        // Control: the stream is genuine; with room for it, it inflates and the zeros after STOP
        // are only a warning.
        let file = try Self.open(zip.bytes)
        #expect(file.warnings == [.bytesAfterPickle(record: "data.pkl", count: 1 << 20)])
        #expect(Self.floats(try file.tensor(at: 0)) == [1, 2, 3, 4])
    }

    @Test("a data.pkl declaring more than deflate can produce from its bytes is refused when the archive is opened")
    func pickleImpossibleRatio() {
        var zip = TorchZip(pickle: P.pickle(Self.stateDict), storages: [Self.weightBytes])
        zip.records[0].deflated = Deflate.run(of: 0, count: 1000)
        zip.records[0].uncompressedByteCount = 0xFFFF_0000
        let layout = zip.layout()
        let compressed = UInt64(zip.records[0].deflated?.count ?? 0)
        #expect(throws: TorchFormatError.zip(.impossibleCompressionRatio(entry: Self.dataPkl, offset: layout.centralOffsets[0],
                                                                         compressedByteCount: compressed, uncompressedByteCount: 0xFFFF_0000))) {
            _ = try Self.open(layout.bytes)
        }
    }

    @Test("a large deflated storage record is refused when read, by the inflation budget; within budget it reads (control)")
    func deflatedLargeStorage() throws {
        let count = 1 << 18  // floats: 1 MiB inflated, about 6.5 KB deflated
        var zip = TorchZip(pickle: P.pickle(P.stateDict([("w", P.floatTensor(numel: Int64(count)))])), storages: [[]])
        zip.records[2] = TorchZip.Record("archive/data/0", [UInt8](repeating: 0, count: 4 * count), deflated: Deflate.run(of: 0, count: 4 * count))
        var options = ReadOptions()
        options.zipLimits = ZipReadLimits(maxInflatedByteCount: 256 << 10)
        let file = try Self.open(zip.bytes, options: options)
        #expect(throws: TorchFormatError.zip(.inflationBudgetExceeded(entry: "archive/data/0", byteCount: 4 * count, alreadyInflated: 0,
                                                                      budget: 256 << 10))) { _ = try file.tensor(at: 0) }
        // Within a 1.5 MiB budget it inflates once and is cached, so reading it twice fits.
        options.zipLimits = ZipReadLimits(maxInflatedByteCount: 3 << 19)
        let roomy = try Self.open(zip.bytes, options: options)
        for _ in 0..<2 {
            let tensor = try roomy.tensor(at: 0)
            #expect(tensor.shape == [count])
            #expect(tensor.bytes.withUnsafeBytes { $0.firstIndex { $0 != 0 } } == nil)
        }
    }
}
