/// Shell-glob matching of tensor names, exact to the Unicode scalar: `*` (any run, dots
/// included), `?` (one scalar), `[abc]`, `[a-z]`, `[!x]` or `[^x]`, and `\` to take the next
/// character literally. Names are matched as their code points, never normalized, and a name
/// holding U+0000 is matched whole (C's `fnmatch` would stop at it).
struct NameGlob {
    private enum Token {
        case literal(Unicode.Scalar)
        case any
        case anyRun
        case set(negated: Bool, ranges: [ClosedRange<UInt32>])
    }

    private let tokens: [Token]

    init(_ pattern: String) {
        let scalars = Array(pattern.unicodeScalars)
        var tokens: [Token] = []
        var index = 0
        while index < scalars.count {
            let scalar = scalars[index]
            switch scalar {
            case "*":
                if case .anyRun? = tokens.last {} else { tokens.append(.anyRun) }
                index += 1
            case "?":
                tokens.append(.any)
                index += 1
            case "[":
                if let (set, next) = NameGlob.bracket(scalars, from: index + 1) {
                    tokens.append(set)
                    index = next
                } else {
                    tokens.append(.literal(scalar))  // an unclosed [ is an ordinary character
                    index += 1
                }
            case "\\" where index + 1 < scalars.count:
                tokens.append(.literal(scalars[index + 1]))
                index += 2
            default:
                tokens.append(.literal(scalar))
                index += 1
            }
        }
        self.tokens = tokens
    }

    /// A bracket expression starting after its `[`: the token and the index after its `]`.
    private static func bracket(_ scalars: [Unicode.Scalar], from start: Int) -> (Token, Int)? {
        var index = start
        var negated = false
        if index < scalars.count, scalars[index] == "!" || scalars[index] == "^" {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while index < scalars.count {
            var low = scalars[index]
            if low == "]" && !first { return (.set(negated: negated, ranges: ranges), index + 1) }
            first = false
            if low == "\\", index + 1 < scalars.count {
                index += 1
                low = scalars[index]
            }
            index += 1
            if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                var high = scalars[index + 1]
                index += 2
                if high == "\\", index < scalars.count {
                    high = scalars[index]
                    index += 1
                }
                if low.value <= high.value { ranges.append(low.value...high.value) }
            } else {
                ranges.append(low.value...low.value)
            }
        }
        return nil
    }

    /// Whether `name` matches the whole pattern.
    func matches(_ name: String) -> Bool {
        let text = Array(name.unicodeScalars)
        var t = 0, p = 0
        var starToken = -1, starText = 0
        while t < text.count {
            if p < tokens.count, case .anyRun = tokens[p] {
                starToken = p
                starText = t
                p += 1
                continue
            }
            if p < tokens.count, accepts(tokens[p], text[t]) {
                p += 1
                t += 1
                continue
            }
            guard starToken >= 0 else { return false }
            // Let the last `*` take one more scalar and retry from there.
            starText += 1
            t = starText
            p = starToken + 1
        }
        while p < tokens.count, case .anyRun = tokens[p] { p += 1 }
        return p == tokens.count
    }

    private func accepts(_ token: Token, _ scalar: Unicode.Scalar) -> Bool {
        switch token {
        case .literal(let expected): return expected == scalar
        case .any: return true
        case .anyRun: return false
        case .set(let negated, let ranges): return ranges.contains { $0.contains(scalar.value) } != negated
        }
    }
}
