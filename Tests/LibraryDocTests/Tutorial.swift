// Generated from docs/library.md by Tests/LibraryDocTests/TutorialTests.swift: the tutorial's
// ```swift blocks, verbatim and in order (import lines moved to the top). Do not edit: after
// changing the tutorial, run `MODELFILE_UPDATE_TUTORIAL=1 swift test --filter LibraryDocTests`.
import ModelFile

/// Runs the tutorial's blocks in order; `tutorialBlock(n)` is called as block n starts.
func runTutorial(_ tutorialBlock: (Int) -> Void) throws {
tutorialBlock(1)  // docs/library.md line 42
tutorialBlock(2)  // docs/library.md line 55
let x = Tensor([[1, 2, 3], [4, 5, 6]])
print(x.shape, x.rank, x.elementCount)
print(x.scalars)

let flat = Tensor([1, 2, 3, 4, 5, 6] as [Float], shape: [3, 2])
print(flat.shape)
tutorialBlock(3)  // docs/library.md line 74
let third = Tensor([1.0 / 3] as [Double])
print(third.item())
print(Tensor([16_777_217] as [Int]).item())
tutorialBlock(4)  // docs/library.md line 89
print(Tensor.zeros([2, 3]).scalars)
print(Tensor.ones([2]).scalars)
print(Tensor.full([2, 2], value: 7).scalars)
print(Tensor.eye(2).scalars)
print(Tensor.arange(5).scalars)
print(Tensor.arange(0, 1, step: 0.25).scalars)

var rng = SplitMix64(seed: 42)
let noise = Tensor.randn([2, 3], using: &rng)
let uniform = Tensor.rand([2, 3], using: &rng)
print(noise.shape, uniform.shape)
tutorialBlock(5)  // docs/library.md line 122
let grid = Tensor.arange(12).reshaped([3, 4])
print(grid.shape, grid.reshaped([2, -1]).shape, grid.reshaped([-1]).shape)
print(grid[1].scalars)
print(grid[-1].scalars)
print(grid[1..<3].shape)
print(grid[.all, 0].scalars)
print(grid[2, 3].item())
print(grid.transposed().shape, grid.transposed(0, 1)[0].scalars)
tutorialBlock(6)  // docs/library.md line 150
let row = Tensor([1, 2, 3] as [Float])
let column = row.unsqueezed(axis: 1)
print(row.shape, column.shape)
let batchOfOne = column.unsqueezed(axis: 0)
print(batchOfOne.shape, batchOfOne.squeezed().shape, batchOfOne.squeezed(axis: 0).shape)
print(batchOfOne.squeezed(axis: 1).shape)
tutorialBlock(7)  // docs/library.md line 172
let a = Tensor([[1, 2], [3, 4]])
let b = Tensor([10, 20] as [Float])
print((a + b).scalars)
print((a * 2 - 1).scalars)
print(a.pow(2).scalars, (a - 2.5).relu().scalars)
tutorialBlock(8)  // docs/library.md line 190
print(a.matmul(a).scalars)
print(a.matmul(b).scalars)
let dot = b.matmul(b)
print(dot.rank, dot.item())
let pair = Tensor.stacked([a, a * 10], axis: 0)
print(pair.shape, pair.matmul(b).shape, pair.matmul(b)[1].scalars)
print(Tensor.concatenated([a, a], axis: 0).shape, Tensor.concatenated([a, a], axis: 1).shape)
tutorialBlock(9)  // docs/library.md line 212
print(a.sum().item(), a.sum(axis: 0).scalars, a.mean().item())
print(a.max(axis: 1).scalars, a.argmax(axis: 1).scalars)
print(a.softmax(axis: 1).sum(axis: 1).scalars)
print(a.allClose(a + 1e-7), a.allClose(a + 1e-3))
tutorialBlock(10)  // docs/library.md line 234
let w = Tensor([1, -2, 0.5] as [Float], requiresGrad: true)
let inputs = Tensor([3, 1, -2] as [Float])
let loss = ((w * inputs).sum() - 1).pow(2)
loss.backward()
print(loss.item(), w.grad?.scalars ?? [])
tutorialBlock(11)  // docs/library.md line 250
let features = Tensor([[1, 1], [2, 1], [3, 1], [4, 1]])  // x, and a constant 1 for the intercept
let targets = Tensor([1, 3, 5, 7] as [Float])
var coefficients = Tensor([0, 0] as [Float], requiresGrad: true)
for _ in 0..<500 {
    let error = features.matmul(coefficients) - targets
    let mse = (error * error).mean()
    mse.backward()
    withNoGrad { coefficients -= 0.05 * coefficients.grad! }
    coefficients.grad = nil
}
print(coefficients.scalars.map { ($0 * 100).rounded() / 100 })
print(coefficients.isLeaf, coefficients.requiresGrad)
tutorialBlock(12)  // docs/library.md line 277
final class TwoLayer: Module {
    let hidden = Linear(inFeatures: 4, outFeatures: 3)
    let blocks = [Linear(inFeatures: 3, outFeatures: 3), Linear(inFeatures: 3, outFeatures: 3)]
    let output = Linear(inFeatures: 3, outFeatures: 1)

    func forward(_ x: Tensor) -> Tensor {
        var h = hidden(x).relu()
        for block in blocks { h = block(h).relu() }
        return output(h).sigmoid()
    }
}

let small = TwoLayer()
for (name, parameter) in small.namedParameters() {
    print(name, parameter.shape)
}
print(small.parameterCount, small.parameters().count)
print(small(Tensor.ones([5, 4])).shape)
tutorialBlock(13)  // docs/library.md line 315
let chain = Sequential([Linear(inFeatures: 4, outFeatures: 8), ReLU(), Linear(inFeatures: 8, outFeatures: 1), Sigmoid()])
print(chain.stateDict().names)
tutorialBlock(14)  // docs/library.md line 331
var seeded = SplitMix64(seed: 7)
let layer = Linear(inFeatures: 2, outFeatures: 1, using: &seeded)
let optimizer = SGD(layer.parameters(), lr: 0.1, momentum: 0.9)
let mseLoss = MSELoss()
let points = Tensor([[0, 1], [1, 0], [1, 1], [2, 1]])
let values = Tensor([[2], [3], [4], [6]])  // 2·first + second + 1
for _ in 0..<300 {
    optimizer.zeroGrad()
    let value = mseLoss(layer(points), values)
    value.backward()
    optimizer.step()
}
print(layer.weight.value.scalars.map { ($0 * 100).rounded() / 100 }, ((layer.bias?.value.item() ?? 0) * 100).rounded() / 100)
tutorialBlock(15)  // docs/library.md line 359
let diabetes = try CSVDataset(contentsOfFile: "data/diabetes.csv")
print(diabetes.count, diabetes.inputs.shape, diabetes.targets.shape)
print(diabetes.featureNames)

let loader = DataLoader(diabetes, batchSize: 32, shuffle: true)
var batchCount = 0
for batch in loader {
    batchCount += 1
    if batchCount == 1 { print(batch.inputs.shape, batch.targets.shape) }
}
print(batchCount)
tutorialBlock(16)  // docs/library.md line 388
final class DiabetesNet: Module {
    let linear1: Linear, linear2: Linear, linear3: Linear, linear4: Linear

    init(using rng: inout SplitMix64) {
        linear1 = Linear(inFeatures: 8, outFeatures: 6, using: &rng)
        linear2 = Linear(inFeatures: 6, outFeatures: 4, using: &rng)
        linear3 = Linear(inFeatures: 4, outFeatures: 2, using: &rng)
        linear4 = Linear(inFeatures: 2, outFeatures: 1, using: &rng)
    }

    func forward(_ x: Tensor) -> Tensor {
        var h = linear1(x).sigmoid()
        h = linear2(h).sigmoid()
        h = linear3(h).sigmoid()
        return linear4(h).sigmoid()
    }
}

var netRNG = SplitMix64(seed: 2024)
let model = DiabetesNet(using: &netRNG)
let sgd = SGD(model.parameters(), lr: 0.01)
let bce = BCELoss()
for epoch in 1...100 {
    var total: Float = 0
    for batch in loader {
        sgd.zeroGrad()
        let batchLoss = bce(model(batch.inputs), batch.targets)
        batchLoss.backward()
        sgd.step()
        total += batchLoss.item()
    }
    if epoch % 25 == 0 { print("epoch", epoch, "loss", (total / 24 * 1000).rounded() / 1000) }
}
tutorialBlock(17)  // docs/library.md line 435
let probabilities = model(diabetes.inputs)
let predicted = probabilities .> 0.5
let accuracy = (predicted .== diabetes.targets).mean().item()
print("accuracy", (accuracy * 1000).rounded() / 10, "%")
tutorialBlock(18)  // docs/library.md line 452
try model.save(to: "diabetes.safetensors")
try model.save(to: "diabetes.pth")

var otherRNG = SplitMix64(seed: 1)
let fresh = DiabetesNet(using: &otherRNG)
print(fresh(diabetes.inputs[0..<3]) == model(diabetes.inputs[0..<3]))
try fresh.load(from: "diabetes.safetensors")
print(fresh(diabetes.inputs[0..<3]) == model(diabetes.inputs[0..<3]))
tutorialBlock(19)  // docs/library.md line 472
let partial = DiabetesNet(using: &otherRNG)
let report = try partial.load(from: "Fixtures/library/partial.safetensors", strict: false)
print(report.missing, report.unexpected)
do {
    try partial.load(from: "Fixtures/library/partial.safetensors")
} catch let error as NNError {
    print(error)
}
tutorialBlock(20)  // docs/library.md line 494
let weights = try ModelFile.load("Fixtures/library/fnn.pth")
print(weights.names)
if let raw = weights["linear1.weight"] {
    print(raw.dtype, raw.shape, try Tensor(raw).shape)
}
print(weights["no.such.tensor"] == nil)
tutorialBlock(21)  // docs/library.md line 513
print(try ModelFile.load("Fixtures/library/fnn.ckpt").names.first ?? "")
let fromLightning = DiabetesNet(using: &otherRNG)
try fromLightning.load(from: "Fixtures/library/fnn.ckpt", prefix: "model.")
print(try ModelFile.load("Fixtures/library/fnn_training.pt").names.count)
tutorialBlock(22)  // docs/library.md line 528
let bert = try ModelFile.load("Fixtures/library/bert-tiny")
print(bert.count, bert["embeddings.word_embeddings.weight"]?.shape.dimensions ?? [])
print(try ModelFile.load("Fixtures/library/fnn_sharded").count)
print(try ModelFile.load("Fixtures/library/fnn.npz").names.first ?? "")
print(try ModelFile.load("Fixtures/library/tiny.gguf").names)
tutorialBlock(23)  // docs/library.md line 547
try ModelFile.save(weights, to: "copy.safetensors", metadata: ["format": "pt"])
print(try ModelFile.load("copy.safetensors").count)
tutorialBlock(24)  // docs/library.md line 560
do {
    _ = try ModelFile.load("Fixtures/library/evil.pth")
} catch let error as ModelFileError {
    print(error)
}
tutorialBlock(25)  // docs/library.md line 578
let inspection = try ModelFile.inspect("Fixtures/library/fnn.pth")
print(inspection.format.rawValue, inspection.totals.tensors, inspection.totals.parameters)
print(inspection.tensors[0].name, inspection.tensors[0].dtype, inspection.tensors[0].shape)
for global in inspection.globals { print(global.module, global.name, global.allowed) }

let quantized = try ModelFile.inspect("Fixtures/library/quantized.pth")
for warning in quantized.warnings { print(warning.code.rawValue, "-", warning.message) }

let scan = try ModelFile.scan("Fixtures/library/evil.pth")
print(scan.isClean, scan.globals.filter { !$0.allowed }.map { $0.module + "." + $0.name })
for finding in scan.findings { print(finding.code) }
tutorialBlock(26)  // docs/library.md line 620
var loraRNG = SplitMix64(seed: 3)
let adapted = DiabetesNet(using: &loraRNG)
try adapted.load(from: "diabetes.safetensors")
let wrappedLayers = try adapted.applyLoRA(to: ["linear1", "linear2"], rank: 2, alpha: 4, using: &loraRNG)
print(wrappedLayers, adapted.trainableParameters().count)
print(adapted.namedParameters().map(\.name).prefix(4))

let loraOptimizer = SGD(adapted.trainableParameters(), lr: 0.01)
for batch in loader {
    loraOptimizer.zeroGrad()
    bce(adapted(batch.inputs), batch.targets).backward()
    loraOptimizer.step()
}
print(adapted.linear3.weight.value == model.linear3.weight.value)

let single = LoRALinear(wrapping: Linear(inFeatures: 8, outFeatures: 6, using: &loraRNG), rank: 2, alpha: 4, using: &loraRNG)
print(single.merged().weight.shape, single.scaling)
adapted.mergeLoRA()
print(adapted.stateDict().names.count)
}
