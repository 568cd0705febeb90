/// Human-readable numbers for tables.
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

    /// `text` with control characters, escape sequences, line breaks and bidirectional controls
    /// shown as visible escapes (`\x1b`, `\n`, `\u202e`), so text from a file cannot forge a row.
    static func visible(_ text: String) -> String {
        var out = ""
        for scalar in text.unicodeScalars {
            switch scalar.value {
            case 0x0A: out += "\\n"
            case 0x0D: out += "\\r"
            case 0x09: out += "\\t"
            case 0x5C: out += "\\\\"
            case 0..<0x20, 0x7F:
                let hex = String(scalar.value, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" : "") + hex
            case 0x80..<0xA0, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069, 0x061C:
                let hex = String(scalar.value, radix: 16)
                out += "\\u" + String(repeating: "0", count: max(0, 4 - hex.count)) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out
    }

    /// Left-aligned columns separated by two spaces; the last column is not padded. Widths count
    /// Unicode scalars, which is exact for the ASCII names nearly every model uses.
    static func table(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        guard let columns = rows.map(\.count).max() else { return "" }
        let lengths = rows.map { $0.map { $0.unicodeScalars.count } }
        var widths = [Int](repeating: 0, count: columns)
        for row in lengths { for (i, length) in row.enumerated() { widths[i] = max(widths[i], length) } }
        var out: [UInt8] = []
        out.reserveCapacity(rows.count * (widths.reduce(0, +) + 2 * columns + 1))
        for (r, row) in rows.enumerated() {
            if r > 0 { out.append(0x0A) }
            for (i, cell) in row.enumerated() {
                if i > 0 { out.append(0x20); out.append(0x20) }
                let pad = widths[i] - lengths[r][i]
                if rightAligned.contains(i) {
                    for _ in 0..<pad { out.append(0x20) }
                    out.append(contentsOf: cell.utf8)
                } else {
                    out.append(contentsOf: cell.utf8)
                    if i < row.count - 1 { for _ in 0..<pad { out.append(0x20) } }
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }
}
