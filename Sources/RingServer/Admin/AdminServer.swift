// The admin listener (loopback by default; -s/-a or `ringproxy: admin:`): a small HTTP/1.0
// server on its own thread and loop that sums the workers' counters when asked. It must
// never touch a worker's loop or take a lock on the request path.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

/// GET /metrics  Prometheus text exposition, labels pool and upstream
/// GET /stats    JSON shaped like nutcracker's stats (pools and servers keyed by name)
/// GET /healthz  the process serves;  GET /readyz  every pool has a live upstream
public final class AdminServer: FlushScheduler, @unchecked Sendable {
    let loop = EventLoop()
    let config: ProxyConfig
    let workers: [WorkerStats]
    let board: HealthBoard
    let startedAt: Int
    private var listener: Listener?
    private var stopper: LoopAsync?
    private var thread = pthread_t()
    private var sessions: [ObjectIdentifier: AdminSession] = [:]

    /// A request head larger than this is refused: the admin API takes no bodies.
    static let maxRequestHead = 8 * 1024

    public init(config: ProxyConfig, workers: [WorkerStats], board: HealthBoard, host: String, port: Int) throws {
        self.config = config
        self.workers = workers
        self.board = board
        startedAt = Int(time(nil))
        listener = try Listener(loop: loop, host: host, port: port, backlog: 64, scheduler: self) { [unowned self] s in
            let session = AdminSession(server: self, stream: s)
            self.sessions[ObjectIdentifier(session)] = session
            s.handler = session
            s.startReading()
        }
        stopper = LoopAsync(loop) { [unowned self] in
            self.listener?.close()
            for s in self.sessions.values { s.stream.close() }
            self.sessions.removeAll()
            self.stopper?.close()
        }
    }

    public func start() {
        thread = loop.runOnNewThread(owner: self)
    }

    public func stop() {
        stopper?.send()
        pthread_join(thread, nil)
    }

    public func scheduleFlush(_ stream: Stream) { stream.flush() }

    func finished(_ session: AdminSession) { sessions.removeValue(forKey: ObjectIdentifier(session)) }

    // MARK: values

    func sum(pool: Int, _ stat: PoolStat) -> UInt64 { workers.reduce(0) { $0 &+ $1.load(pool: pool, stat) } }
    func sum(pool: Int, server: Int, _ stat: ServerStat) -> UInt64 {
        workers.reduce(0) { $0 &+ $1.load(pool: pool, server: server, stat) }
    }

    /// Merged histogram: (buckets, sumUs, maxUs).
    func merged(_ one: (WorkerStats) -> [UInt64]) -> (buckets: [UInt64], sumUs: UInt64, maxUs: UInt64) {
        var buckets = [UInt64](repeating: 0, count: Latency.boundsUs.count + 1)
        var sum: UInt64 = 0, maxUs: UInt64 = 0
        for w in workers {
            let h = one(w)
            for i in buckets.indices { buckets[i] &+= h[i] }
            sum &+= h[Latency.sumSlot]
            maxUs = max(maxUs, h[Latency.maxSlot])
        }
        return (buckets, sum, maxUs)
    }

    func upstreamLatency(pool: Int, server: Int) -> (buckets: [UInt64], sumUs: UInt64, maxUs: UInt64) {
        merged { $0.upstreamHistogram(pool: pool, server: server) }
    }

    func response(for path: String) -> (status: String, type: String, body: String) {
        switch path {
        case "/", "/index.html": return ("200 OK", "text/html; charset=utf-8", statusPage())
        case "/metrics": return ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics())
        case "/stats": return ("200 OK", "application/json", statsJSON())
        case "/healthz": return ("200 OK", "text/plain", "ok\n")
        case "/readyz":
            let (_, states, _) = board.snapshot()
            let ready = states.allSatisfy { $0.contains(true) }
            return ready ? ("200 OK", "text/plain", "ready\n") : ("503 Service Unavailable", "text/plain", "a pool has no live upstream\n")
        default: return ("404 Not Found", "text/plain", "not found: try /metrics, /stats, /healthz, /readyz\n")
        }
    }

    static func escapeLabel(_ s: String) -> String {
        var out = ""
        for c in s {
            switch c {
            case "\\": out += "\\\\"
            case "\"": out += "\\\""
            case "\n": out += "\\n"
            default: out.append(c)
            }
        }
        return out
    }

    /// Prometheus labels, escaped and in the order given: `pool="a",upstream="b"`. The one
    /// place labels are written.
    static func labels(_ pairs: KeyValuePairs<String, String>) -> String {
        pairs.map { "\($0.key)=\"\(escapeLabel($0.value))\"" }.joined(separator: ",")
    }

    func poolLabels(_ p: Int) -> String { Self.labels(["pool": config.pools[p].name]) }

    func upstreamLabels(_ p: Int, _ s: Int) -> String {
        Self.labels(["pool": config.pools[p].name, "upstream": config.pools[p].servers[s].displayName])
    }

    /// Every (pool, server) index pair, in config order.
    var upstreams: [(pool: Int, server: Int)] {
        config.pools.indices.flatMap { p in config.pools[p].servers.indices.map { (p, $0) } }
    }

    func metrics() -> String {
        var out = ""
        func family(_ name: String, _ type: String, _ help: String) {
            out += "# HELP \(name) \(help)\n# TYPE \(name) \(type)\n"
        }
        func sample(_ name: String, _ labels: String, _ value: String) {
            out += labels.isEmpty ? "\(name) \(value)\n" : "\(name){\(labels)} \(value)\n"
        }
        family("ringproxy_build_info", "gauge", "Version of the running ringproxy.")
        sample("ringproxy_build_info", Self.labels(["version": RingProxyVersion.string]), "1")
        family("ringproxy_uptime_seconds", "gauge", "Seconds since the process started.")
        sample("ringproxy_uptime_seconds", "", String(Int(time(nil)) - startedAt))
        for stat in PoolStat.allCases {
            let name = "ringproxy_pool_\(stat.name)" + (stat.isGauge ? "" : "_total")
            family(name, stat.isGauge ? "gauge" : "counter", "Pool \(stat.name): \(stat.help).")
            for p in config.pools.indices {
                sample(name, poolLabels(p), String(Int64(bitPattern: sum(pool: p, stat))))
            }
        }
        for stat in ServerStat.allCases {
            let name = "ringproxy_upstream_\(stat.name)" + (stat.isGauge ? "" : "_total")
            family(name, stat.isGauge ? "gauge" : "counter", "Upstream \(stat.name): \(stat.help).")
            for (p, s) in upstreams {
                sample(name, upstreamLabels(p, s), String(Int64(bitPattern: sum(pool: p, server: s, stat))))
            }
        }
        func histogram(_ name: String, _ labels: String, _ h: (buckets: [UInt64], sumUs: UInt64, maxUs: UInt64)) {
            var cumulative: UInt64 = 0
            for (i, c) in h.buckets.enumerated() {
                cumulative &+= c
                let le = i < Latency.boundsUs.count ? String(Double(Latency.boundsUs[i]) / 1e6) : "+Inf"
                sample(name + "_bucket", labels + ",le=\"\(le)\"", String(cumulative))
            }
            sample(name + "_sum", labels, String(Double(h.sumUs) / 1e6))
            sample(name + "_count", labels, String(cumulative))
        }
        family("ringproxy_upstream_latency_seconds", "histogram", "Time from queueing a request for an upstream to its reply.")
        for (p, s) in upstreams {
            histogram("ringproxy_upstream_latency_seconds", upstreamLabels(p, s), upstreamLatency(pool: p, server: s))
        }
        family("ringproxy_command_latency_seconds", "histogram", "Upstream latency by command (commands seen so far).")
        let table = CommandTable.redis70
        for (p, pool) in config.pools.enumerated() {
            for c in table.commands.indices {
                let h = merged { $0.commandHistogram(pool: p, command: c) }
                if h.buckets.allSatisfy({ $0 == 0 }) { continue }
                histogram("ringproxy_command_latency_seconds",
                          Self.labels(["pool": pool.name, "command": table.commands[c].spec.name]), h)
            }
        }
        let health: [(String, String, (HealthTracker) -> String)] = [
            ("ringproxy_upstream_up", "1 when the upstream is up, 0 when down.", { $0.isUp ? "1" : "0" }),
            ("ringproxy_upstream_state_since_seconds", "Unix time of the last state change (0: never changed).", { String($0.sinceMs / 1000) }),
            ("ringproxy_upstream_failed_checks_total", "Failed health checks.", { String($0.failedChecks) }),
            ("ringproxy_upstream_ejections_total", "Times the upstream was marked down.", { String($0.ejections) }),
        ]
        for (name, help, value) in health {
            family(name, name.hasSuffix("_total") ? "counter" : "gauge", help)
            for (p, s) in upstreams {
                sample(name, upstreamLabels(p, s), value(board.tracker(pool: p, server: s)))
            }
        }
        // Where each upstream is now (Sentinel may have moved it) and how often it moved.
        let (switches, addresses) = board.addressSnapshot()
        family("ringproxy_upstream_address_info", "gauge", "The address the upstream is reached at now, and its role there (1 per upstream).")
        for (p, s) in upstreams {
            let labels = Self.labels(["pool": config.pools[p].name, "upstream": config.pools[p].servers[s].displayName,
                                      "address": addresses[p][s], "role": "master"])
            sample("ringproxy_upstream_address_info", labels, "1")
        }
        family("ringproxy_upstream_failovers_total", "counter", "Address changes the proxy followed (Sentinel failovers, DNS re-resolutions).")
        for (p, s) in upstreams { sample("ringproxy_upstream_failovers_total", upstreamLabels(p, s), String(switches[p][s])) }
        let sentinels = board.sentinelStates()
        if sentinels.contains(where: { !$0.isEmpty }) {
            family("ringproxy_sentinel_up", "gauge", "1 when the sentinel answered its last poll within sentinel_timeout, 0 when not.")
            for (p, pool) in config.pools.enumerated() {
                for (i, a) in pool.sentinel.sentinels.enumerated() {
                    let labels = Self.labels(["pool": pool.name, "sentinel": "\(a.host):\(a.port)"])
                    sample("ringproxy_sentinel_up", labels, sentinels[p][i] ? "1" : "0")
                }
            }
        }
        out += replicaMetrics()
        return out
    }

    static func jsonString(_ s: String) -> String {
        var out = "\""
        for u in s.unicodeScalars {
            switch u {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            default:
                if u.value < 0x20 { out += "\\u" + String(repeating: "0", count: 4 - String(u.value, radix: 16).count) + String(u.value, radix: 16) } else { out.unicodeScalars.append(u) }
            }
        }
        return out + "\""
    }

    /// nutcracker's stats JSON: the same top-level fields, pools keyed by name, servers keyed
    /// by name with nutcracker's field names; ringproxy's own fields are added alongside.
    func statsJSON() -> String {
        var host = [CChar](repeating: 0, count: 256)
        gethostname(&host, host.count)
        let hostname = String(cString: host)
        var total: UInt64 = 0
        for p in config.pools.indices { total &+= sum(pool: p, .clientConnections) }
        var fields = [
            "\"service\":\"ringproxy\"", "\"source\":\(Self.jsonString(hostname))",
            "\"version\":\(Self.jsonString(RingProxyVersion.string))", "\"uptime\":\(Int(time(nil)) - startedAt)",
            "\"timestamp\":\(Int(time(nil)))", "\"curr_connections\":\(Int64(bitPattern: total))",
        ]
        let addresses = board.addressSnapshot()
        for (p, pool) in config.pools.enumerated() {
            var poolFields: [String] = []
            var ejects = 0
            for (s, server) in pool.servers.enumerated() {
                let t = board.tracker(pool: p, server: s)
                ejects += t.ejections
                var serverFields = ServerStat.allCases.map { "\"\($0.name)\":\(Int64(bitPattern: sum(pool: p, server: s, $0)))" }
                serverFields.append("\"server_ejected_at\":\(t.isUp ? 0 : t.sinceMs * 1000)")
                serverFields.append("\"state\":\"\(t.isUp ? "up" : "down")\"")
                serverFields.append("\"state_since\":\(t.sinceMs / 1000)")
                serverFields.append("\"state_reason\":\(Self.jsonString(t.reason))")
                serverFields.append("\"failed_checks\":\(t.failedChecks)")
                serverFields.append("\"ejections\":\(t.ejections)")
                serverFields.append("\"address\":\(Self.jsonString(addresses.texts[p][s]))")
                serverFields.append("\"failovers\":\(addresses.switches[p][s])")
                serverFields.append("\"role\":\"master\"")
                if let replicas = replicasJSON(pool: p, server: s) { serverFields.append(replicas) }
                let prefixes = pool.keyRoutes.filter { $0.server == s }.map(\.prefix).joined(separator: ",")
                serverFields.append("\"routed_prefixes\":\(Self.jsonString(prefixes))")
                let h = upstreamLatency(pool: p, server: s)
                let q = [("p50", 0.5), ("p90", 0.9), ("p99", 0.99), ("p999", 0.999)].map {
                    "\"\($0.0)\":\(Latency.quantile($0.1, buckets: h.buckets, maxUs: h.maxUs))"
                }
                serverFields.append("\"latency_us\":{\(q.joined(separator: ",")),\"max\":\(h.maxUs)}")
                poolFields.append("\(Self.jsonString(server.displayName)):{\(serverFields.joined(separator: ","))}")
            }
            for stat in PoolStat.allCases { poolFields.append("\"\(stat.name)\":\(Int64(bitPattern: sum(pool: p, stat)))") }
            poolFields.append("\"server_ejects\":\(ejects)")
            if !pool.sentinel.sentinels.isEmpty {
                let states = board.sentinelStates()[p]
                let each = pool.sentinel.sentinels.enumerated().map { i, a in
                    "\(Self.jsonString("\(a.host):\(a.port)")):\"\(states[i] ? "up" : "down")\""
                }
                poolFields.append("\"sentinels\":{\(each.joined(separator: ","))}")
            }
            fields.append("\(Self.jsonString(pool.name)):{\(poolFields.joined(separator: ","))}")
        }
        return "{" + fields.joined(separator: ",") + "}\n"
    }
}

/// One admin HTTP connection: read the request head, answer, close.
final class AdminSession: StreamHandler {
    unowned let server: AdminServer
    let stream: Stream
    private let input = ByteBuffer()
    private var answered = false

    init(server: AdminServer, stream: Stream) {
        self.server = server
        self.stream = stream
    }

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        let p = input.writableSpace(minimum: 2048)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        input.commit(count)
        guard !answered else { return }
        let bytes = Array(input.readable)
        guard let end = findHeadEnd(bytes) else {
            if bytes.count > AdminServer.maxRequestHead { respond("431 Request Header Fields Too Large", "text/plain", "request head too large\n") }
            return
        }
        let line = String(decoding: bytes[0..<end], as: UTF8.self).split(separator: "\r\n").first.map(String.init) ?? ""
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" else {
            respond("405 Method Not Allowed", "text/plain", "only GET\n")
            return
        }
        let path = String(parts[1].split(separator: "?").first ?? "")
        let r = server.response(for: path)
        respond(r.status, r.type, parts[0] == "HEAD" ? "" : r.body)
    }

    private func findHeadEnd(_ b: [UInt8]) -> Int? {
        guard b.count >= 4 else { return nil }
        for i in 0...(b.count - 4) where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 { return i }
        return nil
    }

    private func respond(_ status: String, _ type: String, _ body: String) {
        answered = true
        stream.stopReading()
        let head = "HTTP/1.0 \(status)\r\nContent-Type: \(type)\r\nContent-Length: \(body.utf8.count)\r\nConnection: close\r\n\r\n"
        stream.output.append(string: head + body)
        stream.closeAfterWriting()
    }

    func didEnd(_ stream: Stream, error: Int32) {
        stream.close()
        server.finished(self)
    }
}
