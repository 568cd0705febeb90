import Foundation
import TensorData
import TestSupport
import Testing
@testable import TensorNN

/// How far two arrays are from agreeing within `|a − e| ≤ atol + rtol·|e|`: the largest ratio
/// `|a − e| / (atol + rtol·|e|)` (at most 1 when they agree) and the largest absolute difference.
func agreement(_ actual: [Float], _ expected: [Float], rtol: Float, atol: Float) -> (ratio: Float, absolute: Float) {
    guard actual.count == expected.count else { return (.infinity, .infinity) }
    var ratio: Float = 0, absolute: Float = 0
    for (a, e) in zip(actual, expected) where a != e {
        let difference = abs(a - e)
        ratio = max(ratio, difference.isNaN ? .infinity : difference / (atol + rtol * abs(e)))
        absolute = max(absolute, difference.isNaN ? .infinity : difference)
    }
    return (ratio, absolute)
}

/// Expects `|a − e| ≤ atol + rtol·|e|` element by element, reporting the first failure.
func expectClose(
    _ actual: [Float], _ expected: [Float], rtol: Float = 1e-5, atol: Float = 1e-6, _ label: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
) {
    guard actual.count == expected.count else {
        Issue.record("\(label): \(actual.count) values, expected \(expected.count)", sourceLocation: sourceLocation)
        return
    }
    for (index, (a, e)) in zip(actual, expected).enumerated() where a != e {
        if !(abs(a - e) <= atol + rtol * abs(e)) {
            Issue.record("\(label): index \(index): \(a) vs expected \(e)", sourceLocation: sourceLocation)
            return
        }
    }
}

/// A float32 state dict from name → (shape, values) pairs, in the given order.
func makeStateDict(_ entries: [(String, [Int], [Float])]) throws -> StateDict {
    try StateDict(entries.map { name, shape, values in
        (name, try RawTensor(dtype: .f32, shape: Shape(shape), bytes: TensorBytes(copyingValuesOf: values)))
    })
}

/// The float values of a state-dict entry.
func values(_ stateDict: StateDict, _ name: String) -> [Float] {
    guard let raw = stateDict[name], let tensor = try? Tensor(raw) else { return [] }
    return tensor.scalars
}
