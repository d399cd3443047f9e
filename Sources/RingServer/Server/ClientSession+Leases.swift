// Carrying out TransactionRules and blocking commands for one client, on a connection
// leased to it alone. The rules are pure (RingCore); this file holds the lease: takes it,
// writes to it, and gives it back clean once nothing is owed on it, or closes it.

import RingConfig
import RingCore

extension ClientSession {
    /// A request while WATCH or MULTI holds the session (or a transaction command).
    func transactionStep(_ decision: RouteDecision, _ request: RequestView) {
        var command: TransactionCommand?
        var server: Int?
        var refused: ProxyError?
        let inMulti: Bool
        var perServer = false
        if case let .transaction(tx) = state.mode {
            inMulti = true
            perServer = tx.perServer
        } else {
            inMulti = false
        }
        switch decision {
        case let .forward(s, _, _), let .block(s, _):
            server = s
        case let .transaction(c, s, _):
            command = c
            server = s
        case let .local(local, c):
            switch local {
            case .ping, .echo, .time:
                break  // keyless: queued in a transaction, answered by the proxy otherwise
            case .quit, .reset:
                carryOut(decision, request)  // as in Redis, even inside MULTI
                return
            default:
                if inMulti { refused = .notInTransaction(command: worker.commands.commands[c].displayName) }
            }
        case .split where perServer:
            break  // queued as one part per server
        case let .split(_, c), let .broadcast(_, c, _), let .scan(_, c):
            if inMulti { refused = .crossServer(command: worker.commands.commands[c].displayName, hashTag: pool.policy.hashTag) }
        case let .reject(error):
            refused = error
        case let .subscription(_, c):
            // A subscriber's connection must keep taking messages, which a lease cannot.
            let name = worker.commands.commands[c].displayName
            if !inMulti {
                replyError(.subscribeInTransaction(command: name))
                return
            }
            refused = .subscribeInTransaction(command: name)
        }
        switch state.applyTransaction(command: command, server: server, refused: refused,
                                      acrossServers: pool.policy.multiAcrossServers) {
        case .route:
            carryOut(decision, request)
        case let .reply(r):
            reply { r.write(into: $0) }
        case let .onLease(s, openMulti, deferred):
            guard let connection = takeLease(s) else { return }
            if openMulti { writeMulti(on: connection, deferred: deferred) }
            forward(request, on: connection, command: commandIndex(decision))
        case .deferUntilKeyed:
            let d = deferredRequests ?? ByteBuffer(capacity: 256)
            deferredRequests = d
            writeRequest(args: request.args, request: request.bytes, into: d)
            reply { $0.append("+QUEUED\r\n") }
        case let .abort(error):
            replyError(error)
        case let .execWithoutServer(deferred):
            // Only keyless commands were queued: any live server runs them.
            guard let s = pool.servers.firstIndex(where: { !$0.isDown }), let connection = takeLease(s) else {
                replyError(.noLiveUpstream(pool: pool.config.name))
                deferredRequests?.clear()
                return
            }
            writeMulti(on: connection, deferred: deferred)
            forward(request, on: connection, command: commandIndex(decision))
            worker.stats.add(pool: pool.index, server: s, .transactions)
            releaseLeaseWhenIdle = true
        case let .finishOnLease(s, abort):
            guard let connection = takeLease(s) else { return }
            if abort {
                // Nothing of it is applied: the server discards, the client gets EXECABORT.
                connection.output.append("*1\r\n$7\r\nDISCARD\r\n")
                connection.expectSilentReply(now: worker.loop.nowMs)
                worker.stats.add(pool: pool.index, server: s, .transactionsAborted)
                reply { $0.appendError(TransactionRules.execAbort) }
            } else {
                forward(request, on: connection, command: commandIndex(decision))
                if command == .exec { worker.stats.add(pool: pool.index, server: s, .transactions) }
            }
            releaseLeaseWhenIdle = true
        case .queueInProxy:
            queueInProxy(decision, request, server: server, refused: refused)
        case .execQueued:
            execQueued(command: commandIndex(decision))
        case .discardQueued:
            queued = nil
            reply { $0.append("+OK\r\n") }
        case let .unwatchOnLease(s):
            guard let connection = takeLease(s) else { return }
            forward(request, on: connection, command: commandIndex(decision))
            releaseLeaseWhenIdle = true
        }
    }

    /// A blocking command: the client waits on a lease of its own, handling nothing more.
    /// Its stream is still read (what it sends waits in `input`, up to `blockedInputLimit`),
    /// so that a client that goes away is seen at once and its lease closed, which ends the
    /// command on the server, as Redis frees a blocked client that disconnects; a lease left
    /// blocked would take the next element pushed (BLPOP, BLMOVE) for a client that is gone.
    func sendBlocking(_ request: RequestView, to server: UpstreamServer, command: Int) {
        guard server.blockedClients < pool.config.maxBlockedClients else {
            replyError(.tooManyBlocked(upstream: server.spec.displayName, limit: pool.config.maxBlockedClients))
            return
        }
        // A down or unreachable server: takeLease answers with the server's own error.
        guard let connection = takeLease(server.index) else { return }
        connection.expiry = .afterBlock(ms: BlockTime.milliseconds(command: worker.commands.commands[command].spec.name, request))
        forward(request, on: connection, command: command)
        releaseLeaseWhenIdle = true
        state.block(on: server.index)
        server.blockedClients += 1
        worker.stats.add(pool: pool.index, server: server.index, .blockedClients)
    }

    private func unblockCount(_ server: UpstreamServer) {
        server.blockedClients -= 1
        worker.stats.subtract(pool: pool.index, server: server.index, .blockedClients)
    }

    /// The lease on `server`, taken now if not held; nil (and the client answered) when the
    /// server cannot be reached.
    private func takeLease(_ server: Int) -> UpstreamConnection? {
        let releasing = releaseLeaseWhenIdle
        releaseLeaseWhenIdle = false
        if let held = lease {
            if held.server.index == server && !held.isBroken { return held }
            lease = nil
            if releasing && !held.isIdle {
                // Its last replies are still on the way (to this client, in order): it goes
                // back once they have come.
                held.lessee = nil
                held.giveBackWhenIdle = true
            } else {
                held.server.giveBack(held, clean: releasing)
            }
        }
        let upstream = pool.servers[server]
        guard !upstream.isDown, let c = upstream.lease(for: self, version: state.version, database: state.database) else {
            replyError(.unreachable(upstream.isDown ? upstream.downMessage : upstream.unavailableMessage))
            state.leaseLost()
            return nil
        }
        lease = c
        return c
    }

    /// MULTI (the proxy already answered the client's), then the `deferred` keyless commands
    /// it kept; their replies (+OK, +QUEUED) are the proxy's, not the client's.
    private func writeMulti(on connection: UpstreamConnection, deferred: Int) {
        let now = worker.loop.nowMs
        connection.output.append("*1\r\n$5\r\nMULTI\r\n")
        connection.expectSilentReply(now: now)
        guard deferred > 0, let d = deferredRequests else { return }
        connection.output.append(d.readable)
        for _ in 0..<deferred { connection.expectSilentReply(now: now) }
        d.clear()
    }

    func forward(_ request: RequestView, on connection: UpstreamConnection, command: Int) {
        let offset = append(request, to: connection)
        let sequence = order.reserve()
        connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                               command: command, argumentCount: request.count)
    }

    private func commandIndex(_ decision: RouteDecision) -> Int {
        switch decision {
        case let .forward(_, c, _), let .block(_, c), let .transaction(_, _, c), let .local(_, c), let .split(_, c),
             let .broadcast(_, c, _), let .subscription(_, c), let .scan(_, c): return c
        case .reject: return -1
        }
    }

    /// Called by the lease once nothing is owed on it.
    func leaseIdle(_ connection: UpstreamConnection) {
        if !execLeases.isEmpty && execLeaseIdle(connection) { return }
        guard connection === lease, releaseLeaseWhenIdle else { return }
        let wasBlocked = state.isBlocked
        lease = nil
        releaseLeaseWhenIdle = false
        connection.server.giveBack(connection, clean: true)
        if wasBlocked {
            unblockCount(connection.server)
            unblocked()
        }
    }

    /// The lease broke; every reply it owed was answered with its error already.
    func leaseBroke(_ connection: UpstreamConnection) {
        if !execLeases.isEmpty && execLeaseBroke(connection) { return }
        guard connection === lease else { return }
        let wasBlocked = state.isBlocked
        lease = nil
        releaseLeaseWhenIdle = false
        state.leaseLost()
        if wasBlocked {
            unblockCount(connection.server)
            unblocked()
        }
    }

    /// The client goes away or moves to another server: a lease still owing replies, or in
    /// the middle of WATCH or MULTI, is closed; a clean one is kept for others.
    func dropLease() {
        guard let c = lease else { return }
        lease = nil
        if state.isBlocked { unblockCount(c.server) }
        let clean = releaseLeaseWhenIdle && c.isIdle
        releaseLeaseWhenIdle = false
        c.server.giveBack(c, clean: clean)
    }
}
