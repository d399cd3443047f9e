// The running process's side of a binary upgrade: a thread that listens on the takeover socket,
// hands every listening socket to a successor that connects, and once that one serves, tells
// the process to stop accepting and drain. Blocking calls on a thread of its own (the exchange
// is a handful of records, once per upgrade): never on a worker's loop.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

final class TakeoverService: @unchecked Sendable {
    let path: String
    private var listenFD: Int32
    /// poll() waits on the socket and on this pipe's read end; stop() writes to it.
    private var wake: [Int32] = [-1, -1]
    private var thread: pthread_t?
    private var onHandover: (@Sendable (Int32, Int32) -> Void)?
    /// The link to the successor, kept open after the takeover: idle client connections
    /// follow it (see Worker+Handover). Closed by stop().
    private var successor: HandoverLink?
    /// Successors connecting at once wait in this queue; they are served one at a time.
    static let backlog: Int32 = 4

    /// Binds `path` (replacing a file left there), readable and writable by the owner only:
    /// whoever connects is handed the listening sockets.
    init(path: String) throws {
        self.path = path
        var address = try HandoverLink.socketAddress(path)
        // What is there is replaced only if it is a socket (one left by a process now gone):
        // a mistyped path must not cost someone a file.
        var existing = stat()
        if lstat(path, &existing) == 0 && (existing.st_mode & S_IFMT) != S_IFSOCK {
            throw HandoverError.system("takeover socket \(path)", "a file that is not a socket is there")
        }
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw HandoverError.errno("takeover socket") }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if bound != 0 || chmod(path, 0o600) != 0 || Glibc.listen(fd, TakeoverService.backlog) != 0 {
            let error = HandoverError.errno("cannot listen on takeover socket \(path)")
            Glibc.close(fd)
            throw error
        }
        listenFD = fd
        if rp_pipe_cloexec(&wake) != 0 { wake = [-1, -1] }
    }

    /// Serves successors until one takes over (then `onHandover(its pid, the link's socket)`
    /// runs, on this thread) or until stop().
    func start(onHandover: @escaping @Sendable (Int32, Int32) -> Void) {
        self.onHandover = onHandover
        thread = startThread { [self] in self.serve() }
    }

    /// Ends the thread; the path is removed unless a successor owns it now.
    func stop() {
        if wake[1] >= 0 {
            var byte: UInt8 = 1
            _ = write(wake[1], &byte, 1)
        }
        if let t = thread { pthread_join(t, nil) }
        thread = nil
        if listenFD >= 0 {
            Glibc.close(listenFD)
            listenFD = -1
            unlink(path)
        }
        successor?.close()
        successor = nil
        for fd in wake where fd >= 0 { Glibc.close(fd) }
        wake = [-1, -1]
    }

    private func serve() {
        while listenFD >= 0 {
            var fds = [pollfd(fd: listenFD, events: Int16(POLLIN), revents: 0), pollfd(fd: wake[0], events: Int16(POLLIN), revents: 0)]
            let ready = poll(&fds, nfds_t(wake[0] >= 0 ? 2 : 1), -1)
            if ready < 0 && errno == EINTR { continue }
            if ready < 0 || fds[1].revents != 0 { return }
            let connection = rp_accept_cloexec(listenFD)
            if connection < 0 { continue }
            let link = HandoverLink(fd: connection)
            let peer = rp_peer_uid(connection)
            guard peer == Int(geteuid()) || peer == 0 else {
                logWarn("takeover socket \(path): refused a process of user \(peer) (only the same user may take over)")
                link.close()
                continue
            }
            do {
                if try converse(link) {
                    successor = link
                    return
                }
            } catch {
                logWarn("takeover abandoned, still serving: \(error)")
            }
            link.close()
        }
    }

    /// One successor: true once it serves on our sockets and we have let go of the path.
    private func converse(_ link: HandoverLink) throws -> Bool {
        guard case let (.hello(pid), extra) = try link.receive(expecting: "hello") else {
            throw HandoverError.protocolError("a client of the takeover socket did not say hello")
        }
        if let fd = extra { Glibc.close(fd) }
        logNotice("takeover: pid \(pid) asks for the listeners")
        // Under the table's lock: no listener closes (and frees its descriptor) meanwhile.
        let sent = try ListenerTable.shared.withLive { entries -> Int in
            for e in entries { try link.send(.listener(role: e.role, address: e.address), attaching: e.fd) }
            return entries.count
        }
        try link.send(.end(count: sent, pid: getpid()))
        let (reply, stray) = try link.receive(expecting: "serving")
        if let fd = stray { Glibc.close(fd) }
        guard case .serving = reply else { throw HandoverError.protocolError("pid \(pid) answered '\(reply.name)', not 'serving'") }
        ListenerTable.shared.markHandedOver()
        logNotice("takeover: pid \(pid) serves on our \(sent) listener(s); this process stops accepting and drains")
        // The successor binds the path once told: it is not removed here, only let go.
        Glibc.close(listenFD)
        listenFD = -1
        var linkFD = link.fd
        do {
            try link.send(.released)
        } catch {
            // Then no client connection can follow: the workers close theirs instead.
            logWarn("takeover: pid \(pid) was not told the socket is free: \(error)")
            linkFD = -1
        }
        // After 'released': the successor reads client records only once it has that.
        onHandover?(pid, linkFD)
        return true
    }
}
