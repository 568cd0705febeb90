import ModelFormats
import TensorCore
import TensorData
import TensorNN

// Optimizer state between the runtime (TensorNN's `OptimizerState`) and checkpoint files (torch's
// `optimizer.state_dict()` as ModelFormats reads and writes it). Both sides use torch's names and
// numbering, so the mapping is one to one: parameter index → (name, tensor); groups of settings
// with `params` last.

/// Converts optimizer state between the runtime and checkpoint files.
public enum CheckpointBridge {
    /// The state an optimizer reports, in the form the checkpoint writer takes.
    public static func optimizerStateDict(_ state: OptimizerState) -> OptimizerStateDict {
        let groups = state.parameterGroups.map { group in
            TorchDict(group.hyperParameters.map { (key: TorchValue.string($0.name), value: torchValue($0.value)) }
                      + [(key: .string("params"), value: .list(group.parameterIndices.map { .int(Int64($0)) }))])
        }
        let perParameter = state.parameterStates.keys.sorted().map { index in
            (index: index, entries: state.orderedState(ofParameter: index).map { (name: $0.name, tensor: $0.tensor.rawTensor(as: .f32)) })
        }
        return OptimizerStateDict(paramGroups: groups, state: perParameter)
    }

    /// The state of optimizer `optimizer` read from `file`, ready for `Optimizer.loadStateDict`.
    ///
    /// - Throws: `CheckpointError` for settings the runtime cannot hold (tensor learning rates,
    ///   nested values), `TorchFormatError` for unreadable tensors.
    public static func optimizerState(_ optimizer: TorchOptimizerState, from file: TorchFile, path: String) throws -> OptimizerState {
        var groups: [ParameterGroup] = []
        for (g, group) in optimizer.paramGroups.enumerated() {
            var settings: [(name: String, value: HyperParameter)] = []
            var indices: [Int] = []
            for entry in group.entries {
                guard let name = entry.key.stringValue else { continue }
                if name == "params" {
                    indices = entry.value.sequenceItems?.compactMap { $0.intValue.map(Int.init) } ?? []
                    continue
                }
                guard let value = hyperParameter(entry.value) else {
                    throw CheckpointError.wrongType(path: "\(path).param_groups[\(g)].\(name)", expected: "a number, flag, None or a pair of numbers",
                                                    found: entry.value.summary)
                }
                settings.append((name, value))
            }
            groups.append(ParameterGroup(hyperParameters: settings, parameterIndices: indices))
        }
        var states: [Int: [String: Tensor]] = [:]
        for parameter in optimizer.state {
            var entries: [String: Tensor] = [:]
            for entry in parameter.entries {
                let place = "\(path).state[\(parameter.index)].\(entry.name)"
                switch entry.value {
                case .tensor(let record):
                    entries[entry.name] = try Tensor(try file.tensor(record: record, name: place))
                case let number where number.doubleValue != nil:
                    // Old checkpoints keep `step` as a plain number; torch converts it to a tensor on load.
                    entries[entry.name] = Tensor(Float(number.doubleValue ?? 0))
                default:
                    throw CheckpointError.wrongType(path: place, expected: "a tensor", found: entry.value.summary)
                }
            }
            states[parameter.index] = entries
        }
        return OptimizerState(parameterStates: states, parameterGroups: groups)
    }

    static func torchValue(_ value: HyperParameter) -> TorchValue {
        switch value {
        case .null: return .none
        case .bool(let flag): return .bool(flag)
        case .int(let number): return .int(Int64(number))
        case .double(let number): return .float(number)
        case .pair(let first, let second): return .tuple([.float(first), .float(second)])
        }
    }

    static func hyperParameter(_ value: TorchValue) -> HyperParameter? {
        switch value {
        case .none: return .null
        case .bool(let flag): return .bool(flag)
        case .int(let number): return Int(exactly: number).map { .int($0) }
        case .float(let number): return .double(number)
        case .tuple(let items), .list(let items):
            guard items.count == 2, let first = items[0].doubleValue, let second = items[1].doubleValue else { return nil }
            return .pair(first, second)
        default: return nil
        }
    }
}
