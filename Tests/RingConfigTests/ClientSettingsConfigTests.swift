// ringproxy's client-side pool keys: credentials, limits and the deny-list, with their
// defaults and the errors a mistake gets.
import XCTest
@testable import RingConfig
@testable import RingCore

final class ClientSettingsConfigTests: XCTestCase {
    func pool(_ lines: String) throws -> PoolConfig {
        try ConfigLoader.parse("p:\n  listen: 127.0.0.1:1\n  redis: true\n\(lines)  servers:\n   - 127.0.0.1:6379:1\n", file: "t.yml").pools[0]
    }

    func error(_ lines: String) -> ConfigError? {
        do { _ = try pool(lines); return nil } catch let e as ConfigError { return e } catch { return nil }
    }

    func testDefaults() throws {
        let p = try pool("")
        XCTAssertNil(p.clientPassword)
        XCTAssertNil(p.redisUser)
        XCTAssertEqual(p.clientConnections, 0)
        XCTAssertEqual(p.clientIdleTimeoutMs, 0)
        XCTAssertEqual(p.denyCommands, PoolConfig.defaultDenyCommands)
        XCTAssertTrue(p.denyCommands.contains("flushall") && p.denyCommands.contains("config|set"))
        // Every default name is a command of the table, so the list cannot silently miss.
        for name in PoolConfig.defaultDenyCommands {
            XCTAssertTrue(CommandTable.redis70.commands.contains { $0.spec.name == name }, name)
        }
    }

    func testCredentials() throws {
        let nutcracker = try pool("  redis_auth: pw\n")
        XCTAssertEqual(nutcracker.clientPassword, "pw", "redis_auth is the clients' password too")
        let separate = try pool("  redis_auth: up\n  redis_user: proxy\n  client_auth: down\n  client_user: app\n")
        XCTAssertEqual(separate.clientPassword, "down")
        XCTAssertEqual(separate.clientUser, "app")
        XCTAssertEqual(separate.redisUser, "proxy")
        XCTAssertEqual(separate.redisAuth, "up")
        XCTAssertEqual(error("  redis_user: proxy\n")?.key, "p.redis_user")
        XCTAssertEqual(error("  client_user: app\n")?.key, "p.client_user")
    }

    func testLimitsAndDenyList() throws {
        let p = try pool("  client_connections: 10\n  client_idle_timeout: 5000\n  deny_commands: [GET, \"config set\", \"Object|Encoding\"]\n")
        XCTAssertEqual(p.clientConnections, 10)
        XCTAssertEqual(p.clientIdleTimeoutMs, 5000)
        XCTAssertEqual(p.denyCommands, ["get", "config|set", "object|encoding"])
        XCTAssertEqual(try pool("  deny_commands: []\n").denyCommands, [])
        let unknown = error("  deny_commands: [flushal]\n")
        XCTAssertEqual(unknown?.key, "p.deny_commands")
        XCTAssertTrue(unknown?.message.contains("'flushal' is not a Redis 7.0 command") ?? false, "\(String(describing: unknown))")
        XCTAssertEqual(error("  deny_commands: flushall\n")?.key, "p.deny_commands")
        XCTAssertEqual(error("  client_idle_timeout: -1\n")?.key, "p.client_idle_timeout")
    }
}
