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
    let board: HealthBoard
    /// What this response is built from, taken from the board at its start: the running
    /// configuration and the board's per-server state in one layout (a reload changes both).
    private(set) var view: HealthBoard.View
    var config: ProxyConfig { view.config }
    var workers: [WorkerStats] { view.stats }
    /// Runs a reload (POST /reload) and says how it went; set by the process.
    var reload: (() -> ReloadOutcome)?
    let startedAt: Int
    private var listener: Listener?
    private var stopper: LoopAsync?
    /// Closes the listener only (a successor serves on the socket: see Handover/).
    private var releaser: LoopAsync?
    private var thread = pthread_t()
    private var sessions: [ObjectIdentifier: AdminSession] = [:]

    /// A request head larger than this is refused: the admin API takes no bodies.
    static let maxRequestHead = 8 * 1024

    public init(board: HealthBoard, host: String, port: Int) throws {
        self.board = board
        view = board.view()
        startedAt = Int(time(nil))
        // A binary upgrade's predecessor hands its admin socket over with the others.
        let inherited = ListenerTable.shared.claim(role: .admin, host: host, port: port, worker: 0)
        listener = try Listener(loop: loop, host: host, port: port, backlog: 64, scheduler: self, role: .admin,
                                inherited: inherited.first) { [unowned self] s in
            let session = AdminSession(server: self, stream: s)
            self.sessions[ObjectIdentifier(session)] = session
            s.handler = session
            s.startReading()
        }
        releaser = LoopAsync(loop) { [unowned self] in
            self.listener?.close()
            self.listener = nil
        }
        stopper = LoopAsync(loop) { [unowned self] in
            self.releaser?.close()
            self.listener?.close()
            for s in self.sessions.values { s.stream.close() }
            self.sessions.removeAll()
            self.stopper?.close()
        }
    }

    public func start() {
        thread = loop.runOnNewThread(owner: self)
    }

    /// Thread-safe: stops accepting; the sessions open now are still answered.
    public func stopAccepting() { releaser?.send() }

    public func stop() {
        stopper?.send()
        pthread_join(thread, nil)
    }

    public func scheduleFlush(_ stream: Stream) { stream.flush() }

    func finished(_ session: AdminSession) { sessions.removeValue(forKey: ObjectIdentifier(session)) }

    // MARK: values

    // Each worker's counters are found by name: for the moment a reload takes to reach
    // every worker, their layouts differ.
    func sum(pool: Int, _ stat: PoolStat) -> UInt64 {
        let name = config.pools[pool].name
        return workers.reduce(0) { total, w in w.pool(named: name).map { total &+ w.load(pool: $0, stat) } ?? total }
    }

    func sum(pool: Int, server: Int, _ stat: ServerStat) -> UInt64 {
        let (name, id) = (config.pools[pool].name, WorkerStats.identity(config.pools[pool], server))
        return workers.reduce(0) { total, w in
            w.server(id, inPool: name).map { total &+ w.load(pool: $0.pool, server: $0.server, stat) } ?? total
        }
    }

    /// Merged histogram: (buckets, sumUs, maxUs).
    func merged(_ one: (WorkerStats) -> [UInt64]?) -> (buckets: [UInt64], sumUs: UInt64, maxUs: UInt64) {
        var buckets = [UInt64](repeating: 0, count: Latency.boundsUs.count + 1)
        var sum: UInt64 = 0, maxUs: UInt64 = 0
        for w in workers {
            guard let h = one(w) else { continue }
            for i in buckets.indices { buckets[i] &+= h[i] }
            sum &+= h[Latency.sumSlot]
            maxUs = max(maxUs, h[Latency.maxSlot])
        }
        return (buckets, sum, maxUs)
    }

    func upstreamLatency(pool: Int, server: Int) -> (buckets: [UInt64], sumUs: UInt64, maxUs: UInt64) {
        let (name, id) = (config.pools[pool].name, config.pools[pool].servers[server].ringIdentity)
        return merged { w in w.server(id, inPool: name).map { w.upstreamHistogram(pool: $0.pool, server: $0.server) } }
    }

    func response(for path: String, method: String = "GET") -> (status: String, type: String, body: String) {
        view = board.view()
        if path == "/reload" {
            guard method == "POST" else { return ("405 Method Not Allowed", "text/plain", "POST /reload\n") }
            guard let outcome = reload?() else { return ("503 Service Unavailable", "text/plain", "reload unavailable\n") }
            view = board.view()
            return outcome.ok ? ("200 OK", "text/plain", outcome.message + "\n")
                : ("422 Unprocessable Entity", "text/plain", outcome.message + "\n")
        }
        switch path {
        case "/", "/index.html": return ("200 OK", "text/html; charset=utf-8", statusPage())
        case "/metrics": return ("200 OK", "text/plain; version=0.0.4; charset=utf-8", metrics())
        case "/stats": return ("200 OK", "application/json", statsJSON())
        case "/healthz": return ("200 OK", "text/plain", "ok\n")
        case "/readyz":
            let ready = view.trackers.allSatisfy { $0.contains { $0.isUp } }
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
                let h = merged { w in w.pool(named: pool.name).map { w.commandHistogram(pool: $0, command: c) } }
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
                sample(name, upstreamLabels(p, s), value(view.trackers[p][s]))
            }
        }
        // Where each upstream is now (Sentinel may have moved it) and how often it moved.
        let (switches, addresses) = (view.switches, view.addressTexts)
        family("ringproxy_upstream_address_info", "gauge", "The address the upstream is reached at now, and its role there (1 per upstream).")
        for (p, s) in upstreams {
            let labels = Self.labels(["pool": config.pools[p].name, "upstream": config.pools[p].servers[s].displayName,
                                      "address": addresses[p][s], "role": "master"])
            sample("ringproxy_upstream_address_info", labels, "1")
        }
        family("ringproxy_upstream_failovers_total", "counter", "Address changes the proxy followed (Sentinel failovers, DNS re-resolutions).")
        for (p, s) in upstreams { sample("ringproxy_upstream_failovers_total", upstreamLabels(p, s), String(switches[p][s])) }
        let reload = view.reload
        family("ringproxy_config_reloads_total", "counter", "Reloads that applied a configuration file (SIGHUP or POST /reload).")
        sample("ringproxy_config_reloads_total", "", String(reload?.successes ?? 0))
        family("ringproxy_config_reload_failures_total", "counter", "Reloads refused because the file or its addresses were invalid; nothing changed.")
        sample("ringproxy_config_reload_failures_total", "", String(reload?.failures ?? 0))
        family("ringproxy_config_last_reload_timestamp_seconds", "gauge", "Unix time of the last reload attempt (0: none).")
        sample("ringproxy_config_last_reload_timestamp_seconds", "", String(reload?.at ?? 0))
        family("ringproxy_config_last_reload_success", "gauge", "1 when the last reload attempt applied its file (or none was made), 0 when it failed.")
        sample("ringproxy_config_last_reload_success", "", reload.map { $0.ok ? "1" : "0" } ?? "1")
        let sentinels = view.sentinelUp
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
        // Flat fields: the status page takes every object of this JSON for a pool.
        if let r = view.reload {
            fields += ["\"last_reload\":\(r.at)", "\"last_reload_result\":\"\(r.ok ? "ok" : "failed")\"",
                       "\"last_reload_message\":\(Self.jsonString(r.message))", "\"reload_failures\":\(r.failures)"]
        }
        let addresses = (switches: view.switches, texts: view.addressTexts)
        for (p, pool) in config.pools.enumerated() {
            var poolFields: [String] = []
            var ejects = 0
            for (s, server) in pool.servers.enumerated() {
                let t = view.trackers[p][s]
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
                let states = view.sentinelUp[p]
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
        guard parts.count >= 2, parts[0] == "GET" || parts[0] == "HEAD" || parts[0] == "POST" else {
            respond("405 Method Not Allowed", "text/plain", "only GET, and POST /reload\n")
            return
        }
        let path = String(parts[1].split(separator: "?").first ?? "")
        let r = server.response(for: path, method: String(parts[0]))
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
