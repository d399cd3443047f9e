// A reader for the part of YAML that proxy configuration files use: block mappings and block
// sequences by indentation, flow sequences and mappings ([a, b], {k: v}), plain, 'single'
// and "double" quoted scalars, comments, and one optional `---` document. nutcracker's own
// parser (libyaml) takes the same files; the rest of YAML (anchors, aliases, tags, block
// scalars, multi-line plain scalars, several documents) is refused with the line it is on.
//
// It exists so that the proxy does not link Foundation (which a general YAML library needs):
// Foundation's shared libraries alone were 10 MiB of the proxy's resident memory, more than
// ten thousand idle clients take.

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

/// A mapping in file order (pools are served in the order they are written).
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

public struct YAMLError: Error, CustomStringConvertible {
    public let line: Int
    public let message: String
    public var description: String { "line \(line): \(message)" }
}

public enum YAMLReader {
    /// Parses one document. An empty document (only comments) is nil.
    public static func parse(_ text: String) throws -> YAMLNode? {
        var reader = BlockReader(lines: try logicalLines(text))
        guard let first = reader.current else { return nil }
        let root = try reader.block(indent: first.indent)
        if let extra = reader.current {
            throw YAMLError(line: extra.number, message: extra.indent < first.indent
                ? "this line is indented less than the document's first line"
                : "unexpected content after the document")
        }
        return root
    }
}

// MARK: lines

/// A non-blank line: its number, how many spaces begin it, and its bytes after them (a
/// trailing comment is removed later, by the scalar readers, which know about quotes).
struct Line {
    let number: Int
    var indent: Int
    var text: ArraySlice<UInt8>
}

private let space = UInt8(ascii: " "), tab = UInt8(ascii: "\t"), hash = UInt8(ascii: "#")
private let colon = UInt8(ascii: ":"), dash = UInt8(ascii: "-")
private let singleQuote = UInt8(ascii: "'"), doubleQuote = UInt8(ascii: "\"")

/// Splits the text into lines, drops blank and comment-only lines and the document markers.
func logicalLines(_ text: String) throws -> [Line] {
    var lines: [Line] = []
    var number = 0
    var ended = false
    for raw in Array(text.utf8).split(separator: UInt8(ascii: "\n"), omittingEmptySubsequences: false) {
        number += 1
        var bytes = raw
        while let last = bytes.last, last == UInt8(ascii: "\r") || last == space || last == tab { bytes.removeLast() }
        if number == 1, bytes.starts(with: [0xEF, 0xBB, 0xBF]) { bytes = bytes.dropFirst(3) }  // a UTF-8 byte order mark
        var indent = 0
        while indent < bytes.count, bytes[bytes.startIndex + indent] == space { indent += 1 }
        let body = bytes.dropFirst(indent)
        guard let first = body.first, first != hash else { continue }
        if first == tab { throw YAMLError(line: number, message: "a tab in indentation (YAML indents with spaces)") }
        if indent == 0, body.elementsEqual("---".utf8) || body.starts(with: "--- ".utf8) {
            if !lines.isEmpty || ended { throw YAMLError(line: number, message: "more than one document in the file") }
            if body.count > 3, stripComment(body.dropFirst(4)).contains(where: { $0 != space }) {
                throw YAMLError(line: number, message: "content on the '---' line is not supported")
            }
            continue
        }
        if indent == 0, body.elementsEqual("...".utf8) { ended = true; continue }
        if indent == 0, first == UInt8(ascii: "%") { throw YAMLError(line: number, message: "YAML directives are not supported") }
        if ended { throw YAMLError(line: number, message: "content after the end of the document ('...')") }
        lines.append(Line(number: number, indent: indent, text: body))
    }
    return lines
}

/// `text` without a trailing comment (a '#' at its start or after a space, outside quotes).
func stripComment(_ text: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
    var quote: UInt8 = 0
    var previous = space
    var i = text.startIndex
    while i < text.endIndex {
        let c = text[i]
        if quote != 0 {
            if c == quote {
                // '' inside single quotes is an escaped quote, not the end.
                if quote == singleQuote, i + 1 < text.endIndex, text[i + 1] == singleQuote { i += 2; continue }
                quote = 0
            } else if quote == doubleQuote, c == UInt8(ascii: "\\") {
                i += 2
                continue
            }
        } else if c == hash, previous == space || previous == tab {
            var end = i
            while end > text.startIndex, text[end - 1] == space || text[end - 1] == tab { end -= 1 }
            return text[text.startIndex..<end]
        } else if (c == singleQuote || c == doubleQuote), isTokenStart(previous) {
            quote = c
        }
        previous = c
        i += 1
    }
    return text
}

/// Whether a quote after `previous` opens a quoted scalar (rather than being an apostrophe
/// inside a plain one, as in `it's`).
private func isTokenStart(_ previous: UInt8) -> Bool {
    previous == space || previous == tab || previous == UInt8(ascii: "[") || previous == UInt8(ascii: "{")
        || previous == UInt8(ascii: ",") || previous == colon || previous == dash
}

/// A '- ' (or a lone '-') starting `text`: a list item.
private func isSequenceItem(_ text: ArraySlice<UInt8>) -> Bool {
    text.first == dash && (text.count == 1 || text[text.startIndex + 1] == space)
}

/// A ':' at `i` that ends a key: followed by a space or ending the text.
private func isKeyColon(_ text: ArraySlice<UInt8>, _ i: Int) -> Bool {
    text[i] == colon && (i + 1 == text.endIndex || text[i + 1] == space)
}

// MARK: block structure

struct BlockReader {
    var lines: [Line]
    var next = 0

    init(lines: [Line]) { self.lines = lines }

    var current: Line? { next < lines.count ? lines[next] : nil }

    /// The node whose first line is the current one, at `indent`.
    mutating func block(indent: Int) throws -> YAMLNode {
        let line = current!
        if isSequenceItem(line.text) { return try sequence(indent: indent) }
        if try keyEnd(line) != nil { return try mapping(indent: indent) }
        next += 1
        let value = try inlineValue(line.text, line: line.number)
        if let after = current, after.indent > indent {
            throw YAMLError(line: after.number, message: "unexpected indentation (a scalar continued on the next line is not supported)")
        }
        return value
    }

    mutating func sequence(indent: Int) throws -> YAMLNode {
        var items: [YAMLNode] = []
        let start = current!.number
        while let line = current, line.indent == indent, isSequenceItem(line.text) {
            var rest = line.text.dropFirst()
            var offset = 1
            while rest.first == space { rest = rest.dropFirst(); offset += 1 }
            if stripComment(rest).isEmpty {
                // "-" alone: the item is the block below it, or empty.
                next += 1
                if let below = current, below.indent > indent {
                    items.append(try block(indent: below.indent))
                } else {
                    items.append(YAMLNode(kind: .scalar(""), line: line.number))
                }
            } else {
                // "- item": the item starts on this line, as if it were its own line indented
                // to where the item begins (so "- key: value" opens a mapping there).
                lines[next] = Line(number: line.number, indent: indent + offset, text: rest)
                items.append(try block(indent: indent + offset))
            }
        }
        // A line at this indentation that is no item ends the list (the key after a list
        // written at its key's indentation); the caller decides whether it belongs there.
        if let line = current, line.indent > indent {
            throw YAMLError(line: line.number, message: "unexpected indentation")
        }
        return YAMLNode(kind: .sequence(items), line: start)
    }

    mutating func mapping(indent: Int) throws -> YAMLNode {
        var map = YAMLMapping()
        let start = current!.number
        var seen: Set<String> = []
        while let line = current, line.indent == indent {
            guard let colonAt = try keyEnd(line) else {
                if isSequenceItem(line.text) {
                    throw YAMLError(line: line.number, message: "a list item where a 'key: value' was expected")
                }
                throw YAMLError(line: line.number, message: "expected 'key: value'")
            }
            let key = try inlineValue(line.text[line.text.startIndex..<colonAt], line: line.number)
            guard let name = key.string else { throw YAMLError(line: line.number, message: "a key must be a scalar") }
            if !seen.insert(name).inserted { throw YAMLError(line: line.number, message: "duplicate key '\(name)'") }
            var rest = line.text[(colonAt + 1)...]
            while rest.first == space { rest = rest.dropFirst() }
            next += 1
            let value: YAMLNode
            if stripComment(rest).isEmpty {
                if let below = current, below.indent > indent {
                    value = try block(indent: below.indent)
                } else if let below = current, below.indent == indent, isSequenceItem(below.text) {
                    // YAML lets a list sit at its key's own indentation.
                    value = try sequence(indent: indent)
                } else {
                    value = YAMLNode(kind: .scalar(""), line: line.number)
                }
            } else {
                value = try inlineValue(rest, line: line.number)
            }
            map.append(key, value)
            if let below = current, below.indent > indent {
                throw YAMLError(line: below.number, message: "unexpected indentation")
            }
        }
        return YAMLNode(kind: .mapping(map), line: start)
    }

    /// Where the ':' that ends a block mapping key lies in the line (the first ':' followed by
    /// a space or ending the line, after a quoted key if the key is quoted), or nil when the
    /// line is no key.
    func keyEnd(_ line: Line) throws -> Int? {
        let text = stripComment(line.text)
        guard let first = text.first else { return nil }
        if first == UInt8(ascii: "[") || first == UInt8(ascii: "{") { return nil }
        if first == singleQuote || first == doubleQuote {
            var j = try quotedEnd(text, line: line.number)
            while j < text.endIndex, text[j] == space { j += 1 }
            return j < text.endIndex && isKeyColon(text, j) ? j : nil
        }
        return text.indices.first { isKeyColon(text, $0) }
    }

    /// A value written on one line after a key or '- ' (a flow collection may go on over the
    /// following lines until its brackets close).
    mutating func inlineValue(_ raw: ArraySlice<UInt8>, line number: Int) throws -> YAMLNode {
        let text = stripComment(raw)
        guard let first = text.first else { return YAMLNode(kind: .scalar(""), line: number) }
        switch first {
        case UInt8(ascii: "["), UInt8(ascii: "{"):
            var source = Array(text)
            var flow = FlowReader(bytes: source, line: number)
            // Join following lines (any indentation) until the collection closes.
            while !flow.isBalanced {
                guard let more = current else { throw YAMLError(line: number, message: "a '\(Character(UnicodeScalar(first)))' that is never closed") }
                next += 1
                source.append(space)
                source.append(contentsOf: stripComment(more.text))
                flow = FlowReader(bytes: source, line: number)
            }
            let node = try flow.value()
            try flow.expectEnd()
            return node
        case UInt8(ascii: "&"), UInt8(ascii: "*"), UInt8(ascii: "!"), UInt8(ascii: "|"), UInt8(ascii: ">"),
             UInt8(ascii: "?"), UInt8(ascii: "@"), UInt8(ascii: "`"):
            throw YAMLError(line: number, message: "'\(Character(UnicodeScalar(first)))' (anchors, aliases, tags, block scalars and complex keys) is not supported in configuration files")
        case singleQuote, doubleQuote:
            let end = try quotedEnd(text, line: number)
            if text[end...].contains(where: { $0 != space }) {
                throw YAMLError(line: number, message: "unexpected text after a quoted string")
            }
            return YAMLNode(kind: .scalar(try unquote(text[..<end], line: number)), line: number)
        default:
            if isSequenceItem(text) {
                throw YAMLError(line: number, message: "a list item cannot start here")
            }
            if text.indices.contains(where: { isKeyColon(text, $0) }) {
                throw YAMLError(line: number, message: "a 'key: value' cannot be a value here (quote the text if the ': ' belongs to it)")
            }
            return YAMLNode(kind: .scalar(String(decoding: text, as: UTF8.self)), line: number)
        }
    }
}

/// The index just past the closing quote of the quoted scalar that starts `text`.
func quotedEnd(_ text: ArraySlice<UInt8>, line: Int) throws -> Int {
    let quote = text.first!
    var i = text.startIndex + 1
    while i < text.endIndex {
        if text[i] == quote {
            if quote == singleQuote, i + 1 < text.endIndex, text[i + 1] == singleQuote { i += 2; continue }
            return i + 1
        }
        if quote == doubleQuote, text[i] == UInt8(ascii: "\\") { i += 2; continue }
        i += 1
    }
    throw YAMLError(line: line, message: "a quoted string that is not closed on its line")
}

/// The text of a quoted scalar, quotes included in `text`, with its escapes resolved.
func unquote(_ text: ArraySlice<UInt8>, line: Int) throws -> String {
    let quote = text.first!
    let body = text.dropFirst().dropLast()
    var out: [UInt8] = []
    var i = body.startIndex
    while i < body.endIndex {
        let c = body[i]
        if quote == singleQuote {
            out.append(c)
            i += c == singleQuote ? 2 : 1
            continue
        }
        guard c == UInt8(ascii: "\\") else { out.append(c); i += 1; continue }
        guard i + 1 < body.endIndex else { throw YAMLError(line: line, message: "a '\\' at the end of a string") }
        let e = body[i + 1]
        i += 2
        switch e {
        case UInt8(ascii: "n"): out.append(10)
        case UInt8(ascii: "t"): out.append(9)
        case UInt8(ascii: "r"): out.append(13)
        case UInt8(ascii: "0"): out.append(0)
        case UInt8(ascii: "\\"), doubleQuote, UInt8(ascii: "/"), space: out.append(e)
        case UInt8(ascii: "x"), UInt8(ascii: "u"), UInt8(ascii: "U"):
            let digits = e == UInt8(ascii: "x") ? 2 : e == UInt8(ascii: "u") ? 4 : 8
            guard i + digits <= body.endIndex,
                  let value = UInt32(String(decoding: body[i..<(i + digits)], as: UTF8.self), radix: 16),
                  let scalar = Unicode.Scalar(value) else {
                throw YAMLError(line: line, message: "a bad \\\(Character(UnicodeScalar(e))) escape")
            }
            out.append(contentsOf: Array(String(Character(scalar)).utf8))
            i += digits
        default:
            throw YAMLError(line: line, message: "unknown escape '\\\(Character(UnicodeScalar(e)))'")
        }
    }
    return String(decoding: out, as: UTF8.self)
}

// MARK: flow collections

/// Reads [a, b] and {k: v} (nested, with quoted or plain scalars) from one joined text.
struct FlowReader {
    let bytes: [UInt8]
    let line: Int
    var at = 0

    /// Whether every bracket opened (outside quotes) is closed.
    var isBalanced: Bool {
        var depth = 0
        var quote: UInt8 = 0
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if quote != 0 {
                if c == quote { quote = 0 } else if quote == doubleQuote, c == UInt8(ascii: "\\") { i += 1 }
            } else if c == singleQuote || c == doubleQuote {
                quote = c
            } else if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") {
                depth += 1
            } else if c == UInt8(ascii: "]") || c == UInt8(ascii: "}") {
                depth -= 1
            }
            i += 1
        }
        return depth <= 0
    }

    private mutating func skipSpaces() {
        while at < bytes.count, bytes[at] == space || bytes[at] == tab { at += 1 }
    }

    private func fail(_ message: String) -> YAMLError { YAMLError(line: line, message: message) }

    mutating func value() throws -> YAMLNode {
        skipSpaces()
        guard at < bytes.count else { throw fail("a list or mapping that ends too early") }
        switch bytes[at] {
        case UInt8(ascii: "["):
            at += 1
            var items: [YAMLNode] = []
            skipSpaces()
            var closed = try closes(UInt8(ascii: "]"))
            while !closed {
                items.append(try value())
                closed = try afterItem(opening: "[", closing: "]", in: "a list")
            }
            return YAMLNode(kind: .sequence(items), line: line)
        case UInt8(ascii: "{"):
            at += 1
            var map = YAMLMapping()
            var seen: Set<String> = []
            skipSpaces()
            var closed = try closes(UInt8(ascii: "}"))
            while !closed {
                let key = try scalar(inMapping: true)
                let name = key.string ?? ""
                guard seen.insert(name).inserted else { throw fail("duplicate key '\(name)'") }
                skipSpaces()
                guard at < bytes.count, bytes[at] == colon else { throw fail("expected ':' after '\(name)' in a mapping") }
                at += 1
                map.append(key, try value())
                closed = try afterItem(opening: "{", closing: "}", in: "a mapping")
            }
            return YAMLNode(kind: .mapping(map), line: line)
        default:
            return try scalar(inMapping: false)
        }
    }

    /// Consumes `close` if it comes next (after spaces).
    private mutating func closes(_ close: UInt8) throws -> Bool {
        skipSpaces()
        guard at < bytes.count, bytes[at] == close else { return false }
        at += 1
        return true
    }

    /// After an item: a ',' (then another item, unless it is a trailing comma before
    /// `closing`) or `closing`. Returns true once the collection is closed.
    private mutating func afterItem(opening: Unicode.Scalar, closing: Unicode.Scalar, in what: String) throws -> Bool {
        skipSpaces()
        guard at < bytes.count else { throw fail("a '\(opening)' that is never closed") }
        if bytes[at] == UInt8(ascii: ",") {
            at += 1
            return try closes(UInt8(ascii: closing))
        }
        if bytes[at] == UInt8(ascii: closing) { at += 1; return true }
        throw fail("expected ',' or '\(closing)' in \(what)")
    }

    /// A scalar inside a flow collection: quoted, or plain up to ',' ']' '}' (and ': ' for a key).
    mutating func scalar(inMapping: Bool) throws -> YAMLNode {
        skipSpaces()
        guard at < bytes.count else { throw fail("a value is missing") }
        let c = bytes[at]
        if c == singleQuote || c == doubleQuote {
            let slice = bytes[at...]
            let end = try quotedEnd(slice, line: line)
            let text = try unquote(slice[..<end], line: line)
            at = end
            return YAMLNode(kind: .scalar(text), line: line)
        }
        if c == UInt8(ascii: "[") || c == UInt8(ascii: "{") { throw fail("a list or mapping cannot be a key") }
        if c == UInt8(ascii: "&") || c == UInt8(ascii: "*") || c == UInt8(ascii: "!") {
            throw fail("anchors, aliases and tags are not supported in configuration files")
        }
        let start = at
        while at < bytes.count {
            let b = bytes[at]
            if b == UInt8(ascii: ",") || b == UInt8(ascii: "]") || b == UInt8(ascii: "}") { break }
            if inMapping, isKeyColon(bytes[...], at) { break }
            at += 1
        }
        var end = at
        while end > start, bytes[end - 1] == space || bytes[end - 1] == tab { end -= 1 }
        return YAMLNode(kind: .scalar(String(decoding: bytes[start..<end], as: UTF8.self)), line: line)
    }

    mutating func expectEnd() throws {
        skipSpaces()
        if at < bytes.count { throw fail("unexpected text after a closing bracket") }
    }
}
