import Foundation
import TensorData
import TestSupport
@testable import TensorNN

/// The PyTorch traces written by Fixtures/generate_traces.py.
enum Traces {
    struct Record: Decodable {
        let shape: [Int]
        let values: [Float]
        var tensor: Tensor { Tensor(values, shape: shape) }
    }

    struct Data: Decodable {
        let inputs: Record
        let targets: Record
        let batches: [[Int]]
        let initial_state: [String: Record]
    }

    struct Step: Decodable {
        let loss: Float
        let grads: [String: [Float]]?
        let weights: [String: [Float]]?
    }

    /// A value of a PyTorch param_group, as the generator writes it.
    enum GroupValue: Decodable {
        case null, bool(Bool), int(Int), float(Double), tuple([Double]), list([Int])

        init(from decoder: Decoder) throws {
            let single = try decoder.singleValueContainer()
            if single.decodeNil() { self = .null; return }
            if let flag = try? single.decode(Bool.self) { self = .bool(flag); return }
            if let list = try? single.decode([Int].self) { self = .list(list); return }
            let object = try single.decode([String: AnyNumber].self)
            if case .int(let value)? = object["int"] { self = .int(value) }
            else if case .double(let value)? = object["float"] { self = .float(value) }
            else if case .int(let value)? = object["float"] { self = .float(Double(value)) }
            else if case .list(let values)? = object["tuple"] { self = .tuple(values) }
            else { throw DecodingError.dataCorruptedError(in: single, debugDescription: "unknown group value") }
        }

        /// The value in the optimizer's terms.
        var hyperParameter: HyperParameter? {
            switch self {
            case .null: return .null
            case .bool(let flag): return .bool(flag)
            case .int(let value): return .int(value)
            case .float(let value): return .double(value)
            case .tuple(let values): return values.count == 2 ? .pair(values[0], values[1]) : nil
            case .list: return nil
            }
        }
    }

    /// A JSON number or list of numbers inside a tagged group value.
    enum AnyNumber: Decodable {
        case int(Int), double(Double), list([Double])
        init(from decoder: Decoder) throws {
            let single = try decoder.singleValueContainer()
            if let value = try? single.decode(Int.self) { self = .int(value) }
            else if let value = try? single.decode(Double.self) { self = .double(value) }
            else { self = .list(try single.decode([Double].self)) }
        }
    }

    struct OptimizerRecord: Decodable {
        let state: [String: [String: Record]]
        let param_groups: [[String: GroupValue]]
        let parameter_names: [String]
        /// The group keys in PyTorch's order (JSON objects are unordered once decoded).
        static let sgdKeys = ["lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize", "foreach", "differentiable", "fused"]
        static let adamKeys = ["lr", "betas", "eps", "weight_decay", "amsgrad", "maximize", "foreach", "capturable",
                               "differentiable", "fused", "decoupled_weight_decay"]

        /// The state in the optimizer's terms, group entries in PyTorch's key order.
        func optimizerState(keys: [String]) -> OptimizerState {
            var states: [Int: [String: Tensor]] = [:]
            for (index, entries) in state {
                states[Int(index)!] = entries.mapValues(\.tensor)
            }
            let groups = param_groups.map { group -> ParameterGroup in
                var indices: [Int] = []
                if case .list(let list)? = group["params"] { indices = list }
                let entries = keys.compactMap { key in group[key]?.hyperParameter.map { (key, $0) } }
                return ParameterGroup(hyperParameters: entries, parameterIndices: indices)
            }
            return OptimizerState(parameterStates: states, parameterGroups: groups)
        }
    }

    struct Trace: Decodable {
        let optimizer: String
        let steps: [Step]
        let optimizer_states: [String: OptimizerRecord]
    }

    struct Variants: Decodable {
        let variants: [String: Trace]
    }

    static func load<T: Decodable>(_ type: T.Type, _ name: String) throws -> T {
        try JSONDecoder().decode(T.self, from: Foundation.Data(contentsOf: Fixture.url("traces/\(name)")))
    }

    static let data: Data? = try? load(Data.self, "fnn_data.json")

    /// The reference network with the trace's initial weights.
    static func initialModel(_ data: Data) throws -> FeedForward {
        var generator = SplitMix64(seed: 0)
        let model = FeedForward(layerSizes: [8, 6, 4, 2, 1], activation: .sigmoid, using: &generator)
        let names = model.namedParameters().map(\.name)
        let entries = names.map { name in (name, data.initial_state[name]!.shape, data.initial_state[name]!.values) }
        try model.loadStateDict(makeStateDict(entries))
        return model
    }
}
