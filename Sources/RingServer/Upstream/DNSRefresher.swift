// Re-resolves the servers given by host name (a "primary endpoint" that a managed Redis
// moves to the promoted node), on the health checker's thread, never a worker's: every
// dns_refresh_interval, at once when a worker saw READONLY or a refused connection, and when
// a check connection is remade. A changed address goes to the HealthBoard as a switch, so the
// workers retire their connections to the old one exactly as for a Sentinel failover.

import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

final class DNSRefresher {
    /// One server given by host name.
    struct Entry {
        let pool: Int
        let server: Int
        let host: String
        let port: Int
        /// Sentinel named an address for it: that address stands, the name is not asked again.
        var sentinelOwned = false
    }

    unowned let checker: HealthChecker
    private var entries: [Entry] = []
    private var timers: [LoopTimer] = []
    /// Re-resolutions a worker asks for (READONLY, refused connections) come at most this
    /// often: a burst of failing requests must not become a burst of resolver calls, which
    /// block the checker's thread while they run.
    static let requestedGapMs: UInt64 = 100
    private var lastRequestedMs: UInt64?

    /// nil when no pool re-resolves a server (no host names, or dns_refresh_interval 0).
    init?(checker: HealthChecker, config: ProxyConfig) {
        self.checker = checker
        for (p, pool) in config.pools.enumerated() where pool.dnsRefreshMs > 0 {
            let named = pool.servers.enumerated().compactMap { s, spec -> Entry? in
                guard case let .tcp(host, port) = spec.address, !isNumericHost(host) else { return nil }
                return Entry(pool: p, server: s, host: host, port: port)
            }
            guard !named.isEmpty else { continue }
            entries += named
            let timer = LoopTimer(checker.loop) { [unowned self] in self.refresh(pool: p) }
            timer.start(afterMs: UInt64(pool.dnsRefreshMs), repeatMs: UInt64(pool.dnsRefreshMs))
            timers.append(timer)
        }
        guard !entries.isEmpty else { return nil }
        // /stats, INFO and the log show the address in use, not the name again.
        for e in entries {
            let a = checker.board.currentAddress(pool: e.pool, server: e.server).address
            checker.board.setAddressText(Self.text(of: a), pool: e.pool, server: e.server)
        }
    }

    func close() {
        for t in timers { t.close() }
        timers = []
    }

    /// True for a server this refresher resolves (a check connection then asks it first).
    func follows(pool: Int, server: Int) -> Bool {
        entries.contains { $0.pool == pool && $0.server == server && !$0.sentinelOwned }
    }

    /// Sentinel named an address for the server: its configured name no longer speaks for it.
    func sentinelTookOver(pool: Int, server: Int) {
        for i in entries.indices where entries[i].pool == pool && entries[i].server == server { entries[i].sentinelOwned = true }
    }

    /// A worker saw a sign that a name may have moved (READONLY, a refused connection).
    func requested() {
        let now = checker.loop.nowMs
        if let last = lastRequestedMs, now < last + Self.requestedGapMs { return }
        lastRequestedMs = now
        for i in entries.indices { refresh(entry: i) }
    }

    private func refresh(pool: Int) {
        for i in entries.indices where entries[i].pool == pool { refresh(entry: i) }
    }

    func refresh(pool: Int, server: Int) {
        for i in entries.indices where entries[i].pool == pool && entries[i].server == server { refresh(entry: i) }
    }

    /// Resolves one name; a new address moves the server (workers retire its connections,
    /// the check connection is remade there). A failed lookup keeps the last address: a
    /// resolver hiccup must not take a working server away.
    private func refresh(entry i: Int) {
        let e = entries[i]
        guard !e.sentinelOwned else { return }
        // Blocking is acceptable here: this is the checker's thread, not a worker's.
        guard case let .success(fresh) = resolveAddress(host: e.host, port: e.port) else { return }
        let current = checker.board.currentAddress(pool: e.pool, server: e.server).address
        let (was, now) = (Self.text(of: current), Self.text(of: fresh))
        guard was != now else { return }
        checker.board.dnsMoved(fresh, text: now, pool: e.pool, server: e.server, host: e.host)
        checker.addressSwitched(pool: e.pool, server: e.server)
    }

    /// "ip:port" ("[ip6]:port") for a resolved address.
    static func text(of address: sockaddr_storage) -> String {
        var a = address
        var buffer = [CChar](repeating: 0, count: Int(INET6_ADDRSTRLEN) + 1)
        return withUnsafePointer(to: &a) { raw -> String in
            raw.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa -> String in
                if Int32(sa.pointee.sa_family) == AF_INET6 {
                    return sa.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { six in
                        var addr = six.pointee.sin6_addr
                        inet_ntop(AF_INET6, &addr, &buffer, socklen_t(buffer.count))
                        return "[\(String(cString: buffer))]:\(UInt16(bigEndian: six.pointee.sin6_port))"
                    }
                }
                return sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { four in
                    var addr = four.pointee.sin_addr
                    inet_ntop(AF_INET, &addr, &buffer, socklen_t(buffer.count))
                    return "\(String(cString: buffer)):\(UInt16(bigEndian: four.pointee.sin_port))"
                }
            }
        }
    }
}
