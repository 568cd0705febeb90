import TensorData
import Testing
import TensorNN

/// The usage example of the runtime, kept compiling and working.
@Suite("Usage example")
struct ExampleTests {
    @Test("train the reference network on a CSV file and save its state dict")
    func referenceNetwork() throws {
        let csv = "glucose,mass,age,diabetes\n" + (0..<64).map { i in
            let glucose = 80 + (i * 37) % 120, mass = 20 + (i * 13) % 25, age = 21 + (i * 7) % 50
            return "\(glucose),\(mass),\(age),\(glucose + mass > 150 ? 1 : 0)"
        }.joined(separator: "\n")

        // --- the example ---
        let data = try CSVDataset(table: CSVTable(text: csv), target: .named("diabetes"), standardize: true)
        var generator = SplitMix64(seed: 42)
        let model = FeedForward(layerSizes: [data.featureNames.count, 6, 4, 2, 1], activation: .sigmoid, using: &generator)
        let optimizer = SGD(parameters: model.parameters(), learningRate: 0.5, momentum: 0.9)
        let loss = BCELoss()
        let loader = DataLoader(data, batchSize: 16, shuffle: true, generator: SplitMix64(seed: 1))
        var epochLosses: [Float] = []
        for _ in 1...60 {
            var total: Float = 0
            for batch in loader {
                optimizer.zeroGrad()
                let value = loss(model(batch.inputs), batch.targets)
                value.backward()
                optimizer.step()
                total += value.item() * Float(batch.inputs.shape[0])
            }
            epochLosses.append(total / Float(data.count))
        }
        let accuracy = withNoGrad { ((model(data.inputs) .> 0.5) .== data.targets).mean().item() }
        let weights: StateDict = model.stateDict()             // linear1.weight, linear1.bias, … (float32)
        let optimizerState: OptimizerState = optimizer.stateDict()  // momentum_buffer per index + param group
        // --- end of the example ---

        #expect(epochLosses.last! < epochLosses.first! * 0.8)
        #expect(accuracy > 0.8)
        #expect(weights.names.first == "linear1.weight" && weights.count == 8)
        #expect(optimizerState.parameterStates.count == 8)
    }
}
