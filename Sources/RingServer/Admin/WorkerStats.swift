// A worker's counters and gauges: plain memory written only by its thread (relaxed atomic
// stores, never a lock), summed across workers when /metrics or /stats is read; gauges wrap, so
// the per-worker values sum right. Nothing here may allocate on the request path.

import CLibUV
import RingConfig
import RingCore

public enum PoolStat: Int, CaseIterable {
    case clientEOF, clientErr, clientConnections, forwardError, fragments, requestsAnsweredLocally,
         clientReadPauses, clientsRefused, clientIdleTimeouts, subscribedClients, slowSubscribersClosed

    /// nutcracker's name where it has one.
    public var name: String {
        switch self {
        case .clientEOF: return "client_eof"
        case .clientErr: return "client_err"
        case .clientConnections: return "client_connections"
        case .forwardError: return "forward_error"
        case .fragments: return "fragments"
        case .requestsAnsweredLocally: return "local_replies"
        case .clientReadPauses: return "client_read_pauses"
        case .clientsRefused: return "client_refused"
        case .clientIdleTimeouts: return "client_idle_timeouts"
        case .subscribedClients: return "pubsub_clients"
        case .slowSubscribersClosed: return "pubsub_slow_clients_closed"
        }
    }

    public var isGauge: Bool { self == .clientConnections || self == .subscribedClients }

    /// What it counts (nutcracker's wording where nutcracker has the field): `-D` and the
    /// HELP lines of /metrics.
    public var help: String {
        switch self {
        case .clientEOF: return "# eof on client connections"
        case .clientErr: return "# errors on client connections"
        case .clientConnections: return "# active client connections"
        case .forwardError: return "# requests answered with an error because their server was down or unreachable"
        case .fragments: return "# fragments created from split multi-key requests (MGET, MSET, DEL, ...)"
        case .requestsAnsweredLocally: return "# requests the proxy answered itself (PING, AUTH, INFO, ...)"
        case .clientReadPauses: return "# times a client's reads were paused because it did not take its replies"
        case .clientsRefused: return "# clients refused at accept by client_connections"
        case .clientIdleTimeouts: return "# clients closed after client_idle_timeout"
        case .subscribedClients: return "# clients with at least one subscription (channel, pattern or shard channel)"
        case .slowSubscribersClosed: return "# subscribers closed for leaving more messages unread than pubsub_output_*_limit allows"
        }
    }
}

public enum ServerStat: Int, CaseIterable {
    case serverEOF, serverErr, serverTimedout, serverConnections, requests, requestBytes, responses, responseBytes,
         inQueue, inQueueBytes, outQueue, outQueueBytes, missReplies,
         leasesInUse, transactions, transactionsAborted, blockedClients, scriptReloads,
         subscriberConnections, subscriptions, pubsubMessages, parkedRequests, failoverResentReads

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
        case .inQueueBytes: return "in_queue_bytes"
        case .outQueue: return "out_queue"
        case .outQueueBytes: return "out_queue_bytes"
        case .missReplies: return "miss_replies"
        case .leasesInUse: return "leased_connections"
        case .transactions: return "transactions"
        case .transactionsAborted: return "transactions_aborted"
        case .blockedClients: return "blocked_clients"
        case .scriptReloads: return "noscript_reloads"
        case .subscriberConnections: return "subscriber_connections"
        case .subscriptions: return "subscriptions"
        case .pubsubMessages: return "pubsub_messages"
        case .parkedRequests: return "failover_parked"
        case .failoverResentReads: return "failover_resent_reads"
        }
    }

    /// What it counts (nutcracker's wording where nutcracker has the field).
    public var help: String {
        switch self {
        case .serverEOF: return "# eof on server connections"
        case .serverErr: return "# errors on server connections"
        case .serverTimedout: return "# timeouts on server connections"
        case .serverConnections: return "# active server connections"
        case .requests: return "# requests"
        case .requestBytes: return "total request bytes"
        case .responses: return "# responses"
        case .responseBytes: return "total response bytes"
        case .inQueue: return "# requests queued for the server, not yet written to it"
        case .inQueueBytes: return "current request bytes queued, not yet written"
        case .outQueue: return "# requests written to the server, awaiting their reply"
        case .outQueueBytes: return "current request bytes written, awaiting their reply"
        case .missReplies: return "# requests answered as a missing key because their server was down"
        case .leasesInUse: return "# server connections leased to one client (a transaction or a blocking command)"
        case .transactions: return "# transactions (MULTI..EXEC) sent to the server"
        case .transactionsAborted: return "# transactions answered EXECABORT by the proxy (a key on another server, a refused command)"
        case .blockedClients: return "# clients waiting in a blocking command on the server"
        case .scriptReloads: return "# EVALSHA answered NOSCRIPT and retried after the proxy loaded the script"
        case .subscriberConnections: return "# shared subscriber connections to the server (at most one per worker)"
        case .subscriptions: return "# channels and patterns the proxy holds subscribed on the server, for all its clients"
        case .pubsubMessages: return "# messages received from the server for the proxy's subscribers"
        case .parkedRequests: return "# times a client waited (failover_hold) for the server's new master instead of getting the down error"
        case .failoverResentReads: return "# read-only requests written to a master Sentinel replaced, sent again to the new master"
        }
    }

    /// Gauges. The four queue gauges keep nutcracker's meaning (in_queue: requests queued
    /// for the server but not yet written to its socket; out_queue: written, awaiting the
    /// reply) and are sampled by the worker's tick (every `Worker.tickMs`) rather than
    /// counted per request, which keeps them off the request path.
    public var isGauge: Bool {
        switch self {
        case .serverConnections, .inQueue, .inQueueBytes, .outQueue, .outQueueBytes, .leasesInUse, .blockedClients,
             .subscriberConnections, .subscriptions: return true
        default: return false
        }
    }
}

/// Latency histograms: fixed buckets (Prometheus style, upper bounds in microseconds),
/// then the sum and the maximum, per upstream and per command.
public enum Latency {
    public static let boundsUs: [UInt64] = [100, 250, 500, 1_000, 2_500, 5_000, 10_000, 25_000, 50_000, 100_000,
                                            250_000, 500_000, 1_000_000, 2_500_000, 5_000_000, 10_000_000]
    /// Buckets (the bounds and +Inf), sum, max.
    public static let slots = boundsUs.count + 3
    static let sumSlot = boundsUs.count + 1
    static let maxSlot = boundsUs.count + 2

    @inline(__always)
    static func bucket(_ us: UInt64) -> Int {
        var i = 0
        while i < boundsUs.count && us > boundsUs[i] { i += 1 }
        return i
    }

    /// The q-quantile from merged bucket counts, interpolated within its bucket (the error
    /// is at most one bucket's width; the bounds step by 2 to 2.5x).
    public static func quantile(_ q: Double, buckets: [UInt64], maxUs: UInt64) -> UInt64 {
        let total = buckets.reduce(0, +)
        if total == 0 { return 0 }
        let rank = q * Double(total)
        var seen: UInt64 = 0
        for (i, c) in buckets.enumerated() where c > 0 {
            if Double(seen + c) >= rank {
                let lower = i == 0 ? 0 : boundsUs[i - 1]
                let upper = i < boundsUs.count ? boundsUs[i] : maxUs
                let within = (rank - Double(seen)) / Double(c)
                return min(maxUs, lower + UInt64(Double(upper - lower) * within))
            }
            seen += c
        }
        return maxUs
    }
}

public final class WorkerStats: @unchecked Sendable {
    let values: UnsafeMutablePointer<UInt64>
    /// Per pool, per server: Latency.slots values.
    let upstreamLatency: UnsafeMutablePointer<UInt64>
    /// Per pool, per command of the command table: Latency.slots values.
    let commandLatency: UnsafeMutablePointer<UInt64>
    let commandCount: Int
    let serverOffsets: [Int]
    let count: Int
    /// Where each pool's block starts; a block is the pool stats, then each server's, then
    /// each replica's.
    let poolOffsets: [Int]

    /// Where each pool and server is (a worker's pools in order, reloads included).
    public let layout: StatsLayout
    /// Pool name -> index, and "pool\0identity" -> (pool, server), for readers that go by
    /// name (the admin thread and INFO read every worker's counters, whose layouts may
    /// differ for the moment a reload takes to reach them all).
    private let poolIndex: [String: Int]
    private let serverIndex: [String: (Int, Int)]

    init(layout: StatsLayout, commandCount: Int) {
        self.layout = layout
        var offsets: [Int] = []
        var n = 0
        for pool in layout.pools {
            offsets.append(n)
            // The layout's servers: the pool's, then the replicas read_from reads from, then
            // those a reload retired (see PoolRuntime.statsEntry).
            n += PoolStat.allCases.count + pool.servers.count * ServerStat.allCases.count
        }
        poolOffsets = offsets
        count = n
        values = .allocate(capacity: max(n, 1))
        values.initialize(repeating: 0, count: max(n, 1))
        var so: [Int] = []
        var servers = 0
        for pool in layout.pools { so.append(servers); servers += pool.servers.count }
        serverOffsets = so
        upstreamLatency = .allocate(capacity: max(servers, 1) * Latency.slots)
        upstreamLatency.initialize(repeating: 0, count: max(servers, 1) * Latency.slots)
        self.commandCount = commandCount
        let commandSlots = max(layout.pools.count * commandCount, 1) * Latency.slots
        commandLatency = .allocate(capacity: commandSlots)
        commandLatency.initialize(repeating: 0, count: commandSlots)
        var pi: [String: Int] = [:]
        var si: [String: (Int, Int)] = [:]
        for (p, pool) in layout.pools.enumerated() where !pool.retired {
            pi[pool.name] = p
            for (s, server) in pool.servers.enumerated() where !server.retired { si[pool.name + "\0" + server.identity] = (p, s) }
        }
        poolIndex = pi
        serverIndex = si
    }

    /// The counters of `old` (this worker's previous layout) for every pool and server that
    /// stays; run by the worker's own thread, the only writer of both.
    func carry(from old: WorkerStats) {
        let (pools, servers) = layout.sources(from: old.layout)
        let perPool = PoolStat.allCases.count, perServer = ServerStat.allCases.count
        for (p, source) in pools.enumerated() {
            guard let o = source else { continue }
            (values + poolOffsets[p]).update(from: old.values + old.poolOffsets[o], count: perPool)
            (commandLatency + p * commandCount * Latency.slots)
                .update(from: old.commandLatency + o * commandCount * Latency.slots, count: commandCount * Latency.slots)
        }
        for (p, list) in servers.enumerated() {
            for (s, source) in list.enumerated() {
                guard let (op, os) = source else { continue }
                (values + poolOffsets[p] + perPool + s * perServer)
                    .update(from: old.values + old.poolOffsets[op] + perPool + os * perServer, count: perServer)
                (upstreamLatency + (serverOffsets[p] + s) * Latency.slots)
                    .update(from: old.upstreamLatency + (old.serverOffsets[op] + os) * Latency.slots, count: Latency.slots)
            }
        }
    }

    /// What a replica slot is named by in a layout (not a ring identity, which has no '#').
    static func replicaIdentity(_ slot: Int) -> String { "replica#\(slot)" }

    /// What stats place `index` of a pool's is named by: a server's ring identity, or past
    /// the servers, a replica slot.
    static func identity(_ pool: PoolConfig, _ index: Int) -> String {
        index < pool.servers.count ? pool.servers[index].ringIdentity : replicaIdentity(index - pool.servers.count)
    }

    /// This worker's index of the live pool `name`.
    func pool(named name: String) -> Int? { poolIndex[name] }

    /// This worker's (pool, server) of the live server `identity` of pool `name`.
    func server(_ identity: String, inPool name: String) -> (pool: Int, server: Int)? {
        serverIndex[name + "\0" + identity].map { ($0.0, $0.1) }
    }

    deinit {
        values.deallocate()
        upstreamLatency.deallocate()
        commandLatency.deallocate()
    }

    @inline(__always)
    private static func record(_ base: UnsafeMutablePointer<UInt64>, _ us: UInt64) {
        rp_counter_add(base + Latency.bucket(us), 1)
        rp_counter_add(base + Latency.sumSlot, us)
        if us > rp_counter_load(base + Latency.maxSlot) {
            rp_counter_add(base + Latency.maxSlot, us - rp_counter_load(base + Latency.maxSlot))
        }
    }

    /// One upstream reply `us` microseconds after its request was queued.
    @inline(__always)
    func recordLatency(pool: Int, server: Int, command: Int, us: UInt64) {
        WorkerStats.record(upstreamLatency + (serverOffsets[pool] + server) * Latency.slots, us)
        if command >= 0 && command < commandCount {
            WorkerStats.record(commandLatency + (pool * commandCount + command) * Latency.slots, us)
        }
    }

    /// A command the proxy answered itself: counted for INFO commandstats and /metrics with
    /// no upstream time.
    @inline(__always)
    func recordLocal(pool: Int, command: Int) {
        if command >= 0 && command < commandCount {
            rp_counter_add(commandLatency + (pool * commandCount + command) * Latency.slots, 1)
        }
    }

    func upstreamHistogram(pool: Int, server: Int) -> [UInt64] {
        let base = upstreamLatency + (serverOffsets[pool] + server) * Latency.slots
        return (0..<Latency.slots).map { rp_counter_load(base + $0) }
    }

    func commandHistogram(pool: Int, command: Int) -> [UInt64] {
        let base = commandLatency + (pool * commandCount + command) * Latency.slots
        return (0..<Latency.slots).map { rp_counter_load(base + $0) }
    }

    @inline(__always)
    func add(pool: Int, _ stat: PoolStat, _ v: UInt64 = 1) {
        rp_counter_add(values + poolOffsets[pool] + stat.rawValue, v)
    }

    @inline(__always)
    func add(pool: Int, server: Int, _ stat: ServerStat, _ v: UInt64 = 1) {
        rp_counter_add(values + poolOffsets[pool] + PoolStat.allCases.count + server * ServerStat.allCases.count + stat.rawValue, v)
    }

    /// For sampled gauges: this worker's current value.
    @inline(__always)
    func set(pool: Int, server: Int, _ stat: ServerStat, _ v: UInt64) {
        rp_counter_store(values + poolOffsets[pool] + PoolStat.allCases.count + server * ServerStat.allCases.count + stat.rawValue, v)
    }

    /// For gauges: adds -1 in two's complement; sums across workers come out right.
    @inline(__always)
    func subtract(pool: Int, server: Int, _ stat: ServerStat, _ v: UInt64 = 1) {
        add(pool: pool, server: server, stat, 0 &- v)
    }

    @inline(__always)
    func subtract(pool: Int, _ stat: PoolStat) { add(pool: pool, stat, UInt64.max) }

    func load(pool: Int, _ stat: PoolStat) -> UInt64 {
        rp_counter_load(values + poolOffsets[pool] + stat.rawValue)
    }

    func load(pool: Int, server: Int, _ stat: ServerStat) -> UInt64 {
        rp_counter_load(values + poolOffsets[pool] + PoolStat.allCases.count + server * ServerStat.allCases.count + stat.rawValue)
    }
}
