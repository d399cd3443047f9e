// The replicas read_from reads from, in /stats (under their master, as `replicas`) and in
// /metrics (ringproxy_replica_*), with their own request counters: a replica counts under
// the stats index after the pool's servers (see WorkerStats).

import RingConfig
import RingCore

extension AdminServer {
    /// The counters each replica shows, nutcracker's names.
    static let replicaStats: [ServerStat] = [.requests, .responses, .serverErr, .serverEOF, .serverTimedout, .serverConnections]

    /// `"replicas":{"host:port":{...}}` for server `s` of pool `p`; nil when it has none.
    func replicasJSON(pool p: Int, server s: Int) -> String? {
        let board = view.replicas
        let specs = board.slots()[p]
        guard specs.contains(where: { $0.server == s && !$0.address.host.isEmpty }) else { return nil }
        let states = board.states()
        let servers = config.pools[p].servers.count
        var entries: [String] = []
        for (slot, spec) in specs.enumerated() where spec.server == s && !spec.address.host.isEmpty {
            var fields = ["\"role\":\"replica\"", "\"usable\":\(states.usable[p][slot])",
                          "\"reason\":\(Self.jsonString(states.reasons[p][slot]))"]
            fields += Self.replicaStats.map { "\"\($0.name)\":\(Int64(bitPattern: sum(pool: p, server: servers + slot, $0)))" }
            entries.append("\(Self.jsonString("\(spec.address.host):\(spec.address.port)")):{\(fields.joined(separator: ","))}")
        }
        return "\"replicas\":{\(entries.joined(separator: ","))}"
    }

    /// ringproxy_replica_* families; empty when no pool reads from replicas.
    func replicaMetrics() -> String {
        let board = view.replicas
        guard !board.isEmpty else { return "" }
        let states = board.states()
        var out = ""
        func each(_ body: (Int, Int, ReplicaSpec, String) -> String) {
            for (p, specs) in board.slots().enumerated() {
                for (slot, spec) in specs.enumerated() where !spec.address.host.isEmpty {
                    let labels = Self.labels(["pool": config.pools[p].name, "upstream": config.pools[p].servers[spec.server].displayName,
                                              "replica": "\(spec.address.host):\(spec.address.port)"])
                    out += body(p, slot, spec, labels)
                }
            }
        }
        out += "# HELP ringproxy_replica_usable 1 when the replica is read from (ROLE, link and lag checked), 0 when not.\n"
        out += "# TYPE ringproxy_replica_usable gauge\n"
        each { p, slot, _, labels in "ringproxy_replica_usable{\(labels)} \(states.usable[p][slot] ? 1 : 0)\n" }
        for stat in Self.replicaStats {
            let name = "ringproxy_replica_\(stat.name)" + (stat.isGauge ? "" : "_total")
            out += "# HELP \(name) Replica \(stat.name): \(stat.help).\n# TYPE \(name) \(stat.isGauge ? "gauge" : "counter")\n"
            each { p, slot, _, labels in
                "\(name){\(labels)} \(Int64(bitPattern: sum(pool: p, server: config.pools[p].servers.count + slot, stat)))\n"
            }
        }
        return out
    }
}
