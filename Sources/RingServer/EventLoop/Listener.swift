// A listening socket on a loop: TCP (its own socket with SO_REUSEPORT, so every worker
// binds the same port and the kernel spreads connections) or a unix socket (with an
// optional permission mode). Each accepted connection becomes a Stream handed to `onAccept`.

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

public final class Listener {
    private let raw: UnsafeMutableRawPointer
    private let kind: Stream.Kind
    private let loop: EventLoop
    private unowned let scheduler: FlushScheduler
    private var onAccept: ((Stream) -> Void)?
    private var closed = false
    public let description: String

    private var handlePtr: UnsafeMutablePointer<uv_handle_t> { raw.assumingMemoryBound(to: uv_handle_t.self) }
    private var streamPtr: UnsafeMutablePointer<uv_stream_t> { raw.assumingMemoryBound(to: uv_stream_t.self) }

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
        raw = UnsafeMutableRawPointer.allocate(byteCount: Stream.handleSize, alignment: 16)
        uv_tcp_init(loop.raw, raw.assumingMemoryBound(to: uv_tcp_t.self))
        handlePtr.pointee.data = Unmanaged.passRetained(self).toOpaque()
        let opened = uv_tcp_open(raw.assumingMemoryBound(to: uv_tcp_t.self), uv_os_sock_t(fd))
        if opened != 0 { self.close(); throw ListenError.system(description, uvErrorName(opened)) }
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
        raw = UnsafeMutableRawPointer.allocate(byteCount: Stream.handleSize, alignment: 16)
        uv_pipe_init(loop.raw, raw.assumingMemoryBound(to: uv_pipe_t.self), 0)
        handlePtr.pointee.data = Unmanaged.passRetained(self).toOpaque()
        unlink(path)
        let r = uv_pipe_bind(raw.assumingMemoryBound(to: uv_pipe_t.self), path)
        if r != 0 { self.close(); throw ListenError.system(path, uvErrorName(r)) }
        if let m = mode { chmod(path, mode_t(m)) }
        try startListening(backlog)
    }

    private func startListening(_ backlog: Int) throws {
        let r = uv_listen(streamPtr, Int32(backlog)) { server, status in
            let me = Unmanaged<Listener>.fromOpaque(server!.pointee.data).takeUnretainedValue()
            if status < 0 { return }
            me.acceptOne()
        }
        if r != 0 { self.close(); throw ListenError.system(description, uvErrorName(r)) }
    }

    private func acceptOne() {
        guard !closed, let accept = onAccept else { return }
        let client = Stream(loop: loop, kind: kind, scheduler: scheduler)
        if uv_accept(streamPtr, client.streamPointer) != 0 {
            client.close()
            return
        }
        client.markAccepted()
        accept(client)
    }

    public func close() {
        if closed { return }
        closed = true
        onAccept = nil
        let unixPath: String? = kind == .pipe ? description : nil
        uv_close(handlePtr) { h in
            let me = Unmanaged<Listener>.fromOpaque(h!.pointee.data)
            me.takeUnretainedValue().raw.deallocate()
            me.release()
        }
        if let p = unixPath { unlink(p) }
    }
}
