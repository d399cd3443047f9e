// Checks PoolKey.table against what it claims: README.md's reference is what the table
// renders, each documented default is what leaving the key out gives, ranges and choices are
// enforced at their edges, required keys are required, and unknown keys list the table.
import Foundation
import XCTest
@testable import RingConfig
@testable import RingCore

final class PoolKeyTableTests: XCTestCase {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// A pool with the required keys (and `redis: true`, which otherwise warns), with
    /// `settings` added or replacing them; nil removes a key.
    func yaml(_ settings: [String: String?] = [:]) -> String {
        var keys: [(String, String?)] = [("listen", "127.0.0.1:1"), ("redis", "true"), ("servers", "[\"127.0.0.1:6379:1\"]")]
        for (name, value) in settings.sorted(by: { $0.key < $1.key }) {
            if let i = keys.firstIndex(where: { $0.0 == name }) { keys[i].1 = value } else { keys.append((name, value)) }
        }
        return "p:\n" + keys.compactMap { name, value in value.map { "  \(name): \($0)\n" } }.joined()
    }

    func pool(_ settings: [String: String?] = [:]) throws -> PoolConfig {
        try ConfigLoader.parse(yaml(settings), file: "t.yml").pools[0]
    }

    func error(_ settings: [String: String?]) -> ConfigError? {
        do { _ = try pool(settings); return nil } catch { return error as? ConfigError }
    }

    func testReadmeReferenceIsWhatTheTableRenders() throws {
        let path = Self.packageRoot + "/README.md"
        let readme = try String(contentsOfFile: path, encoding: .utf8)
        let begin = try XCTUnwrap(readme.range(of: PoolKey.referenceBegin + "\n"), "README.md has no \(PoolKey.referenceBegin) line")
        let end = try XCTUnwrap(readme.range(of: PoolKey.referenceEnd, range: begin.upperBound..<readme.endIndex),
                                "README.md has no \(PoolKey.referenceEnd) after the begin marker")
        let rendered = PoolKey.referenceMarkdown()
        if readme[begin.upperBound..<end.lowerBound] == rendered { return }
        if ProcessInfo.processInfo.environment["RINGPROXY_WRITE_REFERENCE"] == "1" {
            try (readme[..<begin.upperBound] + rendered + readme[end.lowerBound...]).write(toFile: path, atomically: true, encoding: .utf8)
            return
        }
        XCTFail("README.md's pool key reference differs from PoolKey.table; regenerate it with:\n  \(PoolKey.regenerateCommand)")
    }

    func testTheReferenceListsEveryKey() {
        let rendered = PoolKey.referenceMarkdown()
        for key in PoolKey.table {
            XCTAssertTrue(rendered.contains("| `\(key.name)` | \(key.valuesText) | \(key.defaultText) | \(key.doc) |"), key.name)
        }
        XCTAssertEqual(Set(PoolKey.table.map(\.name)).count, PoolKey.table.count, "a key is in the table twice")
    }

    func testDocumentedDefaultsAreWhatLeavingTheKeyOutGives() throws {
        let base = try pool()
        var checked = 0
        for key in PoolKey.table {
            guard case let .value(text) = key.defaultValue else { continue }
            XCTAssertEqual(try pool([key.name: text]), base, "\(key.name): \(text) is not its default")
            checked += 1
        }
        XCTAssertGreaterThan(checked, 10)
    }

    func testRequiredKeysAreRequired() throws {
        let required = PoolKey.table.filter { if case .required = $0.defaultValue { return true } else { return false } }
        XCTAssertEqual(required.map(\.name), ["listen", "servers"])
        for key in required {
            let e = error([key.name: nil])
            XCTAssertEqual(e?.key, "p.\(key.name)")
            XCTAssertEqual(e?.message, "is required")
            XCTAssertEqual(e?.line, 2, "the error points at the pool's settings")
        }
    }

    func testIntegerRangesAreEnforcedAtTheirEdges() throws {
        for key in PoolKey.table {
            guard case let .integer(range) = key.values else { continue }
            XCTAssertNoThrow(try pool([key.name: String(range.lowerBound)]), key.name)
            let under = error([key.name: String(range.lowerBound - 1)])
            XCTAssertEqual(under?.key, "p.\(key.name)")
            XCTAssertTrue(under?.message.hasPrefix("must be an integer") ?? false, "\(String(describing: under))")
            XCTAssertEqual(error([key.name: "ten"])?.key, "p.\(key.name)")
            if range.upperBound < Int.max {
                XCTAssertNoThrow(try pool([key.name: String(range.upperBound)]), key.name)
                XCTAssertEqual(error([key.name: String(range.upperBound + 1)])?.message,
                               "must be an integer from \(range.lowerBound) to \(range.upperBound)")
            }
        }
    }

    func testChoicesTakeTheirWordsOnly() throws {
        for key in PoolKey.table {
            guard case let .choice(words) = key.values else { continue }
            for word in words { XCTAssertNoThrow(try pool([key.name: word]), "\(key.name): \(word)") }
            let e = error([key.name: "nonsense"])
            XCTAssertEqual(e?.key, "p.\(key.name)")
            XCTAssertEqual(e?.message, "unknown \(key.name) 'nonsense' (known: \(words.joined(separator: ", ")))")
        }
        XCTAssertTrue(try pool(["down_server_reply": "miss"]).answerDownAsMiss)
        XCTAssertFalse(try pool(["down_server_reply": "error"]).answerDownAsMiss)
        XCTAssertEqual(try pool().multiAcrossServers, .refuse, "transactions spanning servers are refused by default")
        XCTAssertEqual(try pool(["multi_across_servers": "per_server"]).multiAcrossServers, .perServer)
        let e = error(["multi_across_servers": "all"])
        XCTAssertEqual(e?.file, "t.yml")
        XCTAssertEqual(e?.line, 5)
        XCTAssertEqual(e?.message, "unknown multi_across_servers 'all' (known: refuse, per_server)")
    }

    func testTheDjangoExampleRunsTransactionsPerServer() throws {
        let config = try ConfigLoader.load(path: Self.packageRoot + "/conf/django.yml")
        XCTAssertEqual(config.pools.map(\.multiAcrossServers), [.perServer])
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
    }

    func testUnknownKeyListsTheTable() {
        let e = error(["colour": "blue"])
        XCTAssertEqual(e?.key, "p.colour")
        XCTAssertEqual(e?.line, 5)
        XCTAssertEqual(e?.message, "unknown pool setting (known: \(PoolKey.table.map(\.name).sorted().joined(separator: ", ")))")
    }

    func testMissingRedisTrueWarns() throws {
        let config = try ConfigLoader.parse(yaml(["redis": nil]), file: "t.yml")
        XCTAssertEqual(config.warnings.count, 1)
        XCTAssertTrue(config.warnings[0].hasPrefix("p: no 'redis: true'"), config.warnings[0])
        XCTAssertTrue(try ConfigLoader.parse(yaml(), file: "t.yml").warnings.isEmpty)
    }
}
