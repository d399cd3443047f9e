// The command line: config checking (and -t --diff against a running file), errors that
// name file, line and key, exit codes, nutcracker's flags (combined, -d, -D, -m, -i), unix socket permissions.

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

    /// -t --diff RUNNING -c NEW: NEW is checked as a reload reads it, then what a reload
    /// would change is listed; a bad NEW fails as -t does, and nothing is compared.
    func testCheckWithDiffAgainstTheRunningFile() throws {
        let bin = Harness.ringproxyBinary
        let dir = Harness.tempDir()
        let running = dir + "/running.yml", new = dir + "/new.yml", bad = dir + "/bad.yml"
        let servers = ["10.0.0.1:6379:1 cache-1", "10.0.0.2:6379:1 cache-2", "10.0.0.3:6379:1 cache-3"]
        func pool(_ servers: [String], _ settings: String) -> String {
            "cache:\n  listen: 127.0.0.1:22121\n  redis: true\n\(settings)  servers:\n" + servers.map { "    - \($0)\n" }.joined()
        }
        try ("ringproxy:\n  threads: 2\n" + pool(servers, "  timeout: 400\n  redis_auth: old-secret\n"))
            .write(toFile: running, atomically: true, encoding: .utf8)
        try ("ringproxy:\n  threads: 4\n" + pool([servers[0], servers[2], "10.0.0.4:6379:1 cache-4"], "  timeout: 1000\n  redis_auth: new-secret\n"))
            .write(toFile: new, atomically: true, encoding: .utf8)
        try "cache:\n  listen: 127.0.0.1:22121\n  redis: true\n  colour: blue\n".write(toFile: bad, atomically: true, encoding: .utf8)

        let r = Harness.run(bin, ["-t", "--diff", running, "-c", new], timeout: 10)
        XCTAssertEqual(r.status, 0, r.stderr)
        XCTAssertEqual(r.stdout.split(separator: "\n").map(String.init), [
            "ringproxy: configuration file '\(new)' syntax is ok (1 pool(s))",
            "ringproxy: changes from '\(running)':",
            "  pool cache: servers +cache-4, -cache-2, timeout 400 -> 1000, redis_auth changed",
            "  needs a restart: threads 2 -> 4 (kept)",
        ])
        XCTAssertFalse(r.stdout.contains("secret"), "passwords are never printed")

        let same = Harness.run(bin, ["-t", "--diff=" + running, "-c", running], timeout: 10)
        XCTAssertEqual(same.status, 0, same.stderr)
        XCTAssertTrue(same.stdout.hasSuffix("changes from '\(running)':\n  no change\n"), same.stdout)

        let failed = Harness.run(bin, ["-t", "--diff", running, "-c", bad], timeout: 10)
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("configuration error: \(bad):4: cache.colour: unknown pool setting"), failed.stderr)
        XCTAssertFalse(failed.stdout.contains("changes from"), failed.stdout)

        let badRunning = Harness.run(bin, ["-t", "--diff", bad, "-c", new], timeout: 10)
        XCTAssertEqual(badRunning.status, 1, "the comparison asked for could not be made")
        XCTAssertTrue(badRunning.stderr.contains("running configuration error: \(bad):4:"), badRunning.stderr)

        let withoutTest = Harness.run(bin, ["--diff", running, "-c", new], timeout: 10)
        XCTAssertEqual(withoutTest.status, 2)
        XCTAssertTrue(withoutTest.stderr.contains("--diff goes with -t"), withoutTest.stderr)
    }

    /// Arguments read as nutcracker's getopt reads them: flags combine (-tc FILE), a flag
    /// without a value followed by letters is an unknown option, and --flag=value is refused
    /// for a flag without one.
    func testNutcrackerFlagSyntax() throws {
        let bin = Harness.ringproxyBinary
        let good = try write("p:\n  listen: 127.0.0.1:\(Harness.freePort())\n  redis: true\n  servers:\n    - 127.0.0.1:7001:1\n")
        for args in [["-tc", good], ["-tc" + good], ["--test", "--conf", good], ["-t", "--conf-file=" + good]] {
            let r = Harness.run(bin, args, timeout: 10)
            XCTAssertEqual(r.status, 0, "\(args): \(r.stderr)")
            XCTAssertTrue(r.stdout.contains("syntax is ok"), "\(args): \(r.stdout)")
        }
        for (args, message) in [(["-tfoo", "-c", good], "unknown option '-f'"), (["--test-conf=no", "-c", good], "'--test-conf' takes no value"),
                                (["-t", "-c"], "-c needs a value"), (["-t", "-c", good, "extra"], "unexpected argument 'extra'")] {
            let r = Harness.run(bin, args, timeout: 10)
            XCTAssertEqual(r.status, 2, "\(args) must fail: \(r.stdout)")
            XCTAssertTrue(r.stderr.contains(message), "\(args): \(r.stderr)")
            XCTAssertFalse(r.stdout.contains("syntax is ok"), "\(args)")
        }
        // nutcracker's -m and -i are accepted and ignored, each with a notice.
        let ignored = Harness.run(bin, ["-m", "16384", "-i", "30000", "-t", "-c", good], timeout: 10)
        XCTAssertEqual(ignored.status, 0, ignored.stderr)
        XCTAssertTrue(ignored.stderr.contains("-m (mbuf size) is ignored") && ignored.stderr.contains("-i (stats interval) is ignored"), ignored.stderr)
        let help = Harness.run(bin, ["-h"], timeout: 10).stdout
        for flag in ["--daemonize", "--describe-stats", "--stats-interval", "--mbuf-size"] { XCTAssertTrue(help.contains(flag), flag) }
    }

    /// -D describes every field /stats exports, for a pool and for a server.
    func testDescribeStatsCoversStats() throws {
        let described = Harness.run(Harness.ringproxyBinary, ["-D"], timeout: 10)
        XCTAssertEqual(described.status, 0)
        let f = try ProxyFixture()
        defer { f.stop() }
        let r = Harness.run("/usr/bin/env", ["python3", "-c", """
            import json, urllib.request
            s = json.load(urllib.request.urlopen('http://127.0.0.1:\(f.adminPort)/stats', timeout=10))
            pool = s['tcp']
            server = next(v for v in pool.values() if isinstance(v, dict))
            print(' '.join(k for k, v in pool.items() if not isinstance(v, dict)))
            print(' '.join(server))
            """], timeout: 20)
        let lines = r.stdout.split(separator: "\n")
        XCTAssertEqual(lines.count, 2, r.stderr)
        let fields = lines.flatMap { $0.split(separator: " ").map(String.init) }
        XCTAssertGreaterThan(fields.count, 20)
        for field in fields {
            XCTAssertTrue(described.stdout.contains("  \(field) "), "-D does not describe '\(field)'")
        }
    }

    /// -d: the command returns once the daemon listens, which writes its pid file and serves
    /// until SIGTERM; a daemon that cannot listen makes the command fail with the error.
    func testDaemonize() throws {
        let redis = try RedisServer()
        defer { redis.stop() }
        let dir = Harness.tempDir()
        let port = Harness.freePort()
        let path = try write("p:\n  listen: 127.0.0.1:\(port)\n  redis: true\n  servers:\n    - 127.0.0.1:\(redis.port):1\n")
        let args = ["-d", "-c", path, "-p", dir + "/rp.pid", "-o", dir + "/rp.log", "-s", String(Harness.freePort())]
        let r = Harness.run(Harness.ringproxyBinary, args, timeout: 20)
        XCTAssertEqual(r.status, 0, r.stderr)
        let pidText = try String(contentsOfFile: dir + "/rp.pid", encoding: .utf8)
        let pid = try XCTUnwrap(Int32(pidText.trimmingCharacters(in: .whitespacesAndNewlines)))
        defer { kill(pid, SIGKILL) }
        XCTAssertNotEqual(getsid(pid), getsid(0), "the daemon runs in a session of its own")
        let client = try RESPClient(port: port)
        XCTAssertEqual(try client.command("SET", "k", "v").text, "+OK\r\n")
        client.close()
        XCTAssertEqual(kill(pid, SIGTERM), 0)
        var gone = false
        for _ in 0..<250 where !gone { usleep(20_000); gone = kill(pid, 0) != 0 }
        XCTAssertTrue(gone, "the daemon stops on SIGTERM")
        XCTAssertFalse(FileManager.default.fileExists(atPath: dir + "/rp.pid"), "the pid file is removed")
        XCTAssertTrue((try? String(contentsOfFile: dir + "/rp.log", encoding: .utf8))?.contains("stopped") ?? false)

        // The same port again while a plain socket holds it: the daemon cannot listen.
        let holder = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(holder) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = UInt16(port).bigEndian
        let bound = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(holder, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        XCTAssertEqual(bound, 0)
        XCTAssertEqual(listen(holder, 1), 0)
        let failed = Harness.run(Harness.ringproxyBinary, ["-d", "-c", path, "-s", String(Harness.freePort())], timeout: 20)
        XCTAssertEqual(failed.status, 1)
        XCTAssertTrue(failed.stderr.contains("cannot listen on 127.0.0.1:\(port)"), failed.stderr)
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
