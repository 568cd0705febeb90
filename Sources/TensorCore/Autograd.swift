// Reverse-mode automatic differentiation.
//
// Every differentiable operation computes its result, then (when an input requires a gradient and
// recording is on) attaches a `GraphNode` holding the input nodes and a backward rule written in
// the same function as the forward code. `backward()` orders the graph with an iterative
// depth-first search over arrays (no recursion, so a 100,000-operation chain is fine), runs the
// rules from the output to the leaves, and accumulates (`+=`) into inputs used more than once.
//
// Backward rules capture detached values (elements only, never nodes), so the only references
// between nodes are each node's input references. That lets `GraphNode.deinit` take a long chain
// apart iteratively instead of recursing once per node.

/// Which inputs of an operation need a gradient. Rules skip the work for the others.
struct InputMask {
    let bits: UInt64

    /// Whether input `index` needs a gradient. Inputs past the 64th always report `true`.
    subscript(index: Int) -> Bool { index >= 64 || bits & (1 << UInt64(index)) != 0 }
}

/// The backward rule of one operation: from the gradient of its output to the gradients of its
/// inputs (`nil` for inputs that need none).
enum BackwardRule {
    case unary((_ outputGradient: Tensor) -> Tensor)
    case binary((_ outputGradient: Tensor, _ needs: InputMask) -> (Tensor?, Tensor?))
    case ternary((_ outputGradient: Tensor, _ needs: InputMask) -> (Tensor?, Tensor?, Tensor?))
    case nary((_ outputGradient: Tensor, _ needs: InputMask) -> [Tensor?])
}

/// One node of the autograd graph: the output of a recorded operation, or a leaf that requires a
/// gradient.
///
/// The mutable properties opt out of dynamic exclusivity checking (`@exclusivity(unchecked)`):
/// nodes are only touched by the task that builds and back-propagates the graph, never through
/// overlapping accesses, and the checks cost a quarter of a small network's training step.
final class GraphNode {
    /// The gradient accumulated so far (a plain tensor without a node).
    @exclusivity(unchecked) var grad: Tensor?
    /// The nodes of the operation's first three inputs, in argument order (stored inline to save an
    /// allocation per operation); `nil` for inputs that need no gradient.
    @exclusivity(unchecked) var input0: GraphNode?, input1: GraphNode?, input2: GraphNode?
    /// The nodes of inputs after the third (only operations such as concatenation have them).
    @exclusivity(unchecked) var moreInputs: [GraphNode?]
    /// The number of inputs of the operation.
    @exclusivity(unchecked) var inputCount: Int
    /// How to turn this node's gradient into its inputs' gradients; `nil` for leaves.
    @exclusivity(unchecked) var rule: BackwardRule?
    /// Whether this node is a leaf (created by the user, not by an operation).
    let isLeaf: Bool
    /// The shape of the tensor this node belongs to, checked against incoming gradients.
    let shape: [Int]
    /// Set while `backward()` orders the graph.
    @exclusivity(unchecked) var isVisited = false
    /// Set once this (non-leaf) node's rule has run and its references were dropped.
    @exclusivity(unchecked) var isReleased = false

    /// A leaf for a tensor of `shape`.
    init(leafOfShape shape: [Int]) {
        self.inputCount = 0
        self.moreInputs = []
        self.rule = nil
        self.isLeaf = true
        self.shape = shape
    }

    /// The node of a one-, two- or three-input operation's output.
    init(shape: [Int], _ a: GraphNode?, _ b: GraphNode?, _ c: GraphNode?, count: Int, rule: BackwardRule) {
        self.input0 = a
        self.input1 = b
        self.input2 = c
        self.inputCount = count
        self.moreInputs = []
        self.rule = rule
        self.isLeaf = false
        self.shape = shape
    }

    /// The node of an operation's output.
    init(shape: [Int], inputs: [GraphNode?], rule: BackwardRule) {
        self.inputCount = inputs.count
        self.input0 = inputs.count > 0 ? inputs[0] : nil
        self.input1 = inputs.count > 1 ? inputs[1] : nil
        self.input2 = inputs.count > 2 ? inputs[2] : nil
        self.moreInputs = inputs.count > 3 ? Array(inputs[3...]) : []
        self.rule = rule
        self.isLeaf = false
        self.shape = shape
    }

    /// The node of input `index` (below ``inputCount``).
    @inline(__always)
    func input(_ index: Int) -> GraphNode? {
        switch index {
        case 0: return input0
        case 1: return input1
        case 2: return input2
        default: return moreInputs[index - 3]
        }
    }

    /// Drops the references to the inputs.
    func releaseInputs() {
        input0 = nil
        input1 = nil
        input2 = nil
        moreInputs = []
        inputCount = 0
    }

    /// Appends the input nodes that are present to `list`.
    func appendInputs(to list: inout [GraphNode]) {
        for index in 0..<inputCount { if let node = input(index) { list.append(node) } }
    }

    /// Adds `gradient` to the accumulated gradient.
    func accumulate(_ gradient: Tensor) {
        precondition(gradient.shape == shape, "gradient of shape \(gradient.shape) for a tensor of shape \(shape)")
        if var existing = grad {
            grad = nil  // so that `existing` is the only reference and is updated in place
            existing.addInPlace(gradient)
            grad = existing
        } else {
            grad = gradient
        }
    }

    deinit {
        // Take the graph apart without recursion: a node whose inputs are referenced only from
        // here hands them to the work list before it is released.
        guard inputCount > 0 else { return }
        var work: [GraphNode] = []
        appendInputs(to: &work)
        releaseInputs()
        while var node = work.popLast() {
            if isKnownUniquelyReferenced(&node) {
                node.appendInputs(to: &work)
                node.releaseInputs()
            }
        }
    }
}

/// Whether operations are recorded for automatic differentiation on the current task.
///
/// Recording is on by default; ``withNoGrad(_:)`` turns it off for a scope (PyTorch's
/// `torch.no_grad()`), for inference and for updates that must not be differentiated.
public enum GradMode {
    /// Task-local (and thread-local outside tasks), so concurrent tasks do not affect each other.
    @TaskLocal static var isRecordingEnabled = true

    /// Whether operations on tensors that require a gradient are recorded right now.
    public static var isEnabled: Bool { isRecordingEnabled }
}

/// Runs `body` without recording operations for automatic differentiation, like PyTorch's
/// `with torch.no_grad():`. Results computed inside do not require a gradient.
public func withNoGrad<R>(_ body: () throws -> R) rethrows -> R {
    try GradMode.$isRecordingEnabled.withValue(false, operation: body)
}

extension Tensor {
    /// Whether an operation on `inputs` must record a graph node.
    @inline(__always)
    static func isRecording(_ a: Tensor) -> Bool {
        a.node != nil && GradMode.isRecordingEnabled
    }

    /// Whether an operation on `a` and `b` must record a graph node.
    @inline(__always)
    static func isRecording(_ a: Tensor, _ b: Tensor) -> Bool {
        (a.node != nil || b.node != nil) && GradMode.isRecordingEnabled
    }

    /// Whether an operation on `inputs` must record a graph node.
    static func isRecording(_ inputs: [Tensor]) -> Bool {
        inputs.contains { $0.node != nil } && GradMode.isRecordingEnabled
    }

    /// Attaches a node for a one-input operation whose input is `input`.
    mutating func record(from input: Tensor, _ rule: @escaping (_ outputGradient: Tensor) -> Tensor) {
        node = GraphNode(shape: shape, input.node, nil, nil, count: 1, rule: .unary(rule))
    }

    /// Attaches a node for a two-input operation.
    mutating func record(
        from a: Tensor, _ b: Tensor,
        _ rule: @escaping (_ outputGradient: Tensor, _ needs: InputMask) -> (Tensor?, Tensor?)
    ) {
        node = GraphNode(shape: shape, a.node, b.node, nil, count: 2, rule: .binary(rule))
    }

    /// Attaches a node for a three-input operation (the third input may be absent).
    mutating func record(
        from a: Tensor, _ b: Tensor, _ c: Tensor?,
        _ rule: @escaping (_ outputGradient: Tensor, _ needs: InputMask) -> (Tensor?, Tensor?, Tensor?)
    ) {
        node = GraphNode(shape: shape, a.node, b.node, c?.node, count: 3, rule: .ternary(rule))
    }

    /// Attaches a node for an operation with any number of inputs.
    mutating func record(
        from inputs: [Tensor],
        _ rule: @escaping (_ outputGradient: Tensor, _ needs: InputMask) -> [Tensor?]
    ) {
        node = GraphNode(shape: shape, inputs: inputs.map(\.node), rule: .nary(rule))
    }

    /// Computes the gradient of this scalar with respect to every leaf that requires a gradient
    /// and that it was computed from, and adds it to that leaf's ``grad`` (PyTorch's `backward()`).
    ///
    /// The graph is freed as it is walked (PyTorch's default `retain_graph=False`): intermediate
    /// results keep no gradient and a second call through the same graph traps.
    ///
    /// Traps if this tensor has more than one element or does not require a gradient.
    public func backward() {
        precondition(elementCount == 1, "backward() needs a scalar; this tensor has shape \(shape) (pass gradient: for others)")
        backward(gradient: Tensor(shape: shape, storage: TensorStorage.make(repeating: 1, count: 1)))
    }

    /// Back-propagates `gradient` (the gradient of some scalar with respect to this tensor) to the
    /// leaves, like PyTorch's `tensor.backward(gradient)`.
    ///
    /// Traps if `gradient`'s shape differs from this tensor's or this tensor does not require a gradient.
    public func backward(gradient: Tensor) {
        guard let root = node else {
            preconditionFailure("backward(): this tensor does not require a gradient (no input had requiresGrad set, or it was computed under withNoGrad)")
        }
        precondition(gradient.shape == shape, "backward(): gradient of shape \(gradient.shape) for a tensor of shape \(shape)")
        precondition(!root.isReleased, "backward(): this graph was already back-propagated and freed")
        Autograd.run(from: root, seed: gradient.detached())
    }
}

/// The backward pass.
enum Autograd {
    /// Orders the graph below `root` so that every node comes after all of its inputs
    /// (iterative post-order depth-first search).
    static func topologicalOrder(from root: GraphNode) -> [GraphNode] {
        var order: [GraphNode] = []
        var stack: [(node: GraphNode, nextInput: Int)] = [(root, 0)]
        root.isVisited = true
        while !stack.isEmpty {
            let top = stack.count - 1
            let node = stack[top].node
            let next = stack[top].nextInput
            if next < node.inputCount {
                stack[top].nextInput = next + 1
                if let input = node.input(next), !input.isVisited {
                    input.isVisited = true
                    stack.append((input, 0))
                }
            } else {
                stack.removeLast()
                order.append(node)
            }
        }
        return order
    }

    /// Runs every backward rule from `root` to the leaves, accumulating into the leaves' gradients.
    static func run(from root: GraphNode, seed: Tensor) {
        let order = topologicalOrder(from: root)
        for node in order { node.isVisited = false }
        root.accumulate(seed)
        for node in order.reversed() {
            guard !node.isLeaf else { continue }
            precondition(!node.isReleased, "backward(): part of this graph was already back-propagated and freed")
            if let gradient = node.grad, let rule = node.rule {
                var bits: UInt64 = 0
                for index in 0..<Swift.min(node.inputCount, 64) where node.input(index) != nil { bits |= 1 << UInt64(index) }
                let needs = InputMask(bits: bits)
                switch rule {
                case .unary(let rule):
                    if let input = node.input0 { input.accumulate(rule(gradient)) }
                case .binary(let rule):
                    let (first, second) = rule(gradient, needs)
                    if let input = node.input0, let first { input.accumulate(first) }
                    if let input = node.input1, let second { input.accumulate(second) }
                case .ternary(let rule):
                    let (first, second, third) = rule(gradient, needs)
                    if let input = node.input0, let first { input.accumulate(first) }
                    if let input = node.input1, let second { input.accumulate(second) }
                    if let input = node.input2, let third { input.accumulate(third) }
                case .nary(let rule):
                    let gradients = rule(gradient, needs)
                    for (index, inputGradient) in gradients.enumerated() where index < node.inputCount {
                        if let input = node.input(index), let inputGradient { input.accumulate(inputGradient) }
                    }
                }
            }
            // Free the graph as we go: PyTorch keeps gradients of leaves only.
            node.grad = nil
            node.rule = nil
            node.releaseInputs()
            node.isReleased = true
        }
    }
}
