// The one connection a worker keeps to a server for pub/sub: it carries the subscriptions of
// all the worker's clients on that server (SubscriptionTable says which), and every frame it
// reads is a push for PubSubHub to hand out. RESP2 on the wire: a message is then the same
// bytes for a RESP2 client, and a RESP3 client gets it with `>` for `*`.

import CLibUV
import RingCore

final class SubscriberConnection: StreamHandler {
    // unowned(unsafe): the hub and the server belong to the pool, which outlives this.
    unowned(unsafe) let hub: PubSubHub
    unowned(unsafe) let server: UpstreamServer
    let stream: Stream
    private let input = ByteBuffer()
    private var scanner = ReplyScanner()
    /// Replies to the handshake (AUTH) still to come before the pushes.
    private var handshakeReplies: Int
    private(set) var isBroken = false

    /// Names per (UN)SUBSCRIBE command the proxy sends: a restore of thousands of channels
    /// goes as several commands, none so large that the server's query buffer limit or
    /// its reply burst becomes a concern.
    static let namesPerCommand = 1_000
    /// Read space below this is topped up before reading (a burst of messages is common).
    static let minimumReadSpace = 16 * 1024

    init(hub: PubSubHub, server: UpstreamServer) {
        self.hub = hub
        self.server = server
        stream = server.makeStream()
        let pool = server.pool.config
        // No SELECT: pub/sub ignores the database. RESP2: see the file comment.
        handshakeReplies = UpstreamHandshake.write(user: pool.redisUser, password: pool.redisAuth, database: 0,
                                                   resp3: false, into: stream.output)
        stream.handler = self
        server.worker.stats.add(pool: server.pool.index, server: server.index, .subscriberConnections)
        if !server.connect(stream) {
            isBroken = true
            server.worker.stats.subtract(pool: server.pool.index, server: server.index, .subscriberConnections)
            stream.close()
        }
    }

    /// Appends `command` for `names`, in commands of at most `namesPerCommand` names.
    func send(_ command: StaticString, _ names: [[UInt8]]) {
        guard !isBroken, !names.isEmpty else { return }
        var start = 0
        while start < names.count {
            let end = min(names.count, start + SubscriberConnection.namesPerCommand)
            stream.output.appendArrayHeader(1 + end - start)
            command.withUTF8Buffer { stream.output.appendBulk(UnsafeRawBufferPointer($0)) }
            for n in names[start..<end] { n.withUnsafeBytes { stream.output.appendBulk($0) } }
            start = end
        }
        stream.scheduleFlush()
    }

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        let p = input.writableSpace(minimum: SubscriberConnection.minimumReadSpace)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        input.commit(count)
        while !input.isEmpty && !isBroken {
            switch scanner.scan(input.readable) {
            case .incomplete:
                input.releaseIfIdle(threshold: ByteBuffer.idleLimit)
                return
            case let .error(why):
                fail(.protocolError(why))
                return
            case let .reply(length):
                let frame = UnsafeRawBufferPointer(rebasing: input.readable[0..<length])
                if handshakeReplies > 0 {
                    handshakeReplies -= 1
                    if frame.first == UInt8(ascii: "-") {
                        logWarn("upstream \(server.logName) refused the subscriber connection's handshake: \(String(decoding: frame.dropLast(2), as: UTF8.self))")
                        fail(.protocolError("handshake refused"))
                        return
                    }
                } else {
                    hub.received(frame, from: self)
                }
                input.consume(length)
            }
        }
        input.releaseIfIdle(threshold: ByteBuffer.idleLimit)
    }

    func didConnect(_ stream: Stream) {
        server.connectionSucceeded()
        stream.startReading()
    }

    func didEnd(_ stream: Stream, error: Int32) {
        fail(error == UV_EOF.rawValue ? .closedByServer : .connectionError(uvErrorName(error)))
    }

    /// The connection broke: the hub restores its subscriptions on a new one later.
    func fail(_ failure: UpstreamFailure) {
        guard !isBroken else { return }
        close()
        server.subscriberFailed(failure)
        hub.linkBroke(self)
    }

    /// Closes it without telling anyone (shutdown, or the hub let it go).
    func close() {
        guard !isBroken else { return }
        isBroken = true
        server.worker.stats.subtract(pool: server.pool.index, server: server.index, .subscriberConnections)
        stream.close()
    }
}
