// ConfigDiff between two loaded files: pools added, removed and changed; servers matched by
// ring identity (a named server moved keeps its keys, a rename is a removal and an
// addition); pool keys compared by their rendered values, passwords never shown; process
// settings named as needing a restart; and "no change". The key rendering it relies on
// must read back to the same pool, or a diff could miss a change.
import XCTest
@testable import RingConfig
@testable import RingCore

final class ConfigDiffTests: XCTestCase {
    func config(_ yaml: String) throws -> ProxyConfig {
        try ConfigLoader.parse(yaml, file: "t.yml")
    }

    /// A pool `name` listening on `port` with `servers` and extra `settings` lines.
    func pool(_ name: String = "cache", port: Int = 22121, servers: [String], _ settings: String = "") -> String {
        "\(name):\n  listen: 127.0.0.1:\(port)\n  redis: true\n\(settings)  servers:\n"
            + servers.map { "    - \($0)\n" }.joined()
    }

    func diff(_ old: String, _ new: String) throws -> ConfigDiff {
        ConfigDiff(running: try config(old), new: try config(new))
    }

    let three = ["10.0.0.1:6379:1 cache-1", "10.0.0.2:6379:1 cache-2", "10.0.0.3:6379:1 cache-3"]

    func testTheSameFileIsNoChange() throws {
        let yaml = "ringproxy:\n  threads: 2\n" + pool(servers: three, "  timeout: 400\n  deny_commands: [keys, flushall]\n")
        let d = try diff(yaml, yaml)
        XCTAssertTrue(d.isEmpty)
        XCTAssertEqual(d.lines, ["no change"])
        XCTAssertEqual(d.logLine, "reload: no change")
    }

    func testWhatDoesNotChangeTheRunningPoolIsNoChange() throws {
        // Server lines in another order, a list that is a set in another order, and a
        // default written out: the pool the loader builds is the same.
        let old = pool(servers: three, "  deny_commands: [keys, flushall]\n  key_routes: {\"a:\": cache-1, \"b:\": cache-2}\n")
        let new = pool(servers: three.reversed(), "  backlog: 512\n  deny_commands: [flushall, keys]\n  key_routes: {\"b:\": cache-2, \"a:\": cache-1}\n")
        XCTAssertEqual(try diff(old, new).lines, ["no change"])
    }

    func testServersAddedRemovedAndASettingInOneLine() throws {
        let old = pool(servers: three, "  timeout: 400\n")
        let new = pool(servers: ["10.0.0.1:6379:1 cache-1", "10.0.0.3:6379:1 cache-3", "10.0.0.4:6379:1 cache-4"], "  timeout: 1000\n")
        let d = try diff(old, new)
        XCTAssertEqual(d.poolsChanged.count, 1)
        let p = d.poolsChanged[0]
        XCTAssertEqual(p.serversAdded.map(\.ringIdentity), ["cache-4"])
        XCTAssertEqual(p.serversRemoved.map(\.ringIdentity), ["cache-2"])
        XCTAssertEqual(p.settings.map(\.name), ["timeout"])
        XCTAssertNil(p.listen)
        XCTAssertEqual(d.logLine, "reload: pool cache: servers +cache-4, -cache-2, timeout 400 -> 1000")
    }

    func testANamedServerMovedKeepsItsPlace() throws {
        let new = ["10.0.0.1:6379:1 cache-1", "10.0.0.9:6380:1 cache-2", "10.0.0.3:6379:1 cache-3"]
        let p = try XCTUnwrap(try diff(pool(servers: three), pool(servers: new)).poolsChanged.first)
        XCTAssertTrue(p.serversAdded.isEmpty && p.serversRemoved.isEmpty, "same name, same ring identity: \(p.text)")
        XCTAssertEqual(p.serversMoved.map(\.identity), ["cache-2"])
        XCTAssertEqual(p.text, "pool cache: servers cache-2 moved 10.0.0.2:6379 -> 10.0.0.9:6380")
    }

    func testAnUnnamedServerAtAnotherAddressIsAnotherServer() throws {
        // Without a name the ring identity is host:port, so its keys move: nutcracker's rule.
        let old = ["10.0.0.1:6379:1", "10.0.0.2:6379:1"], new = ["10.0.0.1:6379:1", "10.0.0.2:6380:1"]
        let p = try XCTUnwrap(try diff(pool(servers: old), pool(servers: new)).poolsChanged.first)
        XCTAssertEqual(p.serversAdded.map(\.ringIdentity), ["10.0.0.2:6380"])
        XCTAssertEqual(p.serversRemoved.map(\.ringIdentity), ["10.0.0.2:6379"])
        XCTAssertTrue(p.serversMoved.isEmpty)
    }

    func testARenamedServerIsRemovedAndAdded() throws {
        // Same address, new name: ketama hashes the name, so the server's keys move.
        let new = ["10.0.0.1:6379:1 cache-1", "10.0.0.2:6379:1 cache-b", "10.0.0.3:6379:1 cache-3"]
        let p = try XCTUnwrap(try diff(pool(servers: three), pool(servers: new)).poolsChanged.first)
        XCTAssertEqual(p.serversAdded.map(\.ringIdentity), ["cache-b"])
        XCTAssertEqual(p.serversRemoved.map(\.ringIdentity), ["cache-2"])
        XCTAssertTrue(p.serversMoved.isEmpty)
        XCTAssertEqual(p.text, "pool cache: servers +cache-b, -cache-2")
    }

    func testReweightedAndMovedAtOnce() throws {
        let new = ["10.0.0.1:6379:3 cache-1", "10.0.0.2:6379:1 cache-2", "/tmp/r.sock:1 cache-3"]
        let p = try XCTUnwrap(try diff(pool(servers: three), pool(servers: new)).poolsChanged.first)
        XCTAssertEqual(p.serversReweighted.map { [$0.identity, "\($0.old.weight)", "\($0.new.weight)"] }, [["cache-1", "1", "3"]])
        XCTAssertEqual(p.serversMoved.map(\.identity), ["cache-3"])
        XCTAssertEqual(p.text, "pool cache: servers cache-1 weight 1 -> 3, cache-3 moved 10.0.0.3:6379 -> /tmp/r.sock")
    }

    func testListenerAndPoolsAddedAndRemoved() throws {
        let old = pool("a", port: 1, servers: three) + pool("b", port: 2, servers: three)
        let new = pool("c", port: 3, servers: three) + pool("a", port: 4, servers: three)
        let d = try diff(old, new)
        XCTAssertEqual(d.poolsAdded, ["c"])
        XCTAssertEqual(d.poolsRemoved, ["b"])
        XCTAssertEqual(d.poolsChanged.map(\.name), ["a"])
        XCTAssertEqual(d.poolsChanged.first?.listen?.text, "listen 127.0.0.1:1 -> 127.0.0.1:4")
        XCTAssertEqual(d.lines, ["pool c added", "pool b removed", "pool a: listen 127.0.0.1:1 -> 127.0.0.1:4"])
    }

    func testEveryKindOfPoolSetting() throws {
        let old = pool(servers: three)
        let new = pool(servers: three, """
              hash: murmur
              hash_tag: "{}"
              auto_eject_hosts: true
              down_server_reply: miss
              health_check_command: "PING extra"
              multi_across_servers: per_server
              key_routes: {"q:": cache-3}
              deny_commands: [keys]
              client_idle_timeout: 5000

            """)
        let p = try XCTUnwrap(try diff(old, new).poolsChanged.first)
        XCTAssertEqual(p.settings.map(\.name), ["hash", "hash_tag", "auto_eject_hosts", "health_check_command", "down_server_reply",
                                                 "multi_across_servers", "key_routes", "client_idle_timeout", "deny_commands"],
                       "in table order")
        let text = p.text
        for part in ["hash fnv1a_64 -> murmur", "hash_tag none -> \"{}\"", "auto_eject_hosts false -> true",
                     "health_check_command \"PING\" -> \"PING extra\"", "down_server_reply error -> miss",
                     "key_routes none -> {\"q:\": \"cache-3\"}", "deny_commands [", "-> [\"keys\"]"] {
            XCTAssertTrue(text.contains(part), "'\(part)' in \(text)")
        }
    }

    func testPasswordsAreNeverShown() throws {
        let old = pool(servers: three, "  redis_auth: s3cret-old\n")
        let new = pool(servers: three, "  redis_auth: s3cret-new\n  client_auth: client-pw\n")
        let d = try diff(old, new)
        XCTAssertEqual(d.poolsChanged.first?.text, "pool cache: redis_auth changed, client_auth set")
        XCTAssertFalse(d.logLine.contains("s3cret") || d.logLine.contains("client-pw"), d.logLine)
        let back = try diff(new, old)
        XCTAssertEqual(back.poolsChanged.first?.text, "pool cache: redis_auth changed, client_auth removed")
    }

    func testProcessSettingsNeedARestart() throws {
        let old = "ringproxy:\n  threads: 2\n" + pool(servers: three)
        let new = "ringproxy:\n  threads: 4\n  admin: off\n  max_bulk_len: 1024\n" + pool(servers: three, "  timeout: 100\n")
        let d = try diff(old, new)
        XCTAssertEqual(d.needsRestart.map(\.name), ["threads", "admin", "max_bulk_len"])
        XCTAssertEqual(d.lines.last, "needs a restart: threads 2 -> 4, admin 127.0.0.1:22222 -> off, max_bulk_len 536870912 -> 1024 (kept)")
        XCTAssertEqual(d.logLine, "reload: pool cache: timeout no limit -> 100; " + d.lines.last!)
    }

    /// Every `ringproxy:` setting the loader takes is compared, and reads back as itself.
    func testEveryProcessSettingIsCompared() throws {
        let written = try config("ringproxy:\n  threads: 3\n  admin: 127.0.0.1:9\n  max_bulk_len: 10\n  max_multibulk_len: 11\n  max_inline_len: 12\n" + pool(servers: three))
        let base = try config(pool(servers: three))
        XCTAssertEqual(ConfigDiff(running: base, new: written).needsRestart.map(\.name), ConfigLoader.settings.map(\.name))
        let yaml = "ringproxy:\n" + ConfigLoader.settings.map { "  \($0.name): \($0.render(written))\n" }.joined() + pool(servers: three)
        XCTAssertTrue(ConfigDiff(running: written, new: try config(yaml)).isEmpty)
        XCTAssertNil(try config("ringproxy:\n  admin: off\n" + pool(servers: three)).admin)
    }

    /// The diff is only as good as each key's rendering: writing every key of a pool as it
    /// renders and loading that again must give the same pool, for a pool with every key
    /// away from its default and for the defaults themselves.
    func testEveryKeyRendersToWhatLoadsBackTheSamePool() throws {
        let busy = try config(pool(servers: ["10.0.0.1:6379:2 a", "/tmp/b.sock:1 b\"x\\y", "10.0.0.3:11211:1"], """
              hash: md5
              hash_tag: "[]"
              distribution: modula
              timeout: 250
              backlog: 64
              preconnect: true
              redis_auth: "pa\\"ss\\\\word\\t"
              databases: 4
              redis_db: 3
              server_connections: 2
              auto_eject_hosts: true
              server_retry_timeout: 100
              server_failure_limit: 5
              client_connections: 10
              health_check_interval: 0
              health_check_timeout: 7
              health_check_fall: 4
              health_check_rise: 6
              health_check_command: "ECHO ok"
              health_check_expect: ok
              down_server_reply: miss
              max_blocked_clients: 9
              pubsub_output_hard_limit: 0
              pubsub_output_soft_limit: 1
              pubsub_output_soft_seconds: 2
              keyless_scripts: any_server
              multi_across_servers: per_server
              key_routes: {"a:": a, "b:": "b\\"x\\\\y"}
              redis_user: proxy
              client_auth: other
              client_user: app
              client_idle_timeout: 3
              deny_commands: ["config|set", keys]
              dns_refresh_interval: 0
              replicas: {a: [10.0.0.11:6379, 10.0.0.12:6379]}
              read_from: prefer_replica
              replica_max_lag: 2000

            """).replacingOccurrences(of: "listen: 127.0.0.1:22121", with: "listen: /tmp/p.sock 0640"))
        let plain = try config(pool(servers: three))
        for original in [busy.pools[0], plain.pools[0]] {
            var yaml = "cache:\n"
            for key in PoolKey.table {
                if let value = key.render(original) { yaml += "  \(key.name): \(value)\n" }
            }
            let again = try config(yaml)
            XCTAssertEqual(canonical(again.pools[0]), canonical(original), yaml)
            XCTAssertTrue(again.warnings.isEmpty, "\(again.warnings)")
        }
        // The Sentinel keys need named TCP servers, which the busy pool has not: they have a
        // pool of their own below.
        let sentinelNames = Set(PoolKey.sentinelKeys.map(\.name))
        var busyKeys = PoolKey.table.map(\.name).filter { !sentinelNames.contains($0) }
        busyKeys.removeAll { $0 == "redis" }
        XCTAssertEqual(PoolDiff(running: plain.pools[0], new: busy.pools[0]).settings.count + PoolDiff.structuralKeys.count,
                       busyKeys.count, "every key but `redis` differs from its default in the busy pool")
    }

    func testSentinelKeysRenderToWhatLoadsBackTheSamePool() throws {
        let named = ["10.0.0.1:6379:1 shard-a", "10.0.0.2:6379:1 shard-b"]
        let followed = try config(pool(servers: named, """
              sentinels: ["10.0.1.1:26379", "10.0.1.2:26380"]
              sentinel_poll_interval: 250
              sentinel_timeout: 120
              sentinel_auth: "se\\"cret"
              sentinel_user: watcher
              failover_hold: 1500

            """))
        var yaml = "cache:\n"
        for key in PoolKey.table {
            if let value = key.render(followed.pools[0]) { yaml += "  \(key.name): \(value)\n" }
        }
        XCTAssertEqual(canonical(try config(yaml).pools[0]), canonical(followed.pools[0]), yaml)
        let plain = try config(pool(servers: named))
        XCTAssertEqual(Set(PoolDiff(running: plain.pools[0], new: followed.pools[0]).settings.map(\.name)),
                       Set(PoolKey.sentinelKeys.map(\.name)))
    }

    /// deny_commands and key_routes are sets in effect and render sorted; the order they
    /// were written in is all a round trip may change.
    func canonical(_ pool: PoolConfig) -> PoolConfig {
        var p = pool
        p.denyCommands.sort()
        p.keyRoutes.sort { $0.prefix < $1.prefix }
        return p
    }

    func testStructuralKeysAreKeysOfTheTable() {
        XCTAssertTrue(PoolDiff.structuralKeys.isSubset(of: Set(PoolKey.table.map(\.name))))
    }
}

final class ReloadedConfigTests: XCTestCase {
    /// A reload runs the new file's pools with the running process settings (threads,
    /// admin, request limits need a restart), and the diff names those it kept.
    func testProcessSettingsAreKept() throws {
        let pool = "cache:\n  listen: 127.0.0.1:22121\n  redis: true\n  timeout: 900\n  servers:\n    - 10.0.0.1:6379:1 a\n"
        let old = try ConfigLoader.parse("ringproxy:\n  threads: 2\n  admin: 127.0.0.1:9000\n" + pool, file: "a.yml")
        let new = try ConfigLoader.parse("ringproxy:\n  threads: 4\n  admin: 127.0.0.1:9001\n  max_bulk_len: 1024\n"
                                         + pool.replacingOccurrences(of: "900", with: "100"), file: "b.yml")
        let run = old.reloaded(with: new)
        XCTAssertEqual(run.threads, 2)
        XCTAssertEqual(run.admin?.port, 9000)
        XCTAssertEqual(run.requestLimits, old.requestLimits)
        XCTAssertEqual(run.pools[0].timeoutMs, 100, "pool settings are the new file's")
        let line = ConfigDiff(running: old, new: new).logLine
        XCTAssertTrue(line.contains("timeout 900 -> 100"), line)
        XCTAssertTrue(line.contains("needs a restart: threads 2 -> 4, admin 127.0.0.1:9000 -> 127.0.0.1:9001, max_bulk_len"), line)
    }
}
