import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import ModelFileKit
import Testing

/// The texts of an SVG document, as an XML parser reads them.
private final class SVGTexts: NSObject, XMLParserDelegate {
    struct Text {
        var attributes: [String: String]
        var content = ""
    }
    var viewBox: [Double] = []
    var rootFontSize = 0.0
    var texts: [Text] = []
    private var current: Text?

    func parser(_ parser: XMLParser, didStartElement name: String, namespaceURI: String?, qualifiedName: String?,
                attributes: [String: String] = [:]) {
        if name == "svg" {
            viewBox = (attributes["viewBox"] ?? "").split(separator: " ").compactMap { Double($0) }
            rootFontSize = Double(attributes["font-size"] ?? "") ?? 0
        }
        if name == "text" { current = Text(attributes: attributes) }
    }

    func parser(_ parser: XMLParser, foundCharacters string: String) { current?.content += string }

    func parser(_ parser: XMLParser, didEndElement name: String, namespaceURI: String?, qualifiedName: String?) {
        if name == "text", let current { texts.append(current) }
        if name == "text" { current = nil }
    }

    static func parse(_ svg: String) throws -> SVGTexts {
        let parser = XMLParser(data: Data(svg.utf8))
        let delegate = SVGTexts()
        parser.delegate = delegate
        #expect(parser.parse(), "the SVG is well-formed XML")
        return delegate
    }
}

@Suite("the loss plot")
struct LossPlotTests {
    /// Whether `label` is a number as Python's float() reads it, in the spellings the plot uses.
    static func isPythonNumber(_ label: String) -> Bool {
        label.wholeMatch(of: /-?[0-9]+(\.[0-9]+)?(e[+-][0-9]{2,3})?/) != nil
    }

    nonisolated(unsafe) static let curves: [(String, [(epoch: Int, loss: Double)])] = [
        ("flat", (1...100).map { ($0, 0.64695) }),
        ("ordinary", (1...100).map { ($0, 0.3 + 0.4 * exp(-Double($0) / 20)) }),
        ("huge", (1...50).map { ($0, 8.8e8 / Double($0)) }),
        ("huge and flat", (1...20).map { ($0, 8.8e8) }),
        ("tiny", (1...30).map { ($0, 1e-9 * Double($0)) }),
        ("one epoch", [(1, 0.7)]),
        ("from 1e300", (1...10).map { ($0, Double($0) * 1e299) }),
        ("with a NaN", [(1, 0.7), (2, .nan), (3, 0.5)]),
        ("long", (1...123_456).map { ($0, 1 / Double($0)) }),
    ]

    @Test("every text lies inside the image; tick labels are Python numbers, distinct, round and increasing",
          arguments: 0..<curves.count)
    func labels(index: Int) throws {
        let (name, losses) = Self.curves[index]
        let svg = LossPlot.svg(losses)
        let parsed = try SVGTexts.parse(svg)
        #expect(parsed.viewBox.count == 4, "\(name)")
        let width = parsed.viewBox[2], height = parsed.viewBox[3]
        for text in parsed.texts {
            let size = Double(text.attributes["font-size"] ?? "") ?? parsed.rootFontSize
            // A generous width per character for a sans-serif face (digits are about 0.56 em).
            let extent = Double(text.content.count) * size * 0.62
            let x = Double(text.attributes["x"] ?? "") ?? -1, y = Double(text.attributes["y"] ?? "") ?? -1
            var (low, high) = (x, x + extent)
            switch text.attributes["text-anchor"] {
            case "end": (low, high) = (x - extent, x)
            case "middle": (low, high) = (x - extent / 2, x + extent / 2)
            default: break
            }
            if text.attributes["transform"] != nil {
                // The rotated axis title: its extent runs vertically about (x, y).
                #expect(x - size >= 0 && y - extent / 2 >= 0 && y + extent / 2 <= height, "\(name): \(text.content)")
                continue
            }
            #expect(low >= 0 && high <= width, "\(name): \(text.content) spans \(low)...\(high) of \(width)")
            #expect(y - size >= 0 && y + 2 <= height, "\(name): \(text.content) at y \(y)")
        }
        for axis in ["x-tick", "y-tick"] {
            let ticks = parsed.texts.filter { $0.attributes["class"] == axis }
            #expect(ticks.count >= 2, "\(name) \(axis)")
            let labels = ticks.map(\.content)
            #expect(Set(labels).count == labels.count, "\(name) \(axis): \(labels)")
            for label in labels { #expect(Self.isPythonNumber(label), "\(name) \(axis): \(label)") }
            let values = labels.compactMap(Double.init)
            #expect(values.count == labels.count)
            // Increasing along the axis: upwards (smaller y) for y, rightwards for x.
            let positions = ticks.compactMap { Double($0.attributes[axis == "x-tick" ? "x" : "y"] ?? "") }
            for i in 1..<values.count {
                #expect(values[i] > values[i - 1], "\(name) \(axis): \(labels)")
                #expect(axis == "x-tick" ? positions[i] > positions[i - 1] : positions[i] < positions[i - 1])
            }
            // Round steps, evenly spaced: 1, 2 or 5 times a power of ten.
            let step = values[1] - values[0]
            let mantissa = step / pow(10, (log10(step)).rounded(.down))
            #expect([1.0, 2.0, 5.0, 10.0].contains { abs(mantissa - $0) < 1e-6 }, "\(name) \(axis): step \(step)")
            for i in 1..<values.count { #expect(abs((values[i] - values[i - 1]) - step) <= step * 1e-9, "\(name) \(axis): \(labels)") }
            // As many decimals as the step needs: every label has the same count.
            // As many decimals as the step needs: in fixed notation every label has the same
            // count; an axis in scientific notation writes its zero as 0.
            let scientific = labels.contains { $0.contains("e") }
            let decimals = Set(labels.filter { !scientific || $0 != "0" }.map { $0.contains("e") ? -1 : ($0.split(separator: ".").dropFirst().first?.count ?? 0) })
            #expect(decimals.count == 1, "\(name) \(axis): \(labels)")
        }
    }

    @Test("the labels of a flat, an ordinary and a huge curve")
    func exactLabels() throws {
        func labels(_ losses: [(epoch: Int, loss: Double)], _ axis: String) throws -> [String] {
            try SVGTexts.parse(LossPlot.svg(losses)).texts.filter { $0.attributes["class"] == axis }.map(\.content)
        }
        #expect(try labels((1...100).map { ($0, 0.64695) }, "y-tick") == ["0.6466", "0.6468", "0.6470", "0.6472"])
        #expect(try labels((1...100).map { ($0, 0.3 + 0.4 * exp(-Double($0) / 20)) }, "y-tick")
                == ["0.3", "0.4", "0.5", "0.6"])
        #expect(try labels((1...100).map { ($0, 0.5) }, "x-tick") == ["20", "40", "60", "80", "100"])
        #expect(try labels((1...50).map { ($0, 8.8e8 / Double($0)) }, "y-tick")
                == ["0", "2e+08", "4e+08", "6e+08", "8e+08"])
        #expect(try labels((1...20).map { ($0, 8.8e8) }, "y-tick") == ["8.796e+08", "8.798e+08", "8.8e+08", "8.802e+08", "8.804e+08"])
        #expect(try labels([(1, 0.7)], "x-tick") == ["1", "2"])
    }

    @Test("the validation curve is drawn dashed and labelled")
    func validation() throws {
        let svg = LossPlot.svg((1...10).map { ($0, 1.0 / Double($0)) }, validation: (1...10).map { ($0, 1.2 / Double($0)) })
        #expect(svg.contains("stroke-dasharray=\"6 4\""))
        #expect(try SVGTexts.parse(svg).texts.contains { $0.content == "validation" })
    }
}
