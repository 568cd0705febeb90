import ArgumentParser
import HubClient
import ModelFileKit
import TensorNN

extension Activation: ExpressibleByArgument {}
extension LossKind: ExpressibleByArgument {}
extension OptimizerKind: ExpressibleByArgument {}

struct TrainCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "train",
        abstract: "Train a feed-forward network on a CSV file (default: the reference network on the bundled diabetes data).",
        discussion: """
            Defaults reproduce the reference run: layers 8,6,4,2,1 named linear1…linear4, a sigmoid after every layer,
            binary cross-entropy, SGD with lr 0.01, batches of 32, shuffled, 100 epochs. One line per epoch
            (Epoch[1/100],loss:0.693147, the mean training loss), then the accuracy (or the error for MSE).
            """)

    @Option(name: .long, help: "CSV file with a header row (default: the bundled diabetes data).")
    var data: String?

    @Option(name: .long, help: "Target column (default: the last column).")
    var target: String?

    @Option(name: .long, help: "Layer sizes, input first (default 8,6,4,2,1 with the input size from the data).")
    var layers: String?

    @Option(name: .long, help: "Activation after every layer: sigmoid, relu, tanh.")
    var activation: Activation = .sigmoid

    @Option(name: .long, help: "Loss: bce, mse, cross-entropy.")
    var loss: LossKind = .bce

    @Option(name: .long, help: "Optimizer: sgd, adam, adamw.")
    var optimizer: OptimizerKind = .sgd

    @Option(name: .long, help: "Learning rate.")
    var lr: Double = 0.01

    @Option(name: .long, help: "SGD momentum.")
    var momentum: Double = 0

    @Option(name: .customLong("weight-decay"), help: "Weight decay (default 0; 0.01 for AdamW).")
    var weightDecay: Double?

    @Option(name: .customLong("batch-size"), help: "Batch size.")
    var batchSize: Int = 32

    @Option(name: .long, help: "Epochs (in total, counting those of a resumed checkpoint).")
    var epochs: Int = 100

    @Flag(name: .customLong("no-shuffle"), help: "Keep the rows in file order.")
    var noShuffle = false

    @Option(name: .long, help: "Seed for initialisation, shuffling and the validation split.")
    var seed: UInt64 = 0

    @Flag(name: .long, help: "Standardise the inputs (statistics are saved with the model).")
    var standardize = false

    @Option(name: .customLong("validation-split"), help: "Fraction of rows held out for validation.")
    var validationSplit: Double = 0

    @Option(name: .customLong("init"), help: "Start from these weights (any format).")
    var initFrom: String?

    @Option(name: .long, help: "Continue a .ckpt (modelfile's or Lightning's) with its optimizer state, epoch and step.")
    var resume: String?

    @Option(name: .long, help: "Save the network: .safetensors, .pth or .ckpt.")
    var out: String?

    @Option(name: .long, help: "Write the loss curve as SVG.")
    var plot: String?

    @Flag(name: .long, help: "Overwrite existing outputs.")
    var force = false

    @Option(name: .long, help: "Train LoRA adapters of this rank over the frozen --init weights; --out DIR writes a PEFT adapter folder.")
    var lora: Int?

    @Option(name: .customLong("lora-alpha"), help: "LoRA alpha: the update is scaled by alpha / rank (default 8).")
    var loraAlpha: Double?

    @Option(name: .customLong("lora-targets"), help: "Layers that get adapters, e.g. linear1,linear2 (default: every layer).")
    var loraTargets: String?

    @Flag(name: .customLong("use-rslora"), help: "Scale the LoRA update by alpha / sqrt(rank) (rank-stabilised LoRA).")
    var useRSLoRA = false

    @Option(name: .customLong("adapter-init"), help: "Start the adapters from this PEFT adapter folder instead of PEFT's initialisation.")
    var adapterInit: String?

    @Flag(name: .long, help: "With --lora: write the merged network to --out FILE (.safetensors or .pth) instead of an adapter folder.")
    var merge = false
    @Flag(name: .customLong("no-stop-on-nan"), help: "Train every epoch even when an epoch's mean loss is NaN or infinite, and save.")
    var noStopOnNaN = false

    @OptionGroup var output: OutputOptions

    func validate() throws {
        if let lora, lora < 1 { throw ValidationError("--lora \(lora): the rank must be at least 1") }
        if lora == nil, loraAlpha != nil || loraTargets != nil || useRSLoRA || adapterInit != nil || merge {
            throw ValidationError("--lora-alpha, --lora-targets, --use-rslora, --adapter-init and --merge need --lora RANK")
        }
        if let loraAlpha, !loraAlpha.isFinite { throw ValidationError("--lora-alpha must be a finite number") }
        if let loraTargets, parseTargets(loraTargets).isEmpty { throw ValidationError("--lora-targets \(loraTargets): expected layer names like linear1,linear2") }
        if lora != nil, initFrom == nil { throw ValidationError("--lora trains adapters over frozen base weights: give them with --init BASE") }
        if lora != nil, resume != nil { throw ValidationError("--lora cannot be combined with --resume") }
        if let layers, parseLayers(layers) == nil { throw ValidationError("--layers \(layers): expected sizes like 8,6,4,2,1") }
        guard batchSize >= 1 else { throw ValidationError("--batch-size must be at least 1") }
        guard epochs >= 0 else { throw ValidationError("--epochs must not be negative") }
        guard lr >= 0, lr.isFinite, momentum >= 0, (weightDecay ?? 0) >= 0 else { throw ValidationError("--lr, --momentum and --weight-decay must be non-negative") }
        guard validationSplit >= 0, validationSplit < 1 else { throw ValidationError("--validation-split must be in [0, 1)") }
    }

    private func parseTargets(_ text: String) -> [String] {
        text.split(separator: ",").map { String($0.filter { $0 != " " }) }.filter { !$0.isEmpty }
    }

    private func parseLayers(_ text: String) -> [Int]? {
        let sizes = text.split(separator: ",").map { Int($0.filter { $0 != " " }) }
        guard sizes.count >= 2, sizes.allSatisfy({ ($0 ?? 0) > 0 }) else { return nil }
        return sizes.compactMap { $0 }
    }

    func run() throws {
        try Terminal.run {
            var c = TrainingConfiguration()
            c.dataPath = data
            c.dataText = data == nil ? BundledData.diabetesCSV : nil
            c.target = target
            c.layerSizes = layers.flatMap(parseLayers)
            c.activation = activation
            c.loss = loss
            c.optimizer = optimizer
            c.learningRate = lr
            c.momentum = momentum
            c.weightDecay = weightDecay
            c.batchSize = batchSize
            c.epochs = epochs
            c.shuffle = !noShuffle
            c.seed = seed
            c.standardize = standardize
            c.validationSplit = validationSplit
            c.initPath = initFrom
            c.resumePath = resume
            c.outputPath = out
            c.plotPath = plot
            c.overwrite = force
            if let lora {
                var options = LoRATrainingOptions(rank: lora)
                options.alpha = loraAlpha
                options.targets = loraTargets.map(parseTargets)
                options.usesRSLoRA = useRSLoRA
                options.adapterInitPath = adapterInit
                options.merge = merge
                c.lora = options
            }
            c.stopOnNonFiniteLoss = !noStopOnNaN
            let json = output.json
            let total = epochs
            let result = try Training.run(c) { record in
                guard !json else { return }
                var line: Shown = "Epoch[\(record.epoch)/\(total)],loss:\(sixDecimals(record.loss))"
                if let validation = record.validationLoss { line = line + ",val_loss:\(sixDecimals(validation))" }
                Terminal.out(line)
            }
            for warning in result.warnings { Terminal.warning(warning) }
            if json {
                Terminal.out(json: result.json)
            } else {
                if let accuracy = result.accuracy { Terminal.out("accuracy: \(sixDecimals(accuracy)) (\(result.evaluatedOn))") }
                if let mse = result.meanSquaredError { Terminal.out("mse: \(sixDecimals(mse)) (\(result.evaluatedOn))") }
                for path in result.outputs { Terminal.note("wrote \(path)") }
            }
            return 0
        }
    }
}

struct PredictCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "predict",
        abstract: "Run a saved network (any format) over a CSV file; print predictions and the accuracy when the target is present.")

    @Option(name: .long, help: "The saved network (.safetensors, .pth, .ckpt, or a cached org/name).", transform: resolvedModelPath)
    var model: String

    @Option(name: .long, help: "Run with this LoRA adapter applied (a PEFT adapter folder or a kohya .safetensors file), without merging.")
    var adapter: String?

    @Option(name: .long, help: "CSV file (default: the bundled diabetes data).")
    var data: String?

    @Option(name: .long, help: "Activation, when the file does not record it (default sigmoid).")
    var activation: Activation?

    @Option(name: .long, help: "Names of a classifier's classes in index order, comma-separated (default 0,1,...).")
    var labels: String?

    @OptionGroup var output: OutputOptions

    /// The `--labels` names.
    var classNames: [String]? { labels.map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) } }

    func validate() throws {
        if let names = classNames {
            guard names.allSatisfy({ !$0.isEmpty }) else { throw ValidationError("--labels \(labels ?? ""): expected class names separated by commas, none empty") }
            guard Set(names).count == names.count else { throw ValidationError("--labels \(labels ?? ""): a class is named twice") }
        }
    }

    func run() throws {
        try Terminal.run {
            let report: PredictionReport
            do {
                report = try PredictionReport.predict(modelPath: model, dataPath: data,
                                                      csvText: data == nil ? BundledData.diabetesCSV : nil, activation: activation,
                                                      adapterPath: adapter, classNames: classNames)
            } catch let error as PredictionError {
                throw ValidationError(error.description)  // --labels that do not fit: a usage error
            }
            if output.json { Terminal.out(json: report.json, pretty: false) } else { Terminal.out(report.text) }
            return 0
        }
    }
}

/// `0.693147`: six decimals, as the reference example prints losses. Any finite value prints in
/// full, however large (`1e300` as its 301 integer digits and `.000000`); NaN and infinities as
/// `nan`, `inf`, `-inf`.
func sixDecimals(_ value: Double) -> String {
    guard value.isFinite else { return String(value) }
    let sign = value < 0 ? "-" : ""
    let magnitude = abs(value)
    // Below 9e12, value × 10^6 fits in an Int64: round once, in integers.
    if magnitude < 9e12 {
        let scaled = Int64((magnitude * 1_000_000).rounded())
        let fraction = String(scaled % 1_000_000)
        let text = "\(scaled / 1_000_000).\(String(repeating: "0", count: 6 - fraction.count))\(fraction)"
        return scaled == 0 ? text : sign + text
    }
    // Above, the fraction has at most 9 bits (none from 2^52 on): the whole part in full, then the fraction.
    var whole = magnitude.rounded(.towardZero)
    var micros = ((magnitude - whole) * 1_000_000).rounded()
    if micros >= 1_000_000 { whole += 1; micros = 0 }
    let fraction = String(Int(micros))
    return sign + wholeNumberDigits(whole) + "." + String(repeating: "0", count: 6 - fraction.count) + fraction
}

/// The decimal digits of a non-negative whole double, exactly (`1e22` → `10000000000000000000000`).
func wholeNumberDigits(_ value: Double) -> String {
    if value < 9e18 { return String(UInt64(value)) }
    // value = significand × 2^shift with a 53-bit significand; multiply out in base-10^9 limbs.
    let shift = Int(value.exponent) - 52
    var limbs: [UInt64] = []
    var significand = (UInt64(1) << 52) | value.significandBitPattern
    while significand > 0 { limbs.append(significand % 1_000_000_000); significand /= 1_000_000_000 }
    for _ in 0..<max(0, shift) {
        var carry: UInt64 = 0
        for i in limbs.indices {
            let doubled = limbs[i] * 2 + carry
            limbs[i] = doubled % 1_000_000_000
            carry = doubled / 1_000_000_000
        }
        if carry > 0 { limbs.append(carry) }
    }
    var text = String(limbs.last ?? 0)
    for limb in limbs.dropLast().reversed() {
        let digits = String(limb)
        text += String(repeating: "0", count: 9 - digits.count) + digits
    }
    return text
}
