import ModelFormats
import TensorCore
import TensorData
import TensorNN

/// `modelfile predict`: a saved network run over a CSV file.
public struct PredictionReport {
    /// One row of outputs per CSV row, in file order.
    public let predictions: [[Float]]
    /// Accuracy when the CSV has the target column and the loss is a classification loss.
    public let accuracy: Double?
    /// Mean squared error when the CSV has the target column and the loss is MSE.
    public let meanSquaredError: Double?
    /// The network used.
    public let description: NetworkDescription

    /// Runs the network saved at `modelPath` (any format) over the CSV file at `dataPath`, or over
    /// `csvText` when no path is given.
    ///
    /// The architecture comes from the weights' shapes; activation, loss and input standardisation
    /// from the description saved with them, else `activation` (default sigmoid) and binary
    /// cross-entropy. Input columns are matched by name when the file recorded them, else the
    /// first columns are used; the target is the column named as saved, or the one left over.
    ///
    /// - Throws: `ModelFileError`, `CSVError`, `NNError`, `TrainingError`.
    /// With `adapterPath`, the network runs with that LoRA adapter (a PEFT folder or a kohya file)
    /// applied, unmerged: each adapted layer computes `base(x) + B(A(x))·s`.
    public static func predict(modelPath: String, dataPath: String?, csvText: String? = nil, activation: Activation? = nil,
                               adapterPath: String? = nil) throws -> PredictionReport {
        let saved = try attributing(to: modelPath) { try SavedNetwork(path: modelPath) }
        let layers = try attributing(to: modelPath) { try FeedForward.layerSizes(in: saved.weights) }
        var description = saved.description ?? NetworkDescription(
            layerSizes: layers, activation: activation ?? .sigmoid, outputActivation: activation ?? .sigmoid, loss: .bce)
        if let activation, saved.description != nil {
            description.activation = activation
            if description.loss == .bce { description.outputActivation = .sigmoid } else { description.outputActivation = .identity }
        }
        try attributing(to: modelPath) { try Training.checkNetwork(layers, loss: description.loss) }
        let model: FeedForward
        if let adapterPath {
            model = try LoRATraining.network(weights: saved.weights, adapterPath: adapterPath, activation: description.activation,
                                             outputActivation: description.outputActivation)
        } else {
            model = try attributing(to: modelPath) {
                try FeedForward(stateDict: saved.weights, activation: description.activation, outputActivation: description.outputActivation)
            }
        }
        let table = try Training.table(path: dataPath, text: csvText)
        let inputCount = layers[0]
        let featureNames = description.featureNames.flatMap { names in names.allSatisfy { table.columnIndex(named: $0) != nil } ? names : nil }
            ?? Array(table.columnNames.prefix(inputCount))
        guard featureNames.count == inputCount else { throw TrainingError.layersDoNotFitData(layers: layers, features: table.columnNames.count) }
        var inputs = try table.values(ofColumns: featureNames)
        if let standardization = description.standardization {
            guard standardization.mean.count == inputCount else {
                throw ModelFileError(path: modelPath, underlying: TrainingError.standardizationDoesNotFitData(saved: standardization.mean.count, features: inputCount))
            }
            inputs = standardization.apply(to: inputs)
        }
        let remaining = table.columnNames.filter { !featureNames.contains($0) }
        let targetName = description.targetName.flatMap { table.columnIndex(named: $0) != nil ? $0 : nil } ?? (remaining.count == 1 ? remaining[0] : nil)
        let output = Training.outputs(model, inputs)
        let columns = output.shape.count == 2 ? output.shape[1] : 1
        let values = output.scalars
        let predictions = stride(from: 0, to: values.count, by: columns).map { Array(values[$0..<($0 + columns)]) }
        var accuracy: Double?, mse: Double?
        if let targetName {
            let targets = try table.values(ofColumns: [targetName])
            (accuracy, mse) = Training.evaluate(model, inputs, targets, loss: description.loss)
        }
        return PredictionReport(predictions: predictions, accuracy: accuracy, meanSquaredError: mse, description: description)
    }

    /// The `modelfile.predict/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.predict/1"),
            // Each float by its shortest decimal spelling (0.66423994, not 0.6642399430274963).
            ("predictions", .array(predictions.map { row in .array(row.map { .double(Double("\($0)") ?? Double($0)) }) })),
            ("accuracy", accuracy.map { .double($0) } ?? .null),
            ("mse", meanSquaredError.map { .double($0) } ?? .null),
        ])
    }
}
