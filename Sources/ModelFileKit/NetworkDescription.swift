import ModelFormats
import TensorData
import TensorNN

/// The loss `train` minimises.
public enum LossKind: String, Sendable, CaseIterable {
    /// Binary cross-entropy on a sigmoid output (`nn.BCELoss`).
    case bce
    /// Mean squared error (`nn.MSELoss`), with a linear output.
    case mse
    /// Cross-entropy on logits with class-index targets (`nn.CrossEntropyLoss`).
    case crossEntropy = "cross-entropy"

    /// The activation after the last layer this loss expects.
    public var outputActivation: Activation? {
        switch self {
        case .bce: return .sigmoid
        case .mse, .crossEntropy: return .identity
        }
    }
}

/// Everything besides the weights needed to rebuild and use a trained network: stored in a
/// safetensors file's `__metadata__` (keys `modelfile.*`) or as a plain dict `modelfile` beside the
/// state dict in `.pth` and `.ckpt` files, never as tensors of the state dict.
public struct NetworkDescription: Equatable, Sendable {
    /// Layer sizes, input first.
    public var layerSizes: [Int]
    /// The activation after every hidden layer.
    public var activation: Activation
    /// The activation after the last layer.
    public var outputActivation: Activation
    /// The loss the network was trained with.
    public var loss: LossKind
    /// Input standardisation (mean and standard deviation per feature), when trained with it.
    public var standardization: Standardization?
    /// The input columns' names, in order.
    public var featureNames: [String]?
    /// The target column's name.
    public var targetName: String?

    /// A description.
    public init(layerSizes: [Int], activation: Activation, outputActivation: Activation, loss: LossKind,
                standardization: Standardization? = nil, featureNames: [String]? = nil, targetName: String? = nil) {
        self.layerSizes = layerSizes
        self.activation = activation
        self.outputActivation = outputActivation
        self.loss = loss
        self.standardization = standardization
        self.featureNames = featureNames
        self.targetName = targetName
    }

    /// The safetensors `__metadata__` entries (besides `format`).
    public var metadata: [ExactString: String] {
        var entries: [ExactString: String] = [
            "modelfile.layers": layerSizes.map(String.init).joined(separator: ","),
            "modelfile.activation": activation.rawValue,
            "modelfile.output_activation": outputActivation.rawValue,
            "modelfile.loss": loss.rawValue,
        ]
        if let standardization {
            entries["modelfile.standardization.mean"] = standardization.mean.map { "\($0)" }.joined(separator: ",")
            entries["modelfile.standardization.std"] = standardization.standardDeviation.map { "\($0)" }.joined(separator: ",")
        }
        if let featureNames { entries["modelfile.features"] = featureNames.joined(separator: ",") }
        if let targetName { entries["modelfile.target"] = targetName }
        return entries
    }

    /// Reads a description written by ``metadata``; `nil` when there is none or it is malformed.
    public init?(metadata: [ExactString: String]) {
        guard let layers = metadata["modelfile.layers"].flatMap(NetworkDescription.integers), layers.count >= 2,
              let activation = metadata["modelfile.activation"].flatMap(Activation.init(rawValue:)),
              let output = metadata["modelfile.output_activation"].flatMap(Activation.init(rawValue:)),
              let loss = metadata["modelfile.loss"].flatMap(LossKind.init(rawValue:))
        else { return nil }
        var standardization: Standardization?
        if let mean = metadata["modelfile.standardization.mean"].flatMap(NetworkDescription.floats),
           let std = metadata["modelfile.standardization.std"].flatMap(NetworkDescription.floats), mean.count == std.count {
            standardization = Standardization(mean: mean, standardDeviation: std)
        }
        self.init(layerSizes: layers, activation: activation, outputActivation: output, loss: loss, standardization: standardization,
                  featureNames: metadata["modelfile.features"].map { $0.split(separator: ",").map(String.init) },
                  targetName: metadata["modelfile.target"])
    }

    /// The plain dict written beside the state dict in `.pth` and `.ckpt` files.
    public var torchValue: TorchValue {
        var entries: [(key: TorchValue, value: TorchValue)] = [
            (.string("layers"), .list(layerSizes.map { .int(Int64($0)) })),
            (.string("activation"), .string(activation.rawValue)),
            (.string("output_activation"), .string(outputActivation.rawValue)),
            (.string("loss"), .string(loss.rawValue)),
        ]
        if let standardization {
            entries.append((.string("standardization"), .dict(TorchDict([
                (.string("mean"), .list(standardization.mean.map { .float(Double($0)) })),
                (.string("std"), .list(standardization.standardDeviation.map { .float(Double($0)) })),
            ]))))
        }
        if let featureNames { entries.append((.string("features"), .list(featureNames.map { .string($0) }))) }
        if let targetName { entries.append((.string("target"), .string(targetName))) }
        return .dict(TorchDict(entries))
    }

    /// Reads a description written by ``torchValue``; `nil` when `value` is not one.
    public init?(torchValue value: TorchValue?) {
        guard let value, let layers = value["layers"]?.sequenceItems?.compactMap({ $0.intValue.map(Int.init) }), layers.count >= 2,
              let activation = value["activation"]?.stringValue.flatMap(Activation.init(rawValue:)),
              let output = value["output_activation"]?.stringValue.flatMap(Activation.init(rawValue:)),
              let loss = value["loss"]?.stringValue.flatMap(LossKind.init(rawValue:))
        else { return nil }
        var standardization: Standardization?
        if let mean = value["standardization"]?["mean"]?.sequenceItems?.compactMap(\.doubleValue),
           let std = value["standardization"]?["std"]?.sequenceItems?.compactMap(\.doubleValue), mean.count == std.count {
            standardization = Standardization(mean: mean.map(Float.init), standardDeviation: std.map(Float.init))
        }
        self.init(layerSizes: layers, activation: activation, outputActivation: output, loss: loss, standardization: standardization,
                  featureNames: value["features"]?.sequenceItems?.compactMap(\.stringValue), targetName: value["target"]?.stringValue)
    }

    private static func integers(_ text: String) -> [Int]? {
        let values = text.split(separator: ",").compactMap { Int($0) }
        return values.isEmpty || values.contains(where: { $0 <= 0 }) ? nil : values
    }

    private static func floats(_ text: String) -> [Float]? {
        let values = text.split(separator: ",").map { Float($0) }
        return values.contains(nil) ? nil : values.compactMap { $0 }
    }
}
