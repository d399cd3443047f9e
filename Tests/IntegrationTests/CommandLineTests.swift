// The command line: config checking, errors that name file, line and key, exit codes,
// unix socket permissions.

import Foundation
import XCTest

final class CommandLineTests: XCTestCase {
    func write(_ yaml: String) throws -> String {
        let path = Harness.tempDir() + "/c.yml"
        try yaml.write(toFile: path, atomically: true, encoding: .utf8)
        return path
    }

    func testConfigCheckAndErrors() throws {
        let bin = Harness.ringproxyBinary
        let good = try write("p:\n  listen: 127.0.0.1:\(Harness.freePort())\n  redis: true\n  servers:\n    - 127.0.0.1:7001:1\n")
        let ok = Harness.run(bin, ["-t", "-c", good], timeout: 10)
        XCTAssertEqual(ok.status, 0)
        XCTAssertTrue(ok.stdout.contains("syntax is ok"), ok.stdout)

        let cases: [(String, String)] = [
            ("p:\n  listen: 127.0.0.1:1\n  redis: true\n  hash: fnv\n  servers:\n    - 127.0.0.1:7001:1\n", ":4: p.hash: unknown hash 'fnv'"),
            ("p:\n  listen: 127.0.0.1:1\n  redis: true\n  servers:\n    - 127.0.0.1:7001\n", ":5: p.servers: server '127.0.0.1:7001' has no weight"),
            ("p:\n  listen: 127.0.0.1:1\n  redis: true\n  colour: blue\n  servers:\n    - 127.0.0.1:7001:1\n", ":4: p.colour: unknown pool setting"),
            ("p:\n  listen: nowhere\n  redis: true\n  servers:\n    - 127.0.0.1:7001:1\n", ":2: p.listen:"),
        ]
        for (yaml, expected) in cases {
            let path = try write(yaml)
            for args in [["-t", "-c", path], ["-c", path]] {
                let r = Harness.run(bin, args, timeout: 10)
                XCTAssertEqual(r.status, 1, "\(args) must fail: \(r.stderr)")
                XCTAssertTrue(r.stderr.contains(path + expected), "expected '\(expected)' in: \(r.stderr)")
            }
        }
        XCTAssertEqual(Harness.run(bin, ["--bogus"], timeout: 10).status, 2)
        XCTAssertTrue(Harness.run(bin, ["--version"], timeout: 10).stdout.hasPrefix("ringproxy "))
        XCTAssertTrue(Harness.run(bin, ["--help"], timeout: 10).stdout.contains("--test-conf"))
    }

    func testUnixSocketModeAndCleanShutdown() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let socket = Harness.tempDir() + "/p.sock"
        let path = try write("p:\n  listen: \(socket) 0640\n  redis: true\n  servers:\n    - 127.0.0.1:\(redis.port):1\n")
        let proxy = try startRingproxy(config: path, path: socket)
        let attributes = try FileManager.default.attributesOfItem(atPath: socket)
        XCTAssertEqual((attributes[.posixPermissions] as? NSNumber)?.intValue, 0o640)
        let client = try RESPClient(path: socket)
        XCTAssertEqual(try client.command("SET", "k", "v").text, "+OK\r\n")
        XCTAssertEqual(proxy.stop(signal: SIGINT), 0, "SIGINT exits 0")
        XCTAssertFalse(FileManager.default.fileExists(atPath: socket), "the socket file is removed")
    }

    /// Without a threads setting there is one worker per core the process may use (nproc
    /// reads the same affinity mask); the config's value and --threads override it.
    func testWorkersDefaultToOnePerCore() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let cores = Int(Harness.run("/usr/bin/nproc", [], timeout: 10).stdout.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
        for (settings, args, expected) in [("", [String](), cores), ("ringproxy:\n  threads: 3\n", [], 3), ("ringproxy:\n  threads: 3\n", ["--threads", "1"], 1)] {
            let port = Harness.freePort()
            let path = try write("\(settings)p:\n  listen: 127.0.0.1:\(port)\n  redis: true\n  servers:\n    - 127.0.0.1:\(redis.port):1\n")
            let proxy = try startRingproxy(config: path, port: port, extraArgs: args + ["-s", String(Harness.freePort())])
            let client = try RESPClient(port: port)
            XCTAssertEqual(try client.command("SET", "k", "v").text, "+OK\r\n")
            XCTAssertEqual(proxy.stop(), 0)
            XCTAssertTrue(proxy.log.contains(", \(expected) worker(s)"), "expected \(expected) workers: \(proxy.log)")
        }
    }
}
