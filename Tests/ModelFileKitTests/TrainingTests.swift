import Foundation
import ModelFileKit
import ModelFormats
import TensorData
import TensorNN
import Testing
import TestSupport

extension TrainingConfiguration {
    /// The repository's copy of the diabetes data (the command embeds the same text).
    static let diabetesPath = Fixture.packageRoot.appendingPathComponent("data/diabetes.csv").path

    /// The defaults, on the diabetes data.
    static var diabetes: TrainingConfiguration {
        var c = TrainingConfiguration()
        c.dataPath = diabetesPath
        return c
    }
}

@Suite("train and predict")
struct TrainingTests {
    func temporary() throws -> URL { try Fixture.temporaryFolder() }

    @Test("training without a CSV path or CSV text is an error")
    func noData() {
        #expect(throws: TrainingError.noData) { try Training.run(TrainingConfiguration()) }
    }

    @Test("the reference run: 100 epochs of falling loss, reproducible, about the majority-class accuracy")
    func referenceRun() throws {
        var lines: [String] = []
        let result = try Training.run(TrainingConfiguration.diabetes) { lines.append("\($0.epoch):\($0.loss)") }
        #expect(result.epochs.count == 100 && lines.count == 100)
        #expect(result.description.layerSizes == [8, 6, 4, 2, 1])
        #expect(result.epochs[0].loss > result.epochs[99].loss)
        #expect(result.globalStep == 100 * 24, "768 rows in batches of 32")
        #expect(try #require(result.accuracy) >= 0.6)
        let again = try Training.run(TrainingConfiguration.diabetes)
        #expect(again.epochs.map(\.loss) == result.epochs.map(\.loss), "same seed, same run")
    }

    @Test("standardised Adam training learns the data; predict reproduces its accuracy from any saved format")
    func saveAndPredict() throws {
        let folder = try temporary()
        defer { try? FileManager.default.removeItem(at: folder) }
        var c = TrainingConfiguration.diabetes
        c.optimizer = .adam
        c.standardize = true
        c.epochs = 30
        c.outputPath = folder.appendingPathComponent("net.safetensors").path
        let result = try Training.run(c)
        let accuracy = try #require(result.accuracy)
        #expect(accuracy > 0.74)
        for name in ["net.pth", "net.ckpt"] {
            c.outputPath = folder.appendingPathComponent(name).path
            _ = try Training.run(c)
        }
        for name in ["net.safetensors", "net.pth", "net.ckpt"] {
            let report = try PredictionReport.predict(modelPath: folder.appendingPathComponent(name).path, dataPath: TrainingConfiguration.diabetesPath)
            #expect(report.predictions.count == 768)
            #expect(report.accuracy == accuracy, "\(name)")
            #expect(report.description.standardization != nil, "\(name) carries the standardisation")
        }
        // The safetensors file holds exactly the layers' weights; the rest is metadata.
        let file = try SafetensorsFile(path: folder.appendingPathComponent("net.safetensors").path)
        #expect(Set(file.entries.map(\.name)) == Set((1...4).flatMap { ["linear\($0).weight", "linear\($0).bias"] }))
        #expect(file.metadata?["modelfile.layers"] == "8,6,4,2,1" && file.metadata?["format"] == "pt")
        // The .pth holds the state dict under "state_dict" and plain values beside it.
        let pth = try TorchFile(path: folder.appendingPathComponent("net.pth").path)
        #expect(pth.root["modelfile"]?["activation"] == .string("sigmoid"))
        #expect(pth.entries.map(\.name).allSatisfy { $0.hasPrefix("state_dict.linear") })
    }

    @Test("a resumed checkpoint continues exactly as an uninterrupted run")
    func resumeIsExact() throws {
        let folder = try temporary()
        defer { try? FileManager.default.removeItem(at: folder) }
        var c = TrainingConfiguration.diabetes
        c.optimizer = .adam
        c.epochs = 6
        c.outputPath = folder.appendingPathComponent("straight.safetensors").path
        let straight = try Training.run(c)
        c.epochs = 3
        c.outputPath = folder.appendingPathComponent("half.ckpt").path
        _ = try Training.run(c)
        var resume = TrainingConfiguration.diabetes
        resume.resumePath = c.outputPath
        resume.epochs = 6
        resume.outputPath = folder.appendingPathComponent("resumed.safetensors").path
        let resumed = try Training.run(resume)
        #expect(resumed.startEpoch == 3 && resumed.epochs.map(\.epoch) == [4, 5, 6])
        #expect(resumed.epochs.map(\.loss) == Array(straight.epochs.map(\.loss).suffix(3)))
        #expect(resumed.globalStep == straight.globalStep)
        #expect(try DiffReport.diff(straight.outputs[0], resumed.outputs[0]).isEqual)
    }

    @Test("a Lightning checkpoint resumes here with its optimizer state, epoch and step")
    func resumeLightning() throws {
        let folder = try temporary()
        defer { try? FileManager.default.removeItem(at: folder) }
        var c = TrainingConfiguration.diabetes
        c.resumePath = Fixture.path("lightning/adam_steplr.ckpt")
        c.epochs = 3
        c.standardize = true
        c.outputPath = folder.appendingPathComponent("continued.ckpt").path
        let result = try Training.run(c)
        #expect(result.startEpoch == 2 && result.epochs.count == 1)
        #expect(result.globalStep == 8 + 24)
        #expect(result.warnings.first == .schedulersNotApplied(kinds: ["StepLR"]))
        let written = try TorchFile(path: result.outputs[0])
        let checkpoint = try LightningCheckpoint(root: written.root)
        #expect(checkpoint.optimizers.first?.kind == .adam)
        let step = checkpoint.stepCount(of: checkpoint.optimizers[0]) { record in
            (try? written.tensor(record: record, name: "step")).map { Double($0.bytes.values(as: Float.self)[0]) }
        }
        #expect(step == 32, "Adam's step continued from Lightning's 8")
        // The learning rate continues at Lightning's decayed value (StepLR halved it twice).
        #expect(checkpoint.optimizers[0].number("lr") == 0.0025)
        #expect(written.root["loops"]?["fit_loop"]?["epoch_progress"]?["current"]?["completed"] == .int(3))
    }

    @Test("regression with MSE and classification with cross-entropy on small CSV files")
    func otherLosses() throws {
        let folder = try temporary()
        defer { try? FileManager.default.removeItem(at: folder) }
        var rows = ["a,b,y"]
        var random = TestRandom(seed: 5)
        for _ in 0..<200 {
            let a = Double.random(in: -1...1, using: &random), b = Double.random(in: -1...1, using: &random)
            rows.append("\(a),\(b),\(2 * a - b + 0.5)")
        }
        let regression = folder.appendingPathComponent("reg.csv")
        try rows.joined(separator: "\n").write(to: regression, atomically: true, encoding: .utf8)
        var c = TrainingConfiguration.diabetes
        c.dataPath = regression.path
        c.layerSizes = [2, 8, 1]
        c.activation = .tanh
        c.loss = .mse
        c.optimizer = .adam
        c.epochs = 200
        let fit = try Training.run(c)
        #expect(try #require(fit.meanSquaredError) < 0.01)
        #expect(fit.accuracy == nil)

        rows = ["x,label"]
        for i in 0..<120 { rows.append("\(Double(i % 3) + Double.random(in: -0.2...0.2, using: &random)),\(i % 3)") }
        let classes = folder.appendingPathComponent("cls.csv")
        try rows.joined(separator: "\n").write(to: classes, atomically: true, encoding: .utf8)
        c = TrainingConfiguration.diabetes
        c.dataPath = classes.path
        c.layerSizes = [1, 16, 3]
        c.activation = .relu
        c.loss = .crossEntropy
        c.optimizer = .adam
        c.epochs = 150
        #expect(try #require(try Training.run(c).accuracy) > 0.95)
        rows[1] = "0.1,7"
        try rows.joined(separator: "\n").write(to: classes, atomically: true, encoding: .utf8)
        #expect(throws: TrainingError.targetsNotClassIndices(column: "label", classes: 3, found: 7)) { try Training.run(c) }
    }

    @Test("requests that cannot work are refused before training")
    func refusals() throws {
        var c = TrainingConfiguration.diabetes
        c.layerSizes = [5, 1]
        #expect(throws: TrainingError.layersDoNotFitData(layers: [5, 1], features: 8)) { try Training.run(c) }
        c = TrainingConfiguration.diabetes
        c.epochs = 1
        c.outputPath = "/tmp/model.onnx"
        #expect(throws: ModelFileError.self) { try Training.run(c) }
        c.outputPath = nil
        c.resumePath = Fixture.path("safetensors/bad_gap.safetensors")
        #expect(throws: ModelFileError.self) { try Training.run(c) }
    }

    @Test("the loss plot is an SVG polyline through every epoch")
    func plot() {
        let svg = LossPlot.svg((1...10).map { ($0, 1.0 / Double($0)) }, validation: (1...10).map { ($0, 1.2 / Double($0)) })
        #expect(svg.hasPrefix("<svg xmlns=\"http://www.w3.org/2000/svg\""))
        let polylines = svg.components(separatedBy: "<polyline").dropFirst()
        #expect(polylines.count == 2)
        #expect(polylines.first?.components(separatedBy: "points=\"")[1].split(separator: "\"")[0].split(separator: " ").count == 10)
    }
}
