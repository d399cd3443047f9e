// Applications' own libraries, unmodified, through the proxy in front of real servers:
// limits (fixed, moving and sliding windows), python-redis-lock, huey (blocking and not) and
// rq (with a key route for its keys). `make test` pip-installs them at pinned versions.

import Foundation
import XCTest

final class LibraryTests: XCTestCase {
    func run(_ script: String, extraSettings: [String] = [], file: StaticString = #filePath, line: UInt = #line) throws {
        let f = try ProxyFixture(extraSettings: extraSettings)
        defer { f.stop() }
        let path = Harness.packageRoot + "/Tests/IntegrationTests/python/" + script
        let r = Harness.run("/usr/bin/env", ["python3", path, "\(f.port)"], timeout: 180)
        print(r.stdout)
        XCTAssertEqual(r.status, 0, r.stdout + r.stderr, file: file, line: line)
    }

    func testLimits() throws { try run("limits_check.py") }

    func testPythonRedisLock() throws { try run("redis_lock_check.py") }

    func testHuey() throws { try run("huey_check.py") }

    func testRQWithAKeyRoute() throws { try run("rq_check.py", extraSettings: ["key_routes: {\"rq:\": cache-2}"]) }
}
