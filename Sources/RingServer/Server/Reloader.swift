// A reload (SIGHUP, or POST /reload on the admin listener), run on a thread of its own or
// the admin's, never on a worker: the file is read and checked completely, names resolved
// and new TCP listen addresses tried, and only then does anything change. The board takes
// the new layout, every worker applies the plan within one loop turn, and the health checker
// restarts for the new servers. One reload at a time; each one's outcome is one log line,
// and /stats and /metrics show the last and count the failures.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public struct ReloadOutcome: Sendable {
    public var ok: Bool
    public var message: String
}

final class Reloader: @unchecked Sendable {
    let path: String
    let board: HealthBoard
    let workers: [Worker]
    /// The command line's settings (-s, -a) applied to every file read, as at start.
    let commandLine: @Sendable (inout ProxyConfig) -> Void
    /// Stops the health checker (before the board changes, so no check result lands on the
    /// wrong server), and starts one for the new configuration.
    let stopChecker: () -> Void
    let startChecker: (ProxyConfig) -> Void
    private var lock = pthread_mutex_t()

    /// How long a reload waits for every worker to apply it. A worker applies it at its next
    /// wake-up, within one loop turn; only a worker stuck for this long would miss it, and
    /// the reload then reports it rather than wait for ever.
    static let applyLimitMs = 5_000

    init(path: String, board: HealthBoard, workers: [Worker], commandLine: @escaping @Sendable (inout ProxyConfig) -> Void,
         stopChecker: @escaping () -> Void, startChecker: @escaping (ProxyConfig) -> Void) {
        self.path = path
        self.board = board
        self.workers = workers
        self.commandLine = commandLine
        self.stopChecker = stopChecker
        self.startChecker = startChecker
        pthread_mutex_init(&lock, nil)
    }

    /// Reads the file and applies it; thread-safe (reloads run one after the other).
    func reload() -> ReloadOutcome {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        let outcome = attempt()
        board.recordReload(outcome, at: Int(time(nil)))
        if outcome.ok { logNotice(outcome.message) } else { logError(outcome.message) }
        return outcome
    }

    private func attempt() -> ReloadOutcome {
        let running = board.config
        var file: ProxyConfig
        do {
            file = try ConfigLoader.load(path: path)
        } catch {
            return ReloadOutcome(ok: false, message: "reload failed, nothing changed: configuration error: \(error)")
        }
        commandLine(&file)
        for w in file.warnings { logWarn(w) }
        let diff = ConfigDiff(running: running, new: file)
        let next = running.reloaded(with: file)
        let resolved: [[sockaddr_storage]]
        switch Reloader.resolve(next) {
        case let .success(r): resolved = r
        case let .failure(e): return ReloadOutcome(ok: false, message: "reload failed, nothing changed: \(e)")
        }
        let oldListens = Set(running.pools.map { ConfigLoader.listenText($0.listen) })
        for pool in next.pools where !oldListens.contains(ConfigLoader.listenText(pool.listen)) {
            if case let .tcp(host, port) = pool.listen, let why = Reloader.tryBind(host: host, port: port) {
                return ReloadOutcome(ok: false, message: "reload failed, nothing changed: pool \(pool.name): cannot listen on \(host):\(port): \(why)")
            }
        }
        guard !(diff.poolsAdded.isEmpty && diff.poolsRemoved.isEmpty && diff.poolsChanged.isEmpty) else {
            return ReloadOutcome(ok: true, message: diff.logLine)
        }
        stopChecker()
        board.reconfigure(next, resolved: resolved)
        let plan = ReloadPlan(config: next, addresses: board.currentAddresses(), layout: board.layout)
        for w in workers { w.post(plan) }
        let applied = plan.wait(workers: workers.count, limitMs: Reloader.applyLimitMs)
        startChecker(next)
        if applied < workers.count {
            return ReloadOutcome(ok: true, message: diff.logLine + " (\(workers.count - applied) worker(s) had not applied it within \(Reloader.applyLimitMs) ms)")
        }
        return ReloadOutcome(ok: true, message: diff.logLine)
    }

    /// Every server's address (unix sockets: zeroed), or the first name that does not resolve.
    static func resolve(_ config: ProxyConfig) -> Result<[[sockaddr_storage]], ListenError> {
        var all: [[sockaddr_storage]] = []
        for pool in config.pools {
            var list: [sockaddr_storage] = []
            for server in pool.servers {
                switch server.address {
                case let .tcp(host, port):
                    switch resolveAddress(host: host, port: port) {
                    case let .success(a): list.append(a)
                    case let .failure(e): return .failure(e)
                    }
                case .unix:
                    list.append(sockaddr_storage())
                }
            }
            all.append(list)
        }
        return .success(all)
    }

    /// Binds a throwaway socket as the workers' listeners will (SO_REUSEPORT), so an address
    /// that cannot be listened on fails the reload before anything changes; nil when it can.
    static func tryBind(host: String, port: Int) -> String? {
        guard case let .success(address) = resolveAddress(host: host, port: port) else { return "cannot resolve" }
        var a = address
        let fd = socket(Int32(a.ss_family), Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { return String(cString: strerror(errno)) }
        defer { close(fd) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let length = socklen_t(a.ss_family == sa_family_t(AF_INET6) ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size)
        let rc = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        return rc == 0 ? nil : String(cString: strerror(errno))
    }
}
