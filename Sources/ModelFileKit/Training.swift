import BinaryIO
import ModelFormats
import TensorCore
import TensorData
import TensorNN

#if canImport(Glibc)
import Glibc
#endif

/// The optimizers `train` offers.
public enum OptimizerKind: String, Sendable, CaseIterable {
    /// SGD (with optional momentum), Adam, AdamW, with PyTorch's defaults.
    case sgd, adam, adamw
}

/// What `modelfile train` does. The defaults are the reference run: 8→6→4→2→1 with sigmoids,
/// binary cross-entropy, SGD with learning rate 0.01, batches of 32, shuffled, 100 epochs, on the
/// bundled diabetes data.
public struct TrainingConfiguration: Sendable {
    /// The CSV file (header row); when `nil`, ``dataText`` is used.
    public var dataPath: String?
    /// CSV text (header row) to train on when ``dataPath`` is `nil` (the command passes its bundled
    /// diabetes data here).
    public var dataText: String?
    /// The target column; `nil` for the last column.
    public var target: String?
    /// Layer sizes, input first; `nil` for 8,6,4,2,1 with the input size taken from the data.
    public var layerSizes: [Int]?
    /// The activation after each hidden layer (and the output, for BCE).
    public var activation: Activation = .sigmoid
    /// The loss.
    public var loss: LossKind = .bce
    /// The optimizer.
    public var optimizer: OptimizerKind = .sgd
    /// The learning rate.
    public var learningRate = 0.01
    /// SGD's momentum.
    public var momentum = 0.0
    /// `nil` for the optimizer's default (0; 0.01 for AdamW).
    public var weightDecay: Double?
    /// Examples per batch.
    public var batchSize = 32
    /// Passes over the training rows.
    public var epochs = 100
    /// Whether each epoch visits the rows in a new random order.
    public var shuffle = true
    /// The seed of the initialisation, the shuffling and the validation split.
    public var seed: UInt64 = 0
    /// Whether inputs are standardised with statistics fitted on the training rows.
    public var standardize = false
    /// The fraction of rows held out for validation (0 for none).
    public var validationSplit = 0.0
    /// Start from these weights (any format).
    public var initPath: String?
    /// Continue this checkpoint (ours or Lightning's): weights, optimizer state, epoch and step.
    public var resumePath: String?
    /// Save the trained network here (by extension: .safetensors, .pth or .ckpt).
    public var outputPath: String?
    /// Write the loss curve here as SVG.
    public var plotPath: String?
    /// Replace existing outputs.
    public var overwrite = false
    /// Train LoRA adapters over the frozen `--init` weights instead of the whole network.
    public var lora: LoRATrainingOptions?
    /// Stop at the first epoch whose mean loss is NaN or infinite (an error, nothing written);
    /// `false` trains every epoch anyway and saves (`--no-stop-on-nan`).
    public var stopOnNonFiniteLoss = true

    /// The reference run.
    public init() {}
}

/// One epoch's figures.
public struct EpochRecord: Sendable {
    /// 1-based epoch number.
    public let epoch: Int
    /// Mean training loss over the epoch's samples.
    public let loss: Double
    /// Mean loss on the validation rows, when some are held out.
    public let validationLoss: Double?
}

/// What a training run did.
public struct TrainingResult: Sendable {
    /// The network that was trained.
    public let description: NetworkDescription
    /// One record per epoch run (none when a resumed checkpoint had already reached `epochs`).
    public let epochs: [EpochRecord]
    /// The epoch training started after (0, or the resumed checkpoint's).
    public let startEpoch: Int
    /// Classification accuracy (BCE, cross-entropy) or mean squared error (MSE) of the final network.
    public let accuracy: Double?
    /// The mean squared error (MSE) of the final network, or `nil` for classification.
    public let meanSquaredError: Double?
    /// Where the metric was measured: "training data" or "validation split".
    public let evaluatedOn: String
    /// Optimizer steps taken in total (including those before a resume).
    public let globalStep: Int
    /// Seconds spent in the training loop itself (measured in this process).
    public let loopSeconds: Double
    /// Files written.
    public let outputs: [String]
    /// Notes (a resumed scheduler that is not applied, …).
    public let warnings: [ModelFileWarning]

    /// The `modelfile.train/1` JSON document.
    public var json: JSONValue {
        .object([
            ("schema", "modelfile.train/1"),
            ("layers", .array(description.layerSizes.map { .int($0) })),
            ("activation", .string(description.activation.rawValue)),
            ("loss_function", .string(description.loss.rawValue)),
            ("start_epoch", .int(startEpoch)),
            ("epochs", .array(epochs.map { record in
                .object([("epoch", .int(record.epoch)), ("loss", .double(record.loss)),
                         ("validation_loss", record.validationLoss.map { .double($0) } ?? .null)])
            })),
            ("accuracy", accuracy.map { .double($0) } ?? .null),
            ("mse", meanSquaredError.map { .double($0) } ?? .null),
            ("evaluated_on", .string(evaluatedOn)),
            ("global_step", .int(globalStep)),
            ("loop_seconds", .double(loopSeconds)),
            ("outputs", .array(outputs.map { .string($0) })),
            ("warnings", .array(warnings.map { .string($0.message) })),
        ])
    }
}

/// A problem with a training request or its data.
public enum TrainingError: Error, Equatable, CustomStringConvertible {
    /// The first layer size is not the number of input columns.
    case layersDoNotFitData(layers: [Int], features: Int)
    /// A setting outside its range (named in the text).
    case invalidSetting(String)
    /// Cross-entropy targets that are not class indices below the number of outputs.
    case targetsNotClassIndices(column: String, classes: Int, found: Float)
    /// An optimizer that cannot be resumed or used.
    case unsupportedOptimizer(String)
    /// An output path whose extension names no format train writes.
    case unknownOutputFormat(String)
    /// Neither a CSV path nor CSV text was given.
    case noData
    /// A checkpoint's progress counter (`epoch`, `global_step`, loop progress) that is not a count.
    case invalidProgress(key: String, found: String)
    /// `--resume` names something that is not a checkpoint with weights.
    case notACheckpoint(found: String)
    /// A layer of size 0 (from the request or from the weights read).
    case emptyLayer(layers: [Int])
    /// The output layer's size does not suit the loss (one output for bce and mse).
    case outputsDoNotFitLoss(loss: LossKind, outputs: Int)
    /// The network or one step's activations would be larger than train handles.
    case networkTooLarge(what: String, count: Int, limit: Int)
    /// Saved input statistics for another number of features than the data has.
    case standardizationDoesNotFitData(saved: Int, features: Int)
    /// The validation split leaves no rows to train on.
    case noTrainingRows(rows: Int, validationSplit: Double)
    /// An epoch's mean loss is NaN or infinite.
    case nonFiniteLoss(epoch: Int, loss: Double)
    /// Counting optimizer steps would pass the largest count.
    case stepCountOverflow(globalStep: Int)

    public var description: String {
        switch self {
        case .layersDoNotFitData(let layers, let features):
            return "--layers \(layers.map(String.init).joined(separator: ",")) starts with \(layers.first ?? 0) inputs; the data has \(features) feature columns"
        case .invalidSetting(let reason): return reason
        case .targetsNotClassIndices(let column, let classes, let found):
            return "target column \"\(column)\" holds \(found); cross-entropy with \(classes) outputs needs class indices 0 to \(classes - 1)"
        case .unsupportedOptimizer(let kind): return "the checkpoint's optimizer is \(kind); train resumes SGD, Adam and AdamW"
        case .unknownOutputFormat(let path): return "\(path): cannot tell the format from the extension; use .safetensors, .pth or .ckpt"
        case .noData: return "no data: give a CSV file"
        case .invalidProgress(let key, let found):
            return "\(key) is \(found); resuming needs a whole number from 0 to \(Int64.max)"
        case .notACheckpoint(let found):
            return "--resume needs a checkpoint file (.ckpt, or a torch checkpoint dict holding a state_dict); this is \(found)"
        case .emptyLayer(let layers):
            return "layers \(layers.map(String.init).joined(separator: ",")) include a layer of size 0; every layer needs at least one unit"
        case .outputsDoNotFitLoss(let loss, let outputs):
            return "the network has \(outputs) outputs; \(loss.rawValue) needs exactly 1 (the target is one column)"
        case .networkTooLarge(let what, let count, let limit):
            return "\(what) would hold \(count) values; train handles at most \(limit)"
        case .standardizationDoesNotFitData(let saved, let features):
            return "the saved input standardisation is for \(saved) features; the data has \(features) feature columns"
        case .noTrainingRows(let rows, let split):
            return "--validation-split \(split) holds out all \(rows) rows; no rows are left to train on"
        case .nonFiniteLoss(let epoch, let loss):
            return "epoch \(epoch): the mean loss is \(loss); training stopped and nothing was written (--no-stop-on-nan trains on)"
        case .stepCountOverflow(let step):
            return "the global step \(step) cannot count further steps"
        }
    }
}

/// `modelfile train`.
public enum Training {
    /// The CSV table read from `path`, else parsed from `text`.
    ///
    /// - Throws: `ModelFileError` naming the file, `CSVError`, or `TrainingError.noData` when both are `nil`.
    static func table(path: String?, text: String?) throws -> CSVTable {
        if let path { return try attributing(to: path) { try readCSV(path) } }
        guard let text else { throw TrainingError.noData }
        return try CSVTable(text: text)
    }

    /// The most parameters a network `train` and `predict` build may have (256 MiB of float32;
    /// with Adam's two moments and the gradients, about a gibibyte).
    public static let maxParameters = 1 << 26
    /// The most activation values one forward pass may hold (rows × the sum of the layer sizes);
    /// evaluation over more rows runs in chunks of this size.
    public static let maxActivationValues = 1 << 26

    /// Trains a feed-forward network as `configuration` says, calling `onEpoch` after each epoch.
    ///
    /// - Throws: `ModelFileError` (unreadable data or weights, an output that is an input),
    ///   `TrainingError`, `CSVError`, `NNError`.
    public static func run(_ configuration: TrainingConfiguration, onEpoch: (EpochRecord) -> Void = { _ in }) throws -> TrainingResult {
        let c = configuration
        guard c.batchSize >= 1, c.epochs >= 0, c.learningRate >= 0, c.momentum >= 0, (c.weightDecay ?? 0) >= 0,
              c.validationSplit >= 0, c.validationSplit < 1 else {
            throw TrainingError.invalidSetting("batch size, epochs, learning rate, momentum, weight decay must be non-negative and the validation split in [0, 1)")
        }
        // Every input stays claimed while training runs, and no output may be one of them
        // (checked before any work, so nothing is written and no time is lost).
        let claims = [c.dataPath, c.initPath, c.resumePath, c.lora?.adapterInitPath].compactMap { $0.flatMap { InputClaim(path: $0) } }
        defer { withExtendedLifetime(claims) {} }
        for path in [c.outputPath, c.plotPath].compactMap({ $0 }) {
            try attributing(to: path) { try OutputTarget.check(path) }
        }
        // `train --lora` without --merge writes an adapter folder: its name has no model extension.
        let writesAdapterFolder = c.lora.map { !$0.merge } ?? false
        if let path = c.outputPath, !writesAdapterFolder, OutputFormat(pathExtensionOf: path) == nil {
            throw ModelFileError(path: path, underlying: TrainingError.unknownOutputFormat(path))
        }
        let table = try table(path: c.dataPath, text: c.dataText)
        let resumed = try c.resumePath.map { path in try attributing(to: path) { try SavedNetwork(path: path, resuming: true) } }
        let initial = try c.initPath.map { path in try attributing(to: path) { try SavedNetwork(path: path) } }
        var warnings: [ModelFileWarning] = []

        // The data, standardised with the saved statistics when continuing a standardised run.
        let target: TargetColumn = c.target.map { .named($0) } ?? .last
        let known = resumed?.description ?? initial?.description
        let dataset: CSVDataset
        if let statistics = known?.standardization {
            let features = table.columnNames.count - 1
            guard statistics.mean.count == features else {
                throw TrainingError.standardizationDoesNotFitData(saved: statistics.mean.count, features: features)
            }
            dataset = try CSVDataset(table: table, target: target, standardization: statistics)
        } else {
            dataset = try CSVDataset(table: table, target: target, standardize: c.standardize)
        }
        let features = dataset.featureNames.count

        // The network: the checkpoint's or the initial weights' architecture, else the requested one.
        var layers = c.layerSizes ?? [features, 6, 4, 2, 1]
        var activation = c.activation
        var outputActivation = c.loss.outputActivation ?? c.activation
        let weights = resumed?.weights ?? initial?.weights
        if let weights {
            layers = try FeedForward.layerSizes(in: weights)
            if let known { activation = known.activation; outputActivation = known.outputActivation }
        }
        guard layers.first == features else { throw TrainingError.layersDoNotFitData(layers: layers, features: features) }
        let description = NetworkDescription(
            layerSizes: layers, activation: activation, outputActivation: outputActivation, loss: known?.loss ?? c.loss,
            standardization: dataset.standardization ?? known?.standardization, featureNames: dataset.featureNames, targetName: dataset.targetName)
        try checkNetwork(layers, loss: description.loss)
        if description.loss == .crossEntropy, let bad = dataset.targets.scalars.first(where: { $0 < 0 || $0 >= Float(layers.last ?? 1) || $0 != $0.rounded() }) {
            throw TrainingError.targetsNotClassIndices(column: dataset.targetName, classes: layers.last ?? 1, found: bad)
        }

        var generator = SplitMix64(seed: c.seed)
        let model = FeedForward(layerSizes: layers, activation: activation, outputActivation: outputActivation, using: &generator)
        if let weights { _ = try model.loadStateDict(weights, strict: true) }

        // The optimizer: the checkpoint's kind and state when resuming.
        var kind = c.optimizer
        var startEpoch = 0, globalStep = 0
        if let resumed, let optimizer = resumed.optimizer {
            switch optimizer.state.kind {
            case .sgd: kind = .sgd
            case .adam, .adamOrAdamW: kind = .adam
            case .adamW: kind = .adamw
            default: throw TrainingError.unsupportedOptimizer(optimizer.state.kind.rawValue)
            }
            startEpoch = resumed.epochsCompleted
            globalStep = resumed.globalStep
            if !resumed.schedulers.isEmpty {
                warnings.append(.schedulersNotApplied(kinds: resumed.schedulers.compactMap(\.kind)))
            }
        }
        // LoRA: adapters over the frozen base; only they train (docs/cli.md, "LoRA adapters").
        var adapterConfig: PEFTLoRAConfig?
        if let lora = c.lora {
            guard c.initPath != nil else { throw LoRATrainingError.needsBase }
            guard c.resumePath == nil else { throw LoRATrainingError.cannotResume }
            if let path = c.outputPath {
                let format = OutputFormat(pathExtensionOf: path)
                if lora.merge, format == .ckpt || format == nil {
                    throw LoRATrainingError.outputKind("--merge writes the merged network to a .safetensors or .pth file; --out \(path) is not one")
                }
                if !lora.merge, format != nil {
                    throw LoRATrainingError.outputKind("--out \(path) names a file; --lora writes a PEFT adapter folder (add --merge to write the merged network)")
                }
            }
            adapterConfig = try LoRATraining.attach(to: model, options: lora, using: &generator)
        }
        let optimizer = makeOptimizer(kind, c.lora == nil ? model.parameters() : model.trainableParameters(), c)
        if let resumed, let saved = resumed.optimizer {
            try optimizer.loadStateDict(try CheckpointBridge.optimizerState(saved.state, from: saved.file, path: saved.path))
        }

        // Training.
        let all = dataset.tensorDataset
        var splitGenerator = SplitMix64(seed: c.seed &+ 2)
        let (train, validation) = c.validationSplit > 0 ? all.split(holdingOut: c.validationSplit, using: &splitGenerator) : (all, nil)
        guard train.count > 0 else { throw TrainingError.noTrainingRows(rows: all.count, validationSplit: c.validationSplit) }
        let width = layers.saturatingSum { $0 }
        let stepValues = min(c.batchSize, train.count).saturatingMultiplied(by: width)
        guard stepValues <= maxActivationValues else {
            throw TrainingError.networkTooLarge(what: "one step of \(min(c.batchSize, train.count)) rows through layers of \(width) units", count: stepValues, limit: maxActivationValues)
        }
        let loss = lossFunction(description.loss)
        var records: [EpochRecord] = []
        var stepsInLastEpoch = 0
        let start = monotonicSeconds()
        if startEpoch < c.epochs {
            for epoch in (startEpoch + 1)...c.epochs {
                var total = 0.0
                stepsInLastEpoch = 0
                // Each epoch's order depends only on (seed, epoch), so a resumed run continues
                // exactly as an uninterrupted one would.
                let loader = DataLoader(train, batchSize: c.batchSize, shuffle: c.shuffle,
                                        generator: SplitMix64(seed: c.seed &+ 0x9E37_79B9 &* UInt64(epoch)))
                for batch in loader {
                    optimizer.zeroGrad()
                    let value = loss(model(batch.inputs), batch.targets)
                    value.backward()
                    optimizer.step()
                    total += Double(value.item()) * Double(batch.inputs.shape[0])
                    stepsInLastEpoch += 1
                }
                let (stepped, overflow) = globalStep.addingReportingOverflow(stepsInLastEpoch)
                guard !overflow else { throw TrainingError.stepCountOverflow(globalStep: globalStep) }
                globalStep = stepped
                let validationLoss = validation.map { set in meanLoss(model, loss, set.inputs, set.targets, width: width) }
                let record = EpochRecord(epoch: epoch, loss: total / Double(train.count), validationLoss: validationLoss)
                records.append(record)
                onEpoch(record)
                if c.stopOnNonFiniteLoss && !record.loss.isFinite {
                    throw TrainingError.nonFiniteLoss(epoch: epoch, loss: record.loss)
                }
            }
        }
        let loopSeconds = monotonicSeconds() - start

        // Evaluation on the held-out rows if any, else on the training data.
        let evaluation = validation ?? train
        let (accuracy, mse) = evaluate(model, evaluation.inputs, evaluation.targets, loss: description.loss)

        var outputs: [String] = []
        if let path = c.outputPath {
            if let lora = c.lora, let adapterConfig, !lora.merge {
                outputs += try attributing(to: path) { try LoRATraining.writeAdapterFolder(model, config: adapterConfig, to: path, overwrite: c.overwrite) }
            } else {
                if c.lora != nil { model.mergeLoRA() }
                try attributing(to: path) {
                    try save(model: model, optimizer: optimizer, description: description, to: path, overwrite: c.overwrite,
                             epochsCompleted: max(startEpoch, c.epochs), globalStep: globalStep, stepsInLastEpoch: stepsInLastEpoch)
                }
                outputs.append(path)
            }
        }
        if let path = c.plotPath {
            try attributing(to: path) {
                let output = try OutputFile(path: path, overwrite: c.overwrite)
                try output.write(LossPlot.svg(records.map { ($0.epoch, $0.loss) }, validation: records.compactMap { r in r.validationLoss.map { (r.epoch, $0) } }))
                try output.commit()
            }
            outputs.append(path)
        }
        return TrainingResult(
            description: description, epochs: records, startEpoch: startEpoch, accuracy: accuracy, meanSquaredError: mse,
            evaluatedOn: validation == nil ? "training data" : "validation split", globalStep: globalStep, loopSeconds: loopSeconds,
            outputs: outputs, warnings: warnings)
    }

    /// Reads a CSV file that must be a regular file (a FIFO, device or folder is refused before
    /// it is opened).
    ///
    /// - Throws: `FileError`, `CSVError`.
    static func readCSV(_ path: String) throws -> CSVTable {
        let bytes = try RegularFile.contents(of: path)
        guard let text = String(validating: bytes, as: UTF8.self) else {
            throw CSVError.unreadable(path: path, reason: "not UTF-8 text")
        }
        return try CSVTable(text: text)
    }

    /// Refuses a network `train` or `predict` cannot build or run: a layer of size 0, an output
    /// size the loss cannot use, more than ``maxParameters`` parameters.
    ///
    /// - Throws: `TrainingError`.
    static func checkNetwork(_ layers: [Int], loss: LossKind) throws {
        guard layers.count >= 2, layers.allSatisfy({ $0 >= 1 }) else { throw TrainingError.emptyLayer(layers: layers) }
        let outputs = layers[layers.count - 1]
        if loss != .crossEntropy && outputs != 1 { throw TrainingError.outputsDoNotFitLoss(loss: loss, outputs: outputs) }
        var parameters = 0
        for (inputs, outputs) in zip(layers, layers.dropFirst()) {
            parameters = parameters.saturatingAdded(inputs.saturatingMultiplied(by: outputs).saturatingAdded(outputs))
        }
        guard parameters <= maxParameters else {
            throw TrainingError.networkTooLarge(what: "layers \(layers.map(String.init).joined(separator: ","))", count: parameters, limit: maxParameters)
        }
    }

    /// The rows of each forward pass over `rows` rows, so that one pass holds at most
    /// ``maxActivationValues`` values: all rows at once when they fit (the result is then exactly
    /// one pass's), else chunks.
    static func chunks(rows: Int, width: Int) -> [Range<Int>] {
        guard rows.saturatingMultiplied(by: width) > maxActivationValues else { return [0..<rows] }
        let size = max(1, maxActivationValues / max(width, 1))
        return stride(from: 0, to: rows, by: size).map { $0..<min($0 + size, rows) }
    }

    /// The mean loss over all rows, in chunks when needed (weighted by chunk size).
    static func meanLoss(_ model: FeedForward, _ loss: any Loss, _ inputs: Tensor, _ targets: Tensor, width: Int) -> Double {
        withNoGrad {
            let parts = chunks(rows: inputs.shape[0], width: width)
            if parts.count == 1 { return Double(loss(model(inputs), targets).item()) }
            var total = 0.0
            for part in parts { total += Double(loss(model(inputs.rows(part)), targets.rows(part)).item()) * Double(part.count) }
            return total / Double(max(inputs.shape[0], 1))
        }
    }

    /// The network's outputs for every row, in chunks when needed.
    static func outputs(_ model: FeedForward, _ inputs: Tensor) -> Tensor {
        withNoGrad {
            let parts = chunks(rows: inputs.shape[0], width: model.layerSizes.saturatingSum { $0 })
            if parts.count == 1 { return model(inputs) }
            return Tensor.concatenated(parts.map { model(inputs.rows($0)) }, axis: 0)
        }
    }

    /// Accuracy for classification losses, mean squared error for MSE (`nil` for no rows).
    static func evaluate(_ model: FeedForward, _ inputs: Tensor, _ targets: Tensor, loss: LossKind) -> (Double?, Double?) {
        guard inputs.shape[0] > 0 else { return (nil, nil) }
        return withNoGrad {
            let output = outputs(model, inputs)
            switch loss {
            case .bce:
                return (Double(((output .> 0.5) .== targets).mean().item()), nil)
            case .crossEntropy:
                let predicted = output.argmax(axis: 1)
                return (Double((predicted .== targets.reshaped([-1])).mean().item()), nil)
            case .mse:
                return (nil, Double(output.meanSquaredError(target: targets).item()))
            }
        }
    }

    static func lossFunction(_ kind: LossKind) -> any Loss {
        switch kind {
        case .bce: return BCELoss()
        case .mse: return MSELoss()
        case .crossEntropy: return CrossEntropyLoss()
        }
    }

    static func makeOptimizer(_ kind: OptimizerKind, _ parameters: [Parameter], _ c: TrainingConfiguration) -> any Optimizer {
        switch kind {
        case .sgd:
            return SGD(parameters: parameters, learningRate: c.learningRate, momentum: c.momentum, weightDecay: c.weightDecay ?? 0)
        case .adam:
            return Adam(parameters: parameters, learningRate: c.learningRate, weightDecay: c.weightDecay ?? 0)
        case .adamw:
            return AdamW(parameters: parameters, learningRate: c.learningRate, weightDecay: c.weightDecay ?? 0.01)
        }
    }

    /// Saves by extension: safetensors (description in `__metadata__`), `.pth` (`state_dict` plus a
    /// `modelfile` dict), `.ckpt` (a checkpoint Lightning resumes, with the optimizer state).
    static func save(model: FeedForward, optimizer: any Optimizer, description: NetworkDescription, to path: String, overwrite: Bool,
                     epochsCompleted: Int, globalStep: Int, stepsInLastEpoch: Int) throws {
        let weights = model.stateDict()
        switch OutputFormat(pathExtensionOf: path) {
        case .safetensors?:
            var metadata = description.metadata
            metadata["format"] = "pt"
            try SafetensorsWriter.write(weights, to: path, metadata: metadata, overwrite: overwrite)
        case .pth?:
            let items = Array(weights)
            let stateDict = TorchDict(items.enumerated().map { (key: TorchValue.string($0.element.name), value: TorchValue.tensor($0.offset)) }, isOrdered: true)
            let root = TorchValue.dict(TorchDict([(.string("state_dict"), .dict(stateDict)), (.string("modelfile"), description.torchValue)]))
            try TorchWriter.write(to: path, object: root, tensors: items.map { TensorEntry(name: $0.name, dtype: $0.tensor.dtype, shape: $0.tensor.shape) },
                                  overwrite: overwrite, tensorBytes: { items[$0].tensor.bytes })
        case .ckpt?:
            let contents = CheckpointContents(
                stateDict: weights, optimizers: [CheckpointBridge.optimizerStateDict(optimizer.stateDict())],
                epochsCompleted: epochsCompleted, globalStep: globalStep, stepsInLastEpoch: stepsInLastEpoch,
                extraKeys: [("modelfile", description.torchValue)])
            try CheckpointWriter.write(contents, to: path, overwrite: overwrite)
        case .npz?, .npy?, .gguf?, nil:
            throw TrainingError.unknownOutputFormat(path)
        }
    }

    static func monotonicSeconds() -> Double {
        var time = timespec()
        clock_gettime(CLOCK_MONOTONIC, &time)
        return Double(time.tv_sec) + Double(time.tv_nsec) / 1e9
    }
}

/// A network read back from any supported file: its weights, its description when the file
/// carries one, and for checkpoints the optimizer state and progress.
public struct SavedNetwork {
    /// The weights, named as the network's state dict (`linear1.weight`, …).
    public let weights: StateDict
    /// The description saved with them, if any.
    public let description: NetworkDescription?
    /// The first optimizer's state, with the file holding its tensors.
    public let optimizer: (state: TorchOptimizerState, file: TorchFile, path: String)?
    /// Schedulers found in a checkpoint.
    public let schedulers: [TorchSchedulerState]
    /// Epochs completed, from Lightning's loop progress (or `epoch`).
    public let epochsCompleted: Int
    /// Optimizer steps taken.
    public let globalStep: Int

    /// Reads `path`.
    ///
    /// - Parameter resuming: the file must be a checkpoint to continue (`train --resume`): a torch
    ///   file with a state dict of tensors, whose progress counters (`epoch`, `global_step`, the
    ///   loops' completed epochs) are ints from 0 to `Int64.max` — NaN, infinities, any float,
    ///   negative numbers and integers beyond 64 bits are refused by name.
    /// - Throws: format errors, `CheckpointError`, `TrainingError`.
    public init(path: String, resuming: Bool = false) throws {
        let source = try ModelFile.open(path)
        guard let file = source as? TorchFile else {
            if resuming {
                throw TrainingError.notACheckpoint(found: source.format == .directory ? "a directory" : "a \(source.format.rawValue) file")
            }
            weights = try source.stateDict()
            description = source.metadata.flatMap(NetworkDescription.init(metadata:))
            optimizer = nil
            schedulers = []
            epochsCompleted = 0
            globalStep = 0
            return
        }
        description = NetworkDescription(torchValue: file.root["modelfile"])
        // The weights: the first of the checkpoint keys that holds a dict of tensors.
        let weightsKey = LightningCheckpoint.weightKeys.first { key in
            guard case .dict(let dict)? = file.root[key] else { return false }
            return dict.entries.contains { if case .tensor = $0.value { return true } else { return false } }
        }
        guard case .dict = file.root, let key = weightsKey, case .dict(let dict)? = file.root[key] else {
            if resuming { throw TrainingError.notACheckpoint(found: "a torch file without a state dict of tensors") }
            weights = try file.stateDict()
            optimizer = nil
            schedulers = []
            epochsCompleted = 0
            globalStep = 0
            return
        }
        var weights = StateDict()
        for entry in dict.entries {
            guard case .tensor(let record) = entry.value, let name = entry.key.stringValue else { continue }
            try weights.append(name, try file.tensor(record: record, name: "\(key).\(name)"))
        }
        self.weights = weights
        guard resuming else {
            optimizer = nil
            schedulers = []
            epochsCompleted = 0
            globalStep = 0
            return
        }
        // Progress first: a counter that is not a count is named before anything else is read.
        let completed = try SavedNetwork.count(file.root["loops"]?["fit_loop"]?["epoch_progress"]?["current"]?["completed"],
                                               key: "loops.fit_loop.epoch_progress.current.completed")
        let epoch = try SavedNetwork.count(file.root["epoch"], key: "epoch")
        let step = try SavedNetwork.count(file.root["global_step"], key: "global_step")
        let checkpoint = try LightningCheckpoint(root: file.root)
        optimizer = checkpoint.optimizers.first.map { ($0, file, checkpoint.optimizerKey.map { "\($0)[0]" } ?? "optimizer") }
        schedulers = checkpoint.schedulers
        epochsCompleted = completed ?? epoch ?? 0
        globalStep = step ?? 0
    }

    /// A progress counter: absent, or an int from 0 to `Int64.max` (as Lightning writes them);
    /// anything else — a float, even a whole one, a negative or a 65-bit int, a string — is
    /// refused with what it is.
    static func count(_ value: TorchValue?, key: String) throws -> Int? {
        guard let value else { return nil }
        switch value {
        case .int(let number) where number >= 0:
            return Int(exactly: number)
        case .float(let number):
            throw TrainingError.invalidProgress(key: key, found: String(number))
        case .int(let number):
            throw TrainingError.invalidProgress(key: key, found: String(number))
        case .bigInt(let big):
            throw TrainingError.invalidProgress(key: key, found: big.description)
        default:
            throw TrainingError.invalidProgress(key: key, found: value.summary)
        }
    }
}
