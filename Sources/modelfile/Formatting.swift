import BinaryIO

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
            DecimalText.append(value, to: &out)
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
        DecimalText.append(rounded / factor, to: &out)
        if decimals > 0 {
            out.append(UInt8(ascii: "."))
            let fraction = rounded % factor
            if decimals == 2 && fraction < 10 { out.append(UInt8(ascii: "0")) }
            DecimalText.append(fraction, to: &out)
        }
        out.append(0x20)
        let name = units[unit]
        out.append(contentsOf: UnsafeBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount))
    }

    /// Appends `[2, 3]` for a shape.
    static func appendShape(_ dimensions: [Int], to out: inout [UInt8]) {
        out.append(UInt8(ascii: "["))
        for (i, dimension) in dimensions.enumerated() {
            if i > 0 { out.append(UInt8(ascii: ",")); out.append(0x20) }
            DecimalText.append(dimension, to: &out)
        }
        out.append(UInt8(ascii: "]"))
    }

    /// A count stored as a float (an optimizer's `step`): `12` when it is a whole number that an
    /// `Int` holds, otherwise as Swift spells the double (`nan`, `inf`, `1e+300`, `2.5`).
    static func count(_ value: Double) -> String {
        if value.isFinite, value == value.rounded(), abs(value) < 9e15 { return String(Int(value)) }
        return String(value)
    }


    /// The widest a column is padded to; a longer cell overflows its column on its own row.
    static let maxColumnWidth = 96
    /// The longest a cell is shown; longer cells are shortened in the middle.
    static let maxCellLength = 256

    /// Left-aligned columns separated by two spaces; the last cell of a row is not padded. Widths
    /// count Unicode scalars of the escaped cells, which is exact for the ASCII names nearly every
    /// model uses. A hostile name cannot widen the table: padding stops at ``maxColumnWidth`` and
    /// cells are shortened to ``maxCellLength``, so a row of four columns stays far below the line
    /// limit. One line per row.
    static func table(_ rows: [[Shown]], rightAligned: Set<Int> = []) -> [Shown] {
        var columns = 0
        for row in rows { columns = max(columns, row.count) }
        guard columns > 0 else { return rows.map { _ in "" } }
        var table = ByteTable(columns: columns, rightAligned: rightAligned, expectedRows: rows.count)
        for row in rows {
            for cell in row { table.append(cell) }
            table.endRow(evenIfEmpty: row.isEmpty)
        }
        return table.renderedLines()
    }

    /// Unicode scalars in `text`, counted from its UTF-8 bytes (every byte that does not continue
    /// a sequence starts a scalar).
    static func scalarCount(_ text: String) -> Int {
        var text = text
        return text.withUTF8 { bytes in bytes.reduce(0) { $0 + ($1 & 0xC0 == 0x80 ? 0 : 1) } }
    }
}

/// A table built cell by cell into one byte buffer, for tables with a row per tensor: no string
/// or array per cell, widths counted as cells arrive, and the result written with one copy.
/// Columns are separated by two spaces; the last cell of a row is not padded. Cells are `Shown`
/// (escaped) or the tool's own words and digits; the bounds of ``Formatting/table(_:rightAligned:)``
/// apply.
struct ByteTable {
    private let columns: Int
    private let rightAligned: [Bool]
    /// Every cell's bytes, back to back.
    private var text: [UInt8] = []
    /// For each cell: where its bytes end in `text`, and its width in Unicode scalars.
    private var cells: [(end: Int, width: Int)] = []
    /// For each row: the index in `cells` after its last cell.
    private var rowEnds: [Int] = []
    private var column = 0
    private var widths: [Int]

    /// An empty table of `columns` columns; a row ends after `columns` cells or at ``endRow()``.
    init(columns: Int, rightAligned: Set<Int> = [], expectedRows: Int = 0) {
        self.columns = max(1, columns)
        self.rightAligned = (0..<self.columns).map { rightAligned.contains($0) }
        widths = [Int](repeating: 0, count: self.columns)
        cells.reserveCapacity(self.columns * expectedRows)
        rowEnds.reserveCapacity(expectedRows)
        text.reserveCapacity(24 * self.columns * expectedRows)
    }

    /// Appends the next cell, text already shown (escaped).
    mutating func append(_ cell: Shown) {
        var cellText = cell.text
        cellText.withUTF8 { text.append(contentsOf: $0) }
        finishCell()
    }

    /// Appends the next cell from the tool's own static words.
    mutating func append(_ cell: StaticString) {
        text.append(contentsOf: UnsafeBufferPointer(start: cell.utf8Start, count: cell.utf8CodeUnitCount))
        finishCell()
    }

    /// Appends the next cell, the tool's own text (digits, shapes) written by `write` into the
    /// table's buffer.
    mutating func append(writing write: (inout [UInt8]) -> Void) {
        write(&text)
        finishCell()
    }

    /// Ends the current row before it has `columns` cells (an empty row only when `evenIfEmpty`).
    mutating func endRow(evenIfEmpty: Bool = false) {
        guard column > 0 || evenIfEmpty else { return }
        rowEnds.append(cells.count)
        column = 0
    }

    private mutating func finishCell() {
        let start = cells.last?.end ?? 0
        var width = text.withUnsafeBufferPointer { bytes in
            var width = 0
            for index in start..<bytes.count where bytes[index] & 0xC0 != 0x80 { width += 1 }
            return width
        }
        if width > Formatting.maxCellLength {
            let long = String(decoding: text[start...], as: UTF8.self)
            text.removeSubrange(start...)
            let short = Display.shortened(long, to: Formatting.maxCellLength)
            text.append(contentsOf: short.utf8)
            width = Formatting.scalarCount(short)
        }
        if width <= Formatting.maxColumnWidth && width > widths[column] { widths[column] = width }
        cells.append((text.count, width))
        column += 1
        if column == columns { endRow() }
    }

    /// The rendered rows, joined by newlines (no trailing newline).
    func rendered() -> Shown {
        var rows = rowEnds
        if column > 0 { rows.append(cells.count) }
        guard !rows.isEmpty else { return "" }
        // A row is at most every column's width plus its separators (cells never exceed their
        // bytes in scalars, and padding never exceeds a column's width).
        let capacity = text.count + rows.count * (widths.reduce(0, +) + 2 * (columns - 1) + 1)
        let result = text.withUnsafeBufferPointer { text in
            String(unsafeUninitializedCapacity: capacity) { out in
                var written = 0
                var start = 0
                var index = 0
                func spaces(_ count: Int) {
                    for k in 0..<count { out[written + k] = 0x20 }
                    written += count
                }
                for (r, rowEnd) in rows.enumerated() {
                    if r > 0 { out[written] = 0x0A; written += 1 }
                    let rowStart = index
                    while index < rowEnd {
                        let cell = cells[index]
                        let column = index - rowStart
                        if column > 0 { spaces(2) }
                        let pad = max(0, widths[column] - cell.width)
                        if rightAligned[column] { spaces(pad) }
                        let count = cell.end - start
                        if count > 0, let source = text.baseAddress, let target = out.baseAddress {
                            (target + written).update(from: source + start, count: count)
                        }
                        written += count
                        if !rightAligned[column] && index < rowEnd - 1 { spaces(pad) }
                        start = cell.end
                        index += 1
                    }
                }
                return written
            }
        }
        // Every cell was escaped as a `Shown` or is the tool's own; the padding is the tool's own.
        return Shown(toolText: result)
    }

    /// The rendered rows, one `Shown` each.
    func renderedLines() -> [Shown] {
        rendered().text.split(separator: "\n", omittingEmptySubsequences: false).map { Shown(toolText: String($0)) }
    }
}
