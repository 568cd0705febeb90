import Foundation
import Testing
import TestSupport

@Suite("modelfile command: NumPy files")
struct NumPyCLITests {
    @Test("inspect --json names the format; convert writes .npz and, with --select, .npy")
    func inspectAndConvert() throws {
        let inspect = try modelfile("inspect", "--json", Fixture.path("numpy/state_dict.npz"))
        #expect(inspect.status == 0)
        let json = try JSONSerialization.jsonObject(with: Data(inspect.stdout.utf8)) as? [String: Any]
        #expect(json?["format"] as? String == "numpy-npz")
        #expect((json?["tensors"] as? [[String: Any]])?.map { $0["name"] as? String } == ["linear1.weight", "linear1.bias", "head/w"])

        let folder = try Fixture.temporaryFolder()
        let npz = folder.appendingPathComponent("out.npz").path
        let convert = try modelfile("convert", Fixture.path("safetensors/mlp.safetensors"), npz)
        #expect(convert.status == 0)
        #expect(convert.stderr == "wrote 8 tensors to \(npz)\n")
        let npy = folder.appendingPathComponent("w.npy").path
        #expect(try modelfile("convert", npz, npy, "--select", "linear1.weight").status == 0)
        let single = try modelfile("inspect", npy)
        #expect(single.stdout.contains("w     F32    [6, 8]  192 B"))
    }

    @Test("several tensors to a .npy: usage error, exit 64, nothing written")
    func npyNeedsOneTensor() throws {
        let output = try Fixture.temporaryFolder().appendingPathComponent("all.npy").path
        let result = try modelfile("convert", Fixture.path("safetensors/mlp.safetensors"), output)
        #expect(result.status == 64)
        #expect(result.stderr == "modelfile: error: a .npy holds one tensor; the input has 8 (pick one with --select NAME, or write .npz)\n")
        #expect(!FileManager.default.fileExists(atPath: output))
    }

    @Test("an object array: inspect and convert exit 2 naming the member; scan exits 1 naming its imports")
    func objectArray() throws {
        let path = Fixture.path("numpy/object_array.npz")
        let message = "modelfile: error: \(path): member \"payload.npy\" at byte 20: an object array (descr '|O'): its data is a pickle, "
            + "which modelfile never loads (modelfile scan lists what it imports)\n"
        let inspect = try modelfile("inspect", path)
        #expect(inspect.status == 2 && inspect.stderr == message)
        let output = try Fixture.temporaryFolder().appendingPathComponent("x.safetensors").path
        let convert = try modelfile("convert", path, output)
        #expect(convert.status == 2 && convert.stderr == message)
        let scan = try modelfile("scan", path)
        #expect(scan.status == 1)
        #expect(scan.stdout.contains("REFUSED  posix.system"))
        #expect(try modelfile("scan", Fixture.path("numpy/dtypes.npz")).status == 0)
    }

    @Test("diff compares a .npy with its safetensors conversion; verify reads every byte")
    func diffAndVerify() throws {
        let output = try Fixture.temporaryFolder().appendingPathComponent("f.safetensors").path
        #expect(try modelfile("convert", Fixture.path("numpy/fortran_be_i2_3d.npy"), output).status == 0)
        #expect(try modelfile("diff", Fixture.path("numpy/fortran_be_i2_3d.npy"), output).status == 0)
        let verify = try modelfile("verify", Fixture.path("numpy/fortran_c16_4d.npy"))
        #expect(verify.status == 0 && verify.stdout.hasSuffix("clean\n"))
    }

    @Test("a shape over the rank limit names the limit, and the error line says how to raise it")
    func rankLimit() throws {
        let folder = try Fixture.temporaryFolder()
        let path = folder.appendingPathComponent("deep.npy").path
        let shape = "(" + String(repeating: "1, ", count: 65) + ")"
        try Data(NPY.file(NPY.dict(descr: "<f4", shape: shape), data: float32Bytes([1]))).write(to: URL(fileURLWithPath: path))
        let result = try modelfile("inspect", path)
        #expect(result.status == 2)
        #expect(result.stderr.hasSuffix("shape has 65 dimensions, over the limit of 64 (limit maxTensorRank); "
                                        + "raise it with --limits maxTensorRank=VALUE if the file is trusted\n"), "\(result.stderr)")
        #expect(try modelfile("inspect", path, "--limits", "maxTensorRank=65").status == 0)
    }
}
