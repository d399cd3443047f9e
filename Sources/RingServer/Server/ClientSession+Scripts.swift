// What the proxy keeps of scripts sent to every server (SCRIPT LOAD; the sending is in
// ClientSession+Keyspace) and the NOSCRIPT heal: an EVALSHA whose script the proxy saw in
// SCRIPT LOAD is retried after loading it on a server that answers NOSCRIPT, so the client
// never sees it.

import RingCore

/// An EVALSHA in flight that the proxy can retry: its server and its request bytes.
struct ScriptRetry {
    let server: Int
    let sha: String
    let request: [UInt8]
}

extension ClientSession {
    /// A SCRIPT LOAD every server answered: its body is kept under the SHA1 they gave.
    func noteScriptLoaded(_ sequence: UInt64, _ merge: MergeState) {
        guard let body = scriptLoads?.removeValue(forKey: sequence) else { return }
        if scriptLoads?.isEmpty == true { scriptLoads = nil }
        if let sha = ScriptCache.sha(fromReply: merge.sameReply) { worker.scripts.store(sha: sha, body: body) }
    }

    /// An EVALSHA goes out: if the proxy knows its script, it keeps the request to retry.
    func noteScriptCall(_ request: RequestView, sequence: UInt64, server: Int) {
        guard request.count >= 3 else { return }
        let sha = request.lowercased(1)
        guard worker.scripts.contains(sha: sha) else { return }
        let bytes: [UInt8]
        if request.isInline {
            let b = ByteBuffer(capacity: request.bytes.count + 32)
            writeRequest(args: request.args, request: request.bytes, into: b)
            bytes = b.bytes
        } else {
            bytes = Array(request.bytes)
        }
        var retries = scriptRetries ?? [:]
        retries[sequence] = ScriptRetry(server: server, sha: sha, request: bytes)
        scriptRetries = retries
    }

    /// A reply to a retryable EVALSHA: NOSCRIPT loads the script on that server and sends
    /// the EVALSHA again (once); returns true when the reply was taken for that.
    func retryScript(_ sequence: UInt64, _ reply: UnsafeRawBufferPointer) -> Bool {
        guard let retry = scriptRetries?.removeValue(forKey: sequence) else { return false }
        if scriptRetries?.isEmpty == true { scriptRetries = nil }
        guard reply.starts(with: Array("-NOSCRIPT".utf8)), let body = worker.scripts.body(sha: retry.sha) else { return false }
        let server = pool.servers[retry.server]
        guard !server.isDown, let connection = server.connection(for: state.version, database: state.database) else {
            return false
        }
        let now = worker.loop.nowMs
        connection.output.appendArrayHeader(3)
        connection.output.appendBulk(string: "SCRIPT")
        connection.output.appendBulk(string: "LOAD")
        body.withUnsafeBytes { connection.output.appendBulk($0) }
        connection.expectSilentReply(now: now)
        let offset = connection.nextRequestOffset
        connection.output.append(retry.request)
        connection.expectReply(client: self, sequence: sequence, part: 0, now: now, offset: offset,
                               command: worker.evalshaIndex)
        worker.stats.add(pool: pool.index, server: server.index, .scriptReloads)
        return true
    }
}
