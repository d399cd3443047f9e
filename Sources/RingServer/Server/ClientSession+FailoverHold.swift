// failover_hold for one client: while its request's Sentinel-managed server is failing over,
// the client is parked (the request and those after it wait unread in its input) until the
// server's new master is known or the hold ends (see FailoverHold).

extension ClientSession {
    /// Parks the client on `server` (failover_hold): the current request is handled again
    /// when the server releases it.
    func park(on server: UpstreamServer) {
        parkedOn = server
        server.park(self)
        worker.stats.add(pool: pool.index, server: server.index, .parkedRequests)
    }

    /// The server is back or the hold is over: the parked request and those after it go on.
    func holdEnded() {
        parkedOn = nil
        guard !isClosed else { return }
        resumeAfterWaiting()
    }
}
