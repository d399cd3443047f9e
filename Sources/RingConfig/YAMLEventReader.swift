// Reads a configuration file with libyaml's event parser, the parser nutcracker uses, and
// builds the YAMLNode tree with 1-based lines. libyaml decides what is YAML; this reader
// refuses on top of it what a configuration file has no use for (anchors, aliases, tags,
// collection keys, several documents) and the duplicate keys libyaml lets through.
//
// libyaml is plain C with no Foundation behind it, so the proxy still links no Foundation
// (whose shared libraries alone were more resident memory than ten thousand idle clients).

import CYAML

public enum YAMLEventReader {
    /// Collections may nest this deep. A configuration file nests three levels (pools, their
    /// keys, a list); the limit keeps a hostile `[[[[...` from building a tree deep enough
    /// that tearing it down, which recurses, overflows the stack.
    static let maxNesting = 64

    /// Parses one document. A file with no document (empty, or only comments) is nil.
    public static func parse(_ text: String) throws -> YAMLNode? {
        let bytes = Array(text.utf8)
        // Buffer ownership: libyaml keeps `input`'s address and reads from it on every
        // yaml_parser_parse call, so the buffer is ours, allocated before the parser and
        // freed only after yaml_parser_delete. It is never empty: libyaml asserts a non-null
        // input even for zero bytes.
        let input = UnsafeMutablePointer<UInt8>.allocate(capacity: max(bytes.count, 1))
        input.initialize(repeating: 0, count: max(bytes.count, 1))
        input.update(from: bytes, count: bytes.count)
        // The parser struct is ours as well; yaml_parser_delete frees only the buffers and
        // stacks libyaml allocated inside it.
        let parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
        parser.initialize(to: yaml_parser_t())
        defer {
            parser.deinitialize(count: 1)
            parser.deallocate()
            input.deinitialize(count: max(bytes.count, 1))
            input.deallocate()
        }
        guard yaml_parser_initialize(parser) != 0 else {
            throw YAMLError(line: 0, message: "libyaml could not allocate its parser")
        }
        defer { yaml_parser_delete(parser) }
        yaml_parser_set_input_string(parser, input, bytes.count)

        var builder = TreeBuilder()
        var ended = false
        while !ended {
            // Event ownership: a parsed event owns the strings libyaml allocated for it
            // (anchor, tag, scalar value). The builder copies what it keeps, and the event is
            // deleted at the end of this iteration whether or not the builder threw. A failed
            // parse leaves the event zeroed, with nothing to delete.
            var event = yaml_event_t()
            guard yaml_parser_parse(parser, &event) != 0 else { throw syntaxError(parser.pointee, bytes) }
            defer { yaml_event_delete(&event) }
            ended = try builder.take(event)
        }
        return builder.root
    }

    /// libyaml's own error, with its line (1-based) and problem text.
    static func syntaxError(_ parser: yaml_parser_t, _ bytes: [UInt8]) -> YAMLError {
        let problem = parser.problem.map { String(cString: $0) } ?? "libyaml failed (error \(parser.error.rawValue))"
        switch parser.error {
        case YAML_READER_ERROR:
            // The reader (bad encoding, control characters) reports a byte offset, no mark.
            let line = 1 + bytes.prefix(parser.problem_offset).count(where: { $0 == UInt8(ascii: "\n") })
            return YAMLError(line: line, message: problem)
        case YAML_SCANNER_ERROR, YAML_PARSER_ERROR:
            var message = problem
            if let context = parser.context {
                message += " (\(String(cString: context)) on line \(Int(parser.context_mark.line) + 1))"
            }
            return YAMLError(line: Int(parser.problem_mark.line) + 1, message: message)
        default:
            return YAMLError(line: 0, message: problem)
        }
    }
}

/// Turns libyaml's events into a YAMLNode tree: a stack of the collections still open,
/// each node added to the one on top when it is complete.
struct TreeBuilder {
    enum Open {
        case sequence(items: [YAMLNode], line: Int)
        /// `key` is the key read whose value has not come yet; `keyLines` the line of each
        /// key so far, to name both lines of a duplicate.
        case mapping(YAMLMapping, key: YAMLNode?, keyLines: [String: Int], line: Int)
    }

    private(set) var root: YAMLNode?
    private var open: [Open] = []
    private var documents = 0

    /// Takes one event; true once the stream has ended.
    mutating func take(_ event: yaml_event_t) throws -> Bool {
        let line = Int(event.start_mark.line) + 1
        switch event.type {
        case YAML_STREAM_END_EVENT:
            return true
        case YAML_DOCUMENT_START_EVENT:
            documents += 1
            // nutcracker reads one document; a second is more likely a mistake than intent.
            if documents > 1 { throw YAMLError(line: line, message: "more than one document in the file") }
        case YAML_ALIAS_EVENT:
            let name = event.data.alias.anchor.map { String(cString: $0) } ?? ""
            throw YAMLError(line: line, message: "an alias (*\(name)) is not supported in configuration files: write the value out")
        case YAML_SCALAR_EVENT:
            let scalar = event.data.scalar
            try refuseProperties(anchor: scalar.anchor, tag: scalar.tag, line: line)
            // `value` is libyaml's buffer (freed with the event) of `length` bytes; it may
            // hold NUL bytes ("\0" escapes), so the length, not a C string, bounds it.
            let text = String(decoding: UnsafeBufferPointer(start: scalar.value, count: scalar.length), as: UTF8.self)
            try add(YAMLNode(kind: .scalar(text), line: line))
        case YAML_SEQUENCE_START_EVENT:
            try refuseProperties(anchor: event.data.sequence_start.anchor, tag: event.data.sequence_start.tag, line: line)
            try push(.sequence(items: [], line: line), line: line)
        case YAML_MAPPING_START_EVENT:
            try refuseProperties(anchor: event.data.mapping_start.anchor, tag: event.data.mapping_start.tag, line: line)
            try push(.mapping(YAMLMapping(), key: nil, keyLines: [:], line: line), line: line)
        case YAML_SEQUENCE_END_EVENT, YAML_MAPPING_END_EVENT:
            // libyaml pairs every end with its start, so a collection is open here.
            switch open.removeLast() {
            case let .sequence(items, start): try add(YAMLNode(kind: .sequence(items), line: start))
            case let .mapping(map, _, _, start): try add(YAMLNode(kind: .mapping(map), line: start))
            }
        default:
            // Stream start (the encoding) and document end say nothing the tree needs.
            break
        }
        return false
    }

    /// Anchors and tags would let a file mean something other than what it shows (a tag
    /// changes a value's type, an anchor exists only for aliases), and nutcracker's keys
    /// need neither.
    private func refuseProperties(anchor: UnsafeMutablePointer<UInt8>?, tag: UnsafeMutablePointer<UInt8>?, line: Int) throws {
        if let anchor {
            throw YAMLError(line: line, message: "an anchor (&\(String(cString: anchor))) is not supported in configuration files: write the value out")
        }
        if let tag {
            throw YAMLError(line: line, message: "a tag (\(String(cString: tag))) is not supported in configuration files: values are read as text")
        }
    }

    private mutating func push(_ collection: Open, line: Int) throws {
        if case .mapping(_, key: .none, _, _)? = open.last {
            throw YAMLError(line: line, message: "a key must be a plain or quoted value, not a list or mapping")
        }
        if open.count >= YAMLEventReader.maxNesting {
            throw YAMLError(line: line, message: "lists and mappings nested more than \(YAMLEventReader.maxNesting) deep")
        }
        open.append(collection)
    }

    /// Adds a complete node to the collection on top, or makes it the document's root. The
    /// top is popped and pushed back so its arrays are mutated in place, never copied.
    private mutating func add(_ node: YAMLNode) throws {
        guard let top = open.popLast() else {
            root = node
            return
        }
        switch top {
        case .sequence(var items, let start):
            items.append(node)
            open.append(.sequence(items: items, line: start))
        case .mapping(let map, .none, var keyLines, let start):
            // push() refuses collection keys, so a key is a scalar.
            let name = node.string ?? ""
            if let first = keyLines[name] {
                throw YAMLError(line: node.line, message: "duplicate key '\(name)' (first on line \(first))")
            }
            keyLines[name] = node.line
            open.append(.mapping(map, key: node, keyLines: keyLines, line: start))
        case .mapping(var map, .some(let key), let keyLines, let start):
            map.append(key, node)
            open.append(.mapping(map, key: nil, keyLines: keyLines, line: start))
        }
    }
}
