// The pure decisions of an upstream connection: what moves after a timeout (ResendPlan),
// when to reconnect (ConnectBackoff), the handshake bytes and the error text clients get.
import RingCore
import XCTest

struct QueuedTestRequest: QueuedRequest {
    var streamOffset: UInt64
    var isClientRequest: Bool
}

/// A deterministic RandomNumberGenerator (splitmix64).
private struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}

final class ConnectionPlanTests: XCTestCase {
    /// A connection with a handshake (AUTH, 10 bytes) and three requests of 7 bytes each.
    func connection(handedOff: Int) -> (RingQueue<QueuedTestRequest>, PendingWrites) {
        var q = RingQueue<QueuedTestRequest>(initialCapacity: 4)
        var w = PendingWrites()
        q.append(QueuedTestRequest(streamOffset: 0, isClientRequest: false))
        Array("*1\r\nAUTH\r\n".utf8).withUnsafeBytes { w.append($0) }
        for _ in 0..<3 {
            q.append(QueuedTestRequest(streamOffset: w.appendedEnd, isClientRequest: true))
            Array("GET k\r\n".utf8).withUnsafeBytes { w.append($0) }
        }
        if handedOff > 0 { w.didWrite(handedOff) }
        return (q, w)
    }

    func testNothingMovesUnlessAsked() {
        let (q, w) = connection(handedOff: 0)
        let plan = ResendPlan(queue: q, writes: w, resendUnsent: false)
        XCTAssertFalse(plan.movesAny)
        XCTAssertEqual(plan.firstMoved, q.count)
    }

    func testUnsentClientRequestsMoveHandshakeDoesNot() {
        // Nothing written: every client request moves, the handshake stays (and fails quietly).
        var (q, w) = connection(handedOff: 0)
        var plan = ResendPlan(queue: q, writes: w, resendUnsent: true)
        XCTAssertEqual(plan.firstMoved, 1)
        XCTAssertEqual(plan.bytesFrom, 10)
        XCTAssertEqual(w.unsent(from: plan.bytesFrom).map(\.count), 21)

        // The handshake and half of the first request left: the first request fails.
        (q, w) = connection(handedOff: 13)
        plan = ResendPlan(queue: q, writes: w, resendUnsent: true)
        XCTAssertEqual(plan.firstMoved, 2)
        XCTAssertEqual(plan.bytesFrom, 17)
        XCTAssertEqual(w.unsent(from: plan.bytesFrom).map { String(decoding: $0, as: UTF8.self) }, "GET k\r\nGET k\r\n")
        // On a connection whose stream was at 100, the moved requests start at 100 and 107.
        XCTAssertEqual(plan.rebased(17, onto: 100), 100)
        XCTAssertEqual(plan.rebased(24, onto: 100), 107)

        // Everything left: nothing can move.
        (q, w) = connection(handedOff: 31)
        plan = ResendPlan(queue: q, writes: w, resendUnsent: true)
        XCTAssertFalse(plan.movesAny)
        XCTAssertEqual(plan.firstMoved, q.count)
    }

    func testBackoffDoublesToTheCapWithJitter() {
        XCTAssertEqual((1...8).map { ConnectBackoff.baseDelayMs(failures: $0) }, [100, 200, 400, 800, 1600, 3200, 5000, 5000])
        XCTAssertEqual(ConnectBackoff.baseDelayMs(failures: 1000), 5000)
        var b = ConnectBackoff()
        var random = SplitMix(state: 42)
        XCTAssertTrue(b.mayConnect(nowMs: 0))
        for failures in 1...10 {
            let delay = b.failed(nowMs: 1000, using: &random)
            let base = ConnectBackoff.baseDelayMs(failures: failures)
            XCTAssertTrue(delay <= base && delay >= base - base / 5, "\(delay) for \(failures) failures")
            XCTAssertEqual(b.retryAtMs, 1000 + delay)
            XCTAssertFalse(b.mayConnect(nowMs: 1000 + delay - 1))
            XCTAssertTrue(b.mayConnect(nowMs: 1000 + delay))
        }
        b.reset()
        XCTAssertEqual(b.consecutiveFailures, 0)
        XCTAssertTrue(b.mayConnect(nowMs: 0))
    }

    func testAWorkingConnectionThatBreaksIsReplacedAtOnceOnlyTheFirstTime() {
        var b = ConnectBackoff()
        b.failed(nowMs: 50)
        b.brokeAfterWorking()
        XCTAssertTrue(b.mayConnect(nowMs: 50), "the first break retries at once")
        b.failed(nowMs: 60)
        b.brokeAfterWorking()
        XCTAssertFalse(b.mayConnect(nowMs: 60), "a failed reconnect backs off")
    }

    func testHandshakeBytes() {
        func written(_ body: (ByteBuffer) -> Int) -> (String, Int) {
            let b = ByteBuffer()
            let n = body(b)
            return (String(decoding: b.readable, as: UTF8.self), n)
        }
        XCTAssertEqual(written { UpstreamHandshake.write(user: nil, password: nil, database: 0, resp3: false, into: $0) }.1, 0)
        let all = written { UpstreamHandshake.write(user: "proxy", password: "pw", database: 2, resp3: true, into: $0) }
        XCTAssertEqual(all.0, "*3\r\n$4\r\nAUTH\r\n$5\r\nproxy\r\n$2\r\npw\r\n*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*2\r\n$5\r\nHELLO\r\n$1\r\n3\r\n")
        XCTAssertEqual(all.1, 3)
        let auth = written { UpstreamHandshake.writeAuth(user: nil, password: "pw", into: $0); return 1 }
        XCTAssertEqual(auth.0, "*2\r\n$4\r\nAUTH\r\n$2\r\npw\r\n")
    }

    func testUpstreamErrorText() throws {
        let spec = try XCTUnwrap(ServerSpec.parse("127.0.0.1:7002:1 cache-2").get())
        XCTAssertEqual(spec.upstreamError(.failed, "timed out after 300 ms"), "ERR upstream cache-2 (127.0.0.1:7002): timed out after 300 ms")
        XCTAssertEqual(spec.upstreamError(.down, "connection refused"), "ERR upstream cache-2 (127.0.0.1:7002) is down: connection refused")
        XCTAssertEqual(spec.upstreamError(.unavailable, "not connected"), "ERR upstream cache-2 (127.0.0.1:7002) unavailable: not connected")
        XCTAssertEqual(spec.logName, "cache-2 127.0.0.1:7002")
    }
}
