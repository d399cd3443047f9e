// A connected stream's socket facts, as text: "ip:port" of either end (IPv6 as Redis
// prints it, without brackets), a socket path for pipes, and its file descriptor. Asked
// only when someone lists or watches clients, never per request.

import CLibUV

#if canImport(Glibc)
import Glibc
#endif

extension Stream {
    /// The peer's ("ip:port") or the local end's address; "?" when the socket is gone.
    func addressText(peer: Bool) -> String {
        guard !isClosed else { return "?" }
        switch kind {
        case .tcp:
            var storage = sockaddr_storage()
            var length = Int32(MemoryLayout<sockaddr_storage>.size)
            let tcp = raw.assumingMemoryBound(to: uv_tcp_t.self)
            let status = withUnsafeMutablePointer(to: &storage) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                    peer ? uv_tcp_getpeername(tcp, sa, &length) : uv_tcp_getsockname(tcp, sa, &length)
                }
            }
            guard status == 0 else { return "?" }
            return Stream.format(&storage)
        case .pipe:
            // Redis prints a unix socket client as "<socket path>:0" at both ends (an
            // accepted unix socket's peer has no name).
            var buffer = [CChar](repeating: 0, count: 256)
            var size = buffer.count
            let pipe = raw.assumingMemoryBound(to: uv_pipe_t.self)
            let status = uv_pipe_getsockname(pipe, &buffer, &size)
            guard status == 0 else { return "?:0" }
            let bytes = buffer.prefix(size).map { UInt8(bitPattern: $0) }
            return String(decoding: bytes, as: UTF8.self) + ":0"
        }
    }

    static func format(_ storage: inout sockaddr_storage) -> String {
        var text = [CChar](repeating: 0, count: 64)
        var port: UInt16 = 0
        let family = Int32(storage.ss_family)
        withUnsafePointer(to: &storage) { p in
            if family == AF_INET6 {
                p.withMemoryRebound(to: sockaddr_in6.self, capacity: 1) { a in
                    _ = uv_ip6_name(a, &text, text.count)
                    port = UInt16(bigEndian: a.pointee.sin6_port)
                }
            } else {
                p.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { a in
                    _ = uv_ip4_name(a, &text, text.count)
                    port = UInt16(bigEndian: a.pointee.sin_port)
                }
            }
        }
        let host = String(decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        return host + ":" + String(port)
    }

    /// The socket's descriptor, -1 when it has none.
    var fileDescriptor: Int {
        var fd = uv_os_fd_t()
        guard !isClosed, uv_fileno(raw.assumingMemoryBound(to: uv_handle_t.self), &fd) == 0 else { return -1 }
        return Int(fd)
    }
}
