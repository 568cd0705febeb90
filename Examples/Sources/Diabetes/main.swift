// Trains the classic 8→6→4→2→1 network on the diabetes data bundled with modelfile, saves it,
// loads it into a fresh network, predicts, and loads a network PyTorch saved, in the style of
// docs/library.md.
//
//   Diabetes REPOSITORY OUTPUT-FOLDER
//
// REPOSITORY is a clone of modelfile (for data/diabetes.csv and Fixtures/library/); the trained
// network is written to OUTPUT-FOLDER as diabetes.safetensors and diabetes.pth. Exits 1 if a saved
// network does not load back to the same predictions.

import Foundation  // for exit()
import ModelFile

/// The reference network: four linear layers with a sigmoid after each.
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

/// The fraction of rows whose rounded prediction is the target.
func accuracy(_ model: DiabetesNet, _ data: CSVDataset) -> Float {
    ((model(data.inputs) .> 0.5) .== data.targets).mean().item()
}

/// `value` rounded to `digits` decimals, for printing.
func rounded(_ value: Float, _ digits: Int = 3) -> Float {
    var scale: Float = 1
    for _ in 0..<digits { scale *= 10 }
    return (value * scale).rounded() / scale
}

let arguments = CommandLine.arguments
guard arguments.count == 3 else {
    print("usage: Diabetes REPOSITORY OUTPUT-FOLDER")
    exit(64)
}
let repository = arguments[1], output = arguments[2]

do {
    // Train on standardised inputs, which this small network learns from quickly.
    let data = try CSVDataset(contentsOfFile: repository + "/data/diabetes.csv", standardize: true)
    let loader = DataLoader(data, batchSize: 32, shuffle: true)
    var rng = SplitMix64(seed: 2024)
    let model = DiabetesNet(using: &rng)
    let optimizer = Adam(model.parameters(), lr: 0.01)
    let loss = BCELoss()
    for epoch in 1...50 {
        var total: Float = 0
        for batch in loader {
            optimizer.zeroGrad()
            let value = loss(model(batch.inputs), batch.targets)
            value.backward()
            optimizer.step()
            total += value.item()
        }
        if epoch % 10 == 0 { print("epoch \(epoch): loss \(rounded(total / Float(loader.batchCount)))") }
    }
    print("accuracy after training: \(rounded(accuracy(model, data) * 100, 1))%")

    // Save in two formats and load each into a fresh network.
    var failed = false
    for name in ["diabetes.safetensors", "diabetes.pth"] {
        let path = output + "/" + name
        try model.save(to: path)
        let fresh = DiabetesNet(using: &rng)
        try fresh.load(from: path)
        let same = fresh(data.inputs) == model(data.inputs)
        print("\(name): \(try ModelFile.inspect(path).totals.parameters) parameters, reloaded predictions \(same ? "identical" : "DIFFERENT")")
        failed = failed || !same
    }

    // A network saved by PyTorch (torch.save(model.state_dict())), on the raw inputs it expects.
    let raw = try CSVDataset(contentsOfFile: repository + "/data/diabetes.csv")
    let fromTorch = DiabetesNet(using: &rng)
    try fromTorch.load(from: repository + "/Fixtures/library/fnn.pth")
    let predictions = fromTorch(raw.inputs[0..<3]).scalars.map { rounded($0, 4) }
    print("PyTorch's untrained network on the first 3 rows: \(predictions)")
    if failed { exit(1) }
} catch {
    print("error: \(error)")
    exit(1)
}
