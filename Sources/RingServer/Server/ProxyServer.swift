// The process: resolves the upstream addresses once, starts one worker per thread (the
// first on the calling thread), and turns SIGTERM/SIGINT into an orderly shutdown (stop
// accepting, finish in-flight requests within a bound). Nothing here may run per request.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class ProxyServer {
    let config: ProxyConfig
    let threads: Int
    /// The file a reload reads, and the command line's settings applied to it.
    let path: String
    let commandLine: @Sendable (inout ProxyConfig) -> Void
    private var workers: [Worker] = []
    private var signals: [LoopSignal] = []
    private var checker: HealthChecker?
    private var checkerLock = pthread_mutex_t()
    private var reloader: Reloader?
    /// --takeover-socket: where a binary upgrade takes over from this process (Handover/).
    public var takeoverPath: String?

    public init(config: ProxyConfig, threads: Int, path: String, commandLine: @escaping @Sendable (inout ProxyConfig) -> Void) {
        self.config = config
        self.threads = max(1, threads)
        self.path = path
        self.commandLine = commandLine
        pthread_mutex_init(&checkerLock, nil)
    }

    /// Number of cores, for `threads: 0`.
    public static var coreCount: Int { Int(uv_available_parallelism()) }

    /// Binds every listener (throwing before anything is served if one fails), then runs
    /// until shut down.
    public func run(onListening: () -> Void) throws {
        signal(SIGPIPE, SIG_IGN)
        // Before any listener: a predecessor's sockets are taken instead of binding new ones.
        let upgrade = try takeoverPath.map { try Upgrade(path: $0, workers: threads, config: config) }
        let addresses: [[sockaddr_storage]]
        switch Reloader.resolve(config) {
        case let .success(a): addresses = a
        case let .failure(e): throw e
        }
        let board = HealthBoard(config: config)
        board.setAddresses(addresses)
        let clientCounts = ClientCounts()
        let started = Int(time(nil))
        let mesh = WorkerMesh(workers: threads)
        for i in 0..<threads {
            workers.append(try Worker(id: i, config: config, addresses: addresses, board: board, clientCounts: clientCounts,
                                      startedAt: started, mesh: mesh))
        }
        let reloader = Reloader(path: path, board: board, workers: workers, commandLine: commandLine,
                                stopChecker: { [unowned self] in self.stopChecker() },
                                startChecker: { [unowned self] in self.startChecker($0, board: board) })
        self.reloader = reloader
        var admin: AdminServer?
        if let a = config.admin {
            do {
                admin = try AdminServer(board: board, host: a.host, port: a.port)
                admin?.reload = { reloader.reload() }
                logNotice("admin listening on \(a.host):\(a.port) (/metrics, /stats, /healthz, /readyz)")
            } catch {
                // Stats must never keep the data path from starting.
                logWarn("admin listener not started: \(error)")
            }
        }
        let primary = workers[0]
        for sig in [SIGTERM, SIGINT] {
            let s = LoopSignal(primary.loop, signal: sig) { [unowned self] signum in
                logNotice("signal \(signum): shutting down")
                for w in self.workers { w.requestShutdown() }
                for s in self.signals { s.close() }
            }
            // Alone it must not keep the loop running: after a binary upgrade the workers
            // drain and end without any signal.
            s.unref()
            signals.append(s)
        }
        // SIGHUP reloads on a thread of its own: the reload waits for every worker,
        // this one included, to apply it.
        let hup = LoopSignal(primary.loop, signal: SIGHUP) { _ in
            logNotice("signal SIGHUP: reloading \(reloader.path)")
            pthread_detach(startThread { _ = reloader.reload() })
        }
        hup.unref()
        signals.append(hup)
        for pool in config.pools {
            logNotice("pool \(pool.name) listening on \(pool.listen) with \(pool.servers.count) servers (\(pool.distribution.rawValue), \(pool.hash.rawValue)), \(threads) worker(s)")
        }
        upgrade?.serving(workers: workers) { [workers, admin] _, link in
            for w in workers { w.requestHandover(link: link) }
            admin?.stopAccepting()
        }
        onListening()
        startChecker(config, board: board)
        admin?.start()
        let threadsStarted = workers.dropFirst().map { w in startThread { w.run() } }
        primary.run()
        for t in threadsStarted { pthread_join(t, nil) }
        stopChecker()
        admin?.stop()
        upgrade?.stop()
    }

    private func startChecker(_ config: ProxyConfig, board: HealthBoard) {
        pthread_mutex_lock(&checkerLock)
        defer { pthread_mutex_unlock(&checkerLock) }
        let c = HealthChecker(config: config, board: board, addresses: board.currentAddresses())
        c.start()
        checker = c
    }

    private func stopChecker() {
        pthread_mutex_lock(&checkerLock)
        defer { pthread_mutex_unlock(&checkerLock) }
        checker?.stop()
        checker = nil
    }
}
