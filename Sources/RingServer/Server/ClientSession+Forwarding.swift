// Carrying out RoutePlanner's `.forward` and `.split` for one client: the request's bytes
// go unchanged (or re-encoded, if inline) into its server's connection, a split command's
// parts into theirs, and a down server's requests are answered at once. No I/O here beyond
// appending to connection buffers, which the worker flushes once per loop turn.

import RingConfig
import RingCore

extension ClientSession {
    /// Sends the whole request to one server and reserves its reply slot. A server the
    /// health checks marked down is not contacted: the request gets `miss` (pools with
    /// down_server_reply: miss) or an error naming the server, at once.
    func send(_ request: RequestView, to server: UpstreamServer, miss: MissReply, command: Int) {
        // A lease still finishing (EXEC, UNWATCH sent) carries this client's later requests
        // to its server, so they run after it, in the order sent.
        if let held = lease, held.server === server, !held.isBroken {
            forward(request, on: held, command: command)
            return
        }
        // read_from: one predictable branch for servers without replicas.
        if server.hasReplicas && sendToReplica(request, of: server, miss: miss, command: command) { return }
        guard let connection = server.isDown ? nil : server.connection(for: state.version, database: state.database) else {
            if mayPark(on: server) { park(on: server) } else { answerUnreachable(server, miss: miss, argumentCount: request.count) }
            return
        }
        let offset = append(request, to: connection)
        let sequence = order.reserve()
        if command == worker.evalshaIndex { noteScriptCall(request, sequence: sequence, server: server.index) }
        connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                               command: command, miss: miss, argumentCount: request.count)
    }

    /// Appends the whole request (re-encoded if it came inline) to `connection`'s output and
    /// counts it; returns where its bytes start, for the connection's reply bookkeeping.
    @inline(__always)
    func append(_ request: RequestView, to connection: UpstreamConnection) -> UInt64 {
        let offset = connection.nextRequestOffset
        if request.isInline {
            writeRequest(args: request.args, request: request.bytes, into: connection.output)
        } else {
            connection.output.append(request.bytes)
        }
        countForwarded(connection.server, bytes: connection.nextRequestOffset - offset)
        return offset
    }

    /// Keys on several servers: one part per server, merged when all have answered.
    func split(_ kind: SplitKind, command: Int, _ request: RequestView) {
        let info = worker.commands.commands[command]
        guard let name = info.wireName else {
            // CommandPolicyTests keeps every split command's wire name in the table.
            replyError(ProxyError.unsupported(command: info.displayName, .needsAllServers))
            return
        }
        let keyServers = worker.planner.keyServers
        let partServers = worker.planner.partServers
        for s in partServers where pool.servers[s].isDown && mayPark(on: pool.servers[s]) {
            park(on: pool.servers[s])
            return
        }
        let step = kind.argumentsPerKey
        let merge = worker.takeMergeState(kind: kind, keyCount: keyServers.count, parts: partServers.count)
        worker.stats.add(pool: pool.index, .fragments, UInt64(partServers.count))
        let sequence = order.reserve(merge: merge)
        let now = worker.loop.nowMs
        // Taken out of the worker while in use, so filling it copies nothing.
        var indices = worker.partIndices
        worker.partIndices = []
        for (part, serverIndex) in partServers.enumerated() {
            indices.removeAll(keepingCapacity: true)
            for (position, s) in keyServers.enumerated() where s == serverIndex {
                indices.append(1 + position * step)
                if kind == .values { merge.assign(position: position, toPart: part) }
            }
            var server = pool.servers[serverIndex]
            // read_from: a read's part may go to a replica of its server (one branch without).
            var chosen: UpstreamConnection?
            if server.hasReplicas {
                switch replicaChoice(for: server, command: command) {
                case .master: break
                case let .refused(message):
                    merge.fail(part: part, error: errorBytes(message))
                    continue
                case let .replica(replica, connection):
                    server = replica
                    chosen = connection
                }
            }
            guard let connection = chosen ?? (server.isDown ? nil : server.connection(for: state.version, database: state.database)) else {
                merge.fail(part: part, error: errorBytes(server.isDown ? server.downMessage : server.unavailableMessage))
                continue
            }
            let offset = connection.nextRequestOffset
            writeSplitCommand(name: name, args: request.args, request: request.bytes, indices: indices[...],
                              withValues: kind == .allOK, into: connection.output)
            countForwarded(server, bytes: connection.nextRequestOffset - offset)
            connection.expectReply(client: self, sequence: sequence, part: Int32(part), now: now, offset: offset,
                                   command: command)
        }
        worker.partIndices = indices
        if merge.isComplete, let index = order.index(of: sequence) { finishMerge(at: index, merge) }
    }

    /// failover_hold: a request for an unreachable Sentinel-managed server waits for the new
    /// master instead of failing. Only outside transactions: a WATCH or MULTI step has
    /// already changed the session's state when it is routed, and must not run twice.
    func mayPark(on server: UpstreamServer) -> Bool {
        state.outsideTransaction && server.shouldPark()
    }

    /// A request whose server is down (or backing off after a failure) is answered at once:
    /// with the miss a missing key would get in pools that answer misses (reads only), else
    /// with an error naming the server.
    func answerUnreachable(_ server: UpstreamServer, miss: MissReply, argumentCount: Int) {
        if pool.config.answerDownAsMiss && miss != .error {
            worker.stats.add(pool: pool.index, server: server.index, .missReplies)
            let v = state.version
            reply { _ = miss.write(into: $0, version: v, argumentCount: argumentCount) }
            return
        }
        worker.stats.add(pool: pool.index, .forwardError)
        let message = server.isDown ? server.downMessage : server.unavailableMessage
        reply { $0.appendError(message) }
    }

    @inline(__always)
    func countForwarded(_ server: UpstreamServer, bytes: UInt64) {
        worker.stats.add(pool: pool.index, server: server.index, .requests)
        worker.stats.add(pool: pool.index, server: server.index, .requestBytes, bytes)
    }

    func errorBytes(_ message: String) -> [UInt8] {
        let b = ByteBuffer(capacity: message.utf8.count + 3)
        b.appendError(message)
        return b.bytes
    }
}
