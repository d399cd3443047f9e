// A client's administration that needs more than its own state: INFO and CONFIG asked of
// the servers (a MergeState of kind `.gather` with its GatherPlan), CLIENT LIST's view of
// this connection, MONITOR's feed, and CLIENT PAUSE's hold. The plans and formats are
// RingCore's; this file sends requests and reads the connection's facts.

import RingConfig
import RingCore

extension ClientSession {
    // MARK: INFO, CONFIG

    /// The parts record no per-command latency (-1): the command is counted once, as local.
    func askServers(_ query: ServerQuery, _ request: RequestView) {
        let servers = pool.servers
        let live = servers.filter { !$0.isDown }
        let plan: GatherPlan
        var targets: [UpstreamServer]
        switch query {
        case let .info(q):
            plan = .info(q, proxy: worker.proxyInfo(pool: pool, query: q))
            targets = live
        case let .configGet(overrides):
            guard let first = live.first else {
                replyError(.noLiveUpstream(pool: pool.config.name))
                return
            }
            plan = .configGet(overrides: overrides)
            targets = [first]
        case let .everyServer(resetsProxyStats):
            // Down servers count: a setting must not silently miss one of them.
            targets = servers
            plan = .everyServerOK(servers: servers.map { "server \($0.spec.displayName) (\($0.spec.addressText))" })
            if resetsProxyStats { worker.resetInfoStats(pool: pool.index, name: pool.config.name) }
        }
        let merge = worker.takeMergeState(kind: .gather, keyCount: 0, parts: targets.count)
        merge.gather = plan
        let sequence = order.reserve(merge: merge)
        let now = worker.loop.nowMs
        for (part, server) in targets.enumerated() {
            guard !server.isDown, let connection = server.connection(for: state.version, database: state.database) else {
                merge.fail(part: part, error: errorBytes(server.isDown ? server.downMessage : server.unavailableMessage))
                continue
            }
            let offset = append(request, to: connection)
            connection.expectReply(client: self, sequence: sequence, part: Int32(part), now: now, offset: offset,
                                   command: -1)
        }
        if merge.isComplete, let index = order.index(of: sequence) { finishMerge(at: index, merge) }
    }

    // MARK: CLIENT LIST, INFO

    /// The client's address, as Redis prints it ("ip:port").
    var peerAddress: String {
        if let a = cachedPeerAddress { return a }
        let a = stream.addressText(peer: true)
        cachedPeerAddress = a
        return a
    }

    func describe(now: UInt64) -> ClientDescription {
        var flags = ""
        switch state.mode {
        case .monitoring: flags = "O"
        case .transaction: flags = "x"
        case .blocked: flags = "b"
        default: break
        }
        if subscriptions.map({ !$0.isEmpty }) ?? false { flags += "P" }
        if flags.isEmpty { flags = "N" }
        var multi = -1
        if case .transaction = state.mode { multi = queued?.count ?? 0 }
        let name = lastCommand >= 0 ? worker.commands.commands[Int(lastCommand)].spec.name : "NULL"
        return ClientDescription(
            id: id, addr: peerAddress, laddr: stream.addressText(peer: false), fd: stream.fileDescriptor,
            name: state.clientName ?? "", ageSeconds: Int((now &- createdMs) / 1000),
            idleSeconds: Int((now &- lastActiveMs) / 1000), flags: flags, db: state.database,
            sub: subscriptions?.names(of: .channel).count ?? 0, psub: subscriptions?.names(of: .pattern).count ?? 0,
            ssub: subscriptions?.names(of: .shard).count ?? 0, multi: multi, queryBuffer: input.readableCount,
            queryBufferFree: input.writableCount, outputBytes: stream.pendingOutputBytes,
            writing: stream.pendingOutputBytes > 0, command: name, user: pool.localSettings.user ?? "default",
            resp: Int(state.version.rawValue))
    }

    // MARK: MONITOR, CLIENT PAUSE

    /// What this request looks like to monitors (Redis shows neither refused requests nor
    /// administration commands).
    func feedMonitors(_ request: RequestView, _ decision: RouteDecision) {
        if case .reject = decision { return }
        guard lastCommand >= 0, MonitorLine.shows(worker.commands.commands[Int(lastCommand)].spec.flags) else { return }
        worker.feedMonitors(request, from: self, db: state.database)
    }

    func stopMonitoring() {
        guard isMonitor else { return }
        isMonitor = false
        worker.removeMonitor(self)
    }

    func holdForPause() {
        stream.stopReading()
        if !heldByPause {
            heldByPause = true
            worker.hold(self)
        }
    }
}
