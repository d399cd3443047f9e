// What changes between the running configuration and a new one: the pools added, removed
// and changed, and in a changed pool its listener, its servers (matched by ring identity,
// as ketama places keys by it) and each pool key whose value differs. Process-wide
// settings cannot change while the process runs and are listed apart. A reload logs
// `logLine`; `ringproxy -t --diff` prints `lines`. Pure: two loaded configs in, values out.

import RingCore

/// One setting's value before and after, as YAML writes it (nil: the pool holds no value).
public struct SettingChange: Equatable, Sendable {
    public var name: String
    public var old: String?
    public var new: String?
    /// A password: shown as changed, never by value.
    public var secret: Bool
    /// What a missing value means (a key's described default: "no limit", "none").
    var absent: String

    /// "timeout 400 -> 1000"; "redis_auth changed".
    public var text: String {
        if secret {
            if old == nil { return "\(name) set" }
            if new == nil { return "\(name) removed" }
            return "\(name) changed"
        }
        return "\(name) \(old ?? absent) -> \(new ?? absent)"
    }
}

/// A server kept by a reload (same ring identity, so its keys stay) whose weight or
/// address changed.
public struct ServerChange: Equatable, Sendable {
    public var old: ServerSpec
    public var new: ServerSpec
    public var identity: String { new.ringIdentity }
}

public struct PoolDiff: Equatable, Sendable {
    public var name: String
    /// The listener's old and new address (a new listener opens).
    public var listen: SettingChange?
    public var serversAdded: [ServerSpec] = []
    public var serversRemoved: [ServerSpec] = []
    /// Same identity, new weight: ketama gives it more or fewer points.
    public var serversReweighted: [ServerChange] = []
    /// Same identity, new address: its keys stay on it, at the new address.
    public var serversMoved: [ServerChange] = []
    /// Every other pool key whose value differs, in PoolKey.table order.
    public var settings: [SettingChange] = []

    /// Keys this diff reports structurally rather than as a value: a listener is reopened,
    /// and servers are matched one by one.
    static let structuralKeys: Set<String> = ["listen", "servers"]

    public init(running old: PoolConfig, new: PoolConfig) {
        name = new.name
        if old.listen != new.listen {
            listen = SettingChange(name: "listen", old: ConfigLoader.listenText(old.listen),
                                   new: ConfigLoader.listenText(new.listen), secret: false, absent: "")
        }
        // The loader refuses a server or pool twice; a hand-built config keeps the first.
        let before = Dictionary(old.servers.map { ($0.ringIdentity, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(new.servers.map(\.ringIdentity))
        for server in new.servers {
            guard let was = before[server.ringIdentity] else { serversAdded.append(server); continue }
            if was.weight != server.weight { serversReweighted.append(ServerChange(old: was, new: server)) }
            if was.address != server.address { serversMoved.append(ServerChange(old: was, new: server)) }
        }
        serversRemoved = old.servers.filter { !after.contains($0.ringIdentity) }
        for key in PoolKey.table where !Self.structuralKeys.contains(key.name) {
            let (a, b) = (key.render(old), key.render(new))
            if a != b {
                settings.append(SettingChange(name: key.name, old: a, new: b, secret: key.secret, absent: key.absentText))
            }
        }
    }

    public var isEmpty: Bool {
        listen == nil && serversAdded.isEmpty && serversRemoved.isEmpty && serversReweighted.isEmpty
            && serversMoved.isEmpty && settings.isEmpty
    }

    /// "pool cache: servers +cache-4, -cache-2, timeout 400 -> 1000".
    public var text: String {
        var parts: [String] = []
        if let l = listen { parts.append(l.text) }
        let servers = serversAdded.map { "+" + $0.ringIdentity } + serversRemoved.map { "-" + $0.ringIdentity }
            + serversReweighted.map { "\($0.identity) weight \($0.old.weight) -> \($0.new.weight)" }
            + serversMoved.map { "\($0.identity) moved \($0.old.addressText) -> \($0.new.addressText)" }
        if !servers.isEmpty { parts.append("servers " + servers.joined(separator: ", ")) }
        parts += settings.map(\.text)
        return "pool \(name): " + parts.joined(separator: ", ")
    }
}

public struct ConfigDiff: Equatable, Sendable {
    /// In the new file's order.
    public var poolsAdded: [String] = []
    /// In the running file's order.
    public var poolsRemoved: [String] = []
    /// Pools in both with any difference, in the new file's order.
    public var poolsChanged: [PoolDiff] = []
    /// Process-wide settings that differ; a reload keeps the running values.
    public var needsRestart: [SettingChange] = []

    public init(running old: ProxyConfig, new: ProxyConfig) {
        let before = Dictionary(old.pools.map { ($0.name, $0) }, uniquingKeysWith: { first, _ in first })
        let after = Set(new.pools.map(\.name))
        for pool in new.pools {
            guard let was = before[pool.name] else { poolsAdded.append(pool.name); continue }
            let diff = PoolDiff(running: was, new: pool)
            if !diff.isEmpty { poolsChanged.append(diff) }
        }
        poolsRemoved = old.pools.map(\.name).filter { !after.contains($0) }
        for setting in ConfigLoader.settings {
            let (a, b) = (setting.render(old), setting.render(new))
            if a != b { needsRestart.append(SettingChange(name: setting.name, old: a, new: b, secret: false, absent: "")) }
        }
    }

    public var isEmpty: Bool {
        poolsAdded.isEmpty && poolsRemoved.isEmpty && poolsChanged.isEmpty && needsRestart.isEmpty
    }

    /// One line per part of the change; ["no change"] when there is none.
    public var lines: [String] {
        guard !isEmpty else { return ["no change"] }
        var out = poolsAdded.map { "pool \($0) added" } + poolsRemoved.map { "pool \($0) removed" } + poolsChanged.map(\.text)
        if !needsRestart.isEmpty {
            out.append("needs a restart: " + needsRestart.map(\.text).joined(separator: ", ") + " (kept)")
        }
        return out
    }

    /// The one line a reload logs: "reload: pool cache: servers +cache-4; needs a restart: ...".
    public var logLine: String { "reload: " + lines.joined(separator: "; ") }
}

extension PoolKey {
    /// What a key left out means, for a diff that shows it: its default as the reference
    /// writes it ("no limit", "none").
    var absentText: String {
        switch defaultValue {
        case let .value(v): return v
        case let .described(text): return text
        case .required: return "none"
        }
    }
}

extension ProxyConfig {
    /// What a reload runs: `new`'s pools, with this (running) configuration's process-wide
    /// settings, which need a restart (ConfigDiff.needsRestart lists those that differ).
    public func reloaded(with new: ProxyConfig) -> ProxyConfig {
        var out = new
        out.threads = threads
        out.admin = admin
        out.requestLimits = requestLimits
        return out
    }
}
