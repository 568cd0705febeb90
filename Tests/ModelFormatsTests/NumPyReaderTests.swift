import Foundation
@testable import ModelFormats
import TensorData
import Testing
import TestSupport

/// What numpy read from a fixture (Fixtures/generate_numpy.py writes `<fixture>.json`).
struct NumPyExpectation: Decodable {
    struct Array: Decodable {
        let name: String
        let member: String?
        let version: [Int]
        let descr: String
        let fortran_order: Bool
        let shape: [Int]
        let numpy_dtype: String
        let dtype: String?
        let nbytes: Int?
        let sha256: String?
        let hex: String?
        let globals: [String]?
    }
    let file: String
    let made_by: String
    let format: String
    let loads: Bool
    let reference_error: String?
    let arrays: [Array]

    static func load(_ name: String) throws -> NumPyExpectation {
        try JSONDecoder().decode(NumPyExpectation.self, from: Data(contentsOf: Fixture.url("numpy/" + name + ".json")))
    }

    /// Every fixture under Fixtures/numpy (and its `refused/` folder), relative to it.
    static let fixtureNames: [String] = {
        let folder = Fixture.path("numpy")
        let top = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
        let refused = (try? FileManager.default.contentsOfDirectory(atPath: folder + "/refused")) ?? []
        return (top + refused.map { "refused/" + $0 }).filter { $0.hasSuffix(".npy") || $0.hasSuffix(".npz") }.sorted()
    }()

    /// Whether modelfile reads every array (numeric dtypes only, no objects).
    var isReadable: Bool { arrays.allSatisfy { $0.dtype != nil } }
}

@Suite("NumPy reader")
struct NumPyReaderTests {
    static let readable = NumPyExpectation.fixtureNames.filter { (try? NumPyExpectation.load($0))?.isReadable == true }
    static let refused = NumPyExpectation.fixtureNames.filter { (try? NumPyExpectation.load($0))?.isReadable == false }

    @Test("fixtures cover every dtype, order, layout and version")
    func fixturesPresent() throws {
        #expect(Self.readable.count == 19)
        #expect(Self.refused.count == 11)
        let dtypes = try NumPyExpectation.load("dtypes.npz")
        #expect(Set(dtypes.arrays.compactMap(\.dtype)) == ["BOOL", "I8", "U8", "I16", "I32", "I64", "U16", "U32", "U64", "F16", "F32", "F64", "C64", "C128"])
        #expect(dtypes.arrays.filter { $0.descr.hasPrefix(">") }.count == 11)
        let versions = try ["version1.npy", "version2.npy", "version3.npy"].map { try NumPyExpectation.load($0).arrays[0].version }
        #expect(versions == [[1, 0], [2, 0], [3, 0]])
    }

    @Test("reads every numeric fixture as numpy.load does: names, dtypes, shapes, bytes", arguments: readable)
    func readsLikeNumPy(name: String) throws {
        let expected = try NumPyExpectation.load(name)
        let file = try NumPyFile(path: Fixture.path("numpy/" + name))
        #expect(file.format.rawValue == expected.format)
        #expect(file.entries.map(\.name) == expected.arrays.map(\.name), "names and order")
        for (index, want) in expected.arrays.enumerated() where index < file.entries.count {
            let entry = file.entries[index]
            #expect(entry.dtype.rawValue == want.dtype, "\(want.name) dtype")
            #expect(entry.shape.dimensions == want.shape, "\(want.name) shape")
            #expect(file.arrays[index].header.fortranOrder == want.fortran_order, "\(want.name) order")
            #expect([Int(file.arrays[index].header.majorVersion), Int(file.arrays[index].header.minorVersion)] == want.version)
            let tensor = try file.tensor(at: index)
            #expect(tensor.bytes.count == want.nbytes, "\(want.name) size")
            #expect(sha256Hex(tensor.bytes.array) == want.sha256, "\(want.name) bytes")
            if let hex = want.hex { #expect(hexString(tensor.bytes.array) == hex, "\(want.name) hex") }
        }
    }

    @Test("ModelFile.open detects both formats from content")
    func openThroughModelFile() throws {
        let npy = try ModelFile.open(Fixture.path("numpy/fortran_f4.npy"))
        #expect(npy.format == .numpyNpy)
        #expect(npy.entries == [TensorEntry(name: "fortran_f4", dtype: .f32, shape: [3, 4])])
        let npz = try ModelFile.open(Fixture.path("numpy/state_dict.npz"))
        #expect(npz.format == .numpyNpz)
        #expect(npz.entries.map(\.name) == ["linear1.weight", "linear1.bias", "head/w"])
        #expect(npz.metadata == nil)
        #expect(npz.warnings.isEmpty)
    }

    @Test("detection: the .npy magic, and a zip whose first member is a .npy")
    func detection() throws {
        func detect(_ bytes: [UInt8]) throws -> DetectedKind { try bytes.withUnsafeBytes { try FormatDetector.detect(bytes: $0) } }
        #expect(try detect(NPY.magic + [1, 0, 0, 0]) == .numpyArray)
        #expect(try detect(TorchZip(records: [.init("a.npy", [1])]).bytes) == .numpyArchive)
        #expect(try detect(TorchZip(records: [.init("archive/data.pkl", [1]), .init("b.npy", [1])]).bytes) == .zipArchive)
        #expect(try detect(TorchZip(records: [.init("npy", [1])]).bytes) == .zipArchive)
    }

    @Test("Fortran order is transposed to row-major exactly")
    func fortranValues() throws {
        let file = try NumPyFile(path: Fixture.path("numpy/fortran_f4.npy"))
        #expect(try file.tensor(at: 0).bytes.values(as: Float.self) == (0..<12).map(Float.init))
        let big = try NumPyFile(path: Fixture.path("numpy/fortran_be_i2_3d.npy"))
        #expect(try big.tensor(at: 0).bytes.values(as: Int16.self) == (0..<24).map(Int16.init))
        let bytes = try NumPyFile(path: Fixture.path("numpy/fortran_u1_5d.npy"))
        #expect(try bytes.tensor(at: 0).bytes.array == (0..<72).map(UInt8.init))
    }

    @Test("the element-by-element transpose (widths no dtype has) agrees with index arithmetic")
    func transposeFallback() {
        let shape = [2, 3, 4], width = 3
        let source = (0..<(24 * width)).map { UInt8($0 % 256) }
        var output = [UInt8](repeating: 0, count: source.count)
        source.withUnsafeBytes { from in
            output.withUnsafeMutableBytes { to in
                if let a = from.baseAddress, let b = to.baseAddress { NumPyReorder.transposeFortran(a, b, shape: shape, elementBytes: width) }
            }
        }
        var expected: [UInt8] = []
        for i in 0..<2 { for j in 0..<3 { for k in 0..<4 {
            let fortran = i + 2 * j + 6 * k
            expected += source[(fortran * width)..<((fortran + 1) * width)]
        } } }
        #expect(output == expected)
    }

    @Test("little-endian C-ordered data is borrowed from the mapping; swapped data is copied")
    func zeroCopy() throws {
        let file = try NumPyFile(path: Fixture.path("numpy/version1.npy"))
        let range = try #require(file.fileRange(of: file.arrays[0]))
        #expect(range == 128..<152)
        let npz = try NumPyFile(path: Fixture.path("numpy/dtypes.npz"))
        let index = try #require(npz.index(of: "f4_be"))
        #expect(npz.arrays[index].isBigEndian)
        #expect(try npz.tensor(at: index) == (try npz.tensor(at: try #require(npz.index(of: "f4")))))
        let compressed = try NumPyFile(path: Fixture.path("numpy/dtypes_compressed.npz"))
        #expect(compressed.fileRange(of: compressed.arrays[0]) == nil)
    }

    @Test("0-d and empty arrays")
    func scalarsAndEmpty() throws {
        let scalar = try NumPyFile(path: Fixture.path("numpy/scalar_f8.npy"))
        #expect(scalar.entries[0].shape == [])
        #expect(try scalar.tensor(at: 0).bytes.values(as: Double.self) == [-3.25])
        let complex = try NumPyFile(path: Fixture.path("numpy/scalar_c8_be.npy"))
        #expect(try complex.tensor(at: 0).bytes.values(as: Float.self) == [1.5, -2])
        let empty = try NumPyFile(path: Fixture.path("numpy/empty_be_i8.npy"))
        #expect(empty.entries[0].shape == [2, 0, 5])
        #expect(try empty.tensor(at: 0).bytes.count == 0)
    }

    @Test("native, pipe, Python 2 and double-quoted headers read as numpy reads them")
    func headerVariants() throws {
        let native = try NumPyFile(path: Fixture.path("numpy/native_order.npy"))
        #expect(try native.tensor(at: 0).bytes.values(as: Float.self) == [1.5, -2, 3.25])
        let pipe = try NumPyFile(path: Fixture.path("numpy/pipe_order.npy"))
        #expect(try pipe.tensor(at: 0).bytes.values(as: Int64.self) == [7, -8])
        let python2 = try NumPyFile(path: Fixture.path("numpy/python2_header.npy"))
        #expect(python2.entries[0].shape == [2, 3])
        let quotes = try NumPyFile(path: Fixture.path("numpy/double_quotes.npy"))
        #expect(try quotes.tensor(at: 0).bytes.values(as: UInt16.self) == [1, 2, 3])
    }

    /// The exact refusal for each fixture modelfile does not read; numpy's own dtype name is in the JSON.
    static let refusals: [String: String] = [
        "refused/datetime64.npy": "at byte 20: descr '<M8[ns]' is datetime64[ns], which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/timedelta64.npy": "at byte 20: descr '<m8[s]' is timedelta64[s], which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/float128.npy": "at byte 20: descr '<f16' is float128 (long double), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/complex256.npy": "at byte 20: descr '<c32' is complex256 (long double complex), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/str.npy": "at byte 20: descr '<U2' is str (UTF-32, 2 characters), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/bytes.npy": "at byte 20: descr '|S3' is bytes (3 bytes), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/void.npy": "at byte 20: descr '|V2' is void (2 bytes), which modelfile does not read; expected bool, int8-64, uint8-64, float16/32/64 or complex64/128",
        "refused/structured.npy": "at byte 20: descr is a list of fields: a structured dtype, which modelfile does not read",
        "object_array.npy": "at byte 20: an object array (descr '|O'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)",
        "stringdtype.npy": "at byte 20: an object array (descr '|O'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)",
        "object_array.npz": "member \"payload.npy\" at byte 20: an object array (descr '|O'): its data is a pickle, which modelfile never loads (modelfile scan lists what it imports)",
    ]

    @Test("refuses each unreadable fixture by name, with the offset of its descr", arguments: refused)
    func refusesByName(name: String) throws {
        let expected = try NumPyExpectation.load(name)
        let message = try #require(Self.refusals[name], "no expected message for \(name)")
        let error = #expect(throws: NumPyError.self) { try NumPyFile(path: Fixture.path("numpy/" + name)) }
        #expect(error?.description == message)
        // numpy's own name for the dtype is the one the message gives.
        let numpyName = try #require(expected.arrays.last?.numpy_dtype)
        if ["datetime64[ns]", "timedelta64[s]", "float128", "complex256"].contains(numpyName) { #expect(message.contains(" is \(numpyName)")) }
        #expect(!expected.arrays.isEmpty)
    }

    @Test("an .npz names its members; the object member is never read")
    func objectMemberNamed() throws {
        let error = #expect(throws: NumPyError.self) { try ModelFile.open(Fixture.path("numpy/object_array.npz")) }
        #expect(error?.member == "payload.npy")
        #expect(error?.offset == 20)
        #expect(error?.problem == .objectArray(descr: "|O"))
    }

    @Test("deflated members are listed from their headers alone and inflated when read")
    func deflatedMembers() throws {
        let stored = try NumPyFile(path: Fixture.path("numpy/dtypes.npz"))
        let deflated = try NumPyFile(path: Fixture.path("numpy/dtypes_compressed.npz"))
        #expect(stored.entries == deflated.entries)
        for index in stored.entries.indices { #expect(try stored.tensor(at: index) == (try deflated.tensor(at: index))) }
    }
}
