// INFO through the proxy: which sections a request asks for (Redis 7.0's rules for
// default, all and everything), the servers' INFO texts parsed into sections, and the one
// text the client gets, where each field is the proxy's own, a live upstream's, or summed
// over the servers (InfoFieldSource says which). Pure: the caller gathers the texts.

public struct InfoField: Equatable, Sendable {
    public var name: String
    public var value: String
    public init(_ name: String, _ value: String) {
        self.name = name
        self.value = value
    }
}

public struct InfoSection: Equatable, Sendable {
    /// Lower-cased, as INFO's arguments name it ("cpu", "keyspace").
    public var name: String
    public var fields: [InfoField]
    public init(_ name: String, _ fields: [InfoField]) {
        self.name = name
        self.fields = fields
    }
}

/// The sections one INFO request selects.
public struct InfoQuery: Equatable, Sendable {
    public private(set) var sections: Set<String> = []

    /// Every section, in the order Redis prints them; the proxy's own comes last.
    public static let order = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu",
                               "modules", "commandstats", "errorstats", "latencystats", "cluster", "keyspace",
                               InfoQuery.proxySection]
    /// The proxy's own section: pools, workers and each upstream's state.
    public static let proxySection = "ringproxy"
    /// What INFO without arguments (and INFO default) prints (Redis's default sections, and
    /// the proxy's own).
    public static let defaultSections: Set<String> = ["server", "clients", "memory", "persistence", "stats",
                                                      "replication", "cpu", "modules", "errorstats", "cluster",
                                                      "keyspace", proxySection]
    /// INFO all adds the per-command sections; everything adds modules' own sections too
    /// (the servers print those; the proxy passes them on).
    public static let allSections = defaultSections.union(["commandstats", "latencystats"])
    public private(set) var everything = false

    /// The arguments after INFO, any case; none means the default sections.
    public init(arguments: [String]) {
        if arguments.isEmpty { sections = InfoQuery.defaultSections }
        for a in arguments.map({ $0.lowercased() }) {
            switch a {
            case "default": sections.formUnion(InfoQuery.defaultSections)
            case "all": sections.formUnion(InfoQuery.allSections)
            case "everything":
                sections.formUnion(InfoQuery.allSections)
                everything = true
            default: sections.insert(a)
            }
        }
    }

    public func includes(_ section: String) -> Bool { everything || sections.contains(section) }
}

/// Where a field of the proxy's INFO comes from.
public enum InfoFieldSource: String, Equatable, Sendable {
    /// The proxy's own (its clients, memory, CPU, commands, uptime).
    case proxy
    /// The first live server that printed it (versions, configuration, ratios, states).
    case upstream
    /// Added over the servers (counters, keys, bytes; `key=value,...` fields element by element).
    case sum
    /// The largest over the servers (flags and times: "any server is saving", the latest fork).
    case max
    /// "err" when any server says so, else the first server's value (*_status fields).
    case worst
    /// Recomputed from the merged field it renders (used_memory_human from used_memory).
    case human
}

public enum InfoReport {
    /// Sections the proxy answers alone: the servers' lines there describe their own
    /// clients and CPU, not the proxy's.
    public static let proxySections: Set<String> = ["clients", "cpu", "commandstats", "latencystats", "cluster",
                                                    InfoQuery.proxySection]
    /// Integer fields of summed sections that are not additive: flags, times, sizes of one
    /// process, configuration.
    static let maxFields: Set<String> = [
        "loading", "async_loading", "current_cow_peak", "current_cow_size", "current_cow_size_age",
        "current_fork_perc", "rdb_bgsave_in_progress", "rdb_last_save_time", "rdb_last_bgsave_time_sec",
        "rdb_current_bgsave_time_sec", "rdb_last_cow_size", "aof_enabled", "aof_rewrite_in_progress",
        "aof_rewrite_scheduled", "aof_last_rewrite_time_sec", "aof_current_rewrite_time_sec", "aof_last_cow_size",
        "module_fork_in_progress", "module_fork_last_cow_size", "latest_fork_usec", "pubsub_patterns",
        "current_eviction_exceeded_time", "current_active_defrag_time", "active_defrag_running",
        "aof_rewrites_consecutive_failures",
    ]
    static let upstreamFields: Set<String> = ["total_system_memory", "maxmemory_policy", "mem_allocator",
                                              "number_of_cached_scripts", "number_of_functions",
                                              "number_of_libraries"]
    /// Sections whose fields are taken from the first live server as they are.
    static let upstreamSections: Set<String> = ["server", "replication", "modules"]

    /// Fields of the servers' sections that the proxy answers about itself (RingServer's
    /// proxyInfo gives exactly these there, and the proxy sections whole).
    public static let proxyFields: Set<String> = [
        "process_id", "tcp_port", "uptime_in_seconds", "uptime_in_days", "ringproxy_version",
        "used_memory", "used_memory_human", "used_memory_rss", "used_memory_rss_human", "used_memory_peak",
        "used_memory_peak_human", "used_memory_peak_perc",
    ]

    /// Where `field` of `section` comes from (`value`: a sample, telling numbers from text).
    public static func source(section: String, field: String, value: String = "0") -> InfoFieldSource {
        if proxySections.contains(section) || (proxyFields.contains(field) && section != "keyspace") { return .proxy }
        if upstreamSections.contains(section) { return .upstream }
        if section == "keyspace" || section == "errorstats" { return .sum }
        if field.hasSuffix("_human") { return .human }
        if field.hasSuffix("_status") { return .worst }
        if maxFields.contains(field) { return .max }
        if upstreamFields.contains(field) || field.hasSuffix("_perc") || field.hasSuffix("_ratio") { return .upstream }
        if Int(value) != nil { return .sum }
        if section == "stats", Double(value) != nil { return .sum }
        return .upstream
    }

    /// One INFO text as sections ("# Name" headers, "field:value" lines).
    public static func parse(_ text: String) -> [InfoSection] {
        var sections: [InfoSection] = []
        for raw in text.split(whereSeparator: { $0.isNewline }) {
            if raw.hasPrefix("#") {
                sections.append(InfoSection(raw.dropFirst().trimmingSpaces().lowercased(), []))
            } else if let colon = raw.firstIndex(of: ":") {
                if sections.isEmpty { sections.append(InfoSection("", [])) }
                sections[sections.count - 1].fields.append(InfoField(String(raw[..<colon]),
                                                                     String(raw[raw.index(after: colon)...])))
            }
        }
        return sections
    }

    /// The client's INFO text: the selected sections in Redis's order (then any section a
    /// server printed that the proxy does not know, such as a module's), each field from
    /// its source. `proxy` holds the proxy's own fields; `servers` the live servers' texts.
    public static func merge(servers: [[InfoSection]], proxy: [InfoSection], query: InfoQuery) -> String {
        var names = InfoQuery.order
        for s in servers.flatMap({ $0 }) where !names.contains(s.name) && !s.name.isEmpty { names.append(s.name) }
        var out: [String] = []
        for name in names where query.includes(name) {
            let own = proxy.first { $0.name == name }
            let theirs = servers.compactMap { $0.first { $0.name == name } }
            guard own != nil || !theirs.isEmpty else { continue }
            var lines = ["# " + title(name)]
            for f in mergeSection(name, own: own?.fields ?? [], theirs: theirs.map(\.fields)) {
                lines.append(f.name + ":" + f.value)
            }
            out.append(lines.joined(separator: "\r\n"))
        }
        return out.isEmpty ? "" : out.joined(separator: "\r\n\r\n") + "\r\n"
    }

    static func mergeSection(_ section: String, own: [InfoField], theirs: [[InfoField]]) -> [InfoField] {
        // The servers' order, the proxy's values in place, its own extra fields after them.
        var order: [String] = []
        var byName: [String: [String]] = [:]
        if !proxySections.contains(section) {
            for fields in theirs {
                for f in fields {
                    if byName[f.name] == nil { order.append(f.name) }
                    byName[f.name, default: []].append(f.value)
                }
            }
        }
        for f in own where byName[f.name] == nil { order.append(f.name) }
        if section == "keyspace" { order.sort { (Int($0.dropFirst(2)) ?? 0) < (Int($1.dropFirst(2)) ?? 0) } }
        var merged: [String: String] = [:]
        for f in own { merged[f.name] = f.value }
        var result: [InfoField] = []
        var human: [Int] = []
        for name in order {
            if let v = merged[name] {
                result.append(InfoField(name, v))
                continue
            }
            let values = byName[name] ?? []
            let value: String
            switch source(section: section, field: name, value: values.first ?? "") {
            case .proxy, .upstream: value = values.first ?? ""
            case .sum: value = section == "keyspace" ? sumKeyspace(values) : sumValues(values)
            case .max: value = String(values.compactMap { Int($0) }.max() ?? 0)
            case .worst: value = values.first { $0 != "ok" } ?? values.first ?? ""
            case .human:
                value = ""
                human.append(result.count)
            }
            merged[name] = value
            result.append(InfoField(name, value))
        }
        for i in human {
            let base = String(result[i].name.dropLast("_human".count))
            if let n = Int(merged[base] ?? "") { result[i].value = bytesToHuman(n) }
        }
        return result
    }

    /// Integers, decimals, or `key=value,...` lists added element by element.
    static func sumValues(_ values: [String]) -> String {
        guard let first = values.first else { return "" }
        if first.contains("=") { return sumComposite(values) }
        if values.allSatisfy({ Int($0) != nil }) { return String(values.reduce(0) { $0 + Int($1)! }) }
        let total = values.compactMap { Double($0) }.reduce(0, +)
        return formatDecimal(total)
    }

    /// `keys=..,expires=..,avg_ttl=..`: keys and expires added; avg_ttl averaged weighted by
    /// each server's keys with an expiry (as Redis averages over its own).
    static func sumKeyspace(_ values: [String]) -> String {
        var keys = 0, expires = 0, weighted = 0
        for v in values {
            let d = composite(v)
            let e = d["expires"] ?? 0
            keys += d["keys"] ?? 0
            expires += e
            weighted += (d["avg_ttl"] ?? 0) * e
        }
        return "keys=\(keys),expires=\(expires),avg_ttl=\(expires > 0 ? weighted / expires : 0)"
    }

    static func sumComposite(_ values: [String]) -> String {
        var names: [String] = []
        var totals: [String: Int] = [:]
        for v in values {
            for part in v.split(separator: ",") {
                let kv = part.split(separator: "=", maxSplits: 1)
                guard kv.count == 2 else { continue }
                let k = String(kv[0])
                if totals[k] == nil { names.append(k) }
                totals[k, default: 0] += Int(kv[1]) ?? 0
            }
        }
        return names.map { "\($0)=\(totals[$0]!)" }.joined(separator: ",")
    }

    static func composite(_ v: String) -> [String: Int] {
        var d: [String: Int] = [:]
        for part in v.split(separator: ",") {
            let kv = part.split(separator: "=", maxSplits: 1)
            if kv.count == 2 { d[String(kv[0])] = Int(kv[1]) ?? 0 }
        }
        return d
    }

    /// Two decimals, as Redis prints rates.
    public static func formatDecimal(_ x: Double) -> String {
        let hundredths = Int((x * 100).rounded())
        let sign = hundredths < 0 ? "-" : ""
        let a = abs(hundredths)
        let frac = a % 100
        return "\(sign)\(a / 100).\(frac < 10 ? "0" : "")\(frac)"
    }

    /// Redis's bytesToHuman: 1023B, 1.00K, 2.50M...
    public static func bytesToHuman(_ n: Int) -> String {
        if n < 1024 { return "\(n)B" }
        let units = ["K", "M", "G", "T", "P", "E"]
        var d = Double(n) / 1024
        var i = 0
        while d >= 1024 && i < units.count - 1 {
            d /= 1024
            i += 1
        }
        return formatDecimal(d) + units[i]
    }

    /// "commandstats" -> "Commandstats", "cpu" -> "CPU", as Redis titles its sections.
    public static func title(_ name: String) -> String {
        switch name {
        case "cpu": return "CPU"
        case InfoQuery.proxySection: return "Ringproxy"
        default: return name.prefix(1).uppercased() + name.dropFirst()
        }
    }
}

extension Substring {
    func trimmingSpaces() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        while s.last == " " { s = s.dropLast() }
        return s
    }
}
