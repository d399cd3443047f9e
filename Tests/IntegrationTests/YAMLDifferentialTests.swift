// The configuration reader's tree against PyYAML's BaseLoader (libyaml's parser too, with
// PyYAML's own composer, which keeps every scalar a string, as our reader does): the
// example configs, nutcracker's own example and a set of tricky snippets must give the same
// tree, so the event-to-tree building (order, nesting, empty values) stays right.

import Foundation
import RingConfig
import XCTest

final class YAMLDifferentialTests: XCTestCase {
    static let snippets = [
        "a:\n  b: 'it''s # here'\n  c: \"x\\ty \\u00e9 \\\"q\\\"\"\n  d: it's plain # comment\n",
        "a:\n- 1\n- two\n- 'three'\nb: {x: 1, y: [2, 3], 'z': \"w\"}\n",
        "servers:\n  - - 1\n    - 2\n  - k: v\n    k2: w\n  -\n    deep: [a, b,\n      c]\n",
        "p:\r\n  listen: 127.0.0.1:1   \r\n  servers:\r\n   - 127.0.0.1:6379:1 name\r\n",
        "---\np:\n  url: http://host:1/x#frag\n  empty:\n  tilde: ~\n  colon: a:b\n...\n",
        "p:\n  deny_commands: [flushall, \"config set\", 'script|flush']\n  n: -12\n  t: yes\n",
        "p:\n  block: |\n    one\n    two\n  folded: >-\n    three\n    four\n  plain: five\n    six\n  e: []\n  m: {}\n",
        "p: [a, {b: c, d: [e, {}]}, '', \"\"]\nq:\n- - - deep\n",
    ]

    /// Our tree as JSON: scalars as strings, mappings as objects in file order.
    func json(_ node: YAMLNode) -> String {
        switch node.kind {
        case let .scalar(s):
            var out = "\""
            for u in s.unicodeScalars {
                switch u {
                case "\"": out += "\\\""
                case "\\": out += "\\\\"
                default:
                    if u.value < 0x20 || u.value > 0x7e {
                        for unit in String(u).utf16 { out += String(format: "\\u%04x", unit) }
                    } else {
                        out.unicodeScalars.append(u)
                    }
                }
            }
            return out + "\""
        case let .sequence(items):
            return "[" + items.map(json).joined(separator: ",") + "]"
        case let .mapping(m):
            return "{" + m.map { json($0.key) + ":" + json($0.value) }.joined(separator: ",") + "}"
        }
    }

    func testSameTreeAsLibyaml() throws {
        var documents = Self.snippets
        let root = Harness.packageRoot
        for name in try FileManager.default.contentsOfDirectory(atPath: root + "/conf").sorted() where name.hasSuffix(".yml") {
            documents.append(try String(contentsOfFile: root + "/conf/" + name, encoding: .utf8))
        }
        let example = "/usr/share/doc/nutcracker/examples/nutcracker.yml"
        if let text = try? String(contentsOfFile: example, encoding: .utf8) { documents.append(text) }

        let dir = Harness.tempDir()
        let checker = dir + "/check.py"
        // A null from libyaml (`key:` with nothing, or ~) is a string here: our reader gives
        // "" or "~" and the config loader decides what an empty value means.
        try """
        import json, sys, yaml
        def norm(v):
            if v is None: return ""
            if isinstance(v, list): return [norm(x) for x in v]
            if isinstance(v, dict): return {k: norm(x) for k, x in v.items()}
            return v
        text = open(sys.argv[1], encoding="utf-8").read()
        ours = json.loads(open(sys.argv[2], encoding="utf-8").read())
        theirs = norm(yaml.load(text, Loader=yaml.BaseLoader))
        if ours != theirs:
            print("differs:\\nours:   %r\\nlibyaml: %r" % (ours, theirs)); sys.exit(1)
        """.write(toFile: checker, atomically: true, encoding: .utf8)

        for (i, text) in documents.enumerated() {
            let node = try XCTUnwrap(try YAMLEventReader.parse(text), "document \(i)")
            try text.write(toFile: dir + "/doc.yml", atomically: true, encoding: .utf8)
            try json(node).write(toFile: dir + "/ours.json", atomically: true, encoding: .utf8)
            let r = Harness.run("/usr/bin/python3", [checker, dir + "/doc.yml", dir + "/ours.json"], timeout: 30)
            XCTAssertEqual(r.status, 0, "document \(i):\n\(text)\n\(r.stdout)\(r.stderr)")
        }
        XCTAssertGreaterThanOrEqual(documents.count, Self.snippets.count + 3)
    }
}
