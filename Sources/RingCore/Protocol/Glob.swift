// Redis's glob, one implementation for every pattern the proxy matches itself: COMMAND
// LIST FILTERBY PATTERN and CONFIG GET.

/// Redis's glob (stringmatchlen): `*`, `?`, `[...]` with `^` and ranges, `\` escapes.
public enum Glob {
    /// Text against a pattern, ignoring case unless told (CONFIG GET matches names so).
    public static func matches(_ pattern: String, _ text: String, ignoreCase: Bool = true) -> Bool {
        matches(Array(pattern.utf8), Array(text.utf8), caseless: ignoreCase)
    }

    public static func matches(_ pattern: [UInt8], _ string: [UInt8], caseless: Bool) -> Bool {
        matches(pattern[...], string[...], caseless)
    }

    private static func fold(_ c: UInt8, _ caseless: Bool) -> UInt8 { caseless ? ASCII.lower(c) : c }

    private static func matches(_ p: ArraySlice<UInt8>, _ s: ArraySlice<UInt8>, _ caseless: Bool) -> Bool {
        var p = p, s = s
        while let c = p.first {
            switch c {
            case UInt8(ascii: "*"):
                while p.first == UInt8(ascii: "*") { p = p.dropFirst() }
                if p.isEmpty { return true }
                while true {
                    if matches(p, s, caseless) { return true }
                    if s.isEmpty { return false }
                    s = s.dropFirst()
                }
            case UInt8(ascii: "?"):
                guard !s.isEmpty else { return false }
                s = s.dropFirst()
                p = p.dropFirst()
            case UInt8(ascii: "["):
                guard let x = s.first else { return false }
                p = p.dropFirst()
                let negate = p.first == UInt8(ascii: "^")
                if negate { p = p.dropFirst() }
                var found = false
                while let d = p.first, d != UInt8(ascii: "]") {
                    if d == UInt8(ascii: "\\"), p.count >= 2 {
                        p = p.dropFirst()
                        if fold(p.first!, caseless) == fold(x, caseless) { found = true }
                    } else if p.count >= 3, p[p.startIndex + 1] == UInt8(ascii: "-") {
                        var lo = fold(d, caseless), hi = fold(p[p.startIndex + 2], caseless)
                        if lo > hi { swap(&lo, &hi) }
                        if fold(x, caseless) >= lo && fold(x, caseless) <= hi { found = true }
                        p = p.dropFirst(2)
                    } else if fold(d, caseless) == fold(x, caseless) {
                        found = true
                    }
                    p = p.dropFirst()
                }
                if !p.isEmpty { p = p.dropFirst() }
                if found == negate { return false }
                s = s.dropFirst()
            default:
                var literal = c
                if c == UInt8(ascii: "\\"), p.count >= 2 { p = p.dropFirst(); literal = p.first! }
                guard let x = s.first, fold(x, caseless) == fold(literal, caseless) else { return false }
                s = s.dropFirst()
                p = p.dropFirst()
            }
        }
        return s.isEmpty
    }
}
