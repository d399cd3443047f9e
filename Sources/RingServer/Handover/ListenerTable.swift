// The process's listening sockets, for a binary upgrade: the ones open now (what a successor is
// handed) and the ones inherited from a predecessor and not yet taken by a listener. Listeners
// register and unregister themselves; the takeover thread reads the table under its lock, so a
// descriptor it sends cannot be closed (and its number reused) while it is being sent.

import CLibUV
import RingCore

#if canImport(Glibc)
import Glibc
#endif

final class ListenerTable: @unchecked Sendable {
    static let shared = ListenerTable()

    struct Entry {
        let role: ListenerRole
        /// "ip:port" as bound (Stream.format), or the unix path.
        let address: String
        let fd: Int32
        let isUnix: Bool
    }

    private let lock: UnsafeMutablePointer<pthread_mutex_t>
    private var live: [(owner: ObjectIdentifier, entry: Entry)] = []
    private var inherited: [(entry: Entry, taken: Bool)] = []
    /// Workers of this process, for spreading inherited sockets (set before they are made).
    private var workerCount = 1
    /// Set once a successor serves on this process's sockets: their unix paths are its now.
    private var handedOver = false

    private init() {
        lock = .allocate(capacity: 1)
        pthread_mutex_init(lock, nil)
    }

    private func locked<T>(_ body: () throws -> T) rethrows -> T {
        pthread_mutex_lock(lock)
        defer { pthread_mutex_unlock(lock) }
        return try body()
    }

    func register(_ owner: AnyObject, _ entry: Entry) {
        locked { live.append((ObjectIdentifier(owner), entry)) }
    }

    /// Before the descriptor is closed.
    func unregister(_ owner: AnyObject) {
        let id = ObjectIdentifier(owner)
        locked { live.removeAll { $0.owner == id } }
    }

    /// `body` runs under the lock: no listener closes meanwhile.
    func withLive<T>(_ body: ([Entry]) throws -> T) rethrows -> T {
        try locked { try body(live.map(\.entry)) }
    }

    func markHandedOver() { locked { handedOver = true } }

    /// Whether a unix listener closing now leaves its path alone (a successor serves on it).
    var keepsPaths: Bool { locked { handedOver } }

    func inherit(_ entries: [Entry], workers: Int) {
        locked {
            inherited = entries.map { ($0, false) }
            workerCount = max(1, workers)
        }
    }

    /// The inherited sockets of `role` at `address` that worker `worker` accepts from (see
    /// inheritedShare); empty when it binds a socket of its own.
    func claim(role: ListenerRole, address: String, worker: Int) -> [Int32] {
        locked {
            let matching = inherited.indices.filter { inherited[$0].entry.role == role && inherited[$0].entry.address == address }
            var fds: [Int32] = []
            for i in inheritedShare(count: matching.count, worker: worker, workers: workerCount) where !inherited[matching[i]].taken {
                inherited[matching[i]].taken = true
                fds.append(inherited[matching[i]].entry.fd)
            }
            return fds
        }
    }

    /// claim(role:address:worker:) for a TCP address as configured ("localhost" is matched
    /// by the address it resolves to).
    func claim(role: ListenerRole, host: String, port: Int, worker: Int) -> [Int32] {
        guard case var .success(address) = resolveAddress(host: host, port: port) else { return [] }
        return claim(role: role, address: Stream.format(&address), worker: worker)
    }

    /// The inherited socket of `role` at `address` for a kind with one listener (a unix
    /// path); a second one there (never sent by a ringproxy) is closed.
    func claimOne(role: ListenerRole, address: String) -> Int32? {
        locked {
            var first: Int32?
            for i in inherited.indices where !inherited[i].taken && inherited[i].entry.role == role && inherited[i].entry.address == address {
                inherited[i].taken = true
                if first == nil { first = inherited[i].entry.fd } else { Glibc.close(inherited[i].entry.fd) }
            }
            return first
        }
    }

    /// Closes what the new config no longer listens on, and removes those unix paths unless
    /// a listener of this process is bound there. Returns what was closed, for the log.
    func closeUnclaimed() -> [String] {
        locked {
            let inUse = Set(live.filter(\.entry.isUnix).map(\.entry.address))
            var closed: [String] = []
            for (entry, taken) in inherited where !taken {
                Glibc.close(entry.fd)
                if entry.isUnix && !inUse.contains(entry.address) { unlink(entry.address) }
                closed.append("\(entry.role.rawValue) \(entry.address)")
            }
            inherited.removeAll()
            return closed
        }
    }
}
