import BinaryIO

/// The loss curve as a small standalone SVG: epochs on x, loss on y, with axes and tick labels.
///
/// Tick labels sit at round steps (1, 2 or 5 times a power of ten), are distinct and increase
/// along each axis, and are spelled as Python's `float()` reads them (`0.6465`, `8.8e+08`) with
/// as many decimals as the step needs. The margins grow with the labels, so every text lies
/// inside the image (docs/cli.md, "train").
public enum LossPlot {
    /// The image's size in pixels.
    static let width = 640.0, height = 400.0
    /// The font size of every text but the title, and the widest a character of it is drawn
    /// (digits, signs and `e` in a sans-serif face are about 0.56 em; this keeps a margin).
    static let fontSize = 12.0, characterWidth = 7.5

    /// One tick: where it sits on its axis (in data units) and its label.
    struct Tick: Equatable {
        let value: Double
        let label: String
    }

    /// An SVG document plotting `losses` (and `validation`, dashed, when given). Non-finite
    /// losses are left out; finite ones beyond ±1e300 are drawn at ±1e300.
    public static func svg(_ losses: [(epoch: Int, loss: Double)], validation: [(epoch: Int, loss: Double)] = []) -> String {
        let limit = 1e300
        func clamped(_ series: [(epoch: Int, loss: Double)]) -> [(epoch: Int, loss: Double)] {
            series.filter { $0.loss.isFinite }.map { ($0.epoch, min(max($0.loss, -limit), limit)) }
        }
        let train = clamped(losses), held = clamped(validation)
        let all = train + held
        let firstEpoch = all.map(\.epoch).min() ?? 1
        let lastEpoch = max(all.map(\.epoch).max() ?? 1, firstEpoch + 1)
        let (low, high) = lossRange(all.map(\.loss))
        let yTicks = ticks(from: low, to: high)
        let xTicks = ticks(from: Double(firstEpoch), to: Double(lastEpoch), wholeNumbers: true)

        // Margins from the labels: the y labels' width, the axis title, the half width of the last x label.
        let widest = yTicks.map { Double($0.label.count) * characterWidth }.max() ?? 0
        let left = (28 + widest + 8).rounded(.up)
        let lastHalf = (Double(xTicks.last?.label.count ?? 1) * characterWidth / 2).rounded(.up)
        let right = max(20, lastHalf + 6), top = 34.0, bottom = 50.0
        let spanX = Double(lastEpoch) - Double(firstEpoch)
        func x(_ epoch: Double) -> Double { left + (epoch - Double(firstEpoch)) / spanX * (width - left - right) }
        func y(_ loss: Double) -> Double { top + (high - loss) / (high - low) * (height - top - bottom) }
        func f(_ value: Double) -> String { DecimalText.fixed(value, digits: 1) }
        func points(_ series: [(epoch: Int, loss: Double)]) -> String {
            series.map { "\(f(x(Double($0.epoch)))),\(f(y($0.loss)))" }.joined(separator: " ")
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="\(Int(fontSize))">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="20" text-anchor="middle" font-size="14">training loss</text>
        <line x1="\(f(left))" y1="\(f(height - bottom))" x2="\(f(width - right))" y2="\(f(height - bottom))" stroke="black"/>
        <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(height - bottom))" stroke="black"/>

        """
        for tick in yTicks {
            let position = y(tick.value)
            svg += "<line x1=\"\(f(left - 4))\" y1=\"\(f(position))\" x2=\"\(f(left))\" y2=\"\(f(position))\" stroke=\"black\"/>\n"
            svg += "<text class=\"y-tick\" x=\"\(f(left - 7))\" y=\"\(f(position + 4))\" text-anchor=\"end\">\(tick.label)</text>\n"
        }
        for tick in xTicks {
            let position = x(tick.value)
            svg += "<line x1=\"\(f(position))\" y1=\"\(f(height - bottom))\" x2=\"\(f(position))\" y2=\"\(f(height - bottom + 4))\" stroke=\"black\"/>\n"
            svg += "<text class=\"x-tick\" x=\"\(f(position))\" y=\"\(f(height - bottom + 18))\" text-anchor=\"middle\">\(tick.label)</text>\n"
        }
        svg += "<text x=\"\(f(left + (width - left - right) / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">epoch</text>\n"
        svg += "<text x=\"16\" y=\"\(f(height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(height / 2)))\">loss</text>\n"
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(points(train))\"/>\n"
        if !validation.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"\(points(held))\"/>\n"
            svg += "<text x=\"\(f(width - right - 4))\" y=\"\(f(top + 14))\" text-anchor=\"end\" fill=\"#ff7f0e\">validation</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }

    /// The y axis's range for these losses: the data with 5% above and below, and never
    /// narrower than a thousandth of the values' size (so a flat curve gets distinct labels).
    static func lossRange(_ values: [Double]) -> (Double, Double) {
        guard var low = values.min(), var high = values.max() else { return (0, 1) }
        let middle = low / 2 + high / 2
        let narrowest = max(abs(middle) * 1e-3, 1e-6)
        if high - low < narrowest {
            low = middle - narrowest / 2
            high = middle + narrowest / 2
        }
        let pad = (high - low) * 0.05
        return (low - pad, high + pad)
    }

    /// Round ticks inside `[low, high]` (`low < high`, both finite): a step of 1, 2 or 5 times
    /// a power of ten giving about five ticks, and at least two. `wholeNumbers` keeps the step
    /// at 1 or more.
    static func ticks(from low: Double, to high: Double, wholeNumbers: Bool = false) -> [Tick] {
        let raw = (high - low) / 5
        guard raw > 0, raw.isFinite else { return [] }
        // The step is m × 10^e; e is bounded by the doubles' range.
        var exponent = Int(max(-340, min(310, log10(raw).rounded(.down))))
        var multiplier = 1
        let scaled = raw / power10(exponent)
        if scaled > 5 { multiplier = 1; exponent += 1 } else if scaled > 2 { multiplier = 5 } else if scaled > 1 { multiplier = 2 }
        if wholeNumbers && exponent < 0 { exponent = 0; multiplier = 1 }
        let step = Double(multiplier) * power10(exponent)
        // With the step at most about half the range there are two ticks or more; k is small
        // because the range is at least a thousandth of the values (``lossRange(_:)``).
        let first = (low / step).rounded(.up), last = (high / step).rounded(.down)
        guard first.magnitude < 1e12, last.magnitude < 1e12, first <= last else { return [] }
        let all = (Int(first)...Int(last)).map { $0 * multiplier }
        // One notation for the whole axis: scientific when any label would need it.
        let scientific = all.contains { $0 != 0 && !isFixedSize(String($0.magnitude).count - 1 + exponent) }
        return all.map { digits in
            Tick(value: Double(digits) * power10(exponent), label: decimalText(digits, exponent: exponent, scientific: scientific))
        }
    }

    /// Whether a number whose leading digit is at 10^`magnitude` is written in fixed notation.
    static func isFixedSize(_ magnitude: Int) -> Bool { magnitude >= -4 && magnitude < 7 }

    /// 10^e for e in the doubles' range.
    static func power10(_ exponent: Int) -> Double { Double("1e\(exponent)") ?? 1 }

    /// `digits` × 10^`exponent`, spelled exactly as Python's `float()` reads it: fixed notation
    /// with `-exponent` decimals (`0.65`, `120`), or scientific with
    /// Python's exponent spelling (`8.8e+08`, `1.5e-07`) when `scientific`.
    static func decimalText(_ digits: Int, exponent: Int, scientific: Bool = false) -> String {
        let sign = digits < 0 ? "-" : ""
        let text = String(digits.magnitude)
        if digits == 0 { return !scientific && exponent < 0 ? "0." + String(repeating: "0", count: -exponent) : "0" }
        let magnitude = text.count - 1 + exponent  // the power of ten of the leading digit
        if !scientific {
            if exponent >= 0 { return sign + text + String(repeating: "0", count: exponent) }
            let decimals = -exponent
            let padded = text.count <= decimals ? String(repeating: "0", count: decimals - text.count + 1) + text : text
            let split = padded.index(padded.endIndex, offsetBy: -decimals)
            return sign + padded[..<split] + "." + padded[split...]
        }
        var mantissa = text
        while mantissa.count > 1 && mantissa.hasSuffix("0") { mantissa.removeLast() }
        let head = String(mantissa.prefix(1)), tail = String(mantissa.dropFirst())
        let power = String(magnitude.magnitude)
        return sign + head + (tail.isEmpty ? "" : "." + tail) + "e" + (magnitude < 0 ? "-" : "+")
            + (power.count < 2 ? "0" : "") + power
    }
}

#if canImport(Glibc)
import Glibc
#endif
