import Foundation
import Testing
import TestSupport

/// Every reader through the command line, on a corpus of hostile files of every format, each run
/// under a memory cap (`ulimit -v`, 4 GiB) and a time cap, with a canary that any executed payload would
/// create. The controls must still load under the same caps, so refusing everything cannot pass.
@Suite("hostile corpus under resource caps")
struct HostileCorpusTests {
    static let memoryCapKiB = 4 << 20  // 4 GiB of address space
    static let timeCapSeconds = 20.0
    static let canary = "/tmp/modelfile-canary-\(getpid())"

    /// What each hostile file must get from the commands.
    enum Expectation {
        /// inspect, verify and convert refuse it; scan flags it.
        case refusedAndFlagged
        /// inspect, verify and convert refuse it (it names nothing outside the allowlist).
        case refused
        /// Its header is readable, so inspect lists it; reading its bytes (verify, convert) fails.
        case refusedWhenRead
        /// Loading ignores the hidden part, as torch does; verify and scan report it.
        case inertButReported
        /// Not a model file at all: every command refuses it (exit 2), verify and scan too.
        case notAModelFile
        /// Not a model file (a bare pickle): refused by every command, and scan flags its pickle.
        case notAModelFileFlagged
    }

    /// Hostile files by name: code-execution payloads, geometry, resources, containers, truncations.
    static func corpus() throws -> [(String, [UInt8], Expectation)] {
        let touch = P.global("posix", "system") + P.tuple([P.string("touch \(canary)")]) + P.reduce
        let tensor = P.floatTensor(numel: 4)
        let storage = float32Bytes([1, 2, 3, 4])
        var items: [(String, [UInt8], Expectation)] = [
            ("rce-posix-system.pth", TorchZip(pickle: P.pickle(touch)).bytes, .refusedAndFlagged),
            ("rce-memo.pth", TorchZip(pickle: P.pickle(P.global("os", "system") + P.put(0) + P.get(0) + P.tuple([P.string("touch \(canary)")]) + P.reduce)).bytes, .refusedAndFlagged),
            ("rce-builtin-eval.pth", TorchZip(pickle: P.pickle(P.global("__builtin__", "eval") + P.tuple([P.string("open('\(canary)','w')")]) + P.reduce)).bytes, .refusedAndFlagged),
            ("rce-stack-global.pth", TorchZip(pickle: [0x80, 0x04] + P.string("posix") + P.string("system") + P.stackGlobal + P.tuple([P.string("touch \(canary)")]) + P.reduce + P.stop).bytes, .refusedAndFlagged),
            ("rce-inst.pth", TorchZip(pickle: P.proto2 + P.mark + P.string("touch \(canary)") + P.inst("posix", "system") + P.stop).bytes, .refusedAndFlagged),
            ("rce-ext.pth", TorchZip(pickle: P.pickle(P.ext1(1) + P.tuple([P.string("x")]) + P.reduce)).bytes, .refusedAndFlagged),
            ("rce-after-stop.pth", TorchZip(pickle: P.pickle(P.stateDict([("w", tensor)])) + P.pickle(touch), storages: [storage]).bytes, .inertButReported),
            ("rce-legacy.pt", Legacy.file(object: P.pickle(touch), keys: [], storages: []), .refusedAndFlagged),
            ("bare-pickle.bin", P.pickle(touch), .notAModelFileFlagged),
            ("geometry-past-storage.pth", TorchZip(pickle: P.pickle(P.stateDict([("w", P.rebuildV2(P.storage(numel: 4), offset: 2, size: [4], stride: [1]))])), storages: [storage]).bytes, .refused),
            ("geometry-zero-stride-2^40.pth", TorchZip(pickle: P.pickle(P.stateDict([("w", P.rebuildV2(P.storage(numel: 1), size: [1 << 40], stride: [0]))])), storages: [float32Bytes([1])]).bytes, .refusedWhenRead),
            ("geometry-negative-stride.pth", TorchZip(pickle: P.pickle(P.stateDict([("w", P.rebuildV2(P.storage(numel: 4), size: [2], stride: [-1]))])), storages: [storage]).bytes, .refused),
            ("storage-numel-too-large.pth", TorchZip(pickle: P.pickle(P.stateDict([("w", P.floatTensor(numel: 1 << 40))])), storages: [storage]).bytes, .refused),
            ("huge-string.pth", TorchZip(pickle: P.proto2 + P.string(declaring: 0xFFFF_FFFF)).bytes, .refused),
            ("deep-nesting.pth", TorchZip(pickle: P.proto2 + Array(repeating: 0x5D, count: 100_000) + Array(repeating: 0x61, count: 99_999) + P.stop).bytes, .refused),
            ("bomb.pth", TorchZip(records: [TorchZip.Record("archive/data.pkl", [], deflated: Deflate.run(of: 0x4E, count: 64 << 20)),
                                            TorchZip.Record("archive/version", Array("3\n".utf8))]).bytes, .refused),
        ]
        // Billion laughs: a list doubled 40 times through the memo, with a tensor at the bottom.
        var laughs = P.proto2 + P.string("w") + P.put(0) + tensor + P.put(1)
        laughs += P.mark + P.get(1) + P.get(1) + [0x6C] + P.put(2)
        for level in 2..<41 { laughs += P.mark + P.get(UInt8(level)) + P.get(UInt8(level)) + [0x6C] + P.put(UInt8(level + 1)) }
        items.append(("billion-laughs.pth", TorchZip(pickle: laughs + P.stop, storages: [storage]).bytes, .refused))
        // Container tricks.
        var duplicate = TorchZip(pickle: P.pickle(P.stateDict([("w", tensor)])), storages: [storage])
        duplicate.records.append(TorchZip.Record("archive/data.pkl", P.pickle(touch)))
        items.append(("zip-duplicate-data-pkl.pth", duplicate.bytes, .refused))
        var outside = TorchZip(pickle: P.pickle(P.stateDict([("w", tensor)])), storages: [storage])
        outside.records.append(TorchZip.Record("other/data.pkl", P.pickle(touch)))
        items.append(("zip-outside-root.pth", outside.bytes, .refusedAndFlagged))
        var crc = TorchZip(pickle: P.pickle(P.stateDict([("w", tensor)])), storages: [storage])
        crc.records[2].crc = 0xDEAD_BEEF
        items.append(("zip-bad-crc.pth", crc.bytes, .refusedWhenRead))
        // GGUF: counts and lengths near 2^64, nesting, data past the end.
        var counts = GGUFBytes.header(tensors: .max, entries: .max)
        counts.data(64)
        items.append(("gguf-counts-2^64.gguf", counts.bytes, .refused))
        var array = GGUFBytes.header(tensors: 0, entries: 1)
        array.string("tokenizer.ggml.tokens"); array.u32(9); array.u32(8); array.u64(.max); array.data(64)
        items.append(("gguf-array-2^64.gguf", array.bytes, .refused))
        var deep = GGUFBytes.header(tensors: 0, entries: 1)
        deep.string("deep"); deep.u32(9)
        for _ in 0..<10_000 { deep.u32(9); deep.u64(1) }
        items.append(("gguf-deep-arrays.gguf", deep.bytes, .refused))
        var huge = GGUFBytes.header(tensors: 1, entries: 0)
        huge.tensor("w", dimensions: [256, 1 << 40], type: 12, offset: 0)
        huge.pad(); huge.data(144)
        items.append(("gguf-tensor-past-end.gguf", huge.bytes, .refused))
        // Disguises and truncations of real files.
        items.append(("lfs-pointer.bin", Array("version https://git-lfs.github.com/spec/v1\noid sha256:ab\nsize 42\n".utf8), .notAModelFile))
        items.append(("html.safetensors", Array("<!DOCTYPE html><html>Not found</html>".utf8), .notAModelFile))
        for name in ["torch/state_dict.pth", "torch/views_legacy.pt", "safetensors/dtypes.safetensors", "lightning/adam_steplr.ckpt", "gguf/tiny_llama.gguf"] {
            let whole = try Fixture.bytes(name)
            for fraction in [3, 2] {
                let cut = whole.count * (fraction - 1) / fraction
                items.append(("truncated-\(fraction)-" + (name.split(separator: "/").last.map(String.init) ?? name), Array(whole.prefix(cut)), .refused))
            }
        }
        return items
    }

    /// Runs `modelfile arguments…` under the caps; returns (exit status, killed by a signal, seconds).
    func capped(_ arguments: [String]) throws -> (status: Int32, signaled: Bool, seconds: Double) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        process.arguments = ["-c", "ulimit -v \(Self.memoryCapKiB); exec \"$0\" \"$@\" >/dev/null 2>&1", CLIBinary.url.path] + arguments
        let start = Date()
        try process.run()
        while process.isRunning {
            if Date().timeIntervalSince(start) > Self.timeCapSeconds { process.terminate(); break }
            usleep(2_000)
        }
        process.waitUntilExit()
        return (process.terminationStatus, process.terminationReason == .uncaughtSignal, Date().timeIntervalSince(start))
    }

    @Test("every hostile file is refused (exit 1 or 2) within the caps, and no payload runs")
    func corpusIsRefused() throws {
        unlink(Self.canary)
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for (name, bytes, expectation) in try Self.corpus() {
            let path = folder.appendingPathComponent(name).path
            try Data(bytes).write(to: URL(fileURLWithPath: path))
            let output = folder.appendingPathComponent("out-\(name).safetensors").path
            // The exit codes each command must give: refused is 2 (verify reports 1).
            let expected: [(arguments: [String], status: Int32?)]
            switch expectation {
            case .refusedAndFlagged, .refused, .refusedWhenRead:
                expected = [(["inspect", path], expectation == .refusedWhenRead ? 0 : 2), (["verify", path], 1), (["convert", path, output], 2),
                            (["scan", path], expectation == .refusedAndFlagged ? 1 : nil),
                            (["inspect", "--allow-unknown-objects", path], nil)]
            case .inertButReported:
                expected = [(["inspect", path], 0), (["verify", path], 1), (["scan", path], 1), (["inspect", "--allow-unknown-objects", path], 0)]
            case .notAModelFile, .notAModelFileFlagged:
                expected = [(["inspect", path], 2), (["verify", path], 2), (["convert", path, output], 2),
                            (["scan", path], expectation == .notAModelFileFlagged ? 1 : 2), (["inspect", "--allow-unknown-objects", path], 2)]
            }
            for (arguments, status) in expected {
                let result = try capped(arguments)
                // Whatever the verdict, never a crash (a signal), never past the caps.
                #expect(!result.signaled && [0, 1, 2].contains(result.status), "\(arguments[0]) \(name): exit \(result.status)\(result.signaled ? " (signal)" : "")")
                if let status { #expect(result.status == status, "\(arguments.joined(separator: " ")): exit \(result.status), expected \(status)") }
                #expect(result.seconds < Self.timeCapSeconds, "\(arguments[0]) \(name) took \(result.seconds) s")
            }
            if expectation != .inertButReported {
                #expect(!FileManager.default.fileExists(atPath: output), "convert \(name) wrote nothing")
            }
        }
        #expect(!FileManager.default.fileExists(atPath: Self.canary), "no payload ran")
    }

    @Test("the controls load under the same caps")
    func controls() throws {
        let folder = try Fixture.temporaryFolder()
        defer { try? FileManager.default.removeItem(at: folder) }
        for name in ["torch/state_dict.pth", "torch/views_legacy.pt", "torch/big_endian.pth", "safetensors/dtypes.safetensors",
                     "lightning/adamw_amsgrad.ckpt", "safetensors/sharded", "gguf/tiny_llama.gguf"] {
            let output = folder.appendingPathComponent(name.replacingOccurrences(of: "/", with: "-") + ".safetensors").path
            for command in [["inspect", Fixture.path(name)], ["verify", Fixture.path(name)], ["convert", Fixture.path(name), output]] {
                let result = try capped(command)
                #expect(result.status == 0 && !result.signaled, "\(command[0]) \(name): exit \(result.status)")
            }
        }
    }
}
