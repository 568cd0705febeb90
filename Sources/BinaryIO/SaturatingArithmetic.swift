// Totals of sizes a file declares. A meta tensor may declare exabytes and a tree may reach one
// storage along millions of paths, so sums and products of file-derived sizes saturate instead of
// trapping; the one set of helpers every module uses.

extension Int {
    /// `self × factor`, or `Int.max` (`Int.min`) when the product overflows.
    public func saturatingMultiplied(by factor: Int) -> Int {
        let (product, overflow) = multipliedReportingOverflow(by: factor)
        guard overflow else { return product }
        return (self < 0) == (factor < 0) ? .max : .min
    }

    /// `self + other`, or `Int.max` (`Int.min`) when the sum overflows.
    public func saturatingAdded(_ other: Int) -> Int {
        let (sum, overflow) = addingReportingOverflow(other)
        guard overflow else { return sum }
        return other > 0 ? .max : .min
    }
}

extension Sequence {
    /// The sum of `value` over the elements, saturating at `Int.max` (`Int.min`): totals of sizes a
    /// file declares (meta tensors may declare exabytes) never trap.
    public func saturatingSum(_ value: (Element) throws -> Int) rethrows -> Int {
        var total = 0
        for element in self { total = total.saturatingAdded(try value(element)) }
        return total
    }
}
