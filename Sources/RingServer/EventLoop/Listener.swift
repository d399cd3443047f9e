// A listening socket on a loop: TCP with SO_REUSEPORT (every worker binds the same port and
// the kernel spreads connections) or a unix socket. Each accepted connection becomes a Stream
// handed to `onAccept`; the listener must never read from or write to what it accepts. The
// socket is bound here, or inherited from the process a binary upgrade replaces, and handed
// to libuv already bound; every open listener is in the ListenerTable, for the next upgrade.

import CLibUV
import RingCore

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

    /// A TCP listener with SO_REUSEPORT on `host:port`; on `inherited` instead, if given (a
    /// socket already bound and listening there, from the process this one replaces).
    public convenience init(loop: EventLoop, host: String, port: Int, backlog: Int, scheduler: FlushScheduler,
                            role: ListenerRole = .pool, inherited: Int32? = nil,
                            onAccept: @escaping (Stream) -> Void) throws {
        let description = "\(host):\(port)"
        let fd = try inherited ?? Listener.bindTCP(host: host, port: port, description: description)
        try self.init(loop: loop, kind: .tcp, fd: fd, description: description, role: role, backlog: backlog,
                      scheduler: scheduler, onAccept: onAccept)
    }

    /// A unix-socket listener at `path` (replacing a stale socket file), chmod'ed to `mode`;
    /// on `inherited` instead, if given.
    public convenience init(loop: EventLoop, path: String, mode: Int?, backlog: Int, scheduler: FlushScheduler,
                            inherited: Int32? = nil, onAccept: @escaping (Stream) -> Void) throws {
        let fd = try inherited ?? Listener.bindUnix(path: path)
        if let m = mode { chmod(path, mode_t(m)) }
        try self.init(loop: loop, kind: .pipe, fd: fd, description: path, role: .pool, backlog: backlog,
                      scheduler: scheduler, onAccept: onAccept)
    }

    /// From here on libuv owns `fd` and closes it (this closes it itself if libuv refuses it).
    private init(loop: EventLoop, kind: Stream.Kind, fd: Int32, description: String, role: ListenerRole, backlog: Int,
                 scheduler: FlushScheduler, onAccept: @escaping (Stream) -> Void) throws {
        self.loop = loop
        self.kind = kind
        self.scheduler = scheduler
        self.onAccept = onAccept
        self.description = description
        super.init(byteCount: kind == .tcp ? MemoryLayout<uv_tcp_t>.size : MemoryLayout<uv_pipe_t>.size)
        let opened: Int32
        if kind == .tcp {
            uv_tcp_init(loop.raw, raw.assumingMemoryBound(to: uv_tcp_t.self))
            retainForLoop()
            opened = uv_tcp_open(raw.assumingMemoryBound(to: uv_tcp_t.self), uv_os_sock_t(fd))
        } else {
            uv_pipe_init(loop.raw, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
            retainForLoop()
            opened = uv_pipe_open(raw.assumingMemoryBound(to: uv_pipe_t.self), uv_file(fd))
        }
        if opened != 0 { Glibc.close(fd); self.close(); throw ListenError.system(description, uvErrorName(opened)) }
        try startListening(backlog)
        let address = kind == .tcp ? Listener.boundAddress(fd) ?? description : description
        ListenerTable.shared.register(self, .init(role: role, address: address, fd: fd, isUnix: kind == .pipe))
    }

    /// The socket is made here so SO_REUSEPORT can be set before bind (libuv 1.44 has no
    /// flag for it).
    private static func bindTCP(host: String, port: Int, description: String) throws -> Int32 {
        var address: sockaddr_storage
        switch resolveAddress(host: host, port: port) {
        case let .success(a): address = a
        case let .failure(e): throw e
        }
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
        return fd
    }

    /// Bound here rather than by uv_pipe_bind: libuv removes the path of a socket it bound
    /// when the handle closes, and after an upgrade the path belongs to the successor.
    private static func bindUnix(path: String) throws -> Int32 {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        let capacity = MemoryLayout.size(ofValue: address.sun_path)
        guard !bytes.isEmpty, bytes.count < capacity else {
            throw ListenError.system(path, "a unix socket path must be 1 to \(capacity - 1) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw ListenError.system(path, String(cString: strerror(errno))) }
        unlink(path)
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if bound != 0 {
            let why = String(cString: strerror(errno))
            Glibc.close(fd)
            throw ListenError.system(path, why)
        }
        return fd
    }

    /// "ip:port" a TCP socket is bound to, as Stream.format writes it; nil if unknown.
    static func boundAddress(_ fd: Int32) -> String? {
        var storage = sockaddr_storage()
        var length = socklen_t(MemoryLayout<sockaddr_storage>.size)
        let status = withUnsafeMutablePointer(to: &storage) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
        }
        guard status == 0 else { return nil }
        return Stream.format(&storage)
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
        // Out of the table before libuv closes the descriptor (a takeover may be sending it).
        ListenerTable.shared.unregister(self)
        // The path goes now, unless a successor serves on it; the socket closes with the handle.
        if kind == .pipe && !ListenerTable.shared.keepsPaths { unlink(description) }
    }
}
