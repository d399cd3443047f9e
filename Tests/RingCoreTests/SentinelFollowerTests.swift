// Checks which sentinel answer wins: TILT and stale epochs are ignored, a new address is used
// only after ROLE says master, a newer epoch replaces a candidate in flight; and the parsing
// of the replies this needs.
import XCTest
@testable import RingCore

final class SentinelFollowerTests: XCTestCase {
    let old = HostPort(host: "10.0.0.12", port: 6379)
    let new = HostPort(host: "10.0.0.22", port: 6379)
    let other = HostPort(host: "10.0.0.32", port: 6379)

    func answer(_ a: HostPort, _ epoch: UInt64, tilt: Bool = false) -> SentinelAnswer {
        SentinelAnswer(address: a, configEpoch: epoch, tilt: tilt)
    }

    func testAgreeingAnswerChangesNothing() {
        var f = SentinelFollower(configured: old)
        XCTAssertEqual(f.answer(answer(old, 3)), .ignore)
        XCTAssertEqual(f.current, old)
        XCTAssertEqual(f.highestEpoch, 3)
        XCTAssertEqual(f.failovers, 0)
    }

    func testNewAddressNeedsRoleMaster() {
        var f = SentinelFollower(configured: old)
        _ = f.answer(answer(old, 6))
        XCTAssertEqual(f.answer(answer(new, 7)), .confirm(new, epoch: 7))
        XCTAssertEqual(f.current, old, "not used before ROLE confirms it")
        XCTAssertEqual(f.answer(answer(new, 7)), .ignore, "one ROLE check in flight per candidate")
        XCTAssertNil(f.roleAnswered(new, epoch: 7, isMaster: false))
        XCTAssertEqual(f.current, old)
        // The next poll tries again.
        XCTAssertEqual(f.answer(answer(new, 7)), .confirm(new, epoch: 7))
        XCTAssertEqual(f.roleAnswered(new, epoch: 7, isMaster: true), SentinelSwitch(from: old, to: new, epoch: 7))
        XCTAssertEqual(f.current, new)
        XCTAssertEqual(f.failovers, 1)
    }

    func testTiltAndStaleEpochsAreIgnored() {
        var f = SentinelFollower(configured: old)
        XCTAssertEqual(f.answer(answer(new, 9, tilt: true)), .ignore)
        XCTAssertNil(f.highestEpoch, "a sentinel in TILT does not even raise the epoch")
        _ = f.answer(answer(new, 7))
        _ = f.roleAnswered(new, epoch: 7, isMaster: true)
        // A sentinel that missed the failover still names the old master at epoch 6.
        XCTAssertEqual(f.answer(answer(old, 6)), .ignore)
        XCTAssertEqual(f.current, new)
        XCTAssertEqual(f.highestEpoch, 7)
    }

    func testNewerEpochReplacesCandidateInFlight() {
        var f = SentinelFollower(configured: old)
        XCTAssertEqual(f.answer(answer(new, 7)), .confirm(new, epoch: 7))
        XCTAssertEqual(f.answer(answer(other, 8)), .confirm(other, epoch: 8))
        XCTAssertNil(f.roleAnswered(new, epoch: 7, isMaster: true), "the older candidate's ROLE comes too late")
        XCTAssertEqual(f.current, old)
        XCTAssertEqual(f.roleAnswered(other, epoch: 8, isMaster: true)?.to, other)
    }

    func testNewerAgreementDropsOlderCandidate() {
        var f = SentinelFollower(configured: old)
        _ = f.answer(answer(new, 7))
        _ = f.answer(answer(old, 8))  // failed back before ROLE answered
        XCTAssertNil(f.roleAnswered(new, epoch: 7, isMaster: true))
        XCTAssertEqual(f.current, old)
    }

    func testParsesSentinelMasterAndInfo() {
        let reply = Array("*8\r\n$4\r\nname\r\n$7\r\nshard-b\r\n$2\r\nip\r\n$9\r\n10.0.0.22\r\n$4\r\nport\r\n$4\r\n6379\r\n$12\r\nconfig-epoch\r\n$1\r\n7\r\n".utf8)
        let (value, used) = reply.withUnsafeBytes { RESPValue.parse($0) }!
        XCTAssertEqual(used, reply.count)
        XCTAssertEqual(SentinelAnswer(fields: value.fields!, tilt: false), answer(new, 7))
        XCTAssertNil(SentinelAnswer(fields: ["ip": "10.0.0.22", "port": "6379"], tilt: false))
        XCTAssertNil(Array(reply.dropLast(3)).withUnsafeBytes { RESPValue.parse($0) }, "incomplete")
        XCTAssertTrue(SentinelAnswer.tilt(inInfo: "# Sentinel\r\nsentinel_masters:3\r\nsentinel_tilt:1\r\n"))
        XCTAssertFalse(SentinelAnswer.tilt(inInfo: "# Sentinel\r\nsentinel_tilt:0\r\nsentinel_tilt_since_seconds:-1\r\n"))
    }

    func testRoleReply() {
        let master = RESPValue.parse(Array("*3\r\n$6\r\nmaster\r\n:100\r\n*0\r\n".utf8))!
        let replica = RESPValue.parse(Array("*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:6379\r\n$9\r\nconnected\r\n:10\r\n".utf8))!
        XCTAssertTrue(SentinelFollower.isMasterRole(master))
        XCTAssertFalse(SentinelFollower.isMasterRole(replica))
        XCTAssertFalse(SentinelFollower.isMasterRole(.error(Array("ERR".utf8))))
    }

    func testDepthIsBounded() {
        let deep = Array(String(repeating: "*1\r\n", count: RESPValue.maximumDepth + 2).utf8) + Array(":1\r\n".utf8)
        XCTAssertNil(RESPValue.parse(deep))
    }
}
