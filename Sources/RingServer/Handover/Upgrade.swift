// A process started with --takeover-socket PATH: if a ringproxy serves on PATH, this one takes
// its listening sockets (before any worker binds) and, once every worker accepts on them, tells
// it so; the old process then stops accepting and drains. Either way it then serves PATH
// itself, for the next upgrade. Plain SO_REUSEPORT is not enough: a listening socket's accept
// queue dies with it, so connections waiting in the old process's queues would be reset when
// it closes them. Here the sockets themselves move, and no queue is ever closed.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class Upgrade: @unchecked Sendable {
    let path: String
    /// The predecessor, until it has let go of the path.
    private var predecessor: (link: HandoverLink, pid: Int32)?
    private var service: TakeoverService?
    /// Takes the predecessor's idle client connections, once it has let go of the path.
    private var adoption: ClientAdoption?

    /// Connects to `path`; the predecessor's sockets are then ListenerTable's, spread over
    /// `workers`. With nothing serving there, binds `path` at once (throwing if it cannot, so
    /// a misconfigured path fails the start rather than the next upgrade).
    public init(path: String, workers: Int, config: ProxyConfig) throws {
        self.path = path
        for pool in config.pools {
            if case let .unix(listen, _) = pool.listen, listen == path {
                throw HandoverError.system("takeover socket \(path)", "pool \(pool.name) listens there; it needs a path of its own")
            }
        }
        guard let link = try HandoverLink.connect(path: path) else {
            service = try TakeoverService(path: path)
            logNotice("takeover socket \(path): no ringproxy serves there; listening for the next upgrade")
            return
        }
        var received: [ListenerTable.Entry] = []
        do {
            try link.send(.hello(pid: getpid()))
            while true {
                let (message, fd) = try link.receive(expecting: "listener")
                switch message {
                case let .listener(role, address):
                    guard let fd = fd else { throw HandoverError.protocolError("listener \(address) came without its socket") }
                    guard let isUnix = Upgrade.listeningFamily(fd) else {
                        Glibc.close(fd)
                        throw HandoverError.protocolError("\(address) is not a listening stream socket")
                    }
                    received.append(.init(role: role, address: address, fd: fd, isUnix: isUnix))
                    guard received.count <= HandoverMessage.maxListeners else {
                        throw HandoverError.protocolError("more than \(HandoverMessage.maxListeners) listeners")
                    }
                case let .end(count, pid):
                    if let fd = fd { Glibc.close(fd) }
                    guard count == received.count else {
                        throw HandoverError.protocolError("pid \(pid) announced \(count) listeners and sent \(received.count)")
                    }
                    predecessor = (link, pid)
                    ListenerTable.shared.inherit(received, workers: workers)
                    logNotice("takeover: took \(count) listening socket(s) from pid \(pid)")
                    return
                default:
                    if let fd = fd { Glibc.close(fd) }
                    throw HandoverError.protocolError("'\(message.name)' before the listeners' end")
                }
            }
        } catch {
            for e in received { Glibc.close(e.fd) }
            link.close()
            throw error
        }
    }

    /// The workers accept on their sockets: closes the inherited ones no listener took, tells
    /// the predecessor (which then drains, sending its idle clients to `workers`), and serves
    /// the path for the next upgrade. `onHandover(pid, link)` runs on the service's thread
    /// when a successor takes over from this process (link: the socket to send clients on,
    /// -1 if there is none).
    public func serving(workers: [Worker], onHandover: @escaping @Sendable (Int32, Int32) -> Void) {
        for gone in ListenerTable.shared.closeUnclaimed() { logNotice("takeover: not listening on \(gone) any more") }
        if let (link, pid) = predecessor {
            do {
                try link.send(.serving(pid: getpid()))
                let (reply, fd) = try link.receive(expecting: "released")
                if let fd = fd { Glibc.close(fd) }
                if reply == .released {
                    adoption = ClientAdoption(link: link, from: pid, workers: workers)
                } else {
                    logWarn("takeover: pid \(pid) answered '\(reply.name)', not 'released'")
                    link.close()
                }
            } catch {
                // It has our 'serving' or is gone: either way its sockets are served here.
                logWarn("takeover: \(error); taking the socket path anyway")
                link.close()
            }
            predecessor = nil
            logNotice("takeover: serving in place of pid \(pid)")
        }
        if service == nil {
            do {
                service = try TakeoverService(path: path)
            } catch {
                // This process serves; only the next upgrade is off.
                logWarn("\(error): a binary upgrade cannot take over from this process")
            }
        }
        service?.start(onHandover: onHandover)
    }

    public func stop() {
        service?.stop()
        service = nil
        adoption?.stop()
        adoption = nil
    }

    /// Whether `fd` is a listening stream socket: true for a unix one, false for TCP, nil
    /// for anything else.
    private static func listeningFamily(_ fd: Int32) -> Bool? {
        func option(_ name: Int32) -> Int32? {
            var value: Int32 = 0
            var length = socklen_t(MemoryLayout<Int32>.size)
            return getsockopt(fd, SOL_SOCKET, name, &value, &length) == 0 ? value : nil
        }
        guard option(SO_ACCEPTCONN) == 1, option(SO_TYPE) == Int32(SOCK_STREAM.rawValue), let domain = option(SO_DOMAIN)
        else { return nil }
        switch domain {
        case AF_UNIX: return true
        case AF_INET, AF_INET6: return false
        default: return nil
        }
    }
}
