// Connections leased to one client at a time: a transaction (WATCH/MULTI..EXEC) or a
// blocking command needs a server connection whose state is that client's alone. A lease is
// taken from this worker's idle ones for the same protocol and database (already through
// AUTH/SELECT/HELLO) or made anew, and comes back only clean: nothing owed, no MULTI or
// WATCH left on it. Anything else is closed, never handed to another client.

import RingCore

extension UpstreamServer {
    /// Clean leases kept per server per worker: enough for the transactions a worker runs at
    /// once in steady state; beyond it a finished lease is closed rather than kept.
    static let maxIdleLeases = 16

    /// A connection for `client` alone, or nil while the server backs off.
    func lease(for client: ClientSession, version: RESPVersion, database: Int) -> UpstreamConnection? {
        var connection: UpstreamConnection?
        if let i = idleLeases.firstIndex(where: { $0.version == version && $0.database == database && !$0.isBroken }) {
            connection = idleLeases.remove(at: i)
        } else {
            connection = connect(version, database, false)
            connection?.isLease = true
        }
        guard let c = connection else { return nil }
        c.lessee = client
        c.expiry = .poolTimeout
        leased.append(c)
        worker.stats.add(pool: pool.index, server: index, .leasesInUse)
        return c
    }

    /// The client is done with `connection`: kept for the next lease when `clean` and
    /// nothing is owed on it, else closed.
    func giveBack(_ connection: UpstreamConnection, clean: Bool) {
        guard let i = leased.firstIndex(where: { $0 === connection }) else { return }
        leased.remove(at: i)
        worker.stats.subtract(pool: pool.index, server: index, .leasesInUse)
        connection.lessee = nil
        if clean && !connection.isBroken && connection.isIdle && idleLeases.count < UpstreamServer.maxIdleLeases {
            idleLeases.append(connection)
        } else {
            connection.retire()
        }
    }

    /// A leased or idle lease connection broke: it is forgotten here (its lessee is told
    /// by the connection itself).
    func leaseFailed(_ connection: UpstreamConnection) {
        if let i = leased.firstIndex(where: { $0 === connection }) {
            leased.remove(at: i)
            worker.stats.subtract(pool: pool.index, server: index, .leasesInUse)
        }
        idleLeases.removeAll { $0 === connection }
    }
}
