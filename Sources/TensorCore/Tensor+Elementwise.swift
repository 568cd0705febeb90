// Elementwise arithmetic and activations, each with its backward rule beside the forward code.
//
// Binary operators broadcast like NumPy and PyTorch; the backward of a broadcast operand sums the
// gradient back down to its shape.

// MARK: - Arithmetic

extension Tensor {
    /// Elementwise sum with broadcasting. Traps if the shapes cannot be broadcast together.
    public static func + (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = Kernels.broadcastZip(lhs, rhs) { $0 + $1 }
        if isRecording(lhs, rhs) {
            let shapeA = lhs.shape, shapeB = rhs.shape
            // d(a + b)/da = 1, d(a + b)/db = 1
            result.record(from: lhs, rhs) { g, needs in
                (needs[0] ? Kernels.sum(g, toShape: shapeA) : nil, needs[1] ? Kernels.sum(g, toShape: shapeB) : nil)
            }
        }
        return result
    }

    /// Elementwise difference with broadcasting. Traps if the shapes cannot be broadcast together.
    public static func - (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = Kernels.broadcastZip(lhs, rhs) { $0 - $1 }
        if isRecording(lhs, rhs) {
            let shapeA = lhs.shape, shapeB = rhs.shape
            // d(a - b)/da = 1, d(a - b)/db = -1
            result.record(from: lhs, rhs) { g, needs in
                (needs[0] ? Kernels.sum(g, toShape: shapeA) : nil, needs[1] ? Kernels.sum(-g, toShape: shapeB) : nil)
            }
        }
        return result
    }

    /// Elementwise product with broadcasting. Traps if the shapes cannot be broadcast together.
    public static func * (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = Kernels.broadcastZip(lhs, rhs) { $0 * $1 }
        if isRecording(lhs, rhs) {
            let a = lhs.detached(), b = rhs.detached()
            // d(a·b)/da = b, d(a·b)/db = a
            result.record(from: lhs, rhs) { g, needs in
                (needs[0] ? Kernels.sum(g * b, toShape: a.shape) : nil, needs[1] ? Kernels.sum(g * a, toShape: b.shape) : nil)
            }
        }
        return result
    }

    /// Elementwise quotient with broadcasting. Traps if the shapes cannot be broadcast together.
    public static func / (lhs: Tensor, rhs: Tensor) -> Tensor {
        var result = Kernels.broadcastZip(lhs, rhs) { $0 / $1 }
        if isRecording(lhs, rhs) {
            let a = lhs.detached(), b = rhs.detached()
            // d(a/b)/da = 1/b, d(a/b)/db = -a/b²
            result.record(from: lhs, rhs) { g, needs in
                (needs[0] ? Kernels.sum(g / b, toShape: a.shape) : nil,
                 needs[1] ? Kernels.sum(-(g * a) / (b * b), toShape: b.shape) : nil)
            }
        }
        return result
    }

    /// Adds `scalar` to every element.
    public static func + (lhs: Tensor, rhs: Float) -> Tensor {
        var result = lhs.mapped { $0 + rhs }
        if isRecording(lhs) { result.record(from: lhs) { g in g } }
        return result
    }

    /// Adds `lhs` to every element.
    public static func + (lhs: Float, rhs: Tensor) -> Tensor { rhs + lhs }

    /// Subtracts `scalar` from every element.
    public static func - (lhs: Tensor, rhs: Float) -> Tensor { lhs + (-rhs) }

    /// `lhs - x` for every element `x`.
    public static func - (lhs: Float, rhs: Tensor) -> Tensor {
        var result = rhs.mapped { lhs - $0 }
        if isRecording(rhs) { result.record(from: rhs) { g in -g } }
        return result
    }

    /// Multiplies every element by `scalar`.
    public static func * (lhs: Tensor, rhs: Float) -> Tensor {
        var result = lhs.mapped { $0 * rhs }
        if isRecording(lhs) { result.record(from: lhs) { g in g * rhs } }
        return result
    }

    /// Multiplies every element by `lhs`.
    public static func * (lhs: Float, rhs: Tensor) -> Tensor { rhs * lhs }

    /// Divides every element by `scalar`.
    public static func / (lhs: Tensor, rhs: Float) -> Tensor {
        var result = lhs.mapped { $0 / rhs }
        if isRecording(lhs) { result.record(from: lhs) { g in g / rhs } }
        return result
    }

    /// `lhs / x` for every element `x`.
    public static func / (lhs: Float, rhs: Tensor) -> Tensor {
        var result = rhs.mapped { lhs / $0 }
        if isRecording(rhs) {
            let x = rhs.detached()
            // d(c/x)/dx = -c/x²
            result.record(from: rhs) { g in Kernels.zipped(g, x) { g, x in -g * lhs / (x * x) } }
        }
        return result
    }

    /// The negated elements.
    public static prefix func - (operand: Tensor) -> Tensor {
        var result = operand.mapped { -$0 }
        if isRecording(operand) { result.record(from: operand) { g in -g } }
        return result
    }

    /// Adds `rhs` to `lhs` (see ``replaceElements(with:)`` for how the autograd graph is kept).
    public static func += (lhs: inout Tensor, rhs: Tensor) {
        if isRecording(lhs, rhs) { lhs = lhs + rhs } else { lhs.replaceElements(with: Kernels.broadcastZip(lhs, rhs) { $0 + $1 }) }
    }
    /// Subtracts `rhs` from `lhs`; `withNoGrad { w -= lr * w.grad! }` updates a parameter in place,
    /// as in PyTorch (see ``replaceElements(with:)``).
    public static func -= (lhs: inout Tensor, rhs: Tensor) {
        if isRecording(lhs, rhs) { lhs = lhs - rhs } else { lhs.replaceElements(with: Kernels.broadcastZip(lhs, rhs) { $0 - $1 }) }
    }
    /// Multiplies `lhs` by `rhs` (see ``replaceElements(with:)``).
    public static func *= (lhs: inout Tensor, rhs: Tensor) {
        if isRecording(lhs, rhs) { lhs = lhs * rhs } else { lhs.replaceElements(with: Kernels.broadcastZip(lhs, rhs) { $0 * $1 }) }
    }
    /// Divides `lhs` by `rhs` (see ``replaceElements(with:)``).
    public static func /= (lhs: inout Tensor, rhs: Tensor) {
        if isRecording(lhs, rhs) { lhs = lhs / rhs } else { lhs.replaceElements(with: Kernels.broadcastZip(lhs, rhs) { $0 / $1 }) }
    }
    /// Adds `rhs` to every element of `lhs` (see ``replaceElements(with:)``).
    public static func += (lhs: inout Tensor, rhs: Float) {
        if isRecording(lhs) { lhs = lhs + rhs } else { lhs.replaceElements(with: lhs.mapped { $0 + rhs }) }
    }
    /// Subtracts `rhs` from every element of `lhs` (see ``replaceElements(with:)``).
    public static func -= (lhs: inout Tensor, rhs: Float) {
        if isRecording(lhs) { lhs = lhs - rhs } else { lhs.replaceElements(with: lhs.mapped { $0 - rhs }) }
    }
    /// Multiplies every element of `lhs` by `rhs` (see ``replaceElements(with:)``).
    public static func *= (lhs: inout Tensor, rhs: Float) {
        if isRecording(lhs) { lhs = lhs * rhs } else { lhs.replaceElements(with: lhs.mapped { $0 * rhs }) }
    }
    /// Divides every element of `lhs` by `rhs` (see ``replaceElements(with:)``).
    public static func /= (lhs: inout Tensor, rhs: Float) {
        if isRecording(lhs) { lhs = lhs / rhs } else { lhs.replaceElements(with: lhs.mapped { $0 / rhs }) }
    }
}

extension Tensor {
    /// The rule of `+=`, `-=`, `*=` and `/=`, which behave like PyTorch's in-place operators:
    ///
    /// - When nothing is being recorded (inside ``withNoGrad(_:)``, or when neither operand requires
    ///   a gradient), the elements of the left operand are replaced and it keeps its autograd node:
    ///   a leaf that requires a gradient stays that leaf, with its accumulated ``grad`` (PyTorch's
    ///   `with torch.no_grad(): w -= lr * w.grad`). Copies made before keep their old values.
    /// - While recording, the update is recorded as a new operation and the left operand becomes
    ///   its result (a non-leaf), so gradients flow through it.
    ///
    /// Traps if broadcasting would change the shape of a tensor that requires a gradient (PyTorch
    /// refuses such in-place updates too).
    mutating func replaceElements(with result: Tensor) {
        if result.shape == shape {
            storage = result.storage
        } else {
            precondition(node == nil,
                         "in-place update of a tensor of shape \(shape) that requires a gradient would change its shape to \(result.shape)")
            self = result
        }
    }
}

// MARK: - Unary functions

extension Tensor {
    /// `e^x` for every element.
    public func exp() -> Tensor {
        var result = Tensor(shape: shape) { out in
            VectorMath.exp(storage.pointer, out.baseAddress!, count: elementCount)
        }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // d(e^x)/dx = e^x
            result.record(from: self) { g in g * y }
        }
        return result
    }

    /// The natural logarithm of every element (`-inf` at 0, NaN below).
    public func log() -> Tensor {
        var result = mapped { LibM.log($0) }
        if Tensor.isRecording(self) {
            let x = detached()
            // d(ln x)/dx = 1/x
            result.record(from: self) { g in g / x }
        }
        return result
    }

    /// The square root of every element.
    public func sqrt() -> Tensor {
        var result = mapped { $0.squareRoot() }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // d(√x)/dx = 1 / (2√x)
            result.record(from: self) { g in Kernels.zipped(g, y) { g, y in g / (2 * y) } }
        }
        return result
    }

    /// Every element raised to `exponent`.
    public func pow(_ exponent: Float) -> Tensor {
        var result = mapped { LibM.pow($0, exponent) }
        if Tensor.isRecording(self) {
            let x = detached()
            // d(x^p)/dx = p·x^(p-1)
            result.record(from: self) { g in Kernels.zipped(g, x) { g, x in g * exponent * LibM.pow(x, exponent - 1) } }
        }
        return result
    }

    /// Every element squared (`x * x`).
    public func squared() -> Tensor {
        var result = mapped { $0 * $0 }
        if Tensor.isRecording(self) {
            let x = detached()
            // d(x²)/dx = 2x
            result.record(from: self) { g in Kernels.zipped(g, x) { g, x in 2 * x * g } }
        }
        return result
    }

    /// The absolute value of every element (gradient 0 at 0, as in PyTorch).
    public func abs() -> Tensor {
        var result = mapped { Swift.abs($0) }
        if Tensor.isRecording(self) {
            let x = detached()
            // d|x|/dx = sign(x)
            result.record(from: self) { g in Kernels.zipped(g, x) { g, x in x > 0 ? g : (x < 0 ? -g : 0) } }
        }
        return result
    }

    /// Every element limited to `lower...upper` (PyTorch's `clamp`; the gradient is 0 outside the
    /// range and passes through inside it, bounds included).
    ///
    /// Traps if `lower > upper`.
    public func clamped(min lower: Float, max upper: Float) -> Tensor {
        precondition(lower <= upper, "clamped(min: \(lower), max: \(upper)): the minimum exceeds the maximum")
        var result = mapped { Swift.min(Swift.max($0, lower), upper) }
        if Tensor.isRecording(self) {
            let x = detached()
            result.record(from: self) { g in Kernels.zipped(g, x) { g, x in x >= lower && x <= upper ? g : 0 } }
        }
        return result
    }

    /// The logistic sigmoid `1 / (1 + e^-x)` of every element.
    public func sigmoid() -> Tensor {
        var result = Tensor(shape: shape) { out in
            VectorMath.sigmoid(storage.pointer, out.baseAddress!, count: elementCount)
        }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // dσ/dx = σ(1 - σ), evaluated as PyTorch's sigmoid_backward: g·(1 - y)·y
            result.record(from: self) { g in Kernels.zipped(g, y) { g, y in g * (1 - y) * y } }
        }
        return result
    }

    /// The hyperbolic tangent of every element.
    public func tanh() -> Tensor {
        var result = mapped { LibM.tanh($0) }
        if Tensor.isRecording(self) {
            let y = result.detached()
            // d tanh/dx = 1 - tanh², evaluated as PyTorch's tanh_backward: g·(1 - y²)
            result.record(from: self) { g in Kernels.zipped(g, y) { g, y in g * (1 - y * y) } }
        }
        return result
    }

    /// `max(x, 0)` for every element (the gradient at 0 is 0, as in PyTorch).
    public func relu() -> Tensor {
        var result = mapped { $0 > 0 ? $0 : 0 }
        if Tensor.isRecording(self) {
            let y = result.detached()
            result.record(from: self) { g in Kernels.zipped(g, y) { g, y in y > 0 ? g : 0 } }
        }
        return result
    }
}

// MARK: - Comparisons

extension Tensor {
    /// 1 where `lhs == rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .== (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 == $1 ? 1 : 0 } }
    /// 1 where `lhs != rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .!= (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 != $1 ? 1 : 0 } }
    /// 1 where `lhs < rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .< (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 < $1 ? 1 : 0 } }
    /// 1 where `lhs <= rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .<= (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 <= $1 ? 1 : 0 } }
    /// 1 where `lhs > rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .> (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 > $1 ? 1 : 0 } }
    /// 1 where `lhs >= rhs`, else 0 (with broadcasting). Not differentiable.
    public static func .>= (lhs: Tensor, rhs: Tensor) -> Tensor { Kernels.broadcastZip(lhs, rhs) { $0 >= $1 ? 1 : 0 } }
    /// 1 where an element equals `rhs`, else 0. Not differentiable.
    public static func .== (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 == rhs ? 1 : 0 } }
    /// 1 where an element differs from `rhs`, else 0. Not differentiable.
    public static func .!= (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 != rhs ? 1 : 0 } }
    /// 1 where an element is below `rhs`, else 0. Not differentiable.
    public static func .< (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 < rhs ? 1 : 0 } }
    /// 1 where an element is at most `rhs`, else 0. Not differentiable.
    public static func .<= (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 <= rhs ? 1 : 0 } }
    /// 1 where an element is above `rhs`, else 0. Not differentiable.
    public static func .> (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 > rhs ? 1 : 0 } }
    /// 1 where an element is at least `rhs`, else 0. Not differentiable.
    public static func .>= (lhs: Tensor, rhs: Float) -> Tensor { lhs.mapped { $0 >= rhs ? 1 : 0 } }
}

// MARK: - Helpers

extension Tensor {
    /// `f` applied to every element; the result has no graph node (callers add one).
    @inline(__always)
    func mapped(_ f: (Float) -> Float) -> Tensor {
        let out = TensorStorage.make(uninitializedCount: elementCount)
        Kernels.map(storage, into: out, f)
        return Tensor(shape: shape, storage: out)
    }

}

extension Kernels {
    /// `f(a[i], b[i])` for two tensors of the same shape; no graph node.
    @inline(__always)
    static func zipped(_ a: Tensor, _ b: Tensor, _ f: (Float, Float) -> Float) -> Tensor {
        precondition(a.shape == b.shape, "elementwise operation on shapes \(a.shape) and \(b.shape)")
        let out = TensorStorage.make(uninitializedCount: a.elementCount)
        zip(a.storage, b.storage, into: out, f)
        return Tensor(shape: a.shape, storage: out)
    }
}
