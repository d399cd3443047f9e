// Every pool key, once: nutcracker's, then ringproxy's own. This table is what the loader
// accepts and checks, what the unknown-key error lists, and what README.md's "Pool keys"
// section is rendered from; a key written anywhere else is a copy that can go stale.

import RingCore

/// down_server_reply's words.
enum DownServerReply: String, CaseIterable {
    case miss, error
}

/// keyless_scripts' words.
enum KeylessScripts: String, CaseIterable {
    case refuse
    case anyServer = "any_server"
}

extension PoolKey {
    /// The health checker's own limits: an interval over an hour or a timeout over ten
    /// minutes would leave a down server unnoticed for longer than anyone would mean, and
    /// more than 100 checks in a row is a typo for a smaller number.
    static let maxHealthIntervalMs = 3_600_000
    static let maxHealthTimeoutMs = 600_000
    static let maxHealthCheckRun = 100
    /// Connections per server per worker: each is a socket on the server too, and Redis's
    /// default maxclients is 10,000 shared by every proxy in front of it.
    static let maxServerConnections = 1024
    /// Each database a client selects gets its own server connections per worker (see
    /// UpstreamServer), so the count is bounded; Redis's own default is 16.
    static let maxDatabases = 256
    /// Each blocked client holds a server connection of its own, and Redis's default
    /// maxclients (10,000) is shared by every proxy worker and client of the server.
    static let maxBlockedClients = 10_000
    /// A subscriber's unread messages are held in the proxy's memory; 1 GiB for one client
    /// is past any sane bound (Redis's default hard limit is 32 MiB).
    static let maxPubSubOutputBytes = 1 << 30
    /// A day over the soft limit is "never" in practice.
    static let maxPubSubSoftSeconds = 86_400

    /// The keys in the order the loader applies them: a key that depends on another
    /// (redis_user on redis_auth, client_user on client_auth) comes after it.
    public static let table: [PoolKey] = [
        .form("listen", .nutcracker, "host:port, or /path/to.sock [octal mode]", default: .required,
              "where the pool's clients connect", show: { yamlQuoted(ConfigLoader.listenText($0.listen)) }) {
            pool, node throws(PoolKeyError) in
            guard let text = node.string else { throw PoolKeyError(node, "must be a string") }
            guard let listen = ConfigLoader.parseListen(text) else {
                throw PoolKeyError(node, "'\(text)' is neither host:port nor /path/to.sock [octal mode]")
            }
            pool.listen = listen
        },
        .choice("hash", .nutcracker, HashFunction.self, default: .value("fnv1a_64"),
                "the hash of each key (or of its hash_tag part)", show: \.hash) { pool, hash, warnings in
            if hash == .crc32 {
                warnings.append("\(pool.name): hash crc32 keeps only 15 bits, as in nutcracker; with ketama nearly every key lands on one server (crc32a is the full CRC-32)")
            }
            pool.hash = hash
        },
        .text("hash_tag", .nutcracker, "two characters, e.g. `\"{}\"`", default: .described("none"),
              "only the part of a key between them is hashed", show: { $0.hashTag.map { String(decoding: [$0.open, $0.close], as: UTF8.self) } }) {
            pool, text, node throws(PoolKeyError) in
            guard let tag = HashTag(text) else { throw PoolKeyError(node, "must be exactly two characters, like \"{}\"") }
            pool.hashTag = tag
        },
        .choice("distribution", .nutcracker, Distribution.self, default: .value("ketama"),
                "how hashes map to servers", show: \.distribution) { pool, distribution, _ in pool.distribution = distribution },
        .integer("timeout", .nutcracker, 1...Int.max, default: .described("no limit"),
                 "ms a request may wait for its server", \.timeoutMs),
        .integer("backlog", .nutcracker, 1...Int.max, default: .value("512"),
                 "the listener's backlog", \.backlog),
        .boolean("preconnect", .nutcracker, default: .value("false"),
                 "connect to every server at start", show: \.preconnect) { pool, on, _ in pool.preconnect = on },
        .boolean("redis", .nutcracker, default: .described("false: served as Redis, with a warning"),
                 "must be true: ringproxy speaks the Redis protocol only",
                 warningWhenAbsent: "no 'redis: true'; nutcracker would treat this pool as memcached, ringproxy serves it as Redis",
                 show: { _ in true }) {
            _, on, node throws(PoolKeyError) in
            if !on { throw PoolKeyError(node, "ringproxy speaks only the Redis protocol; set redis: true") }
        },
        .text("redis_auth", .nutcracker, "a password", default: .described("none"),
              "clients must AUTH with it; sent to every server on connect", secret: true, show: \.redisAuth) { pool, text, _ in
            pool.redisAuth = text
        },
        .integer("databases", .ringproxy, 1...maxDatabases, default: .value("16"),
                 "SELECT takes 0 to databases-1; at most the servers' own `databases`", \.databases),
        .integer("redis_db", .nutcracker, 0...Int.max, default: .value("0"),
                 "the database a client starts in (SELECT changes it)", show: \.redisDB) {
            (pool: inout PoolConfig, db: Int, node: YAMLNode) throws(PoolKeyError) in
            guard db < pool.databases else { throw PoolKeyError(node, "must be below databases (\(pool.databases))") }
            pool.redisDB = db
        },
        .integer("server_connections", .nutcracker, 1...maxServerConnections, default: .value("1"),
                 "pipelined connections per server per worker thread", \.serverConnections),
        .boolean("auto_eject_hosts", .nutcracker, default: .value("false"),
                 "a down server's keys move to the next servers on the ring", show: \.autoEjectHosts) { pool, on, _ in
            pool.autoEjectHosts = on
        },
        .integer("server_retry_timeout", .nutcracker, 1...Int.max, default: .value("30000"),
                 "ms; accepted, servers come back through health checks", \.serverRetryTimeoutMs),
        .integer("server_failure_limit", .nutcracker, 1...Int.max, default: .value("2"),
                 "failed requests in a row that mark a server down", \.serverFailureLimit),
        .integer("client_connections", .nutcracker, 0...Int.max, default: .value("0"),
                 "clients of the pool across all workers; 0 is unlimited", \.clientConnections),
        .form("servers", .nutcracker, "list of host:port:weight [name] or /path.sock:weight [name]", default: .required,
              "the pool's servers", show: { yamlList($0.servers.map(serverLine)) }) { pool, node throws(PoolKeyError) in
            pool.servers = try servers(node)
        },

        .integer("health_check_interval", .ringproxy, 0...maxHealthIntervalMs, default: .value("1000"),
                 "ms between checks of each server; 0 turns checks off", \.health.intervalMs),
        .integer("health_check_timeout", .ringproxy, 1...maxHealthTimeoutMs, default: .value("500"),
                 "ms a check may take", \.health.timeoutMs),
        .integer("health_check_fall", .ringproxy, 1...maxHealthCheckRun, default: .value("2"),
                 "failed checks in a row before a server is down", \.health.fall),
        .integer("health_check_rise", .ringproxy, 1...maxHealthCheckRun, default: .value("2"),
                 "passing checks in a row before it is up again", \.health.rise),
        .text("health_check_command", .ringproxy, "one line", default: .value("PING"),
              "the check command", show: \.health.command) { pool, text, node throws(PoolKeyError) in
            guard !text.isEmpty, !text.contains("\r"), !text.contains("\n") else {
                throw PoolKeyError(node, "must be one line, e.g. PING")
            }
            pool.health.command = text
        },
        .text("health_check_expect", .ringproxy, "a simple-string reply", default: .value("PONG"),
              "the reply a passing check gets", show: \.health.expect) { pool, text, _ in pool.health.expect = text },
        .choice("down_server_reply", .ringproxy, DownServerReply.self, default: .value("error"),
                "what a down server's keys get when it is not ejected", show: { $0.answerDownAsMiss ? .miss : .error }) {
            pool, reply, _ in
            pool.answerDownAsMiss = reply == .miss
        },
        .integer("max_blocked_clients", .ringproxy, 1...maxBlockedClients, default: .value("512"),
                 "clients one worker lets block (BLPOP...) on one server at once; each holds a server connection", \.maxBlockedClients),
        .integer("pubsub_output_hard_limit", .ringproxy, 0...maxPubSubOutputBytes, default: .value("33554432"),
                 "bytes of messages a subscriber may leave unread before it is closed at once (0: no limit); Redis's client-output-buffer-limit pubsub hard limit", \.pubsubOutputHardLimit),
        .integer("pubsub_output_soft_limit", .ringproxy, 0...maxPubSubOutputBytes, default: .value("8388608"),
                 "bytes of unread messages a subscriber may stay above for pubsub_output_soft_seconds before it is closed (0: no limit)", \.pubsubOutputSoftLimit),
        .integer("pubsub_output_soft_seconds", .ringproxy, 0...maxPubSubSoftSeconds, default: .value("60"),
                 "seconds a subscriber may stay above pubsub_output_soft_limit", \.pubsubOutputSoftSeconds),
        .choice("keyless_scripts", .ringproxy, KeylessScripts.self, default: .value("refuse"),
                "EVAL/EVALSHA/FCALL with no key: refused, or run on one server",
                show: { $0.keylessScriptsAnyServer ? .anyServer : .refuse }) { pool, choice, _ in
            pool.keylessScriptsAnyServer = choice == .anyServer
        },
        .choice("multi_across_servers", .ringproxy, MultiAcrossServers.self, default: .value("refuse"),
                "MULTI whose keys span servers: refused (EXECABORT), or one MULTI/EXEC per server, replies merged; each server's part is atomic, the whole is not", show: \.multiAcrossServers) {
            pool, choice, _ in pool.multiAcrossServers = choice
        },
        .form("key_routes", .ringproxy, "mapping of key prefix to a server name of the pool", default: .described("none"),
              "keys starting with a prefix go to that server instead of their ketama position; the longest prefix wins",
              show: { keyRoutesText($0) }) {
            pool, node throws(PoolKeyError) in
            pool.keyRoutes = try keyRoutes(node, servers: pool.servers)
        },
        .text("redis_user", .ringproxy, "an ACL user name", default: .described("none (the default user)"),
              "the proxy authenticates to the servers as this user, with redis_auth", show: \.redisUser) {
            pool, text, node throws(PoolKeyError) in
            guard !text.isEmpty, !text.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                throw PoolKeyError(node, "must be one word, an ACL user name")
            }
            guard pool.redisAuth != nil else { throw PoolKeyError(node, "needs redis_auth, the user's password") }
            pool.redisUser = text
        },
        .text("client_auth", .ringproxy, "a password", default: .described("redis_auth"),
              "the password clients AUTH with, when it differs from the servers'", secret: true, show: \.clientAuth) { pool, text, _ in
            pool.clientAuth = text
        },
        .text("client_user", .ringproxy, "a user name", default: .described("none (AUTH password, or AUTH default password)"),
              "clients must AUTH as this user", show: \.clientUser) { pool, text, node throws(PoolKeyError) in
            guard !text.isEmpty, !text.contains(" ") else { throw PoolKeyError(node, "must be one word, a user name") }
            guard pool.clientPassword != nil else {
                throw PoolKeyError(node, "needs client_auth (or redis_auth), the user's password")
            }
            pool.clientUser = text
        },
        .integer("client_idle_timeout", .ringproxy, 0...Int.max, default: .value("0"),
                 "ms a client may stay idle before it is closed; 0 never closes", \.clientIdleTimeoutMs),
        .form("deny_commands", .ringproxy, "list of Redis 7.0 commands, `\"config set\"` for a subcommand",
              default: .described("FLUSHALL, CONFIG SET and others (see Deny-list)"),
              "commands refused with an error; `[]` refuses none", show: { yamlList(Set($0.denyCommands).sorted()) }) {
            pool, node throws(PoolKeyError) in
            pool.denyCommands = try denyCommands(node)
        },
    ] + sentinelKeys + endpointKeys

    /// A `servers:` entry as nutcracker writes it: "host:port:weight [name]".
    static func serverLine(_ server: ServerSpec) -> String {
        "\(server.addressText):\(server.weight)" + (server.name.map { " " + $0 } ?? "")
    }

    /// `key_routes:` as a flow mapping sorted by prefix (the longest prefix wins whatever
    /// the order); nil when there are none.
    static func keyRoutesText(_ pool: PoolConfig) -> String? {
        guard !pool.keyRoutes.isEmpty else { return nil }
        let entries = pool.keyRoutes.sorted { $0.prefix < $1.prefix }.map {
            "\(yamlQuoted($0.prefix)): \(yamlQuoted(pool.servers[$0.server].displayName))"
        }
        return "{" + entries.joined(separator: ", ") + "}"
    }

    /// Keys by name, for the loader.
    static let byName: [String: PoolKey] = Dictionary(uniqueKeysWithValues: table.map { ($0.name, $0) })

    /// `servers:` in nutcracker order; a server named twice (or the same address twice) is
    /// refused, as the ring would give it twice the points.
    static func servers(_ node: YAMLNode) throws(PoolKeyError) -> [ServerSpec] {
        guard let items = node.sequence, !items.isEmpty else {
            throw PoolKeyError(node, "must be a list of host:port:weight [name]")
        }
        var specs: [ServerSpec] = []
        var seen: [String: Int] = [:]
        for item in items {
            guard let line = item.string else { throw PoolKeyError(item, "each server must be a string host:port:weight [name]") }
            switch ServerSpec.parse(line) {
            case let .failure(e):
                throw PoolKeyError(item, e.description)
            case let .success(spec):
                if let other = seen[spec.ringIdentity] {
                    throw PoolKeyError(item, "duplicate server name '\(spec.ringIdentity)' (also on line \(other))")
                }
                seen[spec.ringIdentity] = item.line
                specs.append(spec)
            }
        }
        return specs.sorted(by: ServerSpec.nutcrackerOrder)
    }

    /// `key_routes:` with each server name resolved to its index in `servers` (applied after
    /// `servers`, which the table lists first).
    static func keyRoutes(_ node: YAMLNode, servers: [ServerSpec]) throws(PoolKeyError) -> [KeyRoute] {
        guard let m = node.mapping else {
            throw PoolKeyError(node, "must be a mapping of key prefix to server name, e.g. {\"rq:\": queue-1}")
        }
        var routes: [KeyRoute] = []
        for (k, v) in m {
            guard let prefix = k.string, !prefix.isEmpty else { throw PoolKeyError(k, "a key prefix must not be empty") }
            guard !routes.contains(where: { $0.prefix == prefix }) else { throw PoolKeyError(k, "prefix '\(prefix)' is routed twice") }
            guard let name = v.string else { throw PoolKeyError(v, "must be the name of a server of the pool") }
            guard let index = servers.firstIndex(where: { $0.displayName == name }) else {
                let known = servers.map(\.displayName).joined(separator: ", ")
                throw PoolKeyError(v, "'\(name)' is not a server of this pool (servers: \(known))")
            }
            routes.append(KeyRoute(prefix: prefix, server: index))
        }
        return routes
    }

    /// `deny_commands:` as the command table names them: lower case, "container|sub".
    static func denyCommands(_ node: YAMLNode) throws(PoolKeyError) -> [String] {
        guard let items = node.sequence else {
            throw PoolKeyError(node, "must be a list of command names, e.g. [flushall, \"config set\"]")
        }
        var names: [String] = []
        for item in items {
            guard let text = item.string, !text.isEmpty else { throw PoolKeyError(item, "each entry must be a command name") }
            // "CONFIG SET", "config|set" and "config set" all mean the subcommand.
            let words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "|" })
            guard words.count == 1 || words.count == 2 else {
                throw PoolKeyError(item, "'\(text)' is not a command or 'command subcommand'")
            }
            let name = words.joined(separator: "|")
            guard CommandTable.redis70.commands.contains(where: { $0.spec.name == name }) else {
                throw PoolKeyError(item, "'\(text)' is not a Redis 7.0 command")
            }
            names.append(name)
        }
        return names
    }
}
