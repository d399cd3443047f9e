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
    private var workers: [Worker] = []
    private var signals: [LoopSignal] = []
    /// --takeover-socket: where a binary upgrade takes over from this process (Handover/).
    public var takeoverPath: String?

    public init(config: ProxyConfig, threads: Int) {
        self.config = config
        self.threads = max(1, threads)
    }

    /// Number of cores, for `threads: 0`.
    public static var coreCount: Int { Int(uv_available_parallelism()) }

    /// Binds every listener (throwing before anything is served if one fails), then runs
    /// until shut down.
    public func run(onListening: () -> Void) throws {
        signal(SIGPIPE, SIG_IGN)
        // Before any listener: a predecessor's sockets are taken instead of binding new ones.
        let upgrade = try takeoverPath.map { try Upgrade(path: $0, workers: threads, config: config) }
        var addresses: [[sockaddr_storage]] = []
        for pool in config.pools {
            var list: [sockaddr_storage] = []
            for server in pool.servers {
                switch server.address {
                case let .tcp(host, port):
                    switch resolveAddress(host: host, port: port) {
                    case let .success(a): list.append(a)
                    case let .failure(e): throw e
                    }
                case .unix:
                    list.append(sockaddr_storage())
                }
            }
            addresses.append(list)
        }
        let board = HealthBoard(config: config)
        board.setAddresses(addresses)
        let clientCounts = ClientCounts(pools: config.pools.count)
        let stats = (0..<threads).map { _ in Worker.makeStats(config: config) }
        let started = Int(time(nil))
        let mesh = WorkerMesh(workers: threads)
        for i in 0..<threads {
            workers.append(try Worker(id: i, config: config, addresses: addresses, board: board, clientCounts: clientCounts,
                                      stats: stats[i], allStats: stats, startedAt: started, mesh: mesh))
        }
        let checker = HealthChecker(config: config, board: board, addresses: addresses)
        var admin: AdminServer?
        if let a = config.admin {
            do {
                admin = try AdminServer(config: config, workers: stats, board: board, host: a.host, port: a.port)
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
        for pool in config.pools {
            logNotice("pool \(pool.name) listening on \(pool.listen) with \(pool.servers.count) servers (\(pool.distribution.rawValue), \(pool.hash.rawValue)), \(threads) worker(s)")
        }
        upgrade?.serving(workers: workers) { [workers, admin] _, link in
            for w in workers { w.requestHandover(link: link) }
            admin?.stopAccepting()
        }
        onListening()
        checker.start()
        admin?.start()
        let threadsStarted = workers.dropFirst().map { w in startThread { w.run() } }
        primary.run()
        for t in threadsStarted { pthread_join(t, nil) }
        checker.stop()
        admin?.stop()
        upgrade?.stop()
    }
}
