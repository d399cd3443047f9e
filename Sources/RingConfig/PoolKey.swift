// What a pool key is: its name, the values it takes, its default, one line of documentation,
// how it sets PoolConfig and how it reads the value back as YAML (what ConfigDiff compares). The keys themselves are one table, PoolKey.table
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
    /// A password: a diff says it changed, never what it was or became (logs are read by
    /// more people than the config file).
    public let secret: Bool
    /// Checks the node against `values` and sets the pool's fields; may add warnings.
    let apply: @Sendable (inout PoolConfig, YAMLNode, inout [String]) throws(PoolKeyError) -> Void
    /// The key's value in a pool as YAML writes it, which `apply` reads back to the same
    /// fields (RingConfigTests checks the round trip); nil when the pool holds no value (a
    /// default with no YAML spelling, such as no timeout). Lists that are sets in effect
    /// (deny_commands, key_routes) come out sorted, so reordering them is no change.
    public let render: @Sendable (PoolConfig) -> String?

    init(name: String, origin: Origin, values: Values, defaultValue: Default, doc: String, warningWhenAbsent: String?,
         secret: Bool = false, render: @escaping @Sendable (PoolConfig) -> String?,
         apply: @escaping @Sendable (inout PoolConfig, YAMLNode, inout [String]) throws(PoolKeyError) -> Void) {
        self.name = name
        self.origin = origin
        self.values = values
        self.defaultValue = defaultValue
        self.doc = doc
        self.warningWhenAbsent = warningWhenAbsent
        self.secret = secret
        self.render = render
        self.apply = apply
    }
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
    /// Reads a key's value back out of a pool (nil: the pool holds none).
    typealias Getter<T> = @Sendable (PoolConfig) -> T

    /// An integer kept in one field, read and written through it.
    static func integer(_ name: String, _ origin: Origin, _ range: ClosedRange<Int>, default value: Default, _ doc: String,
                        _ field: WritableKeyPath<PoolConfig, Int>) -> PoolKey {
        nonisolated(unsafe) let field = field
        return integer(name, origin, range, default: value, doc, show: { $0[keyPath: field] }) {
            pool, n, _ throws(PoolKeyError) in pool[keyPath: field] = n
        }
    }

    /// An integer whose field is optional (nil: the key was left out).
    static func integer(_ name: String, _ origin: Origin, _ range: ClosedRange<Int>, default value: Default, _ doc: String,
                        _ field: WritableKeyPath<PoolConfig, Int?>) -> PoolKey {
        nonisolated(unsafe) let field = field
        return integer(name, origin, range, default: value, doc, show: { $0[keyPath: field] }) {
            pool, n, _ throws(PoolKeyError) in pool[keyPath: field] = n
        }
    }

    /// An integer whose setter also checks it against keys applied before it.
    static func integer(_ name: String, _ origin: Origin, _ range: ClosedRange<Int>, default value: Default, _ doc: String,
                        show: @escaping Getter<Int?>,
                        check: @escaping @Sendable (inout PoolConfig, Int, YAMLNode) throws(PoolKeyError) -> Void) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .integer(range), defaultValue: value, doc: doc, warningWhenAbsent: nil,
                render: { show($0).map(String.init) }) { pool, node, _ throws(PoolKeyError) in
            guard let n = node.int, range.contains(n) else {
                let bounds = range.upperBound == Int.max ? "of at least \(range.lowerBound)"
                    : "from \(range.lowerBound) to \(range.upperBound)"
                throw PoolKeyError(node, "must be an integer \(bounds)")
            }
            try check(&pool, n, node)
        }
    }

    static func boolean(_ name: String, _ origin: Origin, default value: Default, _ doc: String,
                        warningWhenAbsent: String? = nil, show: @escaping Getter<Bool>, set: @escaping Setter<Bool>) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .boolean, defaultValue: value, doc: doc,
                warningWhenAbsent: warningWhenAbsent, render: { show($0) ? "true" : "false" }) { pool, node, _ throws(PoolKeyError) in
            guard let b = node.bool else { throw PoolKeyError(node, "must be true or false") }
            try set(&pool, b, node)
        }
    }

    static func text(_ name: String, _ origin: Origin, _ what: String, default value: Default, _ doc: String,
                     secret: Bool = false, show: @escaping Getter<String?>, set: @escaping Setter<String>) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .text(what), defaultValue: value, doc: doc, warningWhenAbsent: nil,
                secret: secret, render: { show($0).map(yamlQuoted) }) { pool, node, _ throws(PoolKeyError) in
            guard let s = node.string else { throw PoolKeyError(node, "must be a string") }
            try set(&pool, s, node)
        }
    }

    /// A key whose words are the raw values of `T` (hash functions, distributions, ...).
    static func choice<T: CaseIterable & RawRepresentable>(
        _ name: String, _ origin: Origin, _: T.Type, default value: Default, _ doc: String, show: @escaping Getter<T>,
        set: @escaping @Sendable (inout PoolConfig, T, inout [String]) -> Void
    ) -> PoolKey where T.RawValue == String {
        let words = T.allCases.map(\.rawValue)
        return PoolKey(name: name, origin: origin, values: .choice(words), defaultValue: value, doc: doc, warningWhenAbsent: nil,
                       render: { show($0).rawValue }) { pool, node, warnings throws(PoolKeyError) in
            guard let s = node.string else { throw PoolKeyError(node, "must be a string") }
            guard let choice = T(rawValue: s) else {
                throw PoolKeyError(node, "unknown \(name) '\(s)' (known: \(words.joined(separator: ", ")))")
            }
            set(&pool, choice, &warnings)
        }
    }

    /// A key with a form of its own; `apply` checks it and `show` writes it as YAML.
    static func form(_ name: String, _ origin: Origin, _ what: String, default value: Default, _ doc: String,
                     show: @escaping Getter<String?>,
                     apply: @escaping @Sendable (inout PoolConfig, YAMLNode) throws(PoolKeyError) -> Void) -> PoolKey {
        PoolKey(name: name, origin: origin, values: .form(what), defaultValue: value, doc: doc, warningWhenAbsent: nil,
                render: show) { pool, node, _ throws(PoolKeyError) in
            try apply(&pool, node)
        }
    }

    /// A YAML double-quoted scalar: any text (a password, a command line) reads back as itself.
    static func yamlQuoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case _ where scalar.value < 0x20 || scalar.value == 0x7f:
                let hex = String(scalar.value, radix: 16, uppercase: true)
                out += "\\x" + (hex.count < 2 ? "0" + hex : hex)
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// A YAML flow list of quoted strings.
    static func yamlList(_ items: [String]) -> String {
        "[" + items.map(yamlQuoted).joined(separator: ", ") + "]"
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
