// Carrying out `multi_across_servers: per_server` for one client: the commands between MULTI
// and EXEC wait in the proxy (PerServerTransaction); at EXEC each server involved gets MULTI,
// its commands, EXEC on a connection leased to this client, and the servers' EXEC arrays are
// merged (ExecMerge) into the one reply the client is owed. What goes where and how replies
// merge is RingCore's; this file only takes the leases, writes the parts and feeds replies.

import RingConfig
import RingCore

/// A per_server EXEC that waits for the replies owed before it (see `execQueued`).
struct PendingExec {
    let plan: ExecPlan
    /// EXEC's index in the command table, for per-command statistics.
    let command: Int
}

/// A per_server EXEC whose parts were sent: its reply slot and the parts' replies so far.
struct RunningExec {
    let sequence: UInt64
    var merge: ExecMerge
}

extension ClientSession {
    /// A request between MULTI and EXEC of a per_server transaction: queued, or refused (which
    /// fails the transaction); either way the client gets its answer now, as from Redis.
    func queueInProxy(_ decision: RouteDecision, _ request: RequestView, server: Int?, refused: ProxyError?) {
        if queued == nil { queued = PerServerTransaction() }
        let answer: TransactionReply
        if let error = refused {
            answer = queued!.refuse(error)
        } else if case let .split(kind, command) = decision {
            if let name = worker.commands.commands[command].wireName {
                answer = queued!.queueSplit(request, kind: kind, name: name, keyServers: worker.planner.keyServers,
                                            partServers: worker.planner.partServers)
            } else {
                answer = queued!.refuse(.unsupported(command: worker.commands.commands[command].displayName, .needsAllServers))
            }
        } else {
            answer = queued!.queue(request, server: server)
        }
        reply { answer.write(into: $0) }
    }

    /// EXEC of a per_server transaction. Nothing is sent anywhere unless every server the
    /// transaction involves is up: a down one gets its error and no part is applied.
    func execQueued(command: Int) {
        let transaction = queued ?? PerServerTransaction()
        queued = nil
        switch transaction.exec(liveServer: pool.servers.firstIndex { !$0.isDown }) {
        case let .reply(r):
            reply { r.write(into: $0) }
        case .noServer:
            replyError(.noLiveUpstream(pool: pool.config.name))
        case let .run(plan):
            if let down = plan.servers.first(where: { pool.servers[$0].isDown }) {
                replyError(.unreachable(pool.servers[down].downMessage))
                return
            }
            // The parts travel on leases, not on the connections this client's earlier
            // requests took: they are sent once those have answered, so they cannot overtake
            // them, and nothing more is read until the merged reply, so nothing overtakes
            // the parts.
            let pending = PendingExec(plan: plan, command: command)
            if order.isEmpty {
                guard sendExec(pending) else { return }  // answered; reading goes on
            } else {
                pendingExec = pending
            }
            state.beginExecuting()
            stream.stopReading()
        }
    }

    /// Sends the waiting EXEC's parts once no earlier reply is owed (called as replies are
    /// written, from a server connection's callback, never while requests are handled).
    func launchPendingExecIfDue() {
        guard let pending = pendingExec, order.isEmpty, !isClosed else { return }
        pendingExec = nil
        if !sendExec(pending) { execFinished() }
    }

    /// Takes a lease on every server of the plan and sends each its part; false when one
    /// cannot be had: the client got its error and nothing was sent anywhere.
    private func sendExec(_ pending: PendingExec) -> Bool {
        let plan = pending.plan
        var leases: [UpstreamConnection] = []
        for s in plan.servers {
            let upstream = pool.servers[s]
            guard !upstream.isDown, let c = upstream.lease(for: self, version: state.version, database: state.database) else {
                // Known before anything is sent: nothing is applied anywhere.
                for c in leases { c.server.giveBack(c, clean: true) }
                replyError(.unreachable(upstream.isDown ? upstream.downMessage : upstream.unavailableMessage))
                return false
            }
            leases.append(c)
        }
        let sequence = order.reserve()
        runningExec = RunningExec(sequence: sequence, merge: plan.makeMerge())
        let now = worker.loop.nowMs
        for (part, c) in leases.enumerated() {
            // MULTI's +OK and each command's +QUEUED were the proxy's to give, not the server's.
            for _ in 0...plan.queuedCount(part: part) { c.expectSilentReply(now: now) }
            let offset = c.nextRequestOffset
            plan.write(part: part, into: c.output)
            countForwarded(c.server, bytes: c.nextRequestOffset - offset)
            c.expectReply(client: self, sequence: sequence, part: Int32(part), now: now, offset: offset,
                          command: pending.command)
            worker.stats.add(pool: pool.index, server: c.server.index, .transactions)
        }
        execLeases.append(contentsOf: leases)
        return true
    }

    /// One part's EXEC reply (or its connection's error); true when `sequence` is the running
    /// EXEC's. The merged reply is written once every part has answered.
    func execPartReplied(sequence: UInt64, part: Int, reply: UnsafeRawBufferPointer) -> Bool {
        guard runningExec?.sequence == sequence, let index = order.index(of: sequence) else { return false }
        runningExec!.merge.apply(part: part, reply: reply)
        guard let merge = runningExec?.merge, merge.isComplete else { return true }
        runningExec = nil
        let b = worker.scratch
        b.clear()
        merge.write(into: b, version: state.version)
        if order.deliver(at: index, b.readable, into: stream.output) { didWriteReplies() }
        execFinished()
        return true
    }

    /// The EXEC is answered: requests are read again, those that came meanwhile first.
    private func execFinished() {
        state.finishExecuting()
        resumeAfterWaiting()
    }

    /// Called when a lease owes nothing more; true when it was one of a per_server EXEC's,
    /// which goes back clean (its MULTI ended with its EXEC).
    func execLeaseIdle(_ connection: UpstreamConnection) -> Bool {
        guard let i = execLeases.firstIndex(where: { $0 === connection }) else { return false }
        execLeases.remove(at: i)
        connection.server.giveBack(connection, clean: true)
        return true
    }

    /// A per_server EXEC's lease broke (its part already answered with the error); true when
    /// it was one. The server forgot it already.
    func execLeaseBroke(_ connection: UpstreamConnection) -> Bool {
        guard let i = execLeases.firstIndex(where: { $0 === connection }) else { return false }
        execLeases.remove(at: i)
        return true
    }

    /// The client goes away: leases still owing an EXEC reply are closed, never reused.
    func dropExecLeases() {
        pendingExec = nil
        runningExec = nil
        queued = nil
        for c in execLeases { c.server.giveBack(c, clean: c.isIdle) }
        execLeases.removeAll()
    }
}
