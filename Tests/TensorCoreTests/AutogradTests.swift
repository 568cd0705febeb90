import Foundation
import Testing
@testable import TensorCore

@Suite("The autograd engine")
struct AutogradTests {
    @Test("a value used twice accumulates both gradients")
    func accumulation() {
        let x = Tensor([2]).requiringGrad()
        let y = x * x + x  // dy/dx = 2x + 1 = 5
        y.sum().backward()
        #expect(x.grad?.scalars == [5])
        // A second graph adds to the existing gradient until it is set to nil.
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [8])
        x.grad = nil
        (x * 3).sum().backward()
        #expect(x.grad?.scalars == [3])
    }

    @Test("a diamond: two paths from one leaf meet again")
    func diamond() {
        let x = Tensor([1, 2]).requiringGrad()
        let a = x.exp(), b = x * 2
        let y = (a * b).sum()  // d/dx (2x eˣ) = 2eˣ(1 + x)
        y.backward()
        expectClose(x.grad?.scalars ?? [], [2 * 2.718_281_8 * 2, 2 * 7.389_056 * 3])
    }

    @Test("a 100,000-operation chain back-propagates and is freed without recursion")
    func deepChain() {
        let x = Tensor([1]).requiringGrad()
        var y = x
        for _ in 0..<100_000 { y = y * 1.00001 }
        y.sum().backward()
        // d/dx (x·c^100000) = c^100000 with c = Float(1.00001) = 1.0000100136 (≈ 2.7220); float32
        // rounding of the 100,000 products stays within a part in 10³.
        let expected = Float(Foundation.pow(Double(Float(1.00001)), 100_000))
        #expect(abs((x.grad?.item() ?? 0) / expected - 1) < 1e-3)

        // A chain that is dropped without a backward pass must not overflow the stack either.
        var z = x
        for _ in 0..<100_000 { z = z + 1 }
        #expect(z.requiresGrad)
        z = Tensor(0)
        #expect(!z.requiresGrad)
    }

    @Test("leaves keep their gradient; intermediate results do not")
    func leavesOnly() {
        let x = Tensor([1, 2]).requiringGrad()
        let hidden = x * 3
        hidden.sum().backward()
        #expect(x.isLeaf && !hidden.isLeaf)
        #expect(x.grad != nil && hidden.grad == nil)
    }

    @Test("results computed without gradients do not require one")
    func noGrad() {
        let x = Tensor([1, 2]).requiringGrad()
        let inside = withNoGrad { (x * 2).sigmoid() }
        #expect(!inside.requiresGrad)
        #expect(!GradMode.isEnabled == false)
        #expect(withNoGrad { GradMode.isEnabled } == false)
        let outside = x * 2
        #expect(outside.requiresGrad)
        let detached = outside.detached()
        #expect(!detached.requiresGrad && detached.scalars == outside.scalars)
        #expect(!(Tensor([1]) + Tensor([2])).requiresGrad)
    }

    @Test("backward with an explicit gradient for a non-scalar")
    func explicitGradient() {
        let x = Tensor([1, 2, 3]).requiringGrad()
        (x * x).backward(gradient: Tensor([1, 0, 2]))
        #expect(x.grad?.scalars == [2, 0, 12])
    }

    @Test("a second backward through a freed graph traps")
    func secondBackwardTraps() async {
        await #expect(processExitsWith: .failure) {
            let x = Tensor([1]).requiringGrad()
            let y = (x * 2).sum()
            y.backward()
            y.backward()
        }
    }

    @Test("a copy of a tensor that requires a gradient shares its node; writing data keeps it")
    func parameterLikeUpdate() {
        var w = Tensor([1, 2]).requiringGrad()
        let copy = w
        (copy * copy).sum().backward()
        #expect(w.grad?.scalars == [2, 4])
        w.withUnsafeMutableBufferPointer { $0[0] -= 0.5 * 2 }
        #expect(w.scalars == [0, 2] && copy.scalars == [1, 2])
        #expect(w.grad?.scalars == [2, 4])
    }
}
