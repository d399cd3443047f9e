// Checks the configuration YAML reader: the block and flow forms configuration files use,
// quoting and comments, and a clear error with the right line for what it does not take.
import XCTest
@testable import RingConfig

final class YAMLReaderTests: XCTestCase {
    func parse(_ text: String) throws -> YAMLNode {
        guard let node = try YAMLReader.parse(text) else { throw YAMLError(line: 0, message: "empty") }
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

    func testEmptyDocument() throws {
        XCTAssertNil(try YAMLReader.parse("# only a comment\n\n"))
        XCTAssertNil(try YAMLReader.parse(""))
    }

    func assertError(_ text: String, line: Int, _ fragment: String, file: StaticString = #filePath, sourceLine: UInt = #line) {
        do {
            let node = try YAMLReader.parse(text)
            XCTFail("parsed: \(String(describing: node))", file: file, line: sourceLine)
        } catch let e as YAMLError {
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertTrue(e.message.contains(fragment), "\(e)", file: file, line: sourceLine)
        } catch {
            XCTFail("\(error)", file: file, line: sourceLine)
        }
    }

    func testErrorsNameTheLine() {
        assertError("a:\n  b: 1\n   c: 2\n", line: 3, "unexpected indentation")
        assertError("a:\n  b: 1\n\tc: 2\n", line: 3, "tab")
        assertError("a:\n  b: 1\n  b: 2\n", line: 3, "duplicate key 'b'")
        assertError("a:\n  b: &x 1\n", line: 2, "not supported")
        assertError("a:\n  b: *x\n", line: 2, "not supported")
        assertError("a:\n  b: |\n    text\n", line: 2, "not supported")
        assertError("a:\n  b: \"open\n", line: 2, "not closed")
        assertError("a:\n  b: [x, y\n  c: 1\n", line: 2, "never closed")
        assertError("a: 1\n---\nb: 2\n", line: 2, "more than one document")
        assertError("a:\n  - x\n  b: 1\n", line: 3, "unexpected indentation")
        assertError("a:\n  b: 1\n  - x\n", line: 3, "list item")
        assertError("a:\n  b: c: d\n", line: 2, "key: value")
        assertError("a:\n  b: \"x\" y\n", line: 2, "after a quoted string")
        assertError("  a: 1\nb: 2\n", line: 2, "indented less")
        assertError("a:\n  b: \"\\q\"\n", line: 2, "unknown escape")
    }
}
