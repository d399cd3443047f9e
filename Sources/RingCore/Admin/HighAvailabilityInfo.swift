// Where each upstream is reached now, in what role, and how often it moved (Sentinel
// failovers and DNS re-resolutions), and whether each sentinel answers: the same facts for
// INFO's ringproxy section, /stats and the status page, worded once here.

public struct UpstreamPlacement: Equatable, Sendable {
    /// "host:port" the proxy connects to now (Sentinel's or the resolver's latest word).
    public var address: String
    /// "master" for a server the proxy writes to, "replica" for one it reads from.
    public var role: String
    /// Times the address moved since start.
    public var failovers: UInt64

    public init(address: String, role: String, failovers: UInt64) {
        self.address = address
        self.role = role
        self.failovers = failovers
    }

    /// The part of an `upstream_<name>` INFO line that says where the server is.
    public var infoText: String { "address=\(address),role=\(role),failovers=\(failovers)" }
}

public enum SentinelInfo {
    /// One INFO line per sentinel, numbered as configured (Redis's own INFO sentinel numbers
    /// its masters the same way: master0, master1...).
    public static func fields(_ sentinels: [(address: String, up: Bool)]) -> [InfoField] {
        sentinels.enumerated().map { i, s in
            InfoField("sentinel\(i)", "address=\(s.address),status=\(s.up ? "up" : "down")")
        }
    }
}
