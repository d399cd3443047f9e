// Reads from replicas: which commands may go to one (read_from), which replica takes the
// next read (a rotation over the ones the checker found usable), and whether a replica is
// usable, from its ROLE and INFO replication and its master's INFO replication.

/// read_from's words.
public enum ReadFrom: String, CaseIterable, Sendable {
    /// Every request to the master (the default; no replica is looked at).
    case master
    /// Reads to a usable replica, to the master when none is.
    case preferReplica = "prefer_replica"
    /// Reads to a usable replica, an error when none is.
    case replica
}

public enum ReadTarget: Equatable, Sendable {
    case master
    /// The replica's index among its master's replicas.
    case replica(Int)
    /// read_from: replica, and none is usable.
    case noReplica
}

public enum ReplicaReads {
    /// A command a replica may answer: read-only in Redis's table, and neither blocking (a
    /// blocked read waits for a write, which only the master sees first) nor a script or
    /// transaction command (those carry the `noscript` flag: EVAL_RO, FCALL_RO, MULTI...),
    /// which stay on the master.
    public static func mayGoToReplica(_ flags: CommandFlags) -> Bool {
        flags.contains(.readonly) && !flags.contains(.blocking) && !flags.contains(.noscript)
    }
}

/// One master's replicas as one worker rotates reads over them. No allocation per choice.
public struct ReplicaRotation: Sendable {
    public private(set) var usable: [Bool]
    private var next = 0

    public init(count: Int) { usable = Array(repeating: false, count: count) }

    public mutating func setUsable(_ states: [Bool]) { usable = states }

    /// Where a request goes: `isRead` is false for anything a replica must not answer
    /// (see ReplicaReads.mayGoToReplica, and requests inside a transaction).
    public mutating func target(_ mode: ReadFrom, isRead: Bool) -> ReadTarget {
        guard isRead, mode != .master else { return .master }
        let n = usable.count
        var tried = 0
        while tried < n {
            let i = next
            next = next + 1 == n ? 0 : next + 1
            if usable[i] { return .replica(i) }
            tried += 1
        }
        return mode == .preferReplica ? .master : .noReplica
    }
}

/// The checker's verdict on one replica.
public struct ReplicaVerdict: Equatable, Sendable {
    public var usable: Bool
    /// Why not (empty when usable), for /stats and the log.
    public var reason: String

    public init(usable: Bool, reason: String) {
        self.usable = usable
        self.reason = reason
    }
}

public enum ReplicaCheck {
    /// A replica is usable when ROLE says it is a replica whose link is up ("connected"),
    /// its INFO replication says `master_link_status:up`, and its master lists it online
    /// with a lag (seconds since its last acknowledgment, which a replica sends every
    /// second) within `maxLagMs` (0: any lag). Redis counts that lag in whole seconds.
    public static func verdict(role: RESPValue?, replicaInfo: String?, masterInfo: String?,
                               replica: HostPort, maxLagMs: Int) -> ReplicaVerdict {
        guard let role = role, case let .array(items) = role, let kind = items.first?.text else {
            return ReplicaVerdict(usable: false, reason: "no ROLE answer")
        }
        guard kind == "slave" || kind == "replica" else { return ReplicaVerdict(usable: false, reason: "ROLE is \(kind)") }
        if items.count > 3, let state = items[3].text, state != "connected" {
            return ReplicaVerdict(usable: false, reason: "replication \(state)")
        }
        guard let info = replicaInfo, let link = field("master_link_status", in: info) else {
            return ReplicaVerdict(usable: false, reason: "no INFO replication answer")
        }
        guard link == "up" else { return ReplicaVerdict(usable: false, reason: "master_link_status:\(link)") }
        guard let masterText = masterInfo else { return ReplicaVerdict(usable: false, reason: "its master did not answer") }
        guard let lag = lagSeconds(masterInfo: masterText, replica: replica) else {
            return ReplicaVerdict(usable: false, reason: "its master does not list it online")
        }
        if maxLagMs > 0 && lag * 1000 > maxLagMs {
            return ReplicaVerdict(usable: false, reason: "lag \(lag) s over replica_max_lag \(maxLagMs) ms")
        }
        return ReplicaVerdict(usable: true, reason: "")
    }

    /// The `lag=` of the master's `slaveN:ip=..,port=..,state=online,offset=..,lag=..` line
    /// for `replica`: matched by ip and port, else by port alone when one line has it (a
    /// replica given by host name is listed by the IP it connects from).
    public static func lagSeconds(masterInfo: String, replica: HostPort) -> Int? {
        var byPort: [[String: String]] = []
        for section in InfoReport.parse(masterInfo) {
            for f in section.fields where f.name.hasPrefix("slave") && Int(f.name.dropFirst(5)) != nil {
                var d: [String: String] = [:]
                for part in f.value.split(separator: ",") {
                    let kv = part.split(separator: "=", maxSplits: 1)
                    if kv.count == 2 { d[String(kv[0])] = String(kv[1]) }
                }
                guard d["port"] == String(replica.port), d["state"] == "online" else { continue }
                if d["ip"] == replica.host { return d["lag"].flatMap { Int($0) } }
                byPort.append(d)
            }
        }
        return byPort.count == 1 ? byPort[0]["lag"].flatMap { Int($0) } : nil
    }

    static func field(_ name: String, in info: String) -> String? {
        for section in InfoReport.parse(info) {
            if let f = section.fields.first(where: { $0.name == name }) { return f.value }
        }
        return nil
    }
}

public enum SentinelReplicas {
    /// The flags that say Sentinel does not vouch for a replica now.
    static let unhealthyFlags: Set<Substring> = ["s_down", "o_down", "disconnected"]

    /// The replicas in a SENTINEL REPLICAS reply that Sentinel considers healthy (none of
    /// s_down, o_down, disconnected in their flags), in the reply's order; [] for an error
    /// or anything else.
    public static func healthy(_ reply: RESPValue) -> [HostPort] {
        guard case let .array(entries) = reply else { return [] }
        var out: [HostPort] = []
        for entry in entries {
            guard let f = entry.fields, let ip = f["ip"], let port = f["port"].flatMap({ Int($0) }), port > 0 else { continue }
            let flags = (f["flags"] ?? "").split(separator: ",")
            if flags.contains(where: { unhealthyFlags.contains($0) }) { continue }
            out.append(HostPort(host: ip, port: port))
        }
        return out
    }
}
