/// Human-readable numbers and tables.
enum Formatting {
    /// `1078565428` → `1,078,565,428`.
    static func grouped(_ value: Int) -> String {
        let digits = String(value.magnitude)
        var out = ""
        for (i, ch) in digits.enumerated() {
            if i > 0 && (digits.count - i) % 3 == 0 { out.append(",") }
            out.append(ch)
        }
        return (value < 0 ? "-" : "") + out
    }

    /// `1078565428` → `1.00 GiB`; below 1 KiB, `340 B`. Three significant digits, computed in
    /// integers (tables print one per tensor).
    static func bytes(_ value: Int) -> String {
        let units = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        guard value >= 1024 else { return "\(value) B" }
        var unit = 0
        var scale = 1
        while value / scale >= 1024 && unit < units.count - 1 { scale *= 1024; unit += 1 }
        // value / scale in [1, 1024): keep 2, 1 or 0 decimals so three digits show.
        let decimals = value / scale >= 100 ? 0 : (value / scale >= 10 ? 1 : 2)
        let factor = decimals == 0 ? 1 : (decimals == 1 ? 10 : 100)
        // value × factor cannot overflow below 2^63 / 100 bytes (92 PB); beyond that, drop precision.
        let rounded = value <= Int.max / 100 ? (value * factor + scale / 2) / scale : value / scale * factor
        let whole = rounded / factor, fraction = rounded % factor
        if decimals == 0 { return "\(whole) \(units[unit])" }
        let fractionText = String(fraction)
        return "\(whole).\(String(repeating: "0", count: decimals - fractionText.count))\(fractionText) \(units[unit])"
    }

    /// A count stored as a float (an optimizer's `step`): `12` when it is a whole number that an
    /// `Int` holds, otherwise as Swift spells the double (`nan`, `inf`, `1e+300`, `2.5`).
    static func count(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 9e15 { return String(Int(value)) }
        return String(value)
    }

    /// `value` with exactly `digits` decimals.
    static func fixed(_ value: Double, digits: Int) -> String {
        guard value.isFinite else { return String(value) }
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        var text = String(rounded)
        if let dot = text.firstIndex(of: ".") {
            let decimals = text.distance(from: dot, to: text.endIndex) - 1
            if digits == 0 { text = String(text[..<dot]) } else if decimals < digits { text += String(repeating: "0", count: digits - decimals) }
        } else if digits > 0 {
            text += "." + String(repeating: "0", count: digits)
        }
        return text
    }

    /// The widest a column is padded to; a longer cell overflows its column on its own row.
    static let maxColumnWidth = 96
    /// The longest a cell is shown; longer cells are shortened in the middle.
    static let maxCellLength = 256

    /// Left-aligned columns separated by two spaces; the last column is not padded. Widths count
    /// Unicode scalars of the escaped cells, which is exact for the ASCII names nearly every model
    /// uses. A hostile name cannot widen the table: padding stops at ``maxColumnWidth`` and cells
    /// are shortened to ``maxCellLength``, so a row of four columns stays far below the line limit.
    static func table(_ rows: [[Shown]], rightAligned: Set<Int> = []) -> [Shown] {
        // Each cell's text and length once; tables print one row per tensor.
        var texts: [[String]] = []
        var lengths: [[Int]] = []
        texts.reserveCapacity(rows.count)
        lengths.reserveCapacity(rows.count)
        var columns = 0
        for row in rows {
            var rowTexts: [String] = []
            var rowLengths: [Int] = []
            rowTexts.reserveCapacity(row.count)
            rowLengths.reserveCapacity(row.count)
            for cell in row {
                var text = cell.text
                var length = scalarCount(text)
                if length > maxCellLength {
                    text = Display.shortened(text, to: maxCellLength)
                    length = scalarCount(text)
                }
                rowTexts.append(text)
                rowLengths.append(length)
            }
            columns = max(columns, row.count)
            texts.append(rowTexts)
            lengths.append(rowLengths)
        }
        var widths = [Int](repeating: 0, count: columns)
        for row in lengths {
            for (i, length) in row.enumerated() where length <= maxColumnWidth { widths[i] = max(widths[i], length) }
        }
        var lines: [Shown] = []
        lines.reserveCapacity(rows.count)
        for (r, row) in texts.enumerated() {
            var line = ""
            line.reserveCapacity(widths.reduce(2 * columns, +))
            for (i, text) in row.enumerated() {
                if i > 0 { line += "  " }
                let pad = max(0, widths[i] - lengths[r][i])
                if rightAligned.contains(i) {
                    line += String(repeating: " ", count: pad)
                    line += text
                } else {
                    line += text
                    if i < row.count - 1 { line += String(repeating: " ", count: pad) }
                }
            }
            // Every cell was escaped as a `Shown`; the padding is the tool's own.
            lines.append(Shown(toolText: line))
        }
        return lines
    }

    /// Unicode scalars in `text`, counted from its UTF-8 bytes (every byte that does not continue
    /// a sequence starts a scalar).
    static func scalarCount(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { bytes in bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
    }
}
