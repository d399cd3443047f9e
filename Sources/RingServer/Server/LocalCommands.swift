// Commands the proxy answers itself, because they concern the connection (PING, HELLO,
// AUTH, SELECT, CLIENT, QUIT) or because clients ask them at start-up (COMMAND from
// redis-cli, CONFIG GET from redis-benchmark). Replies are encoded in the client's protocol.

import RingCore

#if canImport(Glibc)
import Glibc
#endif

public enum RingProxyVersion {
    public static let string = "0.1.0"
    /// What HELLO and INFO report as the Redis version: the command set the proxy routes.
    public static let redisCompatible = "7.0.15"
}

extension ClientSession {
    func runLocal(_ command: LocalCommand, _ request: UnsafeRawBufferPointer) {
        worker.stats.add(pool: pool.index, .requestsAnsweredLocally)
        let argc = argumentCount
        switch command {
        case .ping:
            if argc == 1 {
                reply { $0.append("+PONG\r\n") }
            } else if argc == 2 {
                let message = argument(request, 1)
                reply { $0.appendBulk(message) }
            } else {
                replyError("ERR wrong number of arguments for 'ping' command")
            }
        case .echo:
            let message = argument(request, 1)
            reply { $0.appendBulk(message) }
        case .quit:
            reply { $0.append("+OK\r\n") }
            beginClosing()
        case .select:
            if parseInteger(argument(request, 1)) == 0 {
                reply { $0.append("+OK\r\n") }
            } else {
                replyError("ERR ringproxy serves one database per pool; only SELECT 0 is allowed (the pool's redis_db picks the servers' database)")
            }
        case .command:
            commandCommand(request)
        case .config:
            configCommand(request)
        case .client:
            clientCommand(request)
        case .hello:
            helloCommand(request)
        case .auth:
            if argc == 2 {
                authenticate(user: nil, password: argument(request, 1))
            } else if argc == 3 {
                authenticate(user: argument(request, 1), password: argument(request, 2))
            } else {
                replyError("ERR syntax error")
            }
        case .info:
            infoCommand()
        case .time:
            var now = timespec()
            clock_gettime(CLOCK_REALTIME, &now)
            reply {
                $0.appendArrayHeader(2)
                $0.appendBulk(string: String(now.tv_sec))
                $0.appendBulk(string: String(now.tv_nsec / 1000))
            }
        }
    }

    private func lowercased(_ bytes: UnsafeRawBufferPointer) -> String {
        String(decoding: bytes.map { $0 >= 65 && $0 <= 90 ? $0 | 0x20 : $0 }, as: UTF8.self)
    }

    /// Compares in time independent of where the first difference is.
    private func constantTimeEquals(_ a: UnsafeRawBufferPointer, _ b: String) -> Bool {
        let expected = Array(b.utf8)
        var diff = UInt8(truncatingIfNeeded: a.count ^ expected.count)
        for i in 0..<max(a.count, expected.count) {
            let x = i < a.count ? a[i] : 0
            let y = i < expected.count ? expected[i] : 0
            diff |= x ^ y
        }
        return diff == 0 && a.count == expected.count
    }

    /// Returns false (and replies) when the credentials are wrong.
    @discardableResult
    private func authenticate(user: UnsafeRawBufferPointer?, password: UnsafeRawBufferPointer, replyOK: Bool = true) -> Bool {
        guard let expected = pool.config.clientPassword else {
            replyError("ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?")
            return false
        }
        // The user name is compared in constant time too, and both comparisons always run,
        // so the reply time tells nothing about which part was wrong.
        let expectedUser = pool.config.clientUser ?? "default"
        let userOK = user.map { constantTimeEquals($0, expectedUser) } ?? (pool.config.clientUser == nil)
        let passwordOK = constantTimeEquals(password, expected)
        if userOK && passwordOK {
            authenticated = true
            if replyOK { reply { $0.append("+OK\r\n") } }
            return true
        }
        replyError("WRONGPASS invalid username-password pair or user is disabled.")
        return false
    }

    private func helloCommand(_ request: UnsafeRawBufferPointer) {
        let argc = argumentCount
        var newVersion = version
        if argc >= 2 {
            switch parseInteger(argument(request, 1)) {
            case 2: newVersion = .resp2
            case 3: newVersion = .resp3
            default:
                replyError("NOPROTO unsupported protocol version")
                return
            }
        }
        var i = 2
        var newName: String?
        while i < argc {
            let option = lowercased(argument(request, i))
            if option == "auth" && i + 2 < argc {
                if !authenticate(user: argument(request, i + 1), password: argument(request, i + 2), replyOK: false) { return }
                i += 3
            } else if option == "setname" && i + 1 < argc {
                newName = argumentString(request, i + 1)
                i += 2
            } else {
                replyError("ERR Syntax error in HELLO option '\(option)'")
                return
            }
        }
        if !authenticated {
            replyError("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time")
            return
        }
        if let n = newName { clientName = n }
        version = newVersion
        let v = newVersion
        let clientID = Int(truncatingIfNeeded: id)
        reply {
            $0.appendMapHeader(7, v)
            $0.appendBulk(string: "server"); $0.appendBulk(string: "redis")
            $0.appendBulk(string: "version"); $0.appendBulk(string: RingProxyVersion.redisCompatible)
            $0.appendBulk(string: "proto"); $0.appendInteger(Int(v.rawValue))
            $0.appendBulk(string: "id"); $0.appendInteger(clientID)
            $0.appendBulk(string: "mode"); $0.appendBulk(string: "standalone")
            $0.appendBulk(string: "role"); $0.appendBulk(string: "master")
            $0.appendBulk(string: "modules"); $0.appendArrayHeader(0)
        }
    }

    private func commandCommand(_ request: UnsafeRawBufferPointer) {
        let sub = argumentCount >= 2 ? lowercased(argument(request, 1)) : ""
        let v = version
        switch sub {
        case "count":
            let n = worker.commands.commands.filter { !$0.spec.name.contains("|") }.count
            reply { $0.appendInteger(n) }
        case "docs":
            // No documentation: redis-cli falls back to its built-in help.
            reply { $0.appendMapHeader(0, v) }
        default:
            reply { $0.appendArrayHeader(0) }
        }
    }

    /// CONFIG GET answers the few parameters clients read at start-up with the values that
    /// describe the proxy (redis-benchmark reads "save" and "appendonly"); CONFIG SET and
    /// the rest would change one server behind the proxy's back, so they are refused.
    private func configCommand(_ request: UnsafeRawBufferPointer) {
        let argc = argumentCount
        let sub = lowercased(argument(request, 1))
        guard sub == "get", argc >= 3 else {
            replyError("ERR ringproxy: 'CONFIG \(sub.uppercased())' is not supported through the proxy: run it against a server directly")
            return
        }
        let known: [(String, String)] = [("save", ""), ("appendonly", "no"), ("databases", "1")]
        var found: [(String, String)] = []
        for i in 2..<argc {
            let pattern = lowercased(argument(request, i))
            for (k, value) in known where (pattern == k || pattern == "*") && !found.contains(where: { $0.0 == k }) {
                found.append((k, value))
            }
        }
        let v = version
        reply {
            $0.appendMapHeader(found.count, v)
            for (k, value) in found { $0.appendBulk(string: k); $0.appendBulk(string: value) }
        }
    }

    private func clientCommand(_ request: UnsafeRawBufferPointer) {
        let argc = argumentCount
        let sub = lowercased(argument(request, 1))
        switch (sub, argc) {
        case ("setname", 3):
            let name = argument(request, 2)
            if name.contains(where: { $0 <= 0x20 || $0 >= 0x7f }) {
                replyError("ERR Client names cannot contain spaces, newlines or special characters.")
                return
            }
            clientName = name.isEmpty ? nil : argumentString(request, 2)
            reply { $0.append("+OK\r\n") }
        case ("getname", 2):
            let v = version
            if let n = clientName { reply { $0.appendBulk(string: n) } } else { reply { $0.appendNull(v) } }
        case ("setinfo", 4):
            reply { $0.append("+OK\r\n") }
        case ("id", 2):
            let clientID = Int(truncatingIfNeeded: id)
            reply { $0.appendInteger(clientID) }
        default:
            replyError("ERR ringproxy: 'CLIENT \(sub.uppercased())' is not supported (supported: SETNAME, GETNAME, SETINFO, ID)")
        }
    }

    /// INFO answers with the proxy's own sections: server, clients, stats, and one line per
    /// upstream of the client's pool (counters summed over all workers).
    private func infoCommand() {
        let all = worker.allStats
        let p = pool.index
        func poolSum(_ s: PoolStat) -> Int64 { Int64(bitPattern: all.reduce(0) { $0 &+ $1.load(pool: p, s) }) }
        func serverSum(_ i: Int, _ s: ServerStat) -> Int64 { Int64(bitPattern: all.reduce(0) { $0 &+ $1.load(pool: p, server: i, s) }) }
        var text = "# Server\r\nredis_version:\(RingProxyVersion.redisCompatible)\r\nredis_mode:standalone\r\n"
            + "ringproxy_version:\(RingProxyVersion.string)\r\nprocess_id:\(getpid())\r\n"
            + "uptime_in_seconds:\(Int(time(nil)) - worker.startedAt)\r\nworker_threads:\(all.count)\r\n"
            + "\r\n# Clients\r\nconnected_clients:\(poolSum(.clientConnections))\r\n"
            + "\r\n# Stats\r\npool:\(pool.config.name)\r\nlocal_replies:\(poolSum(.requestsAnsweredLocally))\r\n"
            + "forward_error:\(poolSum(.forwardError))\r\nfragments:\(poolSum(.fragments))\r\n"
            + "\r\n# Upstreams\r\n"
        for (i, server) in pool.config.servers.enumerated() {
            let up = worker.healthBoard?.tracker(pool: p, server: i).isUp ?? true
            let errors = serverSum(i, .serverErr) + serverSum(i, .serverEOF) + serverSum(i, .serverTimedout)
            text += "upstream_\(server.displayName):address=\(server.addressText),state=\(up ? "up" : "down"),"
                + "requests=\(serverSum(i, .requests)),responses=\(serverSum(i, .responses)),errors=\(errors),"
                + "in_queue=\(serverSum(i, .inQueue))\r\n"
        }
        reply { $0.appendBulk(string: text) }
    }
}
