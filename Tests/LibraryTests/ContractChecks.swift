// Every line of the library contract (docs/library.md), written as a program outside this package
// would write it: `import ModelFile` alone (Foundation only to read the expected values). The
// numbers are compared with what PyTorch and the reference libraries computed
// (Fixtures/generate_library.py → Fixtures/library/expected.json; training parity:
// Fixtures/runtime/training.json).
//
// This file is compiled twice: by the LibraryTests target (`swift test`), and by
// scripts/check_library_contract.sh into a fresh package outside the repository that depends on
// this one by path, so the product is checked as a consumer sees it.

import Foundation
import ModelFile

/// A run of the contract checks: each section checks some lines of the contract and records, per
/// line, what did not hold.
final class ContractRun {
    /// The repository root (for `data/diabetes.csv` and `Fixtures/`).
    let root: String
    /// A folder for files the checks write.
    let work: String
    /// `Fixtures/library/expected.json`.
    let expected: [String: Any]
    /// The contract values (`expected["contract"]`).
    let values: [String: Any]
    /// What each file fixture holds (`expected["files"]`).
    let files: [String: Any]
    /// Each contract line checked, with its failures (empty: it held).
    private(set) var lines: [(line: String, failures: [String])] = []

    init(root: String, work: String) throws {
        self.root = root
        self.work = work
        let data = try Data(contentsOf: URL(fileURLWithPath: root + "/Fixtures/library/expected.json"))
        expected = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
        values = expected["contract"] as? [String: Any] ?? [:]
        files = expected["files"] as? [String: Any] ?? [:]
    }

    /// The failures of every line, prefixed by the line.
    var failures: [String] { lines.flatMap { line in line.failures.map { "\(line.line): \($0)" } } }

    /// Checks one contract line: `body` runs; an error it throws is a failure of the line.
    func line(_ text: String, _ body: () throws -> Void) {
        lines.append((text, []))
        do { try body() } catch { fail("threw \(error)") }
    }

    /// Records a failure of the current line.
    func fail(_ message: String) {
        if lines.isEmpty { lines.append(("(setup)", [])) }
        lines[lines.count - 1].failures.append(message)
    }

    /// Records a failure unless `condition` holds (an error it throws is a failure too).
    func expect(_ condition: @autoclosure () throws -> Bool, _ message: @autoclosure () -> String) {
        do {
            if try !condition() { fail(message()) }
        } catch {
            fail("\(message()): threw \(error)")
        }
    }

    /// The tensor named `name` in `weights`, as float32.
    func tensor(named name: String, in weights: StateDict) throws -> Tensor {
        guard let raw = weights[name] else { throw MissingTensor(name: name) }
        return try Tensor(raw)
    }

    /// A tensor the checks need is not in a state dict.
    struct MissingTensor: Error, CustomStringConvertible {
        let name: String
        var description: String { "no tensor named \(name)" }
    }

    /// The expected record `{shape, values}` under `key` of `dictionary` (the contract values by default).
    func record(_ key: String, in dictionary: [String: Any]? = nil) -> (shape: [Int], values: [Float]) {
        guard let record = (dictionary ?? values)[key] as? [String: Any] else {
            fail("no expected value \(key)")
            return ([], [])
        }
        return (record["shape"] as? [Int] ?? [], (record["values"] as? [Double] ?? []).map { Float($0) })
    }

    /// The expected record as a tensor.
    func tensor(_ key: String, in dictionary: [String: Any]? = nil) -> Tensor {
        let (shape, scalars) = record(key, in: dictionary)
        return scalars.count == shape.reduce(1, *) ? Tensor(scalars, shape: shape) : Tensor(0)
    }

    /// Expects `actual` to have the shape of the expected record `key` and values within
    /// `rtol`·|expected| + `atol` of it.
    func expectClose(_ actual: Tensor, _ key: String, in dictionary: [String: Any]? = nil, rtol: Float = 1e-5, atol: Float = 1e-6) {
        let (shape, scalars) = record(key, in: dictionary)
        expectClose(actual, shape: shape, scalars, rtol: rtol, atol: atol, key)
    }

    /// Expects `actual` to have `shape` and values within `rtol`·|expected| + `atol` of `scalars`.
    func expectClose(_ actual: Tensor, shape: [Int], _ scalars: [Float], rtol: Float = 1e-5, atol: Float = 1e-6, _ label: String) {
        guard actual.shape == shape else { return fail("\(label): shape \(actual.shape), expected \(shape)") }
        for (index, (a, e)) in zip(actual.scalars, scalars).enumerated() where !(abs(a - e) <= atol + rtol * abs(e)) {
            return fail("\(label): element \(index) is \(a), expected \(e)")
        }
    }

    /// A float32 state dict from records `[{name, shape, values}]`, in order.
    func stateDict(_ records: Any?) throws -> StateDict {
        let entries = (records as? [[String: Any]] ?? []).map { entry -> (String, RawTensor) in
            let shape = entry["shape"] as? [Int] ?? []
            let scalars = (entry["values"] as? [Double] ?? []).map { Float($0) }
            return (entry["name"] as? String ?? "", Tensor(scalars, shape: shape).rawTensor())
        }
        return try StateDict(entries)
    }

    /// Expects `weights` to hold exactly the records' names, with their shapes and values; in the
    /// records' order unless `ordered` is false (safetensors files keep their own order: by dtype,
    /// then name).
    func expectStateDict(_ weights: StateDict, _ records: Any?, ordered: Bool = true, rtol: Float = 0, atol: Float = 0,
                         _ label: String) throws {
        let expected = try stateDict(records)
        let (found, wanted) = ordered ? (weights.names, expected.names) : (weights.names.sorted(), expected.names.sorted())
        expect(found == wanted, "\(label): names \(weights.names), expected \(expected.names)")
        for (name, raw) in expected {
            guard let found = weights[name] else { continue }
            let value = try Tensor(found), reference = try Tensor(raw)
            expectClose(value, shape: reference.shape, reference.scalars, rtol: rtol, atol: atol, "\(label) \(name)")
        }
    }

    /// Expects `body` to throw an error whose description contains `text`.
    func expectThrows(_ text: String, _ body: () throws -> Void) {
        do {
            try body()
            fail("did not throw (expected an error naming \(text))")
        } catch {
            expect("\(error)".contains(text), "the error \"\(error)\" does not name \(text)")
        }
    }

    /// `Fixtures/library/<name>`.
    func fixture(_ name: String) -> String { root + "/Fixtures/library/" + name }

    /// The sections, in contract order.
    static let sections: [(name: String, run: @Sendable (ContractRun) throws -> Void)] = [
        ("creation", { try $0.creation() }), ("shapes and views", { try $0.views() }), ("math", { try $0.math() }),
        ("autograd", { try $0.autograd() }), ("modules", { try $0.modules() }), ("losses", { try $0.losses() }),
        ("optimizers", { try $0.optimizers() }), ("data and training", { try $0.data() }),
        ("loading files", { try $0.loading() }), ("saving files", { try $0.saving() }),
        ("module files", { try $0.moduleFiles() }), ("inspect and scan", { try $0.inspectAndScan() }),
    ]

    /// Runs every section; a section that throws is recorded as a failure.
    func runAll() {
        for section in ContractRun.sections {
            do { try section.run(self) } catch { line("section \(section.name)") { fail("threw \(error)") } }
        }
    }
}

// MARK: - Tensors

extension ContractRun {
    func creation() throws {
        line("Tensor.zeros([2, 3]), Tensor.ones([2, 3]), Tensor.eye(3), Tensor.full([2, 3], value: 7)") {
            expectClose(Tensor.zeros([2, 3]), "zeros", rtol: 0, atol: 0)
            expectClose(Tensor.ones([2, 3]), "ones", rtol: 0, atol: 0)
            expectClose(Tensor.eye(3), "eye", rtol: 0, atol: 0)
            expectClose(Tensor.full([2, 3], value: 7), "full", rtol: 0, atol: 0)
        }
        line("Tensor.randn([2, 3], using: &rng), Tensor.rand([2, 3], using: &rng); var rng = SplitMix64(seed: 42)") {
            var rng = SplitMix64(seed: 42)
            expectClose(Tensor.randn([2, 3], using: &rng), "randn_seed_42", rtol: 1e-6)
            expectClose(Tensor.rand([2, 3], using: &rng), "rand_after_randn", rtol: 0, atol: 0)
        }
        line("Tensor([1, 2] as [Float]), Tensor([[1, 2], [3, 4]]), Tensor(scalars, shape: [2, 3]); also from [Double] and [Int]") {
            expectClose(Tensor([1, 2] as [Float]), "tensor_floats", rtol: 0, atol: 0)
            expectClose(Tensor([[1, 2], [3, 4]]), "tensor_nested", rtol: 0, atol: 0)
            let scalars: [Float] = [1, 2, 3, 4, 5, 6]
            expectClose(Tensor(scalars, shape: [2, 3]), "tensor_shape", rtol: 0, atol: 0)
            expectClose(Tensor([0.1, 0.2, 1.0 / 3] as [Double]), "tensor_doubles", rtol: 0, atol: 0)
            expectClose(Tensor([1, 2, 16_777_217] as [Int]), "tensor_ints", rtol: 0, atol: 0)
        }
        line("Tensor.arange(5), Tensor.arange(0, 1, step: 0.25): same length and values as torch; arange(1, 1.3, step: 0.1) has 4 elements") {
            expectClose(Tensor.arange(5), "arange_5", rtol: 0, atol: 0)
            expectClose(Tensor.arange(0, 1, step: 0.25), "arange_0_1_025", rtol: 0, atol: 0)
            expectClose(Tensor.arange(1, 1.3, step: 0.1), "arange_1_13_01", rtol: 0, atol: 0)
            expect(Tensor.arange(1, 1.3, step: 0.1).elementCount == 4, "arange(1, 1.3, step: 0.1) is not 4 elements")
        }
    }

    func views() throws {
        let facts = values["shape_facts"] as? [String: Any] ?? [:]
        line("x.shape, x.rank, x.elementCount, x.item(), x.scalars") {
            let x = Tensor([[1, 2, 3], [4, 5, 6]])
            expect(x.shape == facts["shape"] as? [Int], "shape \(x.shape)")
            expect(x.rank == facts["dim"] as? Int, "rank \(x.rank)")
            expect(x.elementCount == facts["numel"] as? Int, "elementCount \(x.elementCount)")
            expect(Double(Tensor(3.5).item()) == facts["item"] as? Double, "item \(Tensor(3.5).item())")
            expect(x.scalars == (facts["tolist"] as? [Double] ?? []).map { Float($0) }, "scalars \(x.scalars)")
        }
        let v = Tensor.arange(24).reshaped([2, 3, 4])
        line("x.reshaped([-1]), x.reshaped([2, -1])") {
            expectClose(v.reshaped([-1]), "view_-1", rtol: 0, atol: 0)
            expectClose(v.reshaped([2, -1]), "view_2_-1", rtol: 0, atol: 0)
        }
        line("x.squeezed(), x.squeezed(axis: 1), x.unsqueezed(axis: 0)") {
            let w = Tensor.arange(6).reshaped([2, 1, 3])
            expectClose(w.squeezed(), "squeeze", rtol: 0, atol: 0)
            expectClose(w.squeezed(axis: 1), "squeeze_1", rtol: 0, atol: 0)
            // A dimension whose size is not 1 stays, as in torch.
            expectClose(Tensor.arange(6).reshaped([2, 3]).squeezed(axis: 1), "squeeze_1_noop", rtol: 0, atol: 0)
            expectClose(w.unsqueezed(axis: 0), "unsqueeze_0", rtol: 0, atol: 0)
        }
        line("x.transposed(), x.transposed(0, 1)") {
            expectClose(Tensor.arange(6).reshaped([2, 3]).transposed(), "t", rtol: 0, atol: 0)
            expectClose(v.transposed(0, 1), "transpose_0_1", rtol: 0, atol: 0)
        }
        line("x[1], x[-1], x[1..<3], x[.all, 0] (negative indices count from the end)") {
            let a = Tensor.arange(12).reshaped([4, 3])
            expectClose(a[1], "index_1", rtol: 0, atol: 0)
            expectClose(a[-1], "index_-1", rtol: 0, atol: 0)
            expectClose(a[1..<3], "index_1_3", rtol: 0, atol: 0)
            expectClose(a[.all, 0], "index_all_0", rtol: 0, atol: 0)
        }
        line("Tensor.stacked([a, b], axis: 0), Tensor.concatenated([a, b], axis: 0)") {
            let a = Tensor([1, 2, 3] as [Float]), b = Tensor([4, 5, 6] as [Float])
            expectClose(Tensor.stacked([a, b], axis: 0), "stack_0", rtol: 0, atol: 0)
            expectClose(Tensor.concatenated([a, b], axis: 0), "cat_0", rtol: 0, atol: 0)
        }
    }

    func math() throws {
        line("a.matmul(b): 1-D·1-D is a 0-d dot product, 2-D·1-D a vector, N-D batches broadcast") {
            let p = Tensor([1, 2, 3] as [Float]), q = Tensor([4, 5, 6] as [Float])
            let dot = p.matmul(q)
            expectClose(dot, "matmul_1d_1d", rtol: 0, atol: 0)
            expect(dot.rank == 0, "1-D·1-D has rank \(dot.rank)")
            expectClose(Tensor.arange(6).reshaped([2, 3]).matmul(p), "matmul_2d_1d", rtol: 0, atol: 0)
            expectClose((Tensor.arange(24).reshaped([2, 3, 4]) * 0.1).matmul(Tensor.arange(20).reshaped([4, 5]) * 0.1), "matmul_batch")
            expectClose((Tensor.arange(24).reshaped([2, 1, 3, 4]) * 0.1).matmul(Tensor.arange(40).reshaped([5, 4, 2]) * 0.1), "matmul_broadcast")
        }
        let e = Tensor([[0.5, -1.5, 2.0], [3.0, -0.25, 1.0]])
        let f = Tensor([1.0, 2.0, -4.0])
        line("+ - * / with broadcasting, exp log sqrt abs pow sigmoid tanh relu") {
            expectClose(e + f, "add", rtol: 0, atol: 0)
            expectClose(e - f, "sub", rtol: 0, atol: 0)
            expectClose(e * f, "mul", rtol: 0, atol: 0)
            expectClose(e / f, "div", rtol: 0, atol: 0)
            expectClose(e.exp(), "exp")
            expectClose(e.abs().log(), "log_abs")
            expectClose(e.abs().sqrt(), "sqrt_abs")
            expectClose(e.abs(), "abs", rtol: 0, atol: 0)
            expectClose(e.pow(2), "pow_2")
            expectClose(e.sigmoid(), "sigmoid")
            expectClose(e.tanh(), "tanh")
            expectClose(e.relu(), "relu", rtol: 0, atol: 0)
        }
        line("x.sum(), x.sum(axis: 0), x.mean(), x.max(axis:) (values), x.argmax(axis:) (indices), x.softmax(axis:)") {
            expectClose(e.sum(), "sum")
            expectClose(e.sum(axis: 0), "sum_0")
            expectClose(e.mean(), "mean")
            expectClose(e.max(axis: 1), "max_1", rtol: 0, atol: 0)
            expectClose(e.argmax(axis: 1), "argmax_1", rtol: 0, atol: 0)
            expectClose(e.softmax(axis: 1), "softmax_1")
        }
        line("Tensor.ones([17_000_000]).sum().item() == 17_000_000") {
            let sum = Tensor.ones([17_000_000]).sum().item()
            expect(sum == 17_000_000 && Double(sum) == values["ones_17m_sum"] as? Double, "the sum is \(sum)")
        }
        line("a.allClose(b, rtol: 1e-5, atol: 1e-8)") {
            let verdicts = values["allclose"] as? [String: Bool] ?? [:]
            let a = Tensor([1, 2] as [Float])
            expect(a.allClose(Tensor([1, 2.00001] as [Float]), rtol: 1e-5, atol: 1e-8) == verdicts["close"], "close pair")
            expect(a.allClose(Tensor([1, 2.0001] as [Float]), rtol: 1e-5, atol: 1e-8) == verdicts["far"], "far pair")
        }
    }
}

// MARK: - Autograd, modules, losses, optimizers, data

extension ContractRun {
    func autograd() throws {
        line("Tensor(scalars, shape:, requiresGrad: true); y.backward(); x.grad accumulates across backward calls") {
            let x = Tensor([0.5, -1.5, 2.0], shape: [3], requiresGrad: true)
            (x * x).sum().backward()
            expectClose(x.grad ?? Tensor(0), "grad_first", rtol: 0, atol: 0)
            (x * 3).sum().backward()
            expectClose(x.grad ?? Tensor(0), "grad_accumulated", rtol: 0, atol: 0)
        }
        line("Tensor([Float], requiresGrad:), x.requiringGrad()") {
            let x = Tensor([1, 2] as [Float], requiresGrad: true)
            expect(x.requiresGrad && x.isLeaf, "Tensor([Float], requiresGrad: true) is not a leaf that requires grad")
            let y = Tensor([3, 4] as [Float]).requiringGrad()
            (y * y).sum().backward()
            expect(y.grad?.scalars == [6, 8], "requiringGrad(): gradient \(String(describing: y.grad))")
        }
        line("withNoGrad { w -= lr * w.grad! } keeps w a leaf that requires grad") {
            var w = Tensor([1.0, -2.0, 0.5], shape: [3], requiresGrad: true)
            let loss = ((w * Tensor([3.0, 1.0, -2.0])).sum() - 1).pow(2)
            loss.backward()
            let lr: Float = 0.1
            withNoGrad { w -= lr * w.grad! }
            let expected = values["no_grad_update"] as? [String: Any] ?? [:]
            expectClose(w, "no_grad_update")
            expect(w.isLeaf == expected["is_leaf"] as? Bool && w.requiresGrad == expected["requires_grad"] as? Bool,
                   "after the update: leaf \(w.isLeaf), requires grad \(w.requiresGrad)")
        }
        line("Parameter(tensor); parameter.value is the tensor") {
            let parameter = Parameter(Tensor([1, 2] as [Float]))
            expect(parameter.value.scalars == [1, 2] && parameter.requiresGrad, "Parameter: \(parameter.value)")
        }
    }

    /// The contract's custom network: stored Linear properties and an array of modules.
    final class Net: Module {
        let linear1 = Linear(inFeatures: 8, outFeatures: 6)
        let blocks = [Linear(inFeatures: 6, outFeatures: 6), Linear(inFeatures: 6, outFeatures: 6)]
        let output = Linear(inFeatures: 6, outFeatures: 1)

        func forward(_ x: Tensor) -> Tensor {
            var h = linear1(x).relu()
            for block in blocks { h = block(h).relu() }
            return output(h).sigmoid()
        }
    }

    func modules() throws {
        line("Linear(inFeatures: 8, outFeatures: 6): PyTorch's default init, fresh random values for each layer") {
            let a = Linear(inFeatures: 8, outFeatures: 6), b = Linear(inFeatures: 8, outFeatures: 6)
            let bound = Float(values["linear_bound"] as? Double ?? 0)
            expect(a.weight.shape == [6, 8] && a.bias?.shape == [6], "shapes \(a.weight.shape), \(String(describing: a.bias?.shape))")
            expect((a.weight.value.scalars + (a.bias?.value.scalars ?? [])).allSatisfy { abs($0) <= bound }, "values beyond ±\(bound)")
            expect(a.weight.value != b.weight.value, "two layers have the same weights")
        }
        line("Linear(..., using: &rng) for a seeded one") {
            var rng = SplitMix64(seed: 42)
            let layer = Linear(inFeatures: 8, outFeatures: 6, using: &rng)
            let seeded = values["linear_seeded_42"] as? [String: Any] ?? [:]
            let weight = (seeded["weight"] as? [Double] ?? []).map { Float($0) }, bias = (seeded["bias"] as? [Double] ?? []).map { Float($0) }
            expectClose(layer.weight.value, shape: [6, 8], weight, rtol: 1e-7, atol: 0, "weight")
            expectClose(layer.bias?.value ?? Tensor(0), shape: [6], bias, rtol: 1e-7, atol: 0, "bias")
        }
        line("Sequential([...]), Sigmoid(), ReLU(), Tanh()") {
            let model = Sequential([Linear(inFeatures: 3, outFeatures: 4), Sigmoid(), Linear(inFeatures: 4, outFeatures: 2), ReLU(),
                                    Linear(inFeatures: 2, outFeatures: 2), Tanh()])
            let expected = values["sequential"] as? [String: Any] ?? [:]
            try model.loadStateDict(try stateDict(expected["state"]))
            expect(model.stateDict().names == (try stateDict(expected["state"])).names, "names \(model.stateDict().names)")
            expectClose(model(tensor("input", in: expected)), "output", in: expected)
        }
        let expected = values["net"] as? [String: Any] ?? [:]
        let names = (expected["state"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
        line("a custom final class conforming to Module: stored properties named as PyTorch names attributes; [Linear] as blocks.0.weight") {
            let model = Net()
            expect(model.namedParameters().map(\.name) == names, "names \(model.namedParameters().map(\.name)), torch's \(names)")
        }
        line("model(x) calls forward; model.namedParameters(), model.parameters(), model.parameterCount, model.stateDict()") {
            let model = Net()
            try model.loadStateDict(try stateDict(expected["state"]))
            expectClose(model(tensor("input", in: expected)), "output", in: expected)
            expect(model.parameters().count == names.count, "parameters() has \(model.parameters().count)")
            expect(model.parameterCount == expected["parameters"] as? Int, "parameterCount \(model.parameterCount)")
            try expectStateDict(model.stateDict(), expected["state"], "stateDict()")
        }
    }

    func losses() throws {
        func check(_ key: String, _ loss: (Tensor, Tensor) -> Tensor) {
            let expected = values[key] as? [String: Any] ?? [:]
            let prediction = tensor("prediction", in: expected).requiringGrad()
            let value = loss(prediction, tensor("target", in: expected))
            value.backward()
            expectClose(value, shape: [], [Float(expected["value"] as? Double ?? .nan)], rtol: 1e-6, "\(key) value")
            expectClose(prediction.grad ?? Tensor(0), "grad", in: expected, rtol: 1e-5, atol: 1e-7)
        }
        line("BCELoss(): loss(prediction, target), mean reduction, value and gradient as torch's") {
            check("bce") { BCELoss()($0, $1) }
        }
        line("BCEWithLogitsLoss(): stable at large logits") {
            check("bce_logits") { BCEWithLogitsLoss()($0, $1) }
        }
        line("MSELoss()") {
            check("mse") { MSELoss()($0, $1) }
        }
        line("CrossEntropyLoss(): class indices as float values") {
            check("cross_entropy") { CrossEntropyLoss()($0, $1) }
        }
    }

    func optimizers() throws {
        let expected = values["optimizers"] as? [String: Any] ?? [:]
        let after = expected["after_3_steps"] as? [String: Any] ?? [:]
        func run(_ name: String, _ make: (Linear) -> any Optimizer) throws {
            let layer = Linear(inFeatures: 3, outFeatures: 2)
            try layer.loadStateDict(try stateDict(expected["start"]))
            let opt = make(layer)
            let x = tensor("x", in: expected), y = tensor("y", in: expected)
            for _ in 0..<3 {
                opt.zeroGrad()
                MSELoss()(layer(x), y).backward()
                opt.step()
            }
            try expectStateDict(layer.stateDict(), after[name], rtol: 1e-5, atol: 1e-7, name)
        }
        line("SGD(model.parameters(), lr: 0.01, momentum: 0); opt.zeroGrad(), opt.step()") {
            try run("sgd") { SGD($0.parameters(), lr: 0.1, momentum: 0.9) }
        }
        line("Adam(model.parameters(), lr: 1e-3)") {
            try run("adam") { Adam($0.parameters(), lr: 0.01) }
        }
        line("AdamW(...)") {
            try run("adamw") { AdamW($0.parameters(), lr: 0.01) }
        }
    }

    /// The reference network, as the tutorial writes it.
    final class FNN: Module {
        let linear1 = Linear(inFeatures: 8, outFeatures: 6)
        let linear2 = Linear(inFeatures: 6, outFeatures: 4)
        let linear3 = Linear(inFeatures: 4, outFeatures: 2)
        let linear4 = Linear(inFeatures: 2, outFeatures: 1)

        func forward(_ x: Tensor) -> Tensor {
            var h = linear1(x).sigmoid()
            h = linear2(h).sigmoid()
            h = linear3(h).sigmoid()
            return linear4(h).sigmoid()
        }
    }

    func data() throws {
        let facts = values["diabetes"] as? [String: Any] ?? [:]
        let csv = root + "/data/diabetes.csv"
        line("CSVDataset(contentsOfFile:)") {
            let dataset = try CSVDataset(contentsOfFile: csv)
            expect(dataset.count == facts["rows"] as? Int && dataset.inputs.shape == [dataset.count, facts["features"] as? Int ?? 0],
                   "\(dataset.count) rows, inputs \(dataset.inputs.shape)")
            expectClose(dataset.inputs[0], shape: [8], (facts["first_row"] as? [Double] ?? []).map { Float($0) }, rtol: 0, atol: 0, "first row")
        }
        line("TensorDataset(inputs:targets:); DataLoader(dataset, batchSize: 32, shuffle: true); for batch in loader (batch.inputs, batch.targets)") {
            let table = try CSVDataset(contentsOfFile: csv)
            let dataset = TensorDataset(inputs: table.inputs, targets: table.targets)
            let loader = DataLoader(dataset, batchSize: 32, shuffle: true)
            var batches = 0, inputSum = 0.0, targetSum = 0.0, firstRows: [[Float]] = []
            for batch in loader {
                batches += 1
                inputSum += batch.inputs.scalars.reduce(0.0) { $0 + Double($1) }
                targetSum += batch.targets.scalars.reduce(0.0) { $0 + Double($1) }
                firstRows.append(batch.inputs[0].scalars)
            }
            expect(batches == facts["batches_of_32"] as? Int, "\(batches) batches")
            expect(abs(inputSum - (facts["input_sum"] as? Double ?? 0)) < 1e-3 && targetSum == facts["target_sum"] as? Double,
                   "an epoch covers inputs summing to \(inputSum), targets to \(targetSum)")
            expect(firstRows.first != table.inputs[0].scalars || firstRows[1] != table.inputs[32].scalars, "shuffle: true kept the file order")
        }
        line("training through the library (custom Module, SGD, DataLoader, no shuffle) matches torch's weights after 2 epochs within 1e-4 relative") {
            let data = try Data(contentsOf: URL(fileURLWithPath: root + "/Fixtures/runtime/training.json"))
            let training = try JSONSerialization.jsonObject(with: data) as? [String: Any] ?? [:]
            let initial = training["initial"] as? [String: Any] ?? [:], final = training["final"] as? [String: Any] ?? [:]
            let model = FNN()
            let order = model.namedParameters().map(\.name)
            try model.loadStateDict(try StateDict(order.map { ($0, tensor($0, in: initial).rawTensor()) }))
            let loader = DataLoader(try CSVDataset(contentsOfFile: csv), batchSize: 32, shuffle: false)
            let optimizer = SGD(model.parameters(), lr: 0.01, momentum: 0)
            let loss = BCELoss()
            for _ in 0..<2 {
                for batch in loader {
                    optimizer.zeroGrad()
                    loss(model(batch.inputs), batch.targets).backward()
                    optimizer.step()
                }
            }
            for (name, parameter) in model.namedParameters() {
                expectClose(parameter.value, name, in: final, rtol: 1e-4, atol: 0)
            }
            expect(model.linear4.weight.value != tensor("linear4.weight", in: initial), "the weights did not move")
        }
    }
}

// MARK: - Files

extension ContractRun {
    func loading() throws {
        let fnn = files["fnn"] as? [String: Any] ?? [:]
        line("let weights = try ModelFile.load(\"model.pth\"): a StateDict; weights.names; weights[\"linear1.weight\"] optional; try Tensor(...)") {
            let weights = try ModelFile.load(fixture("fnn.pth"))
            try expectStateDict(weights, fnn["state"], "fnn.pth")
            expect(weights["linear1.weight"] != nil && weights["no.such.tensor"] == nil, "subscript")
            if let raw = weights["linear1.weight"] {
                let weight = try Tensor(raw)
                expect(weight.shape == [6, 8], "Tensor(raw) shape \(weight.shape)")
            }
        }
        line("detected by content: safetensors, PyTorch zip or legacy") {
            for name in ["fnn.safetensors", "fnn_legacy.pth"] {
                try expectStateDict(try ModelFile.load(fixture(name)), fnn["state"], ordered: name.hasSuffix(".pth"), name)
            }
            // The extension does not decide: a copy under another name reads the same.
            let copy = work + "/weights.data"
            try? FileManager.default.removeItem(atPath: copy)
            try FileManager.default.copyItem(atPath: fixture("fnn_legacy.pth"), toPath: copy)
            try expectStateDict(try ModelFile.load(copy), fnn["state"], "renamed legacy file")
        }
        line("Lightning checkpoint weights: its state_dict entries under their own names such as model.linear1.weight") {
            let ckpt = files["ckpt"] as? [String: Any] ?? [:]
            try expectStateDict(try ModelFile.load(fixture("fnn.ckpt")), ckpt["state"], "fnn.ckpt")
        }
        line("training checkpoints: their weights, as convert selects them") {
            let training = files["training_checkpoint"] as? [String: Any] ?? [:]
            try expectStateDict(try ModelFile.load(fixture("fnn_training.pt")), training["state"], "fnn_training.pt")
        }
        line("sharded sets and model folders") {
            let sharded = try ModelFile.load(fixture("fnn_sharded/model.safetensors.index.json"))
            try expectStateDict(sharded, fnn["state"], ordered: false, "sharded set")
            try expectStateDict(try ModelFile.load(fixture("fnn_sharded")), fnn["state"], ordered: false, "folder of shards")
            let bert = files["bert"] as? [String: Any] ?? [:]
            let folder = try ModelFile.load(fixture("bert-tiny"))
            expect(folder.names.sorted() == bert["names_sorted"] as? [String], "bert-tiny names \(folder.names)")
            let embeddings = try tensor(named: "embeddings.word_embeddings.weight", in: folder)
            expect(embeddings.shape == bert["word_embeddings_shape"] as? [Int], "word embeddings \(embeddings.shape)")
            expectClose(embeddings[0], shape: [embeddings.shape.last ?? 0], (bert["word_embeddings_row_0"] as? [Double] ?? []).map { Float($0) },
                        rtol: 0, atol: 0, "word embeddings row 0")
        }
        line("NumPy: an .npz's arrays by name, an .npy's array under its file name") {
            let npz = files["npz"] as? [String: Any] ?? [:]
            let archive = try ModelFile.load(fixture("fnn.npz"))
            expect(archive.names == npz["names"] as? [String], "fnn.npz names \(archive.names)")
            try expectStateDict(archive, fnn["state"], "fnn.npz")
            let array = try ModelFile.load(fixture("linear1_weight.npy"))
            expect(array.names == ["linear1_weight"], "linear1_weight.npy names \(array.names)")
            expectClose(try tensor(named: "linear1_weight", in: array), "linear1_weight", in: npz, rtol: 0, atol: 0)
        }
        line("a cached org/name: the local Hugging Face cache's snapshot, as the commands read it") {
            // A cache laid out as huggingface_hub lays it out: refs/main names the commit, the
            // snapshot holds the files (here copies of the fixtures).
            let cache = work + "/hub-cache", commit = String(repeating: "ab", count: 20)
            let snapshot = cache + "/models--org--fnn/snapshots/" + commit
            try FileManager.default.createDirectory(atPath: snapshot, withIntermediateDirectories: true)
            try FileManager.default.createDirectory(atPath: cache + "/models--org--fnn/refs", withIntermediateDirectories: true)
            try Data((commit + "\n").utf8).write(to: URL(fileURLWithPath: cache + "/models--org--fnn/refs/main"))
            try? FileManager.default.removeItem(atPath: snapshot + "/model.safetensors")
            try FileManager.default.copyItem(atPath: fixture("fnn.safetensors"), toPath: snapshot + "/model.safetensors")
            try expectStateDict(try ModelFile.load("org/fnn", hubCache: cache), fnn["state"], ordered: false, "org/fnn")
            let model = FNN()
            try model.load(from: "org/fnn", hubCache: cache)
            try expectStateDict(model.stateDict(), fnn["state"], "model.load(from: \"org/fnn\")")
            expect(try ModelFile.inspect("org/fnn", hubCache: cache).totals.parameters == fnn["parameters"] as? Int, "inspect org/fnn")
            expect(try ModelFile.scan("org/fnn", hubCache: cache).isClean, "scan org/fnn")
            expectThrows("org/absent") { _ = try ModelFile.load("org/absent", hubCache: cache) }
        }
        line("GGUF: block types dequantized to float32 and float16 widened, as convert does") {
            let gguf = files["gguf"] as? [String: Any] ?? [:]
            let records = gguf["tensors"] as? [[String: Any]] ?? []
            let weights = try ModelFile.load(fixture("tiny.gguf"))
            expect(weights.names == records.compactMap { $0["name"] as? String }, "tiny.gguf names \(weights.names)")
            for record in records {
                let name = record["name"] as? String ?? ""
                expect(weights[name]?.dtype == .f32, "\(name) is \(String(describing: weights[name]?.dtype)), not F32")
                let values = (record["values"] as? [Double] ?? []).map { Float($0) }
                expectClose(try tensor(named: name, in: weights), shape: record["shape"] as? [Int] ?? [], values, rtol: 0, atol: 0,
                            "\(name) (\(record["type"] as? String ?? ""))")
            }
        }
        line("refusals (unknown globals, corrupt files) are thrown as typed errors whose description names the refused global or the place of the fault") {
            do {
                _ = try ModelFile.load(fixture("evil.pth"))
                fail("evil.pth was loaded")
            } catch let error as ModelFileError {
                expect("\(error)".contains("posix.system"), "the refusal \"\(error)\" does not name posix.system")
                expect(error.path == fixture("evil.pth"), "the error names \(error.path)")
            }
            let truncated = work + "/truncated.safetensors"
            let bytes = try Data(contentsOf: URL(fileURLWithPath: fixture("fnn.safetensors")))
            try bytes.prefix(bytes.count - 10).write(to: URL(fileURLWithPath: truncated))
            expectThrows("truncated.safetensors") { _ = try ModelFile.load(truncated) }
        }
    }

    func saving() throws {
        let fnn = files["fnn"] as? [String: Any] ?? [:]
        let weights = try ModelFile.load(fixture("fnn.safetensors"))
        line("try ModelFile.save(stateDict, to: \"out.safetensors\", metadata: [...]): the bytes safetensors writes") {
            let out = work + "/out.safetensors"
            try ModelFile.save(weights, to: out, metadata: ["format": "pt"])
            let written = try Data(contentsOf: URL(fileURLWithPath: out))
            expect(written == (try Data(contentsOf: URL(fileURLWithPath: fixture("fnn.safetensors")))),
                   "the file differs from safetensors.torch.save_file's")
            try ModelFile.save(weights, to: work + "/plain.safetensors")
            try expectStateDict(try ModelFile.load(work + "/plain.safetensors"), fnn["state"], ordered: false, "without metadata")
        }
        line("format by extension: .npz") {
            let inOrder = try ModelFile.load(fixture("fnn.pth"))
            try ModelFile.save(inOrder, to: work + "/out.npz")
            try expectStateDict(try ModelFile.load(work + "/out.npz"), fnn["state"], "out.npz")
            expect(try ModelFile.inspect(work + "/out.npz").format == .numpyNpz, "out.npz is not a NumPy archive")
        }
        line("format by extension: .gguf (added to the contract)") {
            let inOrder = try ModelFile.load(fixture("fnn.pth"))
            try ModelFile.save(inOrder, to: work + "/out.gguf", metadata: ["general.architecture": "fnn"])
            try expectStateDict(try ModelFile.load(work + "/out.gguf"), fnn["state"], "out.gguf")
            let inspection = try ModelFile.inspect(work + "/out.gguf")
            expect(inspection.format == .gguf && inspection.gguf?.metadata.first?.key == "general.architecture", "out.gguf: \(inspection.format)")
        }
        line("format by extension: .pth/.pt/.bin") {
            let inOrder = try ModelFile.load(fixture("fnn.pth"))
            for name in ["out.pth", "out.pt", "out.bin"] {
                try ModelFile.save(inOrder, to: work + "/" + name)
                try expectStateDict(try ModelFile.load(work + "/" + name), fnn["state"], name)
                expect(try ModelFile.inspect(work + "/" + name).format == .pytorchZip, "\(name) is not a torch zip archive")
            }
        }
    }

    func moduleFiles() throws {
        let fnn = files["fnn"] as? [String: Any] ?? [:]
        let ckpt = files["ckpt"] as? [String: Any] ?? [:]
        line("try model.load(from: \"model.pth\", strict: true, prefix: \"model.\"): any format") {
            let model = FNN()
            try model.load(from: fixture("fnn.ckpt"), strict: true, prefix: "model.")
            let expected = try stateDict(ckpt["state"])
            for (name, parameter) in model.namedParameters() {
                expect(try tensor(named: "model." + name, in: expected) == parameter.value, "\(name) was not loaded from fnn.ckpt")
            }
            for name in ["fnn.safetensors", "fnn.pth", "fnn_legacy.pth", "fnn_sharded"] {
                let other = FNN()
                try other.load(from: fixture(name))
                try expectStateDict(other.stateDict(), fnn["state"], name)
            }
            let predictions = (fnn["predictions_first_5_rows"] as? [Double] ?? []).map { Float($0) }
            let loaded = FNN()
            try loaded.load(from: fixture("fnn.pth"))
            let rows = try CSVDataset(contentsOfFile: root + "/data/diabetes.csv").inputs[0..<5]
            expectClose(loaded(rows), shape: [5, 1], predictions, rtol: 1e-6, "predictions")
        }
        line("checking every name and shape before changing anything (a failing strict load changes nothing)") {
            let model = FNN()
            let before = model.stateDict()
            do {
                try model.load(from: fixture("partial.safetensors"))
                fail("a strict load of partial.safetensors succeeded")
            } catch let error as NNError {
                guard case .stateDictMismatch(let missing, let unexpected, _) = error else { return fail("\(error)") }
                expect(missing == ["linear4.weight", "linear4.bias"] && unexpected == ["extra.weight"], "\(error)")
            }
            expect(model.stateDict() == before, "the failing load changed the model")
        }
        line("prefix: keeps the entries that start with it, with the prefix removed, and ignores the others") {
            let model = FNN()
            let report = try model.load(from: fixture("fnn.ckpt"), strict: false, prefix: "model.")
            expect(report.missing.isEmpty && report.unexpected.isEmpty, "report \(report)")
            let none = try FNN().load(from: fixture("fnn.pth"), strict: false, prefix: "model.")
            expect(none.missing.count == 8 && none.unexpected.isEmpty, "a prefix nothing starts with: \(none)")
        }
        line("strict: false loads what matches and returns a report with report.missing and report.unexpected") {
            let model = FNN()
            let report = try model.load(from: fixture("partial.safetensors"), strict: false)
            expect(report.missing == ["linear4.weight", "linear4.bias"], "missing \(report.missing)")
            expect(report.unexpected == ["extra.weight"], "unexpected \(report.unexpected)")
            let expected = try stateDict(fnn["state"])
            expect(try tensor(named: "linear1.weight", in: expected) == model.linear1.weight.value, "linear1.weight was not loaded")
        }
        line("try model.save(to: \"out.safetensors\")") {
            let model = FNN()
            for name in ["model.safetensors", "model.pth", "model.ckpt"] {
                try model.save(to: work + "/" + name)
                let copy = FNN()
                try copy.load(from: work + "/" + name)
                expect(copy.stateDict() == model.stateDict(), "\(name) did not reload to the same weights")
            }
        }
    }

    func inspectAndScan() throws {
        let fnn = files["fnn"] as? [String: Any] ?? [:]
        line("try ModelFile.inspect(path): tensors[i].name/.dtype/.shape, totals.tensors, totals.parameters, globals[i].module/.name/.allowed") {
            let inspection = try ModelFile.inspect(fixture("fnn.pth"))
            let state = fnn["state"] as? [[String: Any]] ?? []
            expect(inspection.tensors.map(\.name) == state.compactMap { $0["name"] as? String }, "names")
            expect(inspection.tensors.allSatisfy { $0.dtype == .f32 }, "dtypes")
            expect(inspection.tensors.map(\.shape.dimensions) == state.compactMap { $0["shape"] as? [Int] }, "shapes")
            expect(inspection.totals.tensors == state.count, "totals.tensors \(inspection.totals.tensors)")
            expect(inspection.totals.parameters == fnn["parameters"] as? Int, "totals.parameters \(inspection.totals.parameters)")
            let globals = inspection.globals.map { [$0.module, $0.name] }
            expect(globals == fnn["globals"] as? [[String]], "globals \(globals)")
            expect(inspection.globals.allSatisfy(\.allowed), "a global of fnn.pth is not allowed")
            let bert = files["bert"] as? [String: Any] ?? [:]
            let folder = try ModelFile.inspect(fixture("bert-tiny"))
            expect(folder.totals.tensors == bert["tensors"] as? Int && folder.totals.parameters == bert["parameters"] as? Int,
                   "bert-tiny totals \(folder.totals)")
            expect(folder.globals.isEmpty, "safetensors has no globals")
        }
        line("warnings[i].code/.message (a typed code and its message)") {
            let inspection = try ModelFile.inspect(fixture("quantized.pth"))
            expect(inspection.warnings.map(\.code) == [.quantizedAsIntegers], "codes \(inspection.warnings.map(\.code))")
            expect(inspection.warnings.first?.message.contains("weight") == true, "message \(inspection.warnings.first?.message ?? "")")
            expect(try ModelFile.inspect(fixture("fnn.pth")).warnings.isEmpty, "fnn.pth has warnings")
        }
        line("inspect and scan: NumPy and GGUF files too") {
            let npz = files["npz"] as? [String: Any] ?? [:]
            let archive = try ModelFile.inspect(fixture("fnn.npz"))
            expect(archive.format == .numpyNpz && archive.tensors.map(\.name) == npz["names"] as? [String], "fnn.npz: \(archive.tensors.map(\.name))")
            expect(archive.totals.parameters == fnn["parameters"] as? Int && archive.globals.isEmpty, "fnn.npz totals \(archive.totals)")
            let array = try ModelFile.inspect(fixture("linear1_weight.npy"))
            expect(array.format == .numpyNpy && array.tensors.map(\.name) == ["linear1_weight"]
                   && array.tensors.first?.shape.dimensions == [6, 8], "linear1_weight.npy: \(array.tensors)")
            let gguf = files["gguf"] as? [String: Any] ?? [:]
            let records = gguf["tensors"] as? [[String: Any]] ?? []
            let tiny = try ModelFile.inspect(fixture("tiny.gguf"))
            expect(tiny.format == .gguf && tiny.tensors.map(\.name) == records.compactMap { $0["name"] as? String }, "tiny.gguf names")
            expect(tiny.tensors.map(\.shape.dimensions) == records.compactMap { $0["shape"] as? [Int] }, "tiny.gguf shapes")
            expect(tiny.gguf?.tensors.map(\.type.name) == records.compactMap { $0["type"] as? String }, "tiny.gguf ggml types")
            for name in ["fnn.npz", "linear1_weight.npy", "tiny.gguf"] {
                let report = try ModelFile.scan(fixture(name))
                expect(report.isClean && report.globals.isEmpty, "scan \(name): \(report.findings.map(\.code))")
            }
            // An object array pickles its items: scan lists the pickle's globals and refuses them.
            let objects = try ModelFile.scan(root + "/Fixtures/numpy/object_array.npz")
            let made = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: root + "/Fixtures/numpy/object_array.npz.json")))
            let arrays = (made as? [String: Any])?["arrays"] as? [[String: Any]] ?? []
            let pickled = arrays.flatMap { $0["globals"] as? [String] ?? [] }
            let names = objects.globals.map { $0.module + "." + $0.name }
            expect(!pickled.isEmpty && names == pickled, "object_array.npz globals \(names), numpy pickled \(pickled)")
            expect(!objects.isClean && objects.globals.allSatisfy { !$0.allowed }, "object_array.npz verdicts")
            expect(objects.files.map(\.content) == [.numpyArchive], "object_array.npz content")
            // GGUF holds no code, but a chat template reaching for Jinja's escape hatches is a finding.
            let template = try ModelFile.scan(root + "/Fixtures/gguf/chat_template_injection.gguf")
            guard case .chatTemplateInjection(_, let key, _, let markers)? = template.findings.first else {
                return fail("chat_template_injection.gguf findings \(template.findings.map(\.code))")
            }
            expect(template.findings.count == 1 && key == "tokenizer.chat_template" && markers.contains("__globals__"),
                   "chat template finding \(key) \(markers)")
        }
        line("try ModelFile.scan(path): globals[i].module/.name/.allowed (scan too)") {
            let evil = files["evil"] as? [String: Any] ?? [:]
            let report = try ModelFile.scan(fixture("evil.pth"))
            expect(report.globals.map { [$0.module, $0.name] } == evil["globals"] as? [[String]], "globals \(report.globals.map(\.name))")
            expect(report.globals.filter { !$0.allowed }.map(\.name) == ["system"], "refused: \(report.globals.filter { !$0.allowed })")
            expect(!report.isClean && report.findings.map(\.code) == ["global_outside_allowlist"], "findings \(report.findings.map(\.code))")
            expect(try ModelFile.scan(fixture("fnn.pth")).isClean, "fnn.pth is not clean")
        }
    }
}
