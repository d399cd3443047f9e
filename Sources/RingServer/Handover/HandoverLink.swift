// One end of the takeover socket's conversation: a SOCK_SEQPACKET unix socket (one record per
// message, so no framing), records with at most one descriptor attached (SCM_RIGHTS, through
// the shim's rp_send_record/rp_recv_record), every call bounded by a socket timeout.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

enum HandoverError: Error, CustomStringConvertible {
    case system(String, String)
    case protocolError(String)
    case closed(String)
    case timedOut(String)

    var description: String {
        switch self {
        case let .system(what, why): return "\(what): \(why)"
        case let .protocolError(why): return "takeover: \(why)"
        case let .closed(when): return "takeover: the other process hung up \(when)"
        case let .timedOut(what): return "takeover: no '\(what)' within \(HandoverLink.ioTimeoutSeconds) s"
        }
    }

    static func errno(_ what: String) -> HandoverError { .system(what, String(cString: strerror(Glibc.errno))) }
}

final class HandoverLink {
    let fd: Int32
    /// Each send or receive gives up after this long: the peer is a local process with
    /// little to do, so a longer silence means it is stuck, and neither an upgrade nor the
    /// running process may hang on it.
    static let ioTimeoutSeconds = 5

    init(fd: Int32) {
        self.fd = fd
        var timeout = timeval(tv_sec: HandoverLink.ioTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    }

    func close() { Glibc.close(fd) }

    /// A connected socket to `path`; nil when nothing listens there (no file, or a file
    /// left by a process that is gone).
    static func connect(path: String) throws -> HandoverLink? {
        var address = try socketAddress(path)
        let fd = socket(AF_UNIX, Int32(SOCK_SEQPACKET.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        if fd < 0 { throw HandoverError.errno("takeover socket") }
        // The timeouts first: a connect waits while the listener's queue is full.
        let link = HandoverLink(fd: fd)
        let r = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        if r != 0 {
            let code = Glibc.errno
            Glibc.close(fd)
            if code == ENOENT || code == ECONNREFUSED { return nil }
            throw HandoverError.system("cannot connect to takeover socket \(path)", String(cString: strerror(code)))
        }
        return link
    }

    static func socketAddress(_ path: String) throws -> sockaddr_un {
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard !bytes.isEmpty, bytes.count <= LaunchOptions.maxSocketPathBytes else {
            throw HandoverError.system("takeover socket \(path)", "a path must be 1 to \(LaunchOptions.maxSocketPathBytes) bytes")
        }
        withUnsafeMutableBytes(of: &address.sun_path) { $0.copyBytes(from: bytes) }
        return address
    }

    func send(_ message: HandoverMessage, attaching descriptor: Int32 = -1) throws {
        let bytes = message.encoded()
        let n = bytes.withUnsafeBytes { rp_send_record(fd, $0.baseAddress, $0.count, descriptor, 0) }
        if n != bytes.count { throw HandoverError.errno("takeover: sending '\(message.name)'") }
    }

    /// The next record and the descriptor that came with it (the caller owns it).
    func receive(expecting: String) throws -> (HandoverMessage, Int32?) {
        var buffer = [UInt8](repeating: 0, count: HandoverMessage.maxBytes + 1)
        var descriptor: Int32 = -1
        var truncated: Int32 = 0
        let n = buffer.withUnsafeMutableBytes { rp_recv_record(fd, $0.baseAddress, $0.count, &descriptor, &truncated) }
        if n < 0 {
            let timedOut = Glibc.errno == EAGAIN || Glibc.errno == EWOULDBLOCK
            throw timedOut ? HandoverError.timedOut(expecting)
                : HandoverError.errno("takeover: waiting for '\(expecting)'")
        }
        if n == 0 {
            if descriptor >= 0 { Glibc.close(descriptor) }
            throw HandoverError.closed("before '\(expecting)'")
        }
        func refuse(_ why: String) -> HandoverError {
            if descriptor >= 0 { Glibc.close(descriptor) }
            return .protocolError(why)
        }
        if truncated != 0 { throw refuse("a record too long, or with more than one descriptor") }
        switch HandoverMessage.decode(buffer.prefix(n)) {
        case let .success(m): return (m, descriptor >= 0 ? descriptor : nil)
        case let .failure(e): throw refuse("\(e) (waiting for '\(expecting)')")
        }
    }
}
