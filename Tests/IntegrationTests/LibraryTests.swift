// Applications' own libraries, unmodified, through the proxy in front of real servers:
// redis-py (Lock, the WATCH retry loop, a database in the URL), limits (fixed, moving and
// sliding windows), python-redis-lock, huey (blocking and not), rq (with a key route for
// its keys; a worker shut down through its pub/sub control channel), Django's Redis cache
// (set_many's MULTI over every server, with multi_across_servers: per_server) and celery (a
// worker, with a hash-tagged key prefix; results by pub/sub). `make test` pip-installs them
// at pinned versions.

import Foundation
import XCTest

final class LibraryTests: XCTestCase {
    /// `passServers`: the script also gets the redis-servers' ports, to read them directly.
    func run(_ script: String, extraSettings: [String] = [], passServers: Bool = false, file: StaticString = #filePath,
             line: UInt = #line, then check: (ProxyFixture) -> Void = { _ in }) throws {
        // Three servers, as the deployments these libraries are used with.
        let f = try ProxyFixture(extraSettings: extraSettings, servers: 3)
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

    /// The proxy's /stats, per server of the TCP pool.
    func serverStats(_ f: ProxyFixture) -> [String: [String: Any]] {
        let r = Harness.run("/usr/bin/env", ["python3", "-c", """
            import json, urllib.request
            s = json.load(urllib.request.urlopen('http://127.0.0.1:\(f.adminPort)/stats', timeout=10))['tcp']
            print(json.dumps({k: v for k, v in s.items() if isinstance(v, dict)}))
            """], timeout: 20)
        let json = try? JSONSerialization.jsonObject(with: Data(r.stdout.utf8))
        return json as? [String: [String: Any]] ?? [:]
    }

    func testCeleryWithAHashTaggedKeyPrefix() throws {
        try run("celery_check.py") { f in
            // Every key of celery and kombu is on the server of the hash tag, and so are their
            // transactions and pub/sub messages.
            let owner = "cache-\(f.serverIndex(of: "{celery}") + 1)"
            let ports = f.redis.map { String($0.port) }.joined(separator: ", ")
            let r = Harness.run("/usr/bin/env", ["python3", "-c", """
                import redis
                keys = [[k.decode() for k in redis.Redis(port=p).keys('*')] for p in (\(ports))]
                print(' '.join('cache-%d' % (i + 1) for i, ks in enumerate(keys) if ks),
                      all(k.startswith('{celery}') for ks in keys for k in ks), sum(map(len, keys)))
                """], timeout: 20)
            let summary = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines).split(separator: " ").map(String.init)
            XCTAssertEqual(summary.prefix(2), [owner, "True"], r.stdout + r.stderr)
            let stats = serverStats(f)
            let transactions = stats[owner]?["transactions"] as? Int ?? 0
            let messages = stats[owner]?["pubsub_messages"] as? Int ?? 0
            print("celery: \(summary.last ?? "?") keys, all on \(owner), the server of {celery}; there "
                  + "\(transactions) transactions and \(messages) pub/sub messages")
            XCTAssertGreaterThan(transactions, 0)
            XCTAssertGreaterThanOrEqual(messages, 5, "one per result at least")
        }
    }

    func testRQWorkerShutDownThroughItsControlChannel() throws {
        try run("rq_shutdown_check.py", extraSettings: ["key_routes: {\"rq:\": cache-2}"]) { f in
            // The command's channel, rq:pubsub:<name>, took the route of its prefix.
            let stats = serverStats(f)
            XCTAssertGreaterThanOrEqual(stats["cache-2"]?["pubsub_messages"] as? Int ?? 0, 1)
            for other in ["cache-1", "cache-3"] {
                XCTAssertEqual(stats[other]?["pubsub_messages"] as? Int, 0, other)
            }
        }
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
