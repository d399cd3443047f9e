// One pool as one worker runs it: its listeners, key placement and upstream servers. It
// owns no thread and no state shared with other workers; the ring it routes by changes only
// when the HealthBoard's states are applied, never in the middle of a request.

import CLibUV
import RingConfig
import RingCore

/// One pool as one worker runs it: its listener(s), placement and upstream servers.
final class PoolRuntime {
    // unowned(unsafe): the worker owns its pools and outlives them; a checked unowned
    // reference costs a retain and release on every access, on every request.
    unowned(unsafe) let worker: Worker
    /// A reload replaces the settings below (see PoolRuntime+Reload): the worker's loop
    /// applies it between two requests, so each request sees one version of them.
    var config: PoolConfig
    /// The pool's position in the config (and on the HealthBoard); a retired pool's follows
    /// the live ones.
    var index: Int
    var placement: KeyPlacement
    /// What the pool decides about requests (deny_commands, hash tag), for RoutePlanner.
    var policy: PoolPolicy
    /// What the proxy's own commands may know of the pool (AUTH's password...).
    var localSettings: LocalSettings
    var servers: [UpstreamServer] = []
    /// Servers a reload removed that still finish requests (see PoolRuntime+Reload).
    var retiredServers: [UpstreamServer] = []
    /// A reload removed the pool: it accepts no client, and closes each once idle; when it
    /// was removed, and when its last client and server closed (see Worker.sweepRetired).
    var retired = false
    var retiredAt: UInt64 = 0
    var closedAt: UInt64?
    /// Unique in the process: the worker's counters are carried across a reload by it.
    let uid = UpstreamServer.nextUID()
    /// The pool's client count in every worker (client_connections), kept by name.
    let clientCount: UnsafeMutablePointer<Int64>
    /// The worker's shared subscriber connections to this pool's servers.
    private(set) lazy var pubsub = PubSubHub(pool: self, servers: servers.count)
    /// How much a subscriber may leave unread (pubsub_output_* settings).
    var outputLimit: OutputLimit
    var listeners: [Listener] = []

    init(worker: Worker, config: PoolConfig, index: Int, addresses: [sockaddr_storage], clientCount: UnsafeMutablePointer<Int64>) {
        self.worker = worker
        self.config = config
        self.index = index
        self.clientCount = clientCount
        self.placement = config.placement()
        (policy, localSettings) = PoolRuntime.settings(config, table: worker.commands)
        outputLimit = OutputLimit(hardBytes: config.pubsubOutputHardLimit, softBytes: config.pubsubOutputSoftLimit,
                                  softSeconds: config.pubsubOutputSoftSeconds)
        for (i, spec) in config.servers.enumerated() {
            servers.append(UpstreamServer(worker: worker, pool: self, spec: spec, index: i, address: addresses[i]))
        }
    }

    /// What the pool's requests are decided by, from its config.
    static func settings(_ config: PoolConfig, table: CommandTable) -> (PoolPolicy, LocalSettings) {
        let policy = PoolPolicy(name: config.name, denyCommands: config.denyCommands, hashTag: config.hashTag, table: table,
                            keylessScriptsAnyServer: config.keylessScriptsAnyServer,
                            multiAcrossServers: config.multiAcrossServers, databases: config.databases)
        var settings = LocalSettings(password: config.clientPassword, user: config.clientUser,
                                     commandCount: table.commands.filter { !$0.spec.name.contains("|") }.count,
                                     databases: config.databases, startDatabase: config.redisDB)
        settings.denied = policy.denied
        // CONFIG GET answers these about the proxy, not about whichever server is asked.
        var port = 0
        if case let .tcp(_, p) = config.listen { port = p }
        settings.configOverrides = [InfoField("maxclients", String(PoolRuntime.maxClients(config))),
                                    InfoField("timeout", String(config.clientIdleTimeoutMs / 1000)),
                                    InfoField("port", String(port))]
        return (policy, settings)
    }

    /// TCP listeners exist in every worker (SO_REUSEPORT); a unix socket only in the
    /// first, since a path can be bound once. Sockets inherited in a binary upgrade are
    /// listened on instead of new ones (a worker may take several: see inheritedShare).
    func listen(primary: Bool) throws {
        switch config.listen {
        case let .tcp(host, port):
            let inherited = ListenerTable.shared.claim(role: .pool, host: host, port: port, worker: worker.id)
            for fd in inherited.isEmpty ? [nil] : inherited.map(Optional.some) {
                listeners.append(try Listener(loop: worker.loop, host: host, port: port, backlog: config.backlog, scheduler: worker,
                                              inherited: fd) { [unowned self] s in self.worker.accept(s, pool: self) })
            }
        case let .unix(path, mode):
            guard primary else { return }
            let inherited = ListenerTable.shared.claimOne(role: .pool, address: path)
            listeners.append(try Listener(loop: worker.loop, path: path, mode: mode, backlog: config.backlog, scheduler: worker,
                                          inherited: inherited) { [unowned self] s in self.worker.accept(s, pool: self) })
        }
    }

    func preconnect() { for s in servers { s.preconnect() } }

    /// New up/down states: with auto_eject_hosts the ring is rebuilt from the live servers
    /// (nutcracker's meaning: a down server's keys move to their ketama successors);
    /// otherwise the ring stays and the down servers' keys are answered at once.
    func apply(live: [Bool], reasons: [String]) {
        for (i, server) in servers.enumerated() { server.setDown(!live[i], reason: reasons[i]) }
        for s in servers { s.releaseParkedIfDue() }
        if config.autoEjectHosts {
            placement = config.placement(live: live)
            pubsub.placementChanged()
        }
    }

    /// Servers Sentinel moved since this worker last looked retire their connections.
    func apply(addressSwitches: [UInt64]) {
        for (i, server) in servers.enumerated() { server.addressChanged(switches: addressSwitches[i]) }
    }

    var board: HealthBoard? { worker.healthBoard }

    func expireRequests(now: UInt64) {
        for s in servers { s.checkHold(now: now) }
        guard let t = config.timeoutMs else { return }
        for s in servers { s.expireRequests(now: now, timeoutMs: UInt64(t)) }
    }

    /// Subscriptions waiting for their server to come back are restored.
    func restoreSubscriptions() { pubsub.restore() }

    func sampleQueues() {
        for s in servers { s.sampleQueues() }
    }

    func closeListeners() {
        for l in listeners { l.close() }
        listeners.removeAll()
    }

    func closeUpstreams() {
        for s in servers { s.closeAll() }
        pubsub.closeAll()
    }
}
