/// Glob matching of names, exact to the Unicode scalar: `*` (any run, `.` and `/` included), `?`
/// (one scalar), `[abc]`, `[a-z]`, `[!x]` (one scalar of, or not of, the set; a `]` first in the
/// set is a member; an unclosed `[` is itself). Names are matched as their code points, never
/// normalized, and a name holding U+0000 is matched whole (C's `fnmatch` would stop at it).
///
/// Two syntaxes share the matcher: the shell's (`inspect --filter`), where `\` takes the next
/// character literally and `[^x]` also negates, and Python's `fnmatch` (huggingface_hub's
/// `allow_patterns`), which has no escape character and reads `^` as itself.
public struct ScalarGlob: Sendable {
    /// Which glob dialect a pattern is written in.
    public enum Syntax: Sendable {
        /// `\` escapes; `[!x]` and `[^x]` negate.
        case shell
        /// Python's `fnmatch.fnmatchcase`: no escapes; only `[!x]` negates.
        case pythonFnmatch
    }

    private enum Token: Sendable {
        case literal(Unicode.Scalar)
        case any
        case anyRun
        case set(negated: Bool, ranges: [ClosedRange<UInt32>])
    }

    private let tokens: [Token]

    /// The pattern `pattern` in `syntax`.
    public init(_ pattern: String, syntax: Syntax = .shell) {
        let escapes = syntax == .shell
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
                if let (set, next) = ScalarGlob.bracket(scalars, from: index + 1, syntax: syntax) {
                    tokens.append(set)
                    index = next
                } else {
                    tokens.append(.literal(scalar))  // an unclosed [ is an ordinary character
                    index += 1
                }
            case "\\" where escapes && index + 1 < scalars.count:
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
    private static func bracket(_ scalars: [Unicode.Scalar], from start: Int, syntax: Syntax) -> (Token, Int)? {
        let escapes = syntax == .shell
        var index = start
        var negated = false
        if index < scalars.count, scalars[index] == "!" || (escapes && scalars[index] == "^") {
            negated = true
            index += 1
        }
        var ranges: [ClosedRange<UInt32>] = []
        var first = true
        while index < scalars.count {
            var low = scalars[index]
            if low == "]" && !first { return (.set(negated: negated, ranges: ranges), index + 1) }
            first = false
            if escapes, low == "\\", index + 1 < scalars.count {
                index += 1
                low = scalars[index]
            }
            index += 1
            if index + 1 < scalars.count, scalars[index] == "-", scalars[index + 1] != "]" {
                var high = scalars[index + 1]
                index += 2
                if escapes, high == "\\", index < scalars.count {
                    high = scalars[index]
                    index += 1
                }
                if low.value <= high.value { ranges.append(low.value...high.value) }  // a reversed range matches nothing
            } else {
                ranges.append(low.value...low.value)
            }
        }
        return nil
    }

    /// Whether the whole of `text` matches (iterative, with one backtrack point per star).
    public func matches(_ text: String) -> Bool {
        let scalars = Array(text.unicodeScalars)
        var t = 0, p = 0
        var starToken = -1, starText = 0
        while t < scalars.count {
            if p < tokens.count, case .anyRun = tokens[p] {
                starToken = p
                starText = t
                p += 1
                continue
            }
            if p < tokens.count, accepts(tokens[p], scalars[t]) {
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
