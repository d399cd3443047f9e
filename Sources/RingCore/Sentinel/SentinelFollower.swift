// Which address one Sentinel-managed server (a master name) is at, decided from the answers
// of several sentinels, some of them stale, in TILT or hung. Pure: the checker feeds it
// answers and ROLE results and does what it says. Redis's Sentinel client guidelines: take
// the address from a sentinel, then confirm with ROLE on that address before using it.

/// What one sentinel said of one master: from SENTINEL MASTER, with the sentinel's TILT
/// state from INFO sentinel.
public struct SentinelAnswer: Equatable, Sendable {
    public var address: HostPort
    public var configEpoch: UInt64
    public var tilt: Bool

    public init(address: HostPort, configEpoch: UInt64, tilt: Bool) {
        self.address = address
        self.configEpoch = configEpoch
        self.tilt = tilt
    }

    /// SENTINEL MASTER's flat field list (ip, port, config-epoch); nil when a field is missing.
    public init?(fields: [String: String], tilt: Bool) {
        guard let ip = fields["ip"], let portText = fields["port"], let port = Int(portText),
              HostPort.validPorts.contains(port), let epochText = fields["config-epoch"],
              let epoch = UInt64(epochText) else { return nil }
        self.init(address: HostPort(host: ip, port: port), configEpoch: epoch, tilt: tilt)
    }

    /// `sentinel_tilt:1` in INFO sentinel's text.
    public static func tilt(inInfo info: String) -> Bool {
        info.split(whereSeparator: \.isNewline).contains { $0 == "sentinel_tilt:1" }
    }
}

/// An accepted switch, for the log line and the board.
public struct SentinelSwitch: Equatable, Sendable {
    public var from: HostPort
    public var to: HostPort
    public var epoch: UInt64
}

public struct SentinelFollower: Equatable, Sendable {
    public enum Verdict: Equatable, Sendable {
        /// Nothing to do: the answer is stale, from a sentinel in TILT, or agrees.
        case ignore
        /// Ask `ROLE` on this address and report the result with `roleAnswered`.
        case confirm(HostPort, epoch: UInt64)
    }

    /// The address requests go to.
    public private(set) var current: HostPort
    /// The highest config epoch any sentinel out of TILT has reported; nil before the first.
    public private(set) var highestEpoch: UInt64?
    /// The address waiting for its ROLE answer (one at a time: a newer epoch replaces it).
    public private(set) var candidate: (address: HostPort, epoch: UInt64)?
    /// Switches accepted since start.
    public private(set) var failovers = 0

    public init(configured: HostPort) {
        current = configured
    }

    public static func == (a: SentinelFollower, b: SentinelFollower) -> Bool {
        a.current == b.current && a.highestEpoch == b.highestEpoch && a.failovers == b.failovers
            && a.candidate?.address == b.candidate?.address && a.candidate?.epoch == b.candidate?.epoch
    }

    /// One sentinel's answer. A sentinel in TILT is not trusted (its view of time, and so of
    /// failures, is off); an epoch below the highest seen is a sentinel that missed a failover.
    public mutating func answer(_ a: SentinelAnswer) -> Verdict {
        if a.tilt { return .ignore }
        if let h = highestEpoch, a.configEpoch < h { return .ignore }
        highestEpoch = a.configEpoch
        if a.address == current {
            // The newest word agrees with where requests go: a candidate of an older epoch
            // is no longer worth confirming.
            if let c = candidate, c.epoch <= a.configEpoch { candidate = nil }
            return .ignore
        }
        if let c = candidate, c.address == a.address, c.epoch == a.configEpoch { return .ignore }
        candidate = (a.address, a.configEpoch)
        return .confirm(a.address, epoch: a.configEpoch)
    }

    /// ROLE's answer on a candidate (`isMaster` false also for no answer in time). Only the
    /// candidate still wanted is accepted: a newer epoch's candidate may have replaced it.
    public mutating func roleAnswered(_ address: HostPort, epoch: UInt64, isMaster: Bool) -> SentinelSwitch? {
        guard let c = candidate, c.address == address, c.epoch == epoch else { return nil }
        candidate = nil
        guard isMaster else { return nil }
        let change = SentinelSwitch(from: current, to: address, epoch: epoch)
        current = address
        failovers += 1
        return change
    }

    /// ROLE's reply says master: its first element is "master".
    public static func isMasterRole(_ reply: RESPValue) -> Bool {
        guard case let .array(items) = reply, let first = items.first?.text else { return false }
        return first == "master"
    }
}
