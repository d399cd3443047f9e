// The tree a configuration file becomes: scalars (every one a string, as libyaml hands them
// over), sequences and mappings in file order, each with the 1-based line it starts on so
// that every configuration error can name its line. Built by YAMLEventReader.

/// One node of a parsed file, with the 1-based line it starts on.
public struct YAMLNode {
    public enum Kind {
        /// Plain or quoted: nutcracker reads "400" as 400 too, so quoting changes nothing.
        case scalar(String)
        case sequence([YAMLNode])
        case mapping(YAMLMapping)
    }

    public let kind: Kind
    public let line: Int

    public init(kind: Kind, line: Int) {
        self.kind = kind
        self.line = line
    }

    /// The text of a scalar, nil for a collection.
    public var string: String? {
        if case let .scalar(s) = kind { return s }
        return nil
    }

    /// A decimal integer scalar (optionally signed; quoted too, as nutcracker reads "400" as 400).
    public var int: Int? {
        guard let s = string else { return nil }
        return Int(s)
    }

    /// true/false (and YAML 1.1's yes/no/on/off) in any of the usual cases; quoted too.
    public var bool: Bool? {
        switch string?.lowercased() {
        case "true", "yes", "on": return true
        case "false", "no", "off": return false
        default: return nil
        }
    }

    public var mapping: YAMLMapping? {
        if case let .mapping(m) = kind { return m }
        return nil
    }

    public var sequence: [YAMLNode]? {
        if case let .sequence(s) = kind { return s }
        return nil
    }

    public var isScalar: Bool {
        if case .scalar = kind { return true }
        return false
    }

    public subscript(key: String) -> YAMLNode? { mapping?[key] }
}

/// A mapping in file order (pools are served in the order they are written). Its keys are
/// scalars and unique: the reader refuses anything else.
public struct YAMLMapping: Sequence {
    public private(set) var pairs: [(key: YAMLNode, value: YAMLNode)] = []

    public var isEmpty: Bool { pairs.isEmpty }

    public subscript(key: String) -> YAMLNode? {
        pairs.first(where: { $0.key.string == key })?.value
    }

    public func makeIterator() -> IndexingIterator<[(key: YAMLNode, value: YAMLNode)]> {
        pairs.makeIterator()
    }

    mutating func append(_ key: YAMLNode, _ value: YAMLNode) { pairs.append((key, value)) }
}

/// A file the reader cannot take: libyaml's syntax errors and what configuration files may
/// not use, with the 1-based line.
public struct YAMLError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String

    public init(line: Int, message: String) {
        self.line = line
        self.message = message
    }

    public var description: String { "line \(line): \(message)" }
}
