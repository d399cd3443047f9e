// The text of INFO for a client of one pool: the proxy's own sections (server, clients,
// stats) and one line per upstream, with counters summed over every worker. Built only
// when a client asks; never on the request path of other commands.

import RingCore

#if canImport(Glibc)
import Glibc
#endif

extension Worker {
    func infoText(pool: PoolRuntime) -> String {
        let all = allStats
        let p = pool.index
        func poolSum(_ s: PoolStat) -> Int64 { Int64(bitPattern: all.reduce(0) { $0 &+ $1.load(pool: p, s) }) }
        func serverSum(_ i: Int, _ s: ServerStat) -> Int64 { Int64(bitPattern: all.reduce(0) { $0 &+ $1.load(pool: p, server: i, s) }) }
        var text = "# Server\r\nredis_version:\(RingProxyVersion.redisCompatible)\r\nredis_mode:standalone\r\n"
            + "ringproxy_version:\(RingProxyVersion.string)\r\nprocess_id:\(getpid())\r\n"
            + "uptime_in_seconds:\(Int(time(nil)) - startedAt)\r\nworker_threads:\(all.count)\r\n"
            + "\r\n# Clients\r\nconnected_clients:\(poolSum(.clientConnections))\r\n"
            + "\r\n# Stats\r\npool:\(pool.config.name)\r\nlocal_replies:\(poolSum(.requestsAnsweredLocally))\r\n"
            + "forward_error:\(poolSum(.forwardError))\r\nfragments:\(poolSum(.fragments))\r\n"
            + "\r\n# Upstreams\r\n"
        for (i, server) in pool.config.servers.enumerated() {
            let up = healthBoard?.tracker(pool: p, server: i).isUp ?? true
            let errors = serverSum(i, .serverErr) + serverSum(i, .serverEOF) + serverSum(i, .serverTimedout)
            text += "upstream_\(server.displayName):address=\(server.addressText),state=\(up ? "up" : "down"),"
                + "requests=\(serverSum(i, .requests)),responses=\(serverSum(i, .responses)),errors=\(errors),"
                + "in_queue=\(serverSum(i, .inQueue)),leased_connections=\(serverSum(i, .leasesInUse)),"
                + "blocked_clients=\(serverSum(i, .blockedClients)),transactions=\(serverSum(i, .transactions)),"
                + "transactions_aborted=\(serverSum(i, .transactionsAborted)),noscript_reloads=\(serverSum(i, .scriptReloads))\r\n"
        }
        return text
    }
}
