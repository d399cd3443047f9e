// What every stats field means, as `ringproxy -D` prints it (nutcracker's --describe-stats,
// with ringproxy's fields added). The counters' lines come from PoolStat and ServerStat, so
// they cannot drift from what /stats and /metrics export; it must never list a field they lack.

public enum StatsDescription {
    /// /stats fields of a pool that are not counters.
    static let poolExtras: [(String, String)] = [
        ("server_ejects", "# times a server of the pool was marked down"),
    ]

    /// /stats fields of a server that are not counters.
    static let serverExtras: [(String, String)] = [
        ("server_ejected_at", "when the server was marked down, in usec since epoch (0 while up)"),
        ("state", "up or down, as the health checks and failures decided"),
        ("state_since", "Unix time of the last change of state (0: never changed)"),
        ("state_reason", "why the state last changed"),
        ("failed_checks", "# failed health checks"),
        ("ejections", "# times the server was marked down"),
        ("address", "the server's current address (host:port or socket path; with sentinels, the master Sentinel names)"),
        ("failovers", "# times Sentinel moved the server to another address"),
        ("role", "what the proxy uses the address as (master)"),
        ("replicas", "the replicas read_from reads from, by address: role, usable, reason and their request counters"),
        ("routed_prefixes", "key prefixes key_routes sends to this server, comma-separated (empty: none)"),
        ("latency_us", "p50, p90, p99, p999 and max microseconds from queueing to reply"),
    ]

    /// Top-level /stats fields beside nutcracker's, once a reload was tried.
    static let processExtras: [(String, String)] = [
        ("last_reload", "Unix time of the last reload attempt (SIGHUP or POST /reload)"),
        ("last_reload_result", "ok, or failed (nothing changed)"),
        ("last_reload_message", "the last reload's log line, or its error"),
        ("reload_failures", "# reloads refused (invalid file, unresolvable name, listen address in use)"),
    ]

    public static var text: String {
        func line(_ name: String, _ help: String) -> String {
            "  " + name + String(repeating: " ", count: max(1, 22 - name.count)) + "\"\(help)\""
        }
        var lines = ["pool stats:"]
        lines += PoolStat.allCases.map { line($0.name, $0.help) }
        lines += poolExtras.map { line($0.0, $0.1) }
        lines += ["", "server stats:"]
        lines += ServerStat.allCases.map { line($0.name, $0.help) }
        lines += serverExtras.map { line($0.0, $0.1) }
        lines += ["", "process stats:"]
        lines += processExtras.map { line($0.0, $0.1) }
        lines += [
            "",
            "GET /stats on the admin listener (-s, -a) returns these per pool and per server (keyed by",
            "name), after service, source, version, uptime, timestamp and curr_connections.",
            "GET /metrics exports the counters as ringproxy_pool_NAME_total and",
            "ringproxy_upstream_NAME_total (gauges without _total) with labels pool and upstream,",
            "and ringproxy_upstream_up, ringproxy_upstream_state_since_seconds,",
            "ringproxy_upstream_failed_checks_total, ringproxy_upstream_ejections_total,",
            "ringproxy_upstream_address_info, ringproxy_upstream_failovers_total,",
            "ringproxy_upstream_latency_seconds and ringproxy_command_latency_seconds (histograms),",
            "ringproxy_uptime_seconds and ringproxy_build_info; ringproxy_config_reloads_total,",
            "ringproxy_config_reload_failures_total, ringproxy_config_last_reload_timestamp_seconds",
            "and ringproxy_config_last_reload_success; ringproxy_sentinel_up, and for read_from",
            "ringproxy_replica_usable and ringproxy_replica_NAME_total.",
        ]
        return lines.joined(separator: "\n")
    }
}
