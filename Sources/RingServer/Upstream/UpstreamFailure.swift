// Why an upstream connection failed: each reason with the text clients and logs see, the
// counter it bumps, and what it means for the server's health and the queued requests.
// Decisions are made on the case, never by matching the text.

import RingCore

enum UpstreamFailure: Equatable, CustomStringConvertible {
    /// The oldest queued request waited longer than the pool's `timeout`.
    case timedOut(ms: Int)
    /// The server closed the connection (EOF).
    case closedByServer
    /// A read, write or connect error, with libuv's text for it ("connection refused").
    case connectionError(String)
    /// The connect could not even start (no socket, bad address).
    case cannotConnect
    /// A reply the scanner cannot frame.
    case protocolError(String)
    /// A reply with no request waiting for it.
    case unexpectedReply
    /// Sentinel (or DNS) moved the server to a new master: the connection to the old one is
    /// retired.
    case failedOver
    /// The server answered -LOADING or -MASTERDOWN (its text): it cannot serve for now.
    case cannotServe(String)
    /// The server answered -READONLY: the master was demoted behind the proxy's back; the
    /// connection is retired and the sentinels polled at once.
    case becameReplica

    var description: String {
        switch self {
        case let .timedOut(ms): return "timed out after \(ms) ms"
        case .closedByServer: return "connection closed by server"
        case let .connectionError(why): return why
        case .cannotConnect: return "cannot connect"
        case let .protocolError(why): return "protocol error in reply (\(why))"
        case .unexpectedReply: return "sent a reply nobody asked for"
        case .failedOver:
            return "the server moved to a new master (a failover) while the command was in flight; it may or may not have been applied"
        case let .cannotServe(why): return "answered \(why)"
        case .becameReplica:
            return "the server became a replica (it answered READONLY) while the command was in flight; it may or may not have been applied"
        }
    }

    /// nutcracker's server counter for it.
    var stat: ServerStat {
        switch self {
        case .timedOut: return .serverTimedout
        case .closedByServer: return .serverEOF
        case .connectionError, .cannotConnect, .protocolError, .unexpectedReply, .failedOver, .cannotServe, .becameReplica:
            return .serverErr
        }
    }

    /// A refused, reset or closed connection says the server is gone: it is reported down
    /// at once. The others (a slow or garbled reply) count toward server_failure_limit.
    var marksServerDown: Bool {
        switch self {
        case .closedByServer, .connectionError, .cannotConnect, .cannotServe: return true
        case .timedOut, .protocolError, .unexpectedReply, .failedOver, .becameReplica: return false
        }
    }

    /// After a timeout the server is slow, not gone: requests still unsent move to a new
    /// connection instead of failing with the one that waited too long.
    /// After a failover the new master takes them: only what the old one may have run fails.
    var resendsUnsent: Bool {
        switch self {
        case .timedOut, .failedOver, .becameReplica: return true
        default: return false
        }
    }

    /// The server was replaced (or demoted): read-only requests already written are sent
    /// once more (see UpstreamConnection.retainedReads), since running a read twice is safe.
    var resendsWrittenReads: Bool { self == .failedOver || self == .becameReplica }
}
