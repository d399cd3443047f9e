// Applications' own libraries, unmodified, through the proxy in front of real servers:
// redis-py (Lock, the WATCH retry loop, a database in the URL), limits (fixed, moving and
// sliding windows), python-redis-lock, huey (blocking and not), rq (with a key route for
// its keys) and Django's Redis cache (set_many's MULTI over every server, with
// multi_across_servers: per_server). `make test` pip-installs them at pinned versions.

import Foundation
import XCTest

final class LibraryTests: XCTestCase {
    /// `passServers`: the script also gets the redis-servers' ports, to read them directly.
    func run(_ script: String, extraSettings: [String] = [], passServers: Bool = false, file: StaticString = #filePath,
             line: UInt = #line, then check: (ProxyFixture) -> Void = { _ in }) throws {
        let f = try ProxyFixture(extraSettings: extraSettings)
        defer { f.stop() }
        let path = Harness.packageRoot + "/Tests/IntegrationTests/python/" + script
        let servers = passServers ? f.redis.map { "\($0.port)" } : []
        let r = Harness.run("/usr/bin/env", ["python3", path, "\(f.port)"] + servers, timeout: 180)
        print(r.stdout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr, file: file, line: line)
        check(f)
    }

    func testRedisPyLockWithTwoContenders() throws { try run("lock_check.py") }

    func testRedisPyWatchLoopUnderTwoWriters() throws { try run("watch_check.py") }

    func testRedisPyDatabaseInTheURL() throws { try run("select_check.py") }

    func testLimits() throws { try run("limits_check.py") }

    func testPythonRedisLock() throws { try run("redis_lock_check.py") }

    func testHuey() throws { try run("huey_check.py") }

    func testDjangoCacheAcrossServers() throws {
        try run("django_cache_check.py", extraSettings: ["multi_across_servers: per_server"], passServers: true)
    }

    func testRQWithAKeyRoute() throws {
        try run("rq_check.py", extraSettings: ["key_routes: {\"rq:\": cache-2}"]) { f in
            // The route shows in /stats, on the server it sends the prefix to.
            let r = Harness.run("/usr/bin/env", ["python3", "-c", """
                import json, urllib.request
                s = json.load(urllib.request.urlopen('http://127.0.0.1:\(f.adminPort)/stats', timeout=10))
                print(s['tcp']['cache-2']['routed_prefixes'], s['tcp']['cache-1']['routed_prefixes'] == '')
                """], timeout: 20)
            XCTAssertEqual(r.stdout.trimmingCharacters(in: .whitespacesAndNewlines), "rq: True", r.stderr)
        }
    }
}
