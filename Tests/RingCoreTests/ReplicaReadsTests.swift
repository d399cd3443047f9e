// Reads from replicas: which commands may go to one, the rotation over usable replicas, and
// the checker's verdict from ROLE and INFO replication.
import XCTest
@testable import RingCore

final class ReplicaReadsTests: XCTestCase {
    func flags(_ name: String) -> CommandFlags {
        CommandTable.redis70.commands.first { $0.spec.name == name }!.spec.flags
    }

    func testOnlyPlainReadsMayGoToReplicas() {
        for read in ["get", "mget", "hgetall", "exists", "ttl", "zrange", "sort_ro"] {
            XCTAssertTrue(ReplicaReads.mayGoToReplica(flags(read)), read)
        }
        for master in ["set", "incr", "del", "eval_ro", "evalsha_ro", "fcall_ro", "xread", "multi", "exec", "watch", "blpop", "eval"] {
            XCTAssertFalse(ReplicaReads.mayGoToReplica(flags(master)), master)
        }
    }

    func testRotationSkipsUnusableAndFollowsTheMode() {
        var r = ReplicaRotation(count: 3)
        XCTAssertEqual(r.target(.preferReplica, isRead: true), .master, "none usable yet")
        XCTAssertEqual(r.target(.replica, isRead: true), .noReplica)
        r.setUsable([true, false, true])
        var seen: [ReadTarget] = []
        for _ in 0..<4 { seen.append(r.target(.replica, isRead: true)) }
        XCTAssertEqual(seen, [.replica(0), .replica(2), .replica(0), .replica(2)])
        XCTAssertEqual(r.target(.replica, isRead: false), .master, "writes go to the master")
        XCTAssertEqual(r.target(.master, isRead: true), .master)
        var empty = ReplicaRotation(count: 0)
        XCTAssertEqual(empty.target(.preferReplica, isRead: true), .master)
    }

    let replica = HostPort(host: "127.0.0.1", port: 7004)
    let role = RESPValue.array([.bulk(Array("slave".utf8)), .bulk(Array("127.0.0.1".utf8)), .integer(7001),
                                .bulk(Array("connected".utf8)), .integer(100)])
    let replicaInfo = "# Replication\r\nrole:slave\r\nmaster_host:127.0.0.1\r\nmaster_link_status:up\r\n"
    func masterInfo(lag: Int, state: String = "online") -> String {
        "# Replication\r\nrole:master\r\nconnected_slaves:1\r\nslave0:ip=127.0.0.1,port=7004,state=\(state),offset=100,lag=\(lag)\r\n"
    }

    func testHealthyReplicaIsUsable() {
        let v = ReplicaCheck.verdict(role: role, replicaInfo: replicaInfo, masterInfo: masterInfo(lag: 1), replica: replica, maxLagMs: 10_000)
        XCTAssertEqual(v, ReplicaVerdict(usable: true, reason: ""))
    }

    func testUnusableReplicas() {
        func reason(role r: RESPValue? = nil, replicaInfo i: String? = nil, master: String? = nil, maxLagMs: Int = 10_000) -> String {
            ReplicaCheck.verdict(role: r ?? role, replicaInfo: i ?? replicaInfo, masterInfo: master ?? masterInfo(lag: 0),
                                 replica: replica, maxLagMs: maxLagMs).reason
        }
        XCTAssertEqual(reason(role: .array([.bulk(Array("master".utf8)), .integer(0), .array([])])), "ROLE is master")
        XCTAssertEqual(reason(role: .array([.bulk(Array("slave".utf8)), .bulk(Array("h".utf8)), .integer(1),
                                            .bulk(Array("connect".utf8)), .integer(-1)])), "replication connect")
        XCTAssertEqual(reason(replicaInfo: "# Replication\r\nrole:slave\r\nmaster_link_status:down\r\n"), "master_link_status:down")
        XCTAssertEqual(reason(master: masterInfo(lag: 0, state: "wait_bgsave")), "its master does not list it online")
        XCTAssertEqual(reason(master: masterInfo(lag: 12)), "lag 12 s over replica_max_lag 10000 ms")
        XCTAssertEqual(reason(master: masterInfo(lag: 12), maxLagMs: 0), "", "0: any lag")
        XCTAssertFalse(ReplicaCheck.verdict(role: nil, replicaInfo: nil, masterInfo: nil, replica: replica, maxLagMs: 0).usable)
    }

    func testLagMatchesByPortWhenTheHostIsAName() {
        XCTAssertEqual(ReplicaCheck.lagSeconds(masterInfo: masterInfo(lag: 3), replica: HostPort(host: "replica.example", port: 7004)), 3)
        XCTAssertNil(ReplicaCheck.lagSeconds(masterInfo: masterInfo(lag: 3), replica: HostPort(host: "127.0.0.1", port: 7005)))
    }
}

final class SentinelReplicasTests: XCTestCase {
    func entry(_ ip: String, _ port: Int, _ flags: String) -> RESPValue {
        let pairs = ["name", "\(ip):\(port)", "ip", ip, "port", "\(port)", "flags", flags, "master-link-status", "ok"]
        return .array(pairs.map { .bulk(Array($0.utf8)) })
    }

    func testOnlyHealthyReplicasAreKept() {
        let reply = RESPValue.array([entry("10.0.0.12", 6379, "slave"), entry("10.0.0.13", 6379, "s_down,slave,disconnected"),
                                     entry("10.0.0.14", 6379, "slave,o_down"), entry("10.0.0.15", 6380, "slave")])
        XCTAssertEqual(SentinelReplicas.healthy(reply), [HostPort(host: "10.0.0.12", port: 6379), HostPort(host: "10.0.0.15", port: 6380)])
    }

    func testErrorsAndOddShapesGiveNone() {
        XCTAssertEqual(SentinelReplicas.healthy(.error(Array("ERR No such master with that name".utf8))), [])
        XCTAssertEqual(SentinelReplicas.healthy(.array([.bulk(Array("ip".utf8))])), [])
        XCTAssertEqual(SentinelReplicas.healthy(.array([])), [])
    }
}
