// Checks the libyaml-driven reader: the tree and lines it builds from the block and flow
// forms configuration files use, what it refuses on top of libyaml (anchors, aliases, tags,
// duplicate and collection keys, several documents) and libyaml's own errors, by line.
import XCTest
@testable import RingConfig

final class YAMLEventReaderTests: XCTestCase {
    func parse(_ text: String) throws -> YAMLNode {
        guard let node = try YAMLEventReader.parse(text) else { throw YAMLError(line: 0, message: "empty") }
        return node
    }

    func testBlockMappingsAndSequences() throws {
        let root = try parse("""
        # a comment line
        ---
        alpha:   # trailing comment
          listen: 127.0.0.1:22121
          hash_tag: "{}"
          servers:
           - 127.0.0.1:6379:1 server-a   # comment after an item
           - 127.0.0.1:6380:2
        beta:
          servers:
          - /tmp/r.sock:1
          - http://host:1/x
          empty:
          nested:
            deeper:
              - - a
                - b
              - k: v
                k2: w
        """)
        XCTAssertEqual(root.mapping?.map { $0.key.string }, ["alpha", "beta"])
        XCTAssertEqual(root["alpha"]?["listen"]?.string, "127.0.0.1:22121")
        XCTAssertEqual(root["alpha"]?["listen"]?.line, 4)
        XCTAssertEqual(root["alpha"]?["hash_tag"]?.string, "{}")
        XCTAssertEqual(root["alpha"]?["servers"]?.sequence?.map { $0.string }, ["127.0.0.1:6379:1 server-a", "127.0.0.1:6380:2"])
        XCTAssertEqual(root["alpha"]?["servers"]?.sequence?.map(\.line), [7, 8])
        XCTAssertEqual(root["beta"]?["servers"]?.sequence?.map { $0.string }, ["/tmp/r.sock:1", "http://host:1/x"])
        XCTAssertEqual(root["beta"]?["empty"]?.string, "")
        let deeper = try XCTUnwrap(root["beta"]?["nested"]?["deeper"]?.sequence)
        XCTAssertEqual(deeper.count, 2)
        XCTAssertEqual(deeper[0].sequence?.map { $0.string }, ["a", "b"])
        XCTAssertEqual(deeper[1]["k"]?.string, "v")
        XCTAssertEqual(deeper[1]["k2"]?.string, "w")
        XCTAssertEqual(deeper[1]["k2"]?.line, 19)
    }

    func testScalarsQuotingAndFlow() throws {
        let root = try parse("p:\r\n  a: 'it''s # not a comment'\r\n  b: \"tab\\there \\\"q\\\" \\u00e9\"\r\n  c: it's plain # comment\r\n"
            + "  d: [flushall, \"config set\", 'debug']\r\n  e: [a,\r\n      b ,\r\n   c,]\r\n  f: {x: 1, 'y': [2, 3]}\r\n"
            + "  g: 42\r\n  h: \"42\"\r\n  i: -7\r\n  j: yes\r\n  k: False\r\n  l: []\r\n")
        let p = try XCTUnwrap(root["p"])
        XCTAssertEqual(p["a"]?.string, "it's # not a comment")
        XCTAssertEqual(p["b"]?.string, "tab\there \"q\" é")
        XCTAssertEqual(p["c"]?.string, "it's plain")
        XCTAssertEqual(p["d"]?.sequence?.map { $0.string }, ["flushall", "config set", "debug"])
        XCTAssertEqual(p["e"]?.sequence?.map { $0.string }, ["a", "b", "c"])
        XCTAssertEqual(p["f"]?["x"]?.int, 1)
        XCTAssertEqual(p["f"]?["y"]?.sequence?.compactMap { $0.int }, [2, 3])
        XCTAssertEqual(p["g"]?.int, 42)
        XCTAssertEqual(p["h"]?.int, 42, "nutcracker reads a quoted number as the number")
        XCTAssertEqual(p["i"]?.int, -7)
        XCTAssertEqual(p["j"]?.bool, true)
        XCTAssertEqual(p["k"]?.bool, false)
        XCTAssertNil(p["g"]?.bool)
        XCTAssertEqual(p["l"]?.sequence?.count, 0)
        XCTAssertEqual(p["f"]?.line, 9)
        XCTAssertEqual(p["g"]?.line, 10, "lines after a flow list that spans lines keep their numbers")
    }

    /// What libyaml reads beyond the old hand-written reader: block scalars, plain values
    /// continued over lines, NUL bytes in a quoted value (bounded by length, not by a C
    /// string), and a document end marker.
    func testWhatLibyamlAddsIsRead() throws {
        let root = try parse("a:\n  block: |\n    line one\n    line two\n  folded: >\n    one\n    two\n"
            + "  plain: first\n    second\n  nul: \"x\\0y\"\n...\n")
        XCTAssertEqual(root["a"]?["block"]?.string, "line one\nline two\n")
        XCTAssertEqual(root["a"]?["folded"]?.string, "one two\n")
        XCTAssertEqual(root["a"]?["plain"]?.string, "first second")
        XCTAssertEqual(root["a"]?["plain"]?.line, 8)
        XCTAssertEqual(root["a"]?["nul"]?.string, "x\u{0}y")
        XCTAssertEqual(root["a"]?["nul"]?.line, 10)
    }

    func testEmptyDocument() throws {
        XCTAssertNil(try YAMLEventReader.parse("# only a comment\n\n"))
        XCTAssertNil(try YAMLEventReader.parse(""))
    }

    func assertError(_ text: String, line: Int, _ fragment: String, file: StaticString = #filePath, sourceLine: UInt = #line) {
        do {
            let node = try YAMLEventReader.parse(text)
            XCTFail("parsed: \(String(describing: node))", file: file, line: sourceLine)
        } catch let e as YAMLError {
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.message.contains(fragment), "\(e)", file: file, line: sourceLine)
        } catch {
            XCTFail("\(error)", file: file, line: sourceLine)
        }
    }

    func testAnchorsAliasesAndTagsAreRefusedWithTheirLine() {
        assertError("a:\n  b: &x 1\n", line: 2, "an anchor (&x) is not supported")
        assertError("base: 1\npool: &defaults\n  hash: md5\n", line: 2, "an anchor (&defaults)")
        assertError("a:\n  b: 1\n  list:\n    - *ref\n", line: 4, "an alias (*ref) is not supported")
        assertError("a:\n  b: !!str 400\n", line: 2, "a tag (tag:yaml.org,2002:str) is not supported")
        assertError("a:\n  b: 1\n  c: !local [x]\n", line: 3, "a tag (!local)")
        assertError("a:\n  b: 1\n  c: !!map {x: 1}\n", line: 3, "a tag")
    }

    func testDuplicateKeysAreRefusedWithBothLines() {
        assertError("a:\n  b: 1\n  b: 2\n", line: 3, "duplicate key 'b' (first on line 2)")
        assertError("p:\n  x: 1\nq: 2\n\np: 3\n", line: 5, "duplicate key 'p' (first on line 1)")
        assertError("a: {x: 1,\n  x: 2}\n", line: 2, "duplicate key 'x' (first on line 1)")
        // Quoting does not make a key different: "b" and b are the same key.
        assertError("a:\n  b: 1\n  \"b\": 2\n", line: 3, "duplicate key 'b'")
        // The same key in different mappings is no duplicate.
        XCTAssertNoThrow(try parse("p:\n  listen: x\nq:\n  listen: y\n"))
    }

    func testOtherRefusals() {
        assertError("a: 1\n---\nb: 2\n", line: 2, "more than one document")
        assertError("? [a, b]\n: 1\n", line: 1, "a key must be a plain or quoted value")
        assertError("a:\n  {x: 1}: 2\n", line: 2, "a key must be a plain or quoted value")
        let limit = YAMLEventReader.maxNesting
        XCTAssertNoThrow(try parse(String(repeating: "[", count: limit) + String(repeating: "]", count: limit)))
        assertError("a:\n  b: " + String(repeating: "[", count: limit) + String(repeating: "]", count: limit) + "\n",
                    line: 2, "nested more than \(limit) deep")
    }

    /// libyaml's own errors keep its problem text and get its (1-based) line.
    func testLibyamlErrorsNameTheLine() {
        assertError("a:\n  b: 1\n   c: 2\n", line: 3, "mapping values are not allowed in this context")
        assertError("a:\n  b: 1\n\tc: 2\n", line: 3, "tab")
        assertError("a:\n  b: \"open\n", line: 3, "found unexpected end of stream (while scanning a quoted scalar on line 2)")
        assertError("a:\n  b: [x, y\n  c: 1\n", line: 3, "did not find expected ',' or ']'")
        assertError("a:\n  - x\n  b: 1\n", line: 3, "did not find expected '-' indicator")
        assertError("a:\n  b: 1\n  - x\n", line: 3, "did not find expected key")
        assertError("a:\n  b: c: d\n", line: 2, "mapping values are not allowed")
        assertError("  a: 1\nb: 2\n", line: 2, "did not find expected <document start>")
        assertError("a:\n  b: \"\\q\"\n", line: 2, "found unknown escape character")
        // The reader's errors carry a byte offset, not a line: the line is counted from it.
        assertError("a:\n  b: 1\n  c: \u{1}\n", line: 3, "control characters are not allowed")
    }
}
