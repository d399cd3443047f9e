// A listening socket on a loop: TCP with SO_REUSEPORT (every worker binds the same port and
// the kernel spreads connections) or a unix socket. Each accepted connection becomes a Stream
// handed to `onAccept`; the listener must never read from or write to what it accepts.

import CLibUV

#if canImport(Glibc)
import Glibc
#endif

public enum ListenError: Error, CustomStringConvertible {
    case resolve(String, String)
    case system(String, String)

    public var description: String {
        switch self {
        case let .resolve(address, why): return "cannot resolve \(address): \(why)"
        case let .system(address, why): return "cannot listen on \(address): \(why)"
        }
    }
}

/// Resolves host:port to a socket address (numeric or by name). Done at startup and at
/// (re)connect time, never per request.
public func resolveAddress(host: String, port: Int) -> Result<sockaddr_storage, ListenError> {
    var hints = addrinfo()
    hints.ai_family = AF_UNSPEC
    hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
    // The list is getaddrinfo's, freed below by freeaddrinfo; the chosen address is copied out.
    var result: UnsafeMutablePointer<addrinfo>?
    let rc = getaddrinfo(host, String(port), &hints, &result)
    guard rc == 0, let first = result else {
        return .failure(.resolve("\(host):\(port)", String(cString: gai_strerror(rc))))
    }
    defer { freeaddrinfo(result) }
    // Prefer IPv4 when a name has both (loopback names usually do).
    var chosen = first
    var p: UnsafeMutablePointer<addrinfo>? = first
    while let a = p {
        if a.pointee.ai_family == AF_INET { chosen = a; break }
        p = a.pointee.ai_next
    }
    var storage = sockaddr_storage()
    withUnsafeMutableBytes(of: &storage) { dst in
        dst.copyMemory(from: UnsafeRawBufferPointer(start: chosen.pointee.ai_addr, count: Int(chosen.pointee.ai_addrlen)))
    }
    return .success(storage)
}

/// The handle follows LoopHandle's life cycle.
public final class Listener: LoopHandle {
    private let kind: Stream.Kind
    private let loop: EventLoop
    private unowned let scheduler: FlushScheduler
    private var onAccept: ((Stream) -> Void)?
    public let description: String

    private var streamPointer: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }

    /// A TCP listener with SO_REUSEPORT on `host:port`.
    public init(loop: EventLoop, host: String, port: Int, backlog: Int, scheduler: FlushScheduler,
                onAccept: @escaping (Stream) -> Void) throws {
        self.loop = loop
        self.kind = .tcp
        self.scheduler = scheduler
        self.onAccept = onAccept
        self.description = "\(host):\(port)"
        var address: sockaddr_storage
        switch resolveAddress(host: host, port: port) {
        case let .success(a): address = a
        case let .failure(e): throw e
        }
        // The socket is made here so SO_REUSEPORT can be set before bind (libuv 1.44 has
        // no flag for it); from uv_tcp_open on, libuv owns the descriptor and closes it.
        let family = Int32(address.ss_family)
        let fd = socket(family, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ListenError.system(description, String(cString: strerror(errno))) }
        var one: Int32 = 1
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, socklen_t(MemoryLayout<Int32>.size))
        let len = family == AF_INET6 ? MemoryLayout<sockaddr_in6>.size : MemoryLayout<sockaddr_in>.size
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(len)) }
        }
        if bound != 0 {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ListenError.system(description, why)
        }
        super.init(byteCount: MemoryLayout<uv_tcp_t>.size)
        uv_tcp_init(loop.raw, raw.assumingMemoryBound(to: uv_tcp_t.self))
        retainForLoop()
        let opened = uv_tcp_open(raw.assumingMemoryBound(to: uv_tcp_t.self), uv_os_sock_t(fd))
        if opened != 0 { Glibc.close(fd); self.close(); throw ListenError.system(description, uvErrorName(opened)) }
        try startListening(backlog)
    }

    /// A unix-socket listener at `path`, replacing a stale socket file, chmod'ed to `mode`.
    public init(loop: EventLoop, path: String, mode: Int?, backlog: Int, scheduler: FlushScheduler,
                onAccept: @escaping (Stream) -> Void) throws {
        self.loop = loop
        self.kind = .pipe
        self.scheduler = scheduler
        self.onAccept = onAccept
        self.description = path
        super.init(byteCount: MemoryLayout<uv_pipe_t>.size)
        uv_pipe_init(loop.raw, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        retainForLoop()
        unlink(path)
        let r = uv_pipe_bind(raw.assumingMemoryBound(to: uv_pipe_t.self), path)
        if r != 0 { self.close(); throw ListenError.system(path, uvErrorName(r)) }
        if let m = mode { chmod(path, mode_t(m)) }
        try startListening(backlog)
    }

    private func startListening(_ backlog: Int) throws {
        let r = uv_listen(streamPointer, Int32(backlog)) { server, status in
            if status < 0 { return }
            LoopHandle.owner(UnsafeMutableRawPointer(server), as: Listener.self).acceptOne()
        }
        if r != 0 { self.close(); throw ListenError.system(description, uvErrorName(r)) }
    }

    private func acceptOne() {
        guard !isClosed, let accept = onAccept else { return }
        // The stream keeps itself alive (LoopHandle's +1) until closed: `onAccept` gives it a
        // handler, or closes it.
        let client = Stream(loop: loop, kind: kind, scheduler: scheduler)
        if uv_accept(streamPointer, client.streamPointer) != 0 {
            client.close()
            return
        }
        client.markAccepted()
        accept(client)
    }

    override func willClose() {
        onAccept = nil
        // The path goes now; the socket itself closes with the handle.
        if kind == .pipe { unlink(description) }
    }
}
