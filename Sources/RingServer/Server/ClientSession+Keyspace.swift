// Commands over every server: the ones sent to all of them with their replies merged
// (SCRIPT LOAD, FUNCTION LOAD, DBSIZE, FLUSHDB, KEYS, RANDOMKEY) and SCAN, which walks the
// servers one at a time under one cursor. The decisions are RingCore's (SplitKind,
// ScanCursor, ScanPage, MergeState); this file sends the requests and feeds back replies.

import RingCore

extension ClientSession {
    /// The whole request to every live server, merged as `kind` says. KEYS and RANDOMKEY
    /// also count the servers that are down (see SplitKind.readsKeyspace).
    func broadcast(_ kind: SplitKind, command: Int, subcommand: Int, _ request: RequestView) {
        let keyspace = kind.readsKeyspace
        var targets = keyspace ? pool.servers : pool.servers.filter { !$0.isDown }
        guard !targets.isEmpty else {
            replyError(.noLiveUpstream(pool: pool.config.name))
            return
        }
        // RANDOMKEY: the first server with a key in part order answers, so starting the parts
        // at a random server picks the server at random (among those holding keys).
        if kind == .firstNonNull {
            let start = Int.random(in: 0..<targets.count)
            targets = Array(targets[start...] + targets[..<start])
        }
        let skipDown = keyspace && pool.config.downServerKeysMissing
        let merge = worker.takeMergeState(kind: kind, keyCount: 0, parts: targets.count)
        if case .byServer = kind {
            merge.expectServers(names: targets.map(\.spec.displayName), count: ServerReplies.slowlogCount(request))
        }
        let sequence = order.reserve(merge: merge)
        if subcommand == worker.scriptLoadIndex && request.count == 3 {
            var loads = scriptLoads ?? [:]
            loads[sequence] = Array(request[2])
            scriptLoads = loads
        }
        let now = worker.loop.nowMs
        for (part, server) in targets.enumerated() {
            guard !server.isDown, let connection = server.connection(for: state.version, database: state.database) else {
                if skipDown {
                    // Its keys are missing: it answers as a server without keys would.
                    worker.stats.add(pool: pool.index, server: server.index, .missReplies)
                    merge.apply(part: part, reply: UnsafeRawBufferPointer(start: kind.emptyReply.utf8Start,
                                                                          count: kind.emptyReply.utf8CodeUnitCount))
                } else {
                    merge.fail(part: part, error: errorBytes(server.isDown ? server.downMessage : server.unavailableMessage))
                }
                continue
            }
            let offset = append(request, to: connection)
            connection.expectReply(client: self, sequence: sequence, part: Int32(part), now: now, offset: offset,
                                   command: command)
        }
        if merge.isComplete, let index = order.index(of: sequence) { finishMerge(at: index, merge) }
    }

    /// One SCAN step: the server the cursor names (or, where a down server's keys count as
    /// missing, the next one that can be reached) gets `SCAN <its cursor> ...`, and its reply
    /// reaches the client, in order, with the ring's cursor in place of its own.
    func scan(_ cursor: ScanCursor, command: Int, _ request: RequestView) {
        let servers = pool.servers
        var connection: UpstreamConnection?
        let target = cursor.target(serverCount: servers.count, skipUnreachable: pool.config.downServerKeysMissing) { i in
            connection = servers[i].isDown ? nil : servers[i].connection(for: state.version, database: state.database)
            return connection != nil
        }
        switch target {
        case .end:
            reply { ScanPage.writeEnd(into: $0) }
        case let .unreachable(i):
            worker.stats.add(pool: pool.index, .forwardError)
            let server = servers[i]
            let message = server.isDown ? server.downMessage : server.unavailableMessage
            reply { $0.appendError(message) }
        case let .server(position):
            guard let connection else { return }
            let merge = worker.takeMergeState(kind: .scanPage, keyCount: 0, parts: 1)
            merge.expectScanPage(server: position.server, serverCount: servers.count)
            let sequence = order.reserve(merge: merge)
            let offset = connection.nextRequestOffset
            ScanPage.writeRequest(serverCursor: position.serverCursor, args: request.args, request: request.bytes,
                                  into: connection.output)
            countForwarded(connection.server, bytes: connection.nextRequestOffset - offset)
            connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                                   command: command)
        }
    }
}
