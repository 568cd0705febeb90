// Sendable: a node is mutated only by the `Unpickler` while it is building it, before the node is
// reachable by anyone else; nodes made with the public initialisers are never mutated. After the
// `Unpickler` returns, every node is effectively immutable.

/// The common base of the reference nodes of a ``PickleValue`` tree: ``PickleList``,
/// ``PickleTuple``, ``PickleDict``, ``PickleSet``, ``PickleObject`` and ``PicklePersistentID``.
///
/// Nodes are classes so that sharing in the pickle stays sharing in the tree (compare them with
/// `===` or `ObjectIdentifier`). Each node knows its nesting ``depth``.
///
/// Freeing a node never recurses into its children: every subclass's `deinit` hands its children
/// to ``PickleTeardown``, which walks them with an explicit work list and takes apart only nodes it
/// holds the last reference to. A chain a million levels deep is freed in constant stack space.
public class PickleNode: @unchecked Sendable {
    /// Nesting depth: 1 + the largest depth among the node's children (scalars count 0), so an
    /// empty container has depth 1 and `[[1]]` has depth 2.
    public internal(set) final var depth: Int

    /// Set when the node is placed inside another node (or used as arguments, state or a
    /// persistent id). The `Unpickler` refuses to change a frozen node, which rules out cycles.
    final var isFrozen = false

    /// Set by ``moveChildren(into:)`` so that `deinit` has nothing left to do.
    final var childrenMoved = false

    init(depth: Int) {
        self.depth = depth
    }

    /// Appends every child value to `work` and drops the node's own references where it can.
    /// Subclasses override this; called only on a node about to be freed.
    func moveChildren(into work: inout [PickleValue]) {}

    /// 1 + the largest depth in `values` (1 for none).
    static func depth<S: Sequence>(containing values: S) -> Int where S.Element == PickleValue {
        var deepest = 0
        for value in values where value.depth > deepest { deepest = value.depth }
        return deepest + 1
    }
}

/// Frees ``PickleValue`` trees without recursion.
enum PickleTeardown {
    /// Takes `children` apart iteratively. Each popped node that nobody else references has its
    /// children moved onto the work list before it is released, so its own `deinit` finds nothing
    /// to release and the stack never grows with the depth of the tree.
    static func dismantle(_ children: inout [PickleValue]) {
        guard children.contains(where: { $0.holdsNode }) else { return }
        var work: [PickleValue] = []
        swap(&work, &children)
        while var value = work.popLast() {
            guard var node = value.takeNode() else { continue }
            if isKnownUniquelyReferenced(&node) {
                node.moveChildren(into: &work)
            }
            // `node` is released here; if it was the last reference its children already sit in
            // `work`, so its deinit does no further work.
        }
    }

    /// ``dismantle(_:)`` for a node's optional single child.
    static func dismantle(_ child: inout PickleValue?) {
        guard child?.holdsNode == true else { return }
        var children: [PickleValue] = []
        if let value = child.take() { children.append(value) }
        // `value` is out of scope here, so `children` holds the only reference taken from `child`.
        dismantle(&children)
    }
}
