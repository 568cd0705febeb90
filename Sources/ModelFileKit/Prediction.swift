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
    /// The class names, in index order, for a classifier (a single sigmoid output trained with
    /// binary cross-entropy, or a cross-entropy network); `nil` for a regression network.
    public let classes: [String]?
    /// Per row, each class's probability: `[1 − p, p]` for a sigmoid output p, the softmax of
    /// the outputs for cross-entropy; `nil` for a regression network.
    public let probabilities: [[Double]]?
    /// Per row, the most probable class's name (class 1 when p ≥ 0.5 for a sigmoid output);
    /// `nil` for a regression network.
    public let labels: [String]?

    /// Runs the network saved at `modelPath` (any format) over the CSV file at `dataPath`, or over
    /// `csvText` when no path is given.
    ///
    /// The architecture comes from the weights' shapes; activation, loss and input standardisation
    /// from the description saved with them, else `activation` (default sigmoid) and binary
    /// cross-entropy. Input columns are matched by name when the file recorded them, else the
    /// first columns are used; the target is the column named as saved, or the one left over.
    ///
    /// With `adapterPath`, the network runs with that LoRA adapter (a PEFT folder or a kohya file)
    /// applied, unmerged: each adapted layer computes `base(x) + B(A(x))·s`.
    /// `classNames` names the classes in index order (default `0`, `1`, …); it must have one
    /// name per class of a classifier, and is refused for a regression network.
    ///
    /// - Throws: `ModelFileError`, `CSVError`, `NNError`, `TrainingError`, `PredictionError`.
    public static func predict(modelPath: String, dataPath: String?, csvText: String? = nil, activation: Activation? = nil,
                               adapterPath: String? = nil, classNames: [String]? = nil) throws -> PredictionReport {
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
        let classCount = classCount(description, outputs: columns)
        var classes: [String]?, probabilities: [[Double]]?, labels: [String]?
        if let classCount {
            if let classNames, classNames.count != classCount { throw PredictionError.labelCount(given: classNames.count, classes: classCount) }
            let names = classNames ?? (0..<classCount).map { String($0) }
            let rows = predictions.map { probabilitiesOfClasses($0, sigmoid: description.loss == .bce) }
            classes = names
            probabilities = rows
            labels = zip(predictions, rows).map { output, row in
                // A sigmoid output p is class 1 exactly when p ≥ 0.5; otherwise the first most probable class.
                if description.loss == .bce { return names[Double(output[0]) >= 0.5 ? 1 : 0] }
                var best = 0
                for (index, value) in row.enumerated() where value > row[best] { best = index }
                return names[best]
            }
        } else if classNames != nil {
            throw PredictionError.labelsForRegression(loss: description.loss)
        }
        return PredictionReport(predictions: predictions, accuracy: accuracy, meanSquaredError: mse, description: description,
                                classes: classes, probabilities: probabilities, labels: labels)
    }

    /// How many classes the network tells apart: 2 for a single sigmoid output trained with
    /// binary cross-entropy, the output count for cross-entropy, `nil` otherwise (regression).
    static func classCount(_ description: NetworkDescription, outputs: Int) -> Int? {
        switch description.loss {
        case .bce: return outputs == 1 && description.outputActivation == .sigmoid ? 2 : nil
        case .crossEntropy: return outputs
        case .mse: return nil
        }
    }

    /// One row's class probabilities: `[1 − p, p]` for a sigmoid output, else the softmax of the
    /// outputs (computed in float64, shifted by the largest output so no exponential overflows).
    static func probabilitiesOfClasses(_ output: [Float], sigmoid: Bool) -> [Double] {
        if sigmoid {
            let p = Double(output[0])
            return [1 - p, p]
        }
        let values = output.map(Double.init)
        let largest = values.max() ?? 0
        guard largest.isFinite else { return values.map { $0 == largest ? 1 / Double(values.filter { $0 == largest }.count) : 0 } }
        let exponentials = values.map { exp($0 - largest) }
        let total = exponentials.reduce(0, +)
        return exponentials.map { $0 / total }
    }

    /// The `modelfile.predict/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.predict/1"),
            // Each float by its shortest decimal spelling (0.66423994, not 0.6642399430274963).
            ("predictions", .array(predictions.map { row in .array(row.map { .double(Double("\($0)") ?? Double($0)) }) })),
            ("accuracy", accuracy.map { .double($0) } ?? .null),
            ("mse", meanSquaredError.map { .double($0) } ?? .null),
            ("classes", classes.map { .array($0.map { .string($0) }) } ?? .null),
            ("probabilities", probabilities.map { rows in .array(rows.map { row in .array(row.map { .double($0) }) }) } ?? .null),
            ("labels", labels.map { .array($0.map { .string($0) }) } ?? .null),
        ])
    }
}

/// `--labels` does not fit the network.
public enum PredictionError: Error, CustomStringConvertible, Equatable {
    /// The network has `classes` classes; `given` names were given.
    case labelCount(given: Int, classes: Int)
    /// The network is a regression network: it has no classes to name.
    case labelsForRegression(loss: LossKind)

    public var description: String {
        switch self {
        case .labelCount(let given, let classes):
            return "--labels names \(given) class\(given == 1 ? "" : "es"); the network has \(classes) (one name per class, class 0 first)"
        case .labelsForRegression(let loss):
            return "--labels names classes, but this is a regression network (loss \(loss.rawValue)) with no classes"
        }
    }
}

#if canImport(Glibc)
import Glibc
#endif
