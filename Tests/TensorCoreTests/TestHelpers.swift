import Testing
@testable import TensorCore

/// Expects `actual` to match `expected` element by element within `|a − e| ≤ atol + rtol·|e|`,
/// reporting the first differing index, both values and the largest difference.
func expectClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(label): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    var firstBad: Int?
    var maxDifference: Float = 0
    for (index, (a, e)) in zip(actual, expected).enumerated() {
        if a == e || (a.isNaN && e.isNaN) { continue }
        let difference = abs(a - e)
        maxDifference = max(maxDifference, difference.isNaN ? .infinity : difference)
        if !(difference <= atol + rtol * abs(e)) && firstBad == nil { firstBad = index }
    }
    if let index = firstBad {
        Issue.record("\(label): index \(index): \(actual[index]) vs expected \(expected[index]) (max difference \(maxDifference))",
                     sourceLocation: sourceLocation)
    }
}

/// Expects a tensor's shape and values.
func expectTensor(
    _ tensor: Tensor, shape: [Int], _ values: [Float], rtol: Float = 1e-5, atol: Float = 1e-6,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    #expect(tensor.shape == shape, sourceLocation: sourceLocation)
    expectClose(tensor.scalars, values, rtol: rtol, atol: atol, "values", sourceLocation: sourceLocation)
}

/// Checks the gradients `backward()` computes for `function` against central finite differences.
///
/// The output is multiplied by fixed pseudo-random weights and summed, so the upstream gradient is
/// not all ones. Float32 differences with step `h` carry a truncation error of order h² and a
/// rounding error of order 1e-7/h; the tolerance allows for both.
func checkGradients(
    _ inputs: [Tensor], h: Float = 1e-2, rtol: Float = 2e-2, atol: Float = 2e-3,
    sourceLocation: SourceLocation = #_sourceLocation,
    _ function: ([Tensor]) -> Tensor
) {
    var generator = SplitMix64(seed: 99)
    let probe = function(inputs.map { $0.detached() })
    let weights = Tensor.uniform(probe.shape, in: 0.5..<1.5, using: &generator)
    func objective(_ values: [Tensor]) -> Tensor { (function(values) * weights).sum() }

    let leaves = inputs.map { $0.requiringGrad() }
    objective(leaves).backward()
    for (position, input) in inputs.enumerated() {
        guard let analytic = leaves[position].grad else {
            Issue.record("input \(position): no gradient", sourceLocation: sourceLocation)
            continue
        }
        var numeric = [Float](repeating: 0, count: input.elementCount)
        for element in 0..<input.elementCount {
            func shifted(_ delta: Float) -> Float {
                var values = inputs
                values[position].withUnsafeMutableBufferPointer { $0[element] += delta }
                return withNoGrad { objective(values).item() }
            }
            numeric[element] = (shifted(h) - shifted(-h)) / (2 * h)
        }
        expectClose(analytic.scalars, numeric, rtol: rtol, atol: atol, "gradient of input \(position)",
                    sourceLocation: sourceLocation)
    }
}
