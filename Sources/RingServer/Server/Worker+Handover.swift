// A worker whose process was taken over by a new binary (see Handover/Upgrade.swift): its
// listeners close (the sockets live on in the successor, their queues intact), it keeps
// serving its clients, and closes each one when it is idle (HandoverDrain decides), so the
// client's reconnect lands on the successor. It ends when no client is left, or at the limit.

import CLibUV
import RingCore

/// The request crosses threads (the takeover service asks, the worker's loop acts); the rest
/// is the worker's own.
final class WorkerHandover: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var requested = false
    /// Draining for a successor (set on the worker's thread).
    var active = false

    init() { pthread_mutex_init(&lock, nil) }

    func request() {
        pthread_mutex_lock(&lock)
        requested = true
        pthread_mutex_unlock(&lock)
    }

    /// Whether a handover was asked for since the last call.
    func takeRequest() -> Bool {
        pthread_mutex_lock(&lock)
        defer { requested = false; pthread_mutex_unlock(&lock) }
        return requested
    }
}

extension Worker {
    func beginHandover() {
        handover.active = true
        draining = true
        drainDeadline = loop.nowMs + HandoverDrain.drainLimitMs
        for p in pools { p.closeListeners() }
        logInfo("worker \(id): stopped accepting; \(clients.count) client(s) close as they go idle")
        drainForHandover(now: loop.nowMs)
    }

    /// On each tick while draining: quiet clients close; the worker ends with its last client.
    func drainForHandover(now: UInt64) {
        for c in Array(clients.values) where HandoverDrain.decide(view(of: c, answered: false, now: now)) == .close {
            c.close()
        }
        if clients.isEmpty || now >= drainDeadline { finish() }
    }

    /// Right after a loop turn's writes: a client answered and owed nothing more closes now,
    /// so the end of the connection reaches it right behind its reply, before it sends again.
    func closeAnsweredClients(_ flushed: [Stream]) {
        let now = loop.nowMs
        for s in flushed {
            guard let c = s.handler as? ClientSession, !c.isClosed,
                  HandoverDrain.decide(view(of: c, answered: true, now: now)) == .close else { continue }
            c.close()
        }
    }

    private func view(of c: ClientSession, answered: Bool, now: UInt64) -> HandoverDrain.Client {
        let fd = c.stream.fileDescriptor
        return HandoverDrain.Client(mode: c.state.mode, owesReplies: c.hasOutstandingReplies,
                                    unhandledInput: !c.input.isEmpty || c.parkedOn != nil || c.heldByPause,
                                    unreadBytes: fd < 0 ? -1 : Int(rp_unread_bytes(Int32(fd))),
                                    answeredThisTurn: answered, quietForMs: now >= c.lastActiveMs ? now - c.lastActiveMs : 0)
    }
}
