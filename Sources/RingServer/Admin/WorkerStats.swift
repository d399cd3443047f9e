// A worker's counters and gauges: plain memory written only by that worker's thread (with
// relaxed atomic stores, no locks) and summed across workers by the admin thread when
// someone reads /metrics or /stats, so values are current, never a periodic snapshot.
// Gauges (connections, queue depths) are counters that also go down: wrapping arithmetic
// makes the per-worker values sum to the right total.

import CLibUV
import RingConfig

public enum PoolStat: Int, CaseIterable {
    case clientEOF, clientErr, clientConnections, forwardError, fragments, requestsAnsweredLocally

    /// nutcracker's name where it has one.
    public var name: String {
        switch self {
        case .clientEOF: return "client_eof"
        case .clientErr: return "client_err"
        case .clientConnections: return "client_connections"
        case .forwardError: return "forward_error"
        case .fragments: return "fragments"
        case .requestsAnsweredLocally: return "local_replies"
        }
    }

    public var isGauge: Bool { self == .clientConnections }
}

public enum ServerStat: Int, CaseIterable {
    case serverEOF, serverErr, serverTimedout, serverConnections, requests, requestBytes, responses, responseBytes,
         inQueue, missReplies

    public var name: String {
        switch self {
        case .serverEOF: return "server_eof"
        case .serverErr: return "server_err"
        case .serverTimedout: return "server_timedout"
        case .serverConnections: return "server_connections"
        case .requests: return "requests"
        case .requestBytes: return "request_bytes"
        case .responses: return "responses"
        case .responseBytes: return "response_bytes"
        case .inQueue: return "in_queue"
        case .missReplies: return "miss_replies"
        }
    }

    public var isGauge: Bool { self == .serverConnections || self == .inQueue }
}

public final class WorkerStats: @unchecked Sendable {
    let values: UnsafeMutablePointer<UInt64>
    let count: Int
    /// Where each pool's block starts; a block is the pool stats, then each server's.
    let poolOffsets: [Int]

    init(config: ProxyConfig) {
        var offsets: [Int] = []
        var n = 0
        for pool in config.pools {
            offsets.append(n)
            n += PoolStat.allCases.count + pool.servers.count * ServerStat.allCases.count
        }
        poolOffsets = offsets
        count = n
        values = .allocate(capacity: max(n, 1))
        values.initialize(repeating: 0, count: max(n, 1))
    }

    deinit { values.deallocate() }

    @inline(__always)
    func add(pool: Int, _ stat: PoolStat, _ v: UInt64 = 1) {
        rp_counter_add(values + poolOffsets[pool] + stat.rawValue, v)
    }

    @inline(__always)
    func add(pool: Int, server: Int, _ stat: ServerStat, _ v: UInt64 = 1) {
        rp_counter_add(values + poolOffsets[pool] + PoolStat.allCases.count + server * ServerStat.allCases.count + stat.rawValue, v)
    }

    /// For gauges: adds -1 in two's complement; sums across workers come out right.
    @inline(__always)
    func subtract(pool: Int, server: Int, _ stat: ServerStat) { add(pool: pool, server: server, stat, UInt64.max) }

    @inline(__always)
    func subtract(pool: Int, _ stat: PoolStat) { add(pool: pool, stat, UInt64.max) }

    func load(pool: Int, _ stat: PoolStat) -> UInt64 {
        rp_counter_load(values + poolOffsets[pool] + stat.rawValue)
    }

    func load(pool: Int, server: Int, _ stat: ServerStat) -> UInt64 {
        rp_counter_load(values + poolOffsets[pool] + PoolStat.allCases.count + server * ServerStat.allCases.count + stat.rawValue)
    }
}
