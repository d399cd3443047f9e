// What a pool key is: its name, the values it takes, its default, one line of documentation
// and how it sets PoolConfig. The keys themselves are one table, PoolKey.table
// (PoolKeys.swift), and nothing else lists them: ConfigLoader parses and validates from
// it, the unknown-key error lists it, and README.md's reference is rendered from it here.

import RingCore

public struct PoolKey: Sendable {
    /// nutcracker's own keys, or ringproxy's (which nutcracker refuses).
    public enum Origin: Sendable { case nutcracker, ringproxy }

    /// What a key takes; checked before the key's setter runs, and described in the reference.
    public enum Values: Sendable {
        /// A decimal integer in the range (Int.max as the upper bound: no upper limit).
        case integer(ClosedRange<Int>)
        /// true/false (yes/no, on/off).
        case boolean
        /// A string; the text says what it holds.
        case text(String)
        /// One of these words.
        case choice([String])
        /// A form the key's own setter checks (addresses, lists); the text describes it.
        case form(String)
    }

    public enum Default: Sendable {
        /// Leaving the key out is the same as writing this YAML value (RingConfigTests
        /// checks that it is).
        case value(String)
        /// The default has no YAML spelling (no limit, no password): the text says what it is.
        case described(String)
        /// The pool cannot do without it.
        case required
    }

    public let name: String
    public let origin: Origin
    public let values: Values
    public let defaultValue: Default
    /// One line for the reference: what the key does, with its unit.
    public let doc: String
    /// Logged once per pool that leaves the key out (nil: leaving it out is unremarkable).
    let warningWhenAbsent: String?
    /// Checks the node against `values` and sets the pool's fields; may add warnings.
    let apply: @Sendable (inout PoolConfig, YAMLNode, inout [String]) throws(PoolKeyError) -> Void
}

/// A value a key refuses; ConfigLoader adds the file, the line and "pool.key".
struct PoolKeyError: Error {
    /// The node refused (a list item for an error in one entry), for its line.
    let node: YAMLNode
    let message: String

    init(_ node: YAMLNode, _ message: String) {
        self.node = node
        self.message = message
    }
}

// MARK: rows by kind of value

extension PoolKey {
    typealias Setter<T> = @Sendable (inout PoolConfig, T, YAMLNode) throws(PoolKeyError) -> Void

    static func integer(_ name: String, _ origin: Origin, _ range: ClosedRange<Int>, default value: Default, _ doc: String,
                        set: @escaping @Sendable (inout PoolConfig, Int) -> Void) -> PoolKey {
        integer(name, origin, range, default: value, doc) { pool, n, _ throws(PoolKeyError) in set(&pool, n) }
    }

    /// An integer whose setter also checks it against keys applied before it.
    static func integer(_ name: String, _ origin: Origin, _ range: ClosedRange<Int>, default value: Default, _ doc: String,
                        check: @escaping @Sendable (inout PoolConfig, Int, YAMLNode) throws(PoolKeyError) -> Void) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .integer(range), defaultValue: value, doc: doc, warningWhenAbsent: nil) {
            pool, node, _ throws(PoolKeyError) in
            guard let n = node.int, range.contains(n) else {
                let bounds = range.upperBound == Int.max ? "of at least \(range.lowerBound)"
                    : "from \(range.lowerBound) to \(range.upperBound)"
                throw PoolKeyError(node, "must be an integer \(bounds)")
            }
            try check(&pool, n, node)
        }
    }

    static func boolean(_ name: String, _ origin: Origin, default value: Default, _ doc: String,
                        warningWhenAbsent: String? = nil, set: @escaping Setter<Bool>) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .boolean, defaultValue: value, doc: doc,
                warningWhenAbsent: warningWhenAbsent) { pool, node, _ throws(PoolKeyError) in
            guard let b = node.bool else { throw PoolKeyError(node, "must be true or false") }
            try set(&pool, b, node)
        }
    }

    static func text(_ name: String, _ origin: Origin, _ what: String, default value: Default, _ doc: String,
                     set: @escaping Setter<String>) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .text(what), defaultValue: value, doc: doc, warningWhenAbsent: nil) {
            pool, node, _ throws(PoolKeyError) in
            guard let s = node.string else { throw PoolKeyError(node, "must be a string") }
            try set(&pool, s, node)
        }
    }

    /// A key whose words are the raw values of `T` (hash functions, distributions, ...).
    static func choice<T: CaseIterable & RawRepresentable>(
        _ name: String, _ origin: Origin, _: T.Type, default value: Default, _ doc: String,
        set: @escaping @Sendable (inout PoolConfig, T, inout [String]) -> Void
    ) -> PoolKey where T.RawValue == String {
        let words = T.allCases.map(\.rawValue)
        return PoolKey(name: name, origin: origin, values: .choice(words), defaultValue: value, doc: doc, warningWhenAbsent: nil) {
            pool, node, warnings throws(PoolKeyError) in
            guard let s = node.string else { throw PoolKeyError(node, "must be a string") }
            guard let choice = T(rawValue: s) else {
                throw PoolKeyError(node, "unknown \(name) '\(s)' (known: \(words.joined(separator: ", ")))")
            }
            set(&pool, choice, &warnings)
        }
    }

    /// A key with a form of its own; `apply` checks it.
    static func form(_ name: String, _ origin: Origin, _ what: String, default value: Default, _ doc: String,
                     apply: @escaping @Sendable (inout PoolConfig, YAMLNode) throws(PoolKeyError) -> Void) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .form(what), defaultValue: value, doc: doc, warningWhenAbsent: nil) {
            pool, node, _ throws(PoolKeyError) in
            try apply(&pool, node)
        }
    }
}

// MARK: the reference

extension PoolKey {
    static let referenceBegin = "<!-- pool-keys:begin -->"
    static let referenceEnd = "<!-- pool-keys:end -->"
    /// How to bring README.md's section back in line with the table.
    static let regenerateCommand = "RINGPROXY_WRITE_REFERENCE=1 swift test --filter RingConfigTests.PoolKeyTableTests"

    /// The Markdown between the markers in README.md: one table of nutcracker's keys, one of
    /// ringproxy's own, in the order the loader applies them.
    public static func referenceMarkdown() -> String {
        var out = "<!-- Generated from PoolKey.table (Sources/RingConfig/PoolKeys.swift): edit the table, then run\n"
        out += "     \(regenerateCommand) -->\n"
        for (origin, title) in [(Origin.nutcracker, "nutcracker's pool keys:"),
                                (.ringproxy, "ringproxy's own pool keys (nutcracker refuses them):")] {
            out += "\n\(title)\n\n| key | values | default | meaning |\n|---|---|---|---|\n"
            for key in table where key.origin == origin {
                out += "| `\(key.name)` | \(key.valuesText) | \(key.defaultText) | \(key.doc) |\n"
            }
        }
        return out
    }

    var valuesText: String {
        switch values {
        case let .integer(range):
            return range.upperBound == Int.max ? "integer ≥ \(range.lowerBound)" : "integer \(range.lowerBound) to \(range.upperBound)"
        case .boolean: return "true or false"
        case let .text(what), let .form(what): return what
        case let .choice(words): return words.map { "`\($0)`" }.joined(separator: ", ")
        }
    }

    var defaultText: String {
        switch defaultValue {
        case let .value(v): return "`\(v)`"
        case let .described(text): return text
        case .required: return "required"
        }
    }
}
