// Checks ConfigLoader on nutcracker YAML: every documented pool key, server order, listen forms, and errors with line and key.
import XCTest
@testable import RingConfig
@testable import RingCore

final class ConfigTests: XCTestCase {
    static let twoPools = """
    alpha:
      listen: 127.0.0.1:22121
      hash: murmur
      hash_tag: "{}"
      distribution: ketama
      timeout: 400
      backlog: 1024
      preconnect: true
      redis: true
      redis_auth: s3cret
      redis_db: 2
      server_connections: 4
      auto_eject_hosts: true
      server_retry_timeout: 2000
      server_failure_limit: 3
      client_connections: 100
      servers:
       - 127.0.0.1:6380:1 server-bb
       - 127.0.0.1:6379:2 server-a
       - 127.0.0.1:6381:1 server-ab
    beta:
      listen: /tmp/x.sock 0666
      hash: fnv1a_64
      distribution: modula
      redis: true
      servers:
       - 10.0.0.10:6379:1
       - 10.0.0.9:6379:3
       - 10.0.0.1:11211:1
    """

    func testTwoPoolsWithEveryDocumentedKey() throws {
        let config = try ConfigLoader.parse(Self.twoPools, file: "two.yml")
        XCTAssertEqual(config.file, "two.yml")
        XCTAssertEqual(config.pools.map(\.name), ["alpha", "beta"])

        let a = config.pools[0]
        XCTAssertEqual(a.listen, .tcp(host: "127.0.0.1", port: 22121))
        XCTAssertEqual(a.hash, .murmur)
        XCTAssertEqual(a.hashTag, HashTag("{}"))
        XCTAssertEqual(a.distribution, .ketama)
        XCTAssertEqual(a.timeoutMs, 400)
        XCTAssertEqual(a.backlog, 1024)
        XCTAssertTrue(a.preconnect)
        XCTAssertEqual(a.redisAuth, "s3cret")
        XCTAssertEqual(a.redisDB, 2)
        XCTAssertEqual(a.serverConnections, 4)
        XCTAssertTrue(a.autoEjectHosts)
        XCTAssertEqual(a.serverRetryTimeoutMs, 2000)
        XCTAssertEqual(a.serverFailureLimit, 3)
        XCTAssertEqual(a.clientConnections, 100)
        // nutcracker order: shorter name first, then bytewise; weights and names kept.
        XCTAssertEqual(a.servers.map(\.ringIdentity), ["server-a", "server-ab", "server-bb"])
        XCTAssertEqual(a.servers.map(\.weight), [2, 1, 1])
        XCTAssertEqual(a.servers.map(\.address), [.tcp(host: "127.0.0.1", port: 6379), .tcp(host: "127.0.0.1", port: 6381),
                                                  .tcp(host: "127.0.0.1", port: 6380)])

        let b = config.pools[1]
        XCTAssertEqual(b.listen, .unix(path: "/tmp/x.sock", mode: 0o666))
        XCTAssertEqual(b.hash, .fnv1a_64)
        XCTAssertNil(b.hashTag)
        XCTAssertEqual(b.distribution, .modula)
        XCTAssertEqual(b.servers.map(\.ringIdentity), ["10.0.0.1", "10.0.0.9:6379", "10.0.0.10:6379"])
        XCTAssertEqual(b.servers.map(\.weight), [1, 3, 1])
        XCTAssertTrue(config.warnings.isEmpty, "\(config.warnings)")
    }

    func testDefaultsAreNutcrackers() throws {
        let config = try ConfigLoader.parse("""
        p:
          listen: 0.0.0.0:22121
          redis: true
          servers:
           - 127.0.0.1:6379:1
        """, file: "d.yml")
        let p = config.pools[0]
        XCTAssertEqual(p.hash, .fnv1a_64)
        XCTAssertNil(p.hashTag)
        XCTAssertEqual(p.distribution, .ketama)
        XCTAssertNil(p.timeoutMs)
        XCTAssertEqual(p.backlog, 512)
        XCTAssertFalse(p.preconnect)
        XCTAssertNil(p.redisAuth)
        XCTAssertEqual(p.redisDB, 0)
        XCTAssertEqual(p.serverConnections, 1)
        XCTAssertFalse(p.autoEjectHosts)
        XCTAssertEqual(p.serverRetryTimeoutMs, 30_000)
        XCTAssertEqual(p.serverFailureLimit, 2)
        XCTAssertEqual(p.clientConnections, 0)
    }

    func testListenForms() {
        XCTAssertEqual(ConfigLoader.parseListen("/tmp/x.sock 0666"), .unix(path: "/tmp/x.sock", mode: 0o666))
        XCTAssertEqual(ConfigLoader.parseListen("/tmp/x.sock"), .unix(path: "/tmp/x.sock", mode: nil))
        XCTAssertEqual(ConfigLoader.parseListen("/tmp/x.sock 0600"), .unix(path: "/tmp/x.sock", mode: 0o600))
        XCTAssertEqual(ConfigLoader.parseListen("localhost:6000"), .tcp(host: "localhost", port: 6000))
        XCTAssertEqual(ConfigLoader.parseListen("::1:6000"), .tcp(host: "::1", port: 6000))
        XCTAssertNil(ConfigLoader.parseListen("/tmp/x.sock 0999"))
        XCTAssertNil(ConfigLoader.parseListen("localhost"))
        XCTAssertNil(ConfigLoader.parseListen(":6000"))
        XCTAssertNil(ConfigLoader.parseListen("localhost:0"))
        XCTAssertNil(ConfigLoader.parseListen("localhost:65536"))
        XCTAssertNil(ConfigLoader.parseListen("a:1 b"))
    }

    func testCrc32HashWarns() throws {
        let config = try ConfigLoader.parse("p:\n  listen: 127.0.0.1:1\n  hash: crc32\n  redis: true\n  servers:\n   - 127.0.0.1:6379:1\n",
                                            file: "w.yml")
        XCTAssertEqual(config.pools[0].hash, .crc32)
        XCTAssertEqual(config.warnings.count, 1)
        XCTAssertTrue(config.warnings[0].contains("15 bits"), config.warnings[0])
    }

    // MARK: errors

    /// Parses `yaml`, which must fail, and checks the error's line and key.
    func assertConfigError(_ yaml: String, line: Int, key: String, message: String? = nil,
                           file: StaticString = #filePath, sourceLine: UInt = #line) {
        do {
            let c = try ConfigLoader.parse(yaml, file: "bad.yml")
            XCTFail("parsed without error: \(c.pools.map(\.name))", file: file, line: sourceLine)
        } catch let e as ConfigError {
            XCTAssertEqual(e.file, "bad.yml", file: file, line: sourceLine)
            XCTAssertEqual(e.line, line, "\(e)", file: file, line: sourceLine)
            XCTAssertEqual(e.key, key, "\(e)", file: file, line: sourceLine)
            if let m = message { XCTAssertTrue(e.message.contains(m), "\(e)", file: file, line: sourceLine) }
            XCTAssertTrue(e.description.hasPrefix("bad.yml:\(line): \(key): "), e.description, file: file, line: sourceLine)
        } catch {
            XCTFail("not a ConfigError: \(error)", file: file, line: sourceLine)
        }
    }

    func testUnknownKey() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          hash_tags: "{}"
          servers:
           - 127.0.0.1:6379:1
        """, line: 4, key: "alpha.hash_tags", message: "unknown pool setting")
    }

    func testBadHashName() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          hash: fnv1a_128
          servers:
           - 127.0.0.1:6379:1
        """, line: 4, key: "alpha.hash", message: "unknown hash 'fnv1a_128'")
    }

    func testHashTagOfThreeCharacters() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true

          hash_tag: "{}}"
          servers:
           - 127.0.0.1:6379:1
        """, line: 5, key: "alpha.hash_tag", message: "exactly two characters")
    }

    func testMissingServers() {
        // The error points at the pool's settings, which start on line 2.
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
        """, line: 2, key: "alpha.servers", message: "is required")
    }

    func testEmptyServerList() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers: []
        """, line: 4, key: "alpha.servers")
    }

    func testServerWithoutWeight() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers:
           - 127.0.0.1:6379:1
           - 127.0.0.1:6380
        """, line: 6, key: "alpha.servers", message: "has no weight")
    }

    func testDuplicateServerName() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers:
           - 127.0.0.1:6379:1 cache
           - 127.0.0.1:6380:1 other
           - 127.0.0.1:6381:1 cache
        """, line: 7, key: "alpha.servers", message: "duplicate server name 'cache' (also on line 5)")
        // Without names the identity is host:port: the same address twice is a duplicate.
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers:
           - 127.0.0.1:6379:1
           - 127.0.0.1:6379:2
        """, line: 6, key: "alpha.servers", message: "duplicate server name '127.0.0.1:6379'")
    }

    func testDuplicateListen() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers:
           - 127.0.0.1:6379:1
        beta:
          redis: true
          listen: 127.0.0.1:22121
          servers:
           - 127.0.0.1:6380:1
        """, line: 8, key: "beta.listen", message: "already the listener of pool alpha")
    }

    func testBadYAML() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
           servers:
           - 127.0.0.1:6379:1
        """, line: 4, key: "yaml")
    }

    /// What the YAML reader refuses on top of libyaml reaches the user with file and line.
    func testReaderRefusalsNameTheLine() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          listen: 127.0.0.1:22122
          servers:
           - 127.0.0.1:6379:1
        """, line: 4, key: "yaml", message: "duplicate key 'listen' (first on line 2)")
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          servers: &all
           - 127.0.0.1:6379:1
        """, line: 4, key: "yaml", message: "an anchor (&all)")
    }

    func testBadIntegerValue() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: true
          timeout: soon
          servers:
           - 127.0.0.1:6379:1
        """, line: 4, key: "alpha.timeout", message: "must be an integer")
    }

    func testRedisFalseIsRefused() {
        assertConfigError("""
        alpha:
          listen: 127.0.0.1:22121
          redis: false
          servers:
           - 127.0.0.1:6379:1
        """, line: 3, key: "alpha.redis")
    }
}
