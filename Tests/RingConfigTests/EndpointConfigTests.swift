// Checks the keys for moving endpoints and replica reads: their defaults, their values, and
// refusals with file:line:key.
import XCTest
@testable import RingConfig
@testable import RingCore

final class EndpointConfigTests: XCTestCase {
    func pool(_ extra: String, servers: String = "   - 127.0.0.1:6379:1 shard-a\n   - cache.example:6380:1 shard-b\n") -> String {
        "alpha:\n  listen: 127.0.0.1:22121\n  redis: true\n\(extra)  servers:\n\(servers)"
    }

    func refusal(_ yaml: String) -> ConfigError? {
        do {
            _ = try ConfigLoader.parse(yaml, file: "e.yml")
            return nil
        } catch let e as ConfigError {
            return e
        } catch {
            XCTFail("\(error)")
            return nil
        }
    }

    func testDNSRefreshDefaultsToFiveSeconds() throws {
        XCTAssertEqual(try ConfigLoader.parse(pool(""), file: "e.yml").pools[0].dnsRefreshMs, 5000)
        XCTAssertEqual(try ConfigLoader.parse(pool("  dns_refresh_interval: 0\n"), file: "e.yml").pools[0].dnsRefreshMs, 0)
        XCTAssertEqual(try ConfigLoader.parse(pool("  dns_refresh_interval: 250\n"), file: "e.yml").pools[0].dnsRefreshMs, 250)
    }

    func testDNSRefreshRefusesTooShortAndNegative() {
        let e = refusal(pool("  dns_refresh_interval: 10\n"))
        XCTAssertEqual(e?.key, "alpha.dns_refresh_interval")
        XCTAssertEqual(e?.line, 4)
        XCTAssertTrue(e?.message.contains("at least 100") ?? false, "\(String(describing: e))")
        XCTAssertEqual(refusal(pool("  dns_refresh_interval: -1\n"))?.key, "alpha.dns_refresh_interval")
        XCTAssertEqual(refusal(pool("  dns_refresh_interval: soon\n"))?.key, "alpha.dns_refresh_interval")
    }
}
