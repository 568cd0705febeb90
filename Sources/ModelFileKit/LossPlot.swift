import BinaryIO
/// The loss curve as a small standalone SVG: epochs on x, loss on y, with axes and tick labels.
public enum LossPlot {
    /// An SVG document plotting `losses` (and `validation`, dashed, when given).
    public static func svg(_ losses: [(epoch: Int, loss: Double)], validation: [(epoch: Int, loss: Double)] = []) -> String {
        let width = 640.0, height = 400.0, left = 70.0, right = 20.0, top = 30.0, bottom = 50.0
        let all = (losses + validation).filter { $0.loss.isFinite }
        let firstEpoch = Double(all.map(\.epoch).min() ?? 1), lastEpoch = Double(max(all.map(\.epoch).max() ?? 1, Int(firstEpoch) + 1))
        var low = all.map(\.loss).min() ?? 0, high = all.map(\.loss).max() ?? 1
        if high - low < 1e-12 { high += 0.5; low -= 0.5 }
        let pad = (high - low) * 0.05
        low -= pad; high += pad
        func x(_ epoch: Int) -> Double { left + (Double(epoch) - firstEpoch) / (lastEpoch - firstEpoch) * (width - left - right) }
        func y(_ loss: Double) -> Double { top + (high - loss) / (high - low) * (height - top - bottom) }
        func f(_ value: Double) -> String { DecimalText.fixed(value, digits: 1) }
        func points(_ series: [(epoch: Int, loss: Double)]) -> String {
            series.filter { $0.loss.isFinite }.map { "\(f(x($0.epoch))),\(f(y($0.loss)))" }.joined(separator: " ")
        }
        var svg = """
        <svg xmlns="http://www.w3.org/2000/svg" width="\(Int(width))" height="\(Int(height))" viewBox="0 0 \(Int(width)) \(Int(height))" font-family="sans-serif" font-size="12">
        <rect width="100%" height="100%" fill="white"/>
        <text x="\(f(width / 2))" y="18" text-anchor="middle" font-size="14">training loss</text>
        <line x1="\(f(left))" y1="\(f(height - bottom))" x2="\(f(width - right))" y2="\(f(height - bottom))" stroke="black"/>
        <line x1="\(f(left))" y1="\(f(top))" x2="\(f(left))" y2="\(f(height - bottom))" stroke="black"/>

        """
        for i in 0...4 {
            let value = low + (high - low) * Double(i) / 4
            svg += "<text x=\"\(f(left - 6))\" y=\"\(f(y(value) + 4))\" text-anchor=\"end\">\(DecimalText.fixed(value, digits: 4))</text>\n"
            svg += "<line x1=\"\(f(left - 3))\" y1=\"\(f(y(value)))\" x2=\"\(f(left))\" y2=\"\(f(y(value)))\" stroke=\"black\"/>\n"
            let epoch = Int((firstEpoch + (lastEpoch - firstEpoch) * Double(i) / 4).rounded())
            svg += "<text x=\"\(f(x(epoch)))\" y=\"\(f(height - bottom + 18))\" text-anchor=\"middle\">\(epoch)</text>\n"
        }
        svg += "<text x=\"\(f(width / 2))\" y=\"\(f(height - 12))\" text-anchor=\"middle\">epoch</text>\n"
        svg += "<text x=\"16\" y=\"\(f(height / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(height / 2)))\">loss</text>\n"
        svg += "<polyline fill=\"none\" stroke=\"#1f77b4\" stroke-width=\"2\" points=\"\(points(losses))\"/>\n"
        if !validation.isEmpty {
            svg += "<polyline fill=\"none\" stroke=\"#ff7f0e\" stroke-width=\"2\" stroke-dasharray=\"6 4\" points=\"\(points(validation))\"/>\n"
            svg += "<text x=\"\(f(width - right - 4))\" y=\"\(f(top + 14))\" text-anchor=\"end\" fill=\"#ff7f0e\">validation</text>\n"
        }
        svg += "</svg>\n"
        return svg
    }
}
