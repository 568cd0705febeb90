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
    /// integers and written as bytes (tables print one per tensor).
    static func bytes(_ value: Int) -> String {
        var out: [UInt8] = []
        out.reserveCapacity(12)
        appendBytes(value, to: &out)
        return String(decoding: out, as: UTF8.self)
    }

    /// Appends ``bytes(_:)``'s text to `out`.
    static func appendBytes(_ value: Int, to out: inout [UInt8]) {
        guard value >= 1024 else {
            appendDecimal(value, to: &out)
            out.append(0x20)
            out.append(UInt8(ascii: "B"))
            return
        }
        let units: [StaticString] = ["B", "KiB", "MiB", "GiB", "TiB", "PiB"]
        var unit = 0
        var scale = 1
        while value / scale >= 1024 && unit < units.count - 1 { scale *= 1024; unit += 1 }
        // value / scale in [1, 1024): keep 2, 1 or 0 decimals so three digits show.
        let decimals = value / scale >= 100 ? 0 : (value / scale >= 10 ? 1 : 2)
        let factor = decimals == 0 ? 1 : (decimals == 1 ? 10 : 100)
        // value × factor cannot overflow below 2^63 / 100 bytes (92 PB); beyond that, drop precision.
        let rounded = value <= Int.max / 100 ? (value * factor + scale / 2) / scale : value / scale * factor
        appendDecimal(rounded / factor, to: &out)
        if decimals > 0 {
            out.append(UInt8(ascii: "."))
            let fraction = rounded % factor
            if decimals == 2 && fraction < 10 { out.append(UInt8(ascii: "0")) }
            appendDecimal(fraction, to: &out)
        }
        out.append(0x20)
        let name = units[unit]
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// Appends the decimal digits of `value` (which may be negative).
    static func appendDecimal(_ value: Int, to out: inout [UInt8]) {
        if value < 0 { out.append(UInt8(ascii: "-")) }
        let magnitude = value.magnitude
        var divisor: UInt = 1
        while magnitude / divisor >= 10 { divisor *= 10 }
        repeat {
            out.append(UInt8(ascii: "0") + UInt8(magnitude / divisor % 10))
            divisor /= 10
        } while divisor > 0
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

    /// Left-aligned columns separated by two spaces; the last column is not padded. Widths count
    /// Unicode scalars, which is exact for the ASCII names nearly every model uses.
    static func table(_ rows: [[String]], rightAligned: Set<Int> = []) -> String {
        var columns = 0
        for row in rows { columns = max(columns, row.count) }
        guard columns > 0 else { return "" }
        guard rows.allSatisfy({ $0.count == columns }) else { return raggedTable(rows, columns: columns, rightAligned: rightAligned) }
        var table = ByteTable(columns: columns, rightAligned: rightAligned, expectedRows: rows.count)
        for row in rows {
            for cell in row { table.append(cell) }
        }
        return table.rendered()
    }

    /// ``table(_:rightAligned:)`` for rows of different lengths: each row's last cell is not padded.
    private static func raggedTable(_ rows: [[String]], columns: Int, rightAligned: Set<Int>) -> String {
        var widths = [Int](repeating: 0, count: columns)
        for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], scalarCount(cell)) } }
        var out: [UInt8] = []
        for (r, row) in rows.enumerated() {
            if r > 0 { out.append(0x0A) }
            for (i, cell) in row.enumerated() {
                if i > 0 { out.append(0x20); out.append(0x20) }
                let pad = widths[i] - scalarCount(cell)
                if rightAligned.contains(i) {
                    out.append(contentsOf: repeatElement(0x20, count: pad))
                    appendUTF8(cell, to: &out)
                } else {
                    appendUTF8(cell, to: &out)
                    if i < row.count - 1 { out.append(contentsOf: repeatElement(0x20, count: pad)) }
                }
            }
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// The number of Unicode scalars in `text` (its UTF-8 bytes that are not continuation bytes).
    static func scalarCount(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { buffer in
            var count = 0
            for byte in buffer where byte & 0xC0 != 0x80 { count += 1 }
            return count
        }
    }

    /// Appends `text`'s UTF-8 to `out` with one copy.
    static func appendUTF8(_ text: String, to out: inout [UInt8]) {
        var text = text
        text.withUTF8 { out.append(contentsOf: $0) }
    }
}

/// A table built cell by cell into one byte buffer, for tables with a row per tensor: no string
/// or array per cell, widths counted as cells arrive, and the result written with one copy.
/// Columns are separated by two spaces; the last column is not padded.
struct ByteTable {
    private let columns: Int
    private let rightAligned: [Bool]
    /// Every cell's bytes, back to back.
    private var text: [UInt8] = []
    /// For each cell: where its bytes end in `text`, and its width in Unicode scalars.
    private var cells: [(end: Int, width: Int)] = []
    private var widths: [Int]

    /// An empty table of `columns` columns.
    init(columns: Int, rightAligned: Set<Int> = [], expectedRows: Int = 0) {
        self.columns = columns
        self.rightAligned = (0..<columns).map { rightAligned.contains($0) }
        widths = [Int](repeating: 0, count: columns)
        cells.reserveCapacity(columns * expectedRows)
        text.reserveCapacity(24 * columns * expectedRows)
    }

    /// Appends the next cell (rows fill left to right).
    mutating func append(_ cell: String) {
        if cell.utf8.withContiguousStorageIfAvailable({ text.append(contentsOf: $0) }) == nil {
            text.append(contentsOf: cell.utf8)
        }
        finishCell()
    }

    /// Appends the next cell from a static string.
    mutating func append(_ cell: StaticString) {
        text.append(contentsOf: UnsafeBufferPointer(start: cell.utf8Start, count: cell.utf8CodeUnitCount))
        finishCell()
    }

    /// Appends the next cell, written by `write` into the table's buffer.
    mutating func append(writing write: (inout [UInt8]) -> Void) {
        write(&text)
        finishCell()
    }

    private mutating func finishCell() {
        let start = cells.last?.end ?? 0
        let width = text.withUnsafeBufferPointer { bytes in
            var width = 0
            for index in start..<bytes.count where bytes[index] & 0xC0 != 0x80 { width += 1 }
            return width
        }
        let column = cells.count % columns
        if width > widths[column] { widths[column] = width }
        cells.append((text.count, width))
    }

    /// The rendered rows, joined by newlines (no trailing newline).
    func rendered() -> String {
        guard !cells.isEmpty else { return "" }
        let rows = (cells.count + columns - 1) / columns
        // Every row is padded to the same width, except after a left-aligned last column.
        let paddedWidth = widths.enumerated().reduce(0) { $0 + (($1.offset < columns - 1 || rightAligned[$1.offset]) ? $1.element : 0) }
        let capacity = text.count + rows * (paddedWidth + 2 * (columns - 1) + 1)  // an upper bound: widths count scalars, which never exceed bytes
        return text.withUnsafeBufferPointer { text in
            String(unsafeUninitializedCapacity: capacity) { out in
                var written = 0
                var start = 0
                var column = 0
                func spaces(_ count: Int) {
                    for k in 0..<count { out[written + k] = 0x20 }
                    written += count
                }
                for (index, cell) in cells.enumerated() {
                    if column == 0 {
                        if index > 0 { out[written] = 0x0A; written += 1 }
                    } else {
                        spaces(2)
                    }
                    let pad = widths[column] - cell.width
                    if rightAligned[column] { spaces(pad) }
                    let count = cell.end - start
                    if count > 0, let source = text.baseAddress, let target = out.baseAddress {
                        (target + written).update(from: source + start, count: count)
                    }
                    written += count
                    if !rightAligned[column] && column < columns - 1 { spaces(pad) }
                    start = cell.end
                    column = column + 1 == columns ? 0 : column + 1
                }
                return written
            }
        }
    }
}

extension Formatting {
    /// Appends `[2, 3]` for a shape.
    static func appendShape(_ dimensions: [Int], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, dimension) in dimensions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")); out.append(0x20) }
            appendDecimal(dimension, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }
}
