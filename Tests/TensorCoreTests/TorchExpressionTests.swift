import Foundation
import TestSupport
import Testing
@testable import TensorCore

/// Expressions written once with PyTorch (Fixtures/generate_traces.py, ops.json) and once here,
/// compared by value and by every input gradient (micrograd's test against PyTorch).
@Suite("Expressions against PyTorch")
struct TorchExpressionTests {
    struct Record: Decodable {
        let shape: [Int]
        let values: [Float]
        var tensor: Tensor { Tensor(values, shape: shape) }
    }

    struct Case: Decodable {
        let name: String
        let inputs: [String: Record]
        let value: Double
        let grads: [String: [Float]]
        let indices: [Int]?
        let targets: [Float]?
    }

    struct File: Decodable {
        let cases: [Case]
    }

    static let cases: [Case] = {
        guard let data = try? Data(contentsOf: Fixture.url("traces/ops.json")),
              let file = try? JSONDecoder().decode(File.self, from: data) else { return [] }
        return file.cases
    }()

    /// The Swift transcription of each expression in generate_traces.py.
    static func evaluate(_ name: String, _ x: [String: Tensor], _ c: Case) -> Tensor? {
        switch name {
        case "broadcast_arithmetic":
            let (a, b, cc, d) = (x["a"]!, x["b"]!, x["c"]!, x["d"]!)
            return ((a + b * cc - cc) / d).pow(2).sum()
        case "linear_tanh_softmax":
            let h = x["x"]!.linear(weight: x["w"]!, bias: x["b"]!).tanh()
            return (h.softmax(axis: 1) * x["t"]!).sum() + h.logSoftmax(axis: 1).mean()
        case "matmul_transposes":
            let first = x["a"]!.matmul(x["b"]!, transposeSelf: true, transposeOther: true).sigmoid().sum()
            return first + x["c"]!.matmul(x["d"]!).relu().sum() * 0.5
        case "reductions":
            let v = x["x"]!
            return v.sum(axis: 1).exp().mean() + v.mean(axis: -1, keepDims: true).abs().sum() + v.max(axis: 2).sum() * 2
        case "unary_chain":
            let v = x["x"]!
            return (v.log() * v.sqrt() + v.clamped(min: 0.7, max: 1.5) - 1 / v + v.exp().tanh()).sum()
        case "shapes":
            let (v, y) = (x["x"]!, x["y"]!)
            let left = v.transposed(0, 2).reshaped([4, 6]).sliced(axis: 1, 1..<4).sum(axis: 0)
            let right = Tensor.concatenated([y, y * 2], axis: 1).sum(axis: 1)
            return (left * right).sum() + Tensor.stacked([y, y.transposed().transposed()], axis: 0)[1].pow(3).sum()
        case "gather_rows":
            return (x["x"]!.rows(at: c.indices ?? []) * Tensor.arange(20).reshaped([4, 5])).sum()
        case "cross_entropy":
            return x["logits"]!.crossEntropy(targets: Tensor(c.targets ?? []))
        case "mse":
            return x["p"]!.meanSquaredError(target: x["y"]!)
        case "bce", "bce_clamped":
            let p = x["p"]!
            return p.binaryCrossEntropy(target: Tensor(c.targets ?? [], shape: p.shape))
        default:
            return nil
        }
    }

    @Test("the fixture is present")
    func fixturePresent() {
        #expect(Self.cases.count >= 11)
    }

    @Test("value and gradients match PyTorch", arguments: cases.map(\.name))
    func matches(name: String) throws {
        let c = try #require(Self.cases.first { $0.name == name })
        var leaves: [String: Tensor] = [:]
        for (key, record) in c.inputs { leaves[key] = record.tensor.requiringGrad() }
        let value = try #require(Self.evaluate(name, leaves, c))
        value.backward()
        expectClose([value.item()], [Float(c.value)], rtol: 1e-5, atol: 1e-5, "\(name) value")
        for (key, expected) in c.grads {
            let gradient = leaves[key]?.grad?.scalars ?? []
            // Relative 1e-4 (float32 evaluation of a float64 reference); the BCE clamp case has a
            // gradient of −3.3e11 at p = 0, also within that relative tolerance.
            expectClose(gradient, expected, rtol: 1e-4, atol: 1e-5, "\(name) gradient of \(key)")
        }
    }
}
