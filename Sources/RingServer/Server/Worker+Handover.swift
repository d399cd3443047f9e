// A binary upgrade, as a worker takes part (see Handover/Upgrade.swift).
// Old process: its listeners close (the sockets live on in the successor, their queues
// intact), it keeps serving its clients, and each client, once idle, moves to the successor
// (its connection's descriptor and session state over the takeover link) or, when it cannot,
// closes (HandoverDrain decides). The worker ends when no client is left, or at the limit.
// New process: the connections passed on are served as if accepted here.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

/// The parts that cross threads (the takeover threads ask, the worker's loop acts) are under
/// the lock; the rest is the worker's own.
final class WorkerHandover: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var requested = false
    private var requestedLink: Int32 = -1
    private var adoptions: [(HandedClient, Int32)] = []
    /// The worker's loop is ending: its wakeup may be gone, so nothing more is taken.
    private var finished = false
    /// Draining for a successor (the worker's thread only, as is all below).
    var active = false
    /// Where idle clients go: the takeover link's socket; -1 when none (they close).
    var link: Int32 = -1
    /// The pools' listen addresses as records name them, by pool index.
    var addresses: [Int: String] = [:]
    var passedOn = 0

    init() { pthread_mutex_init(&lock, nil) }

    /// `wake` runs under the lock, so it cannot meet the worker letting go of its wakeup.
    func request(link: Int32, wake: () -> Void) {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard !finished else { return }
        requested = true
        requestedLink = link
        wake()
    }

    /// Whether a handover was asked for since the last call (then `link` is set).
    func takeRequest() -> Bool {
        pthread_mutex_lock(&lock)
        defer { requested = false; pthread_mutex_unlock(&lock) }
        if requested { link = requestedLink }
        return requested
    }

    /// False once the worker is ending (the caller keeps the descriptor).
    func add(_ client: HandedClient, descriptor: Int32, wake: () -> Void) -> Bool {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        guard !finished else { return false }
        adoptions.append((client, descriptor))
        wake()
        return true
    }

    /// The worker's loop ends: connections passed on and not yet served are closed.
    func finish() {
        pthread_mutex_lock(&lock)
        finished = true
        let left = adoptions
        adoptions.removeAll()
        pthread_mutex_unlock(&lock)
        for (_, fd) in left { close(fd) }
    }

    func takeAdoptions() -> [(HandedClient, Int32)] {
        pthread_mutex_lock(&lock)
        defer { adoptions.removeAll(); pthread_mutex_unlock(&lock) }
        return adoptions
    }
}

extension Worker {
    func beginHandover() {
        handover.active = true
        draining = true
        drainDeadline = loop.nowMs + HandoverDrain.drainLimitMs
        for p in pools { p.closeListeners() }
        logInfo("worker \(id): stopped accepting; \(clients.count) client(s) move on as they go idle")
        drainForHandover(now: loop.nowMs)
    }

    /// On each tick while draining; the worker ends with its last client.
    func drainForHandover(now: UInt64) {
        for c in Array(clients.values) {
            switch HandoverDrain.decide(view(of: c, answered: false, now: now)) {
            case .handOver: if !passOn(c) { break }
            case .close: c.close()
            case .wait: break
            }
        }
        if clients.isEmpty || now >= drainDeadline {
            if handover.passedOn > 0 { logInfo("worker \(id): passed \(handover.passedOn) client(s) on") }
            finish()
        }
    }

    /// Writes a stream's output; a client owed nothing more once it is written moves on (or
    /// closes) now. A close is corked over TCP, so the reply and the end of the connection
    /// leave in one segment and the client sees both before it can send again (a unix socket
    /// has no cork: there the end follows the reply by one system call).
    func flushClosingIfAnswered(_ stream: Stream) {
        guard let c = stream.handler as? ClientSession, !c.isClosed else { return stream.flush() }
        let decision = HandoverDrain.decide(view(of: c, answered: true, now: loop.nowMs, ignoringOutput: true))
        if decision == .wait { return stream.flush() }
        let fd = Int32(stream.fileDescriptor)
        let corked = decision == .close && stream.kind == .tcp && setCork(fd, true)
        stream.flush()
        if stream.pendingOutputBytes == 0 {
            if decision == .handOver {
                _ = passOn(c)
            } else {
                // The end goes out at once, a system call behind the reply; the bookkeeping
                // of closing the session (leases, subscriptions) would take longer than a
                // quick client needs to read its reply and send again.
                shutdown(fd, Int32(SHUT_WR))
                c.close()
            }
        } else if corked {
            // The rest is written later; the client closes when quiet (drainForHandover).
            _ = setCork(fd, false)
        }
    }

    /// Sends the client's connection and state to the successor and lets go of it without
    /// closing it (the successor holds the socket now; what the client sends meanwhile waits
    /// in the kernel for it). False if it stays here for now.
    private func passOn(_ c: ClientSession) -> Bool {
        let fd = Int32(c.stream.fileDescriptor)
        guard handover.link >= 0, fd >= 0 else { return false }
        let record = HandoverMessage.client(HandedClient(
            authenticated: c.state.authenticated, database: c.state.database, resp: Int(c.state.version.rawValue),
            name: c.state.clientName, address: address(of: c.pool))).encoded()
        // A name too long for a record: the client closes instead once quiet.
        guard record.count <= HandoverMessage.maxBytes else { c.stream.flush(); c.close(); return true }
        let sent = record.withUnsafeBytes { rp_send_record(handover.link, $0.baseAddress, $0.count, fd, Int32(MSG_DONTWAIT)) }
        if sent != record.count {
            // A full link is tried again next tick; a broken one ends the passing on.
            if errno != EAGAIN && errno != EWOULDBLOCK {
                logWarn("worker \(id): cannot pass clients on (\(String(cString: strerror(errno)))); closing them as they go idle")
                handover.link = -1
            }
            return false
        }
        handover.passedOn += 1
        c.close()
        return true
    }

    private func address(of pool: PoolRuntime) -> String {
        if let known = handover.addresses[pool.index] { return known }
        var text: String
        switch pool.config.listen {
        case let .tcp(host, port):
            if case var .success(a) = resolveAddress(host: host, port: port) { text = Stream.format(&a) } else { text = "\(host):\(port)" }
        case let .unix(path, _):
            text = path
        }
        handover.addresses[pool.index] = text
        return text
    }

    /// Serves the connections the predecessor passed on, each in the pool listening where it
    /// was accepted, with the session state it had there.
    func adoptHandedClients() {
        for (handed, fd) in handover.takeAdoptions() {
            if handover.active {
                // A successor took over meanwhile: the connection goes straight on to it.
                let record = HandoverMessage.client(handed).encoded()
                let sent = handover.link < 0 ? -1
                    : record.withUnsafeBytes { rp_send_record(handover.link, $0.baseAddress, $0.count, fd, Int32(MSG_DONTWAIT)) }
                if sent != record.count { logWarn("worker \(id): a client passed on to a process taken over is closed") }
                close(fd)
                continue
            }
            guard let pool = pools.first(where: { address(of: $0) == handed.address }) else {
                logWarn("worker \(id): a client of \(handed.address), which no pool listens on now, is closed")
                close(fd)
                continue
            }
            var domain: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &length)
            let kind: Stream.Kind = domain == AF_UNIX ? .pipe : .tcp
            let stream = Stream(loop: loop, kind: kind, scheduler: self)
            let opened = kind == .tcp ? uv_tcp_open(stream.raw.assumingMemoryBound(to: uv_tcp_t.self), uv_os_sock_t(fd))
                : uv_pipe_open(stream.raw.assumingMemoryBound(to: uv_pipe_t.self), uv_file(fd))
            if opened != 0 {
                logWarn("worker \(id): a client passed on could not be served: \(uvErrorName(opened))")
                close(fd)
                stream.close()
                continue
            }
            stream.markAccepted()
            accept(stream, pool: pool)
            guard let c = stream.handler as? ClientSession else { continue }
            c.state.authenticated = handed.authenticated
            c.state.database = handed.database
            c.state.version = handed.resp == 3 ? .resp3 : .resp2
            c.state.clientName = handed.name
        }
    }

    private func setCork(_ fd: Int32, _ on: Bool) -> Bool {
        var value: Int32 = on ? 1 : 0
        return setsockopt(fd, Int32(IPPROTO_TCP), TCP_CORK, &value, socklen_t(MemoryLayout<Int32>.size)) == 0
    }

    /// `ignoringOutput`: output about to be written does not count as owed.
    private func view(of c: ClientSession, answered: Bool, now: UInt64, ignoringOutput: Bool = false) -> HandoverDrain.Client {
        let fd = c.stream.fileDescriptor
        return HandoverDrain.Client(mode: c.state.mode, owesReplies: ignoringOutput ? !c.order.isEmpty : c.hasOutstandingReplies,
                                    unhandledInput: !c.input.isEmpty || c.parkedOn != nil || c.heldByPause,
                                    unreadBytes: fd < 0 ? -1 : Int(rp_unread_bytes(Int32(fd))),
                                    answeredThisTurn: answered, quietForMs: now >= c.lastActiveMs ? now - c.lastActiveMs : 0,
                                    canHandOver: handover.link >= 0)
    }
}
