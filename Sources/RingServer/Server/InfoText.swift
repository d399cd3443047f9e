// The proxy's own INFO fields for a client of one pool (InfoReport merges them with the
// servers'): its process, clients, memory and CPU, the commands it handled (calls and
// microseconds per command, from the per-command latency histograms), and its own section
// with each upstream's state. Built only when a client asks INFO.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

extension Worker {
    func proxyInfo(pool: PoolRuntime, query: InfoQuery) -> [InfoSection] {
        let all = allStats
        let p = pool.index
        // Other workers' counters are found by name (a reload reaches the workers one by one).
        let name = pool.config.name
        func poolSum(_ s: PoolStat) -> Int64 {
            Int64(bitPattern: all.reduce(0) { t, w in w.pool(named: name).map { t &+ w.load(pool: $0, s) } ?? t })
        }
        func serverSum(_ i: Int, _ s: ServerStat) -> Int64 {
            let id = WorkerStats.identity(pool.config, i)
            return Int64(bitPattern: all.reduce(0) { t, w in w.server(id, inPool: name).map { t &+ w.load(pool: $0.pool, server: $0.server, s) } ?? t })
        }
        func f(_ name: String, _ value: String) -> InfoField { InfoField(name, value) }
        let uptime = Int(time(nil)) - startedAt
        var port = 0
        if case let .tcp(_, listenPort) = pool.config.listen { port = listenPort }
        var sections = [
            InfoSection("server", [f("ringproxy_version", RingProxyVersion.string), f("process_id", String(getpid())),
                                   f("tcp_port", String(port)), f("uptime_in_seconds", String(uptime)),
                                   f("uptime_in_days", String(uptime / 86_400))]),
            InfoSection("clients", [f("connected_clients", String(poolSum(.clientConnections))),
                                    f("cluster_connections", "0"), f("maxclients", String(pool.maxClients)),
                                    f("client_recent_max_input_buffer", "0"), f("client_recent_max_output_buffer", "0"),
                                    f("blocked_clients", String((0..<pool.servers.count).reduce(0) { $0 + serverSum($1, .blockedClients) })),
                                    f("tracking_clients", "0"), f("clients_in_timeout_table", "0")]),
            InfoSection("cluster", [f("cluster_enabled", "0")]),
        ]
        let memory = ProcessUsage.memory()
        sections.append(InfoSection("memory", [
            f("used_memory", String(memory.used)), f("used_memory_human", InfoReport.bytesToHuman(memory.used)),
            f("used_memory_rss", String(memory.resident)), f("used_memory_rss_human", InfoReport.bytesToHuman(memory.resident)),
            f("used_memory_peak", String(memory.peak)), f("used_memory_peak_human", InfoReport.bytesToHuman(memory.peak)),
            f("used_memory_peak_perc", InfoReport.formatDecimal(memory.peak > 0 ? 100 * Double(memory.used) / Double(memory.peak) : 0) + "%"),
        ]))
        sections.append(InfoSection("cpu", ProcessUsage.cpu().map { f($0.0, $0.1) }))
        if query.includes("commandstats") || query.includes("latencystats") {
            var stats: [InfoField] = []
            var latency: [InfoField] = []
            for c in commands.commands {
                let key = p * commands.commands.count + c.index
                var buckets = [UInt64](repeating: 0, count: Latency.boundsUs.count + 1)
                var usec: UInt64 = 0
                var maxUs: UInt64 = 0
                for s in all {
                    guard let wp = s.pool(named: name) else { continue }
                    let h = s.commandHistogram(pool: wp, command: c.index)
                    for i in buckets.indices { buckets[i] &+= h[i] }
                    usec &+= h[Latency.sumSlot]
                    maxUs = max(maxUs, h[Latency.maxSlot])
                }
                let base = mesh.baseline(key)
                let calls = buckets.reduce(0, &+) &- base.calls
                guard calls > 0, calls < UInt64(Int.max) else { continue }
                usec &-= base.usec
                let perCall = InfoReport.formatDecimal(Double(usec) / Double(calls))
                stats.append(f("cmdstat_" + c.spec.name, "calls=\(calls),usec=\(usec),usec_per_call=\(perCall),rejected_calls=0,failed_calls=0"))
                let q = [0.5, 0.99, 0.999].map { String(Latency.quantile($0, buckets: buckets, maxUs: maxUs)) + ".000" }
                latency.append(f("latency_percentiles_usec_" + c.spec.name, "p50=\(q[0]),p99=\(q[1]),p99.9=\(q[2])"))
            }
            sections.append(InfoSection("commandstats", stats))
            sections.append(InfoSection("latencystats", latency))
        }
        var own = [f("pool", pool.config.name), f("worker_threads", String(all.count)),
                   f("local_replies", String(poolSum(.requestsAnsweredLocally))),
                   f("forward_error", String(poolSum(.forwardError))), f("fragments", String(poolSum(.fragments)))]
        // Where each server is now (Sentinel or DNS may have moved it), and the sentinels.
        // The board's indices are this worker's unless a reload has not reached it yet.
        let view = healthBoard?.view()
        let board = view?.layout == appliedLayout ? view : nil
        for (i, server) in pool.config.servers.enumerated() {
            let up = board?.trackers[p][i].isUp ?? true
            let errors = serverSum(i, .serverErr) + serverSum(i, .serverEOF) + serverSum(i, .serverTimedout)
            let placement = UpstreamPlacement(address: board?.addressTexts[p][i] ?? server.addressText, role: "master",
                                              failovers: board?.switches[p][i] ?? 0)
            own.append(f("upstream_\(server.displayName)", "\(placement.infoText),state=\(up ? "up" : "down"),"
                + "requests=\(serverSum(i, .requests)),responses=\(serverSum(i, .responses)),errors=\(errors),"
                + "in_queue=\(serverSum(i, .inQueue)),leased_connections=\(serverSum(i, .leasesInUse)),"
                + "blocked_clients=\(serverSum(i, .blockedClients)),transactions=\(serverSum(i, .transactions)),"
                + "transactions_aborted=\(serverSum(i, .transactionsAborted)),noscript_reloads=\(serverSum(i, .scriptReloads))"))
        }
        // The replicas read_from reads from, after the servers (stats index: the server
        // count plus the slot).
        if let replicas = board?.replicas {
            let slots = replicas.slots()[p], states = replicas.states()
            let servers = pool.config.servers.count
            for (slot, spec) in slots.enumerated() where !spec.address.host.isEmpty {
                let i = servers + slot
                let errors = serverSum(i, .serverErr) + serverSum(i, .serverEOF) + serverSum(i, .serverTimedout)
                let placement = UpstreamPlacement(address: "\(spec.address.host):\(spec.address.port)", role: "replica", failovers: 0)
                own.append(f("replica_\(pool.config.servers[spec.server].displayName)_\(slot)",
                             "\(placement.infoText),state=\(states.usable[p][slot] ? "up" : "down"),"
                                 + "requests=\(serverSum(i, .requests)),responses=\(serverSum(i, .responses)),errors=\(errors)"))
            }
        }
        if let states = board?.sentinelUp[p], !states.isEmpty {
            own += SentinelInfo.fields(pool.config.sentinel.sentinels.enumerated().map { ("\($1.host):\($1.port)", states[$0]) })
        }
        sections.append(InfoSection(InfoQuery.proxySection, own))
        return sections
    }

    /// CONFIG RESETSTAT: INFO's commandstats count from now (the /metrics counters go on).
    func resetInfoStats(pool: Int, name: String) {
        var values: [Int: (calls: UInt64, usec: UInt64)] = [:]
        for c in commands.commands {
            var calls: UInt64 = 0, usec: UInt64 = 0
            for s in allStats {
                guard let wp = s.pool(named: name) else { continue }
                let h = s.commandHistogram(pool: wp, command: c.index)
                calls &+= h[0...Latency.boundsUs.count].reduce(0, &+)
                usec &+= h[Latency.sumSlot]
            }
            if calls > 0 { values[pool * commands.commands.count + c.index] = (calls, usec) }
        }
        mesh.setBaseline(values)
    }
}

extension PoolRuntime {
    /// The clients the pool takes: client_connections, else what the process's descriptor
    /// limit allows (as Redis lowers maxclients to it).
    var maxClients: Int { PoolRuntime.maxClients(config) }

    static func maxClients(_ config: PoolConfig) -> Int {
        if config.clientConnections > 0 { return config.clientConnections }
        var limit = rlimit()
        getrlimit(Int32(RLIMIT_NOFILE.rawValue), &limit)
        return Int(limit.rlim_cur)
    }
}

extension Worker {
    /// Linux's RUSAGE_THREAD.
    static let rusageThread: __rusage_who_t = 1
}

/// The process's memory and CPU, as INFO prints them.
enum ProcessUsage {
    /// Bytes malloc holds for the program, resident bytes, and the peak resident size.
    static func memory() -> (used: Int, resident: Int, peak: Int) {
        let used = Int(rp_heap_in_use())
        var resident = 0
        let fd = open("/proc/self/statm", O_RDONLY)
        if fd >= 0 {
            var buffer = [UInt8](repeating: 0, count: 128)
            let n = read(fd, &buffer, buffer.count)
            close(fd)
            if n > 0 {
                let fields = buffer.prefix(n).split(separator: UInt8(ascii: " "))
                if fields.count > 1, let pages = Int(String(decoding: fields[1], as: UTF8.self)) {
                    resident = pages * Int(sysconf(Int32(_SC_PAGESIZE)))
                }
            }
        }
        var usage = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
        return (used, resident, max(resident, Int(usage.ru_maxrss) * 1024))
    }

    static func cpu() -> [(String, String)] {
        func seconds(_ t: timeval) -> String {
            let us = Int(t.tv_usec)
            return "\(t.tv_sec)." + String(repeating: "0", count: 6 - String(us).count) + String(us)
        }
        var me = rusage(), children = rusage(), thread = rusage()
        getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &me)
        getrusage(__rusage_who_t(RUSAGE_CHILDREN.rawValue), &children)
        // The calling worker's thread (RUSAGE_THREAD, which Glibc's module does not export).
        getrusage(Worker.rusageThread, &thread)
        return [("used_cpu_sys", seconds(me.ru_stime)), ("used_cpu_user", seconds(me.ru_utime)),
                ("used_cpu_sys_children", seconds(children.ru_stime)), ("used_cpu_user_children", seconds(children.ru_utime)),
                ("used_cpu_sys_main_thread", seconds(thread.ru_stime)), ("used_cpu_user_main_thread", seconds(thread.ru_utime))]
    }
}
