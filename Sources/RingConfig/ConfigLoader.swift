// Reads a nutcracker YAML file unchanged: every top-level key is a pool, with nutcracker's
// pool keys. ringproxy's process-wide settings live under a top-level `ringproxy:` key, which
// nutcracker itself would reject, so a file without it stays usable by both. Every error
// names the file, the line and the key.

import RingCore

public enum ConfigLoader {
    /// The key that holds ringproxy's own process settings instead of a pool.
    public static let settingsKey = "ringproxy"

    static let poolKeys: Set<String> = [
        "listen", "hash", "hash_tag", "distribution", "timeout", "backlog", "preconnect", "redis",
        "redis_auth", "redis_db", "server_connections", "auto_eject_hosts", "server_retry_timeout",
        "server_failure_limit", "client_connections", "servers",
        // ringproxy's own pool keys
        "health_check_interval", "health_check_timeout", "health_check_fall", "health_check_rise",
        "health_check_command", "health_check_expect", "down_server_reply",
        "redis_user", "client_auth", "client_user", "client_idle_timeout", "deny_commands",
    ]

    public static func load(path: String) throws -> ProxyConfig {
        guard let text = readFile(path) else {
            throw ConfigError(file: path, line: 0, key: "file", message: "cannot be read")
        }
        return try parse(text, file: path)
    }

    public static func parse(_ text: String, file: String) throws -> ProxyConfig {
        func fail(_ node: YAMLNode?, _ key: String, _ message: String) -> ConfigError {
            ConfigError(file: file, line: node?.line ?? 0, key: key, message: message)
        }
        let root: YAMLNode?
        do {
            root = try YAMLEventReader.parse(text)
        } catch let e as YAMLError {
            throw ConfigError(file: file, line: e.line, key: "yaml", message: e.message)
        }
        guard let top = root, let pools = top.mapping, !pools.isEmpty else {
            throw fail(root, "pools", "the file must map pool names to pool settings")
        }
        var config = ProxyConfig(file: file, pools: [])
        var listens: [String: String] = [:]
        for (keyNode, value) in pools {
            guard let name = keyNode.string else { throw fail(keyNode, "pool", "pool names must be strings") }
            if name == settingsKey {
                try parseSettings(value, into: &config, fail)
                continue
            }
            let pool = try parsePool(name: name, value, fail, warnings: &config.warnings)
            let listenKey = pool.listen.description
            if let other = listens[listenKey] {
                throw fail(value["listen"], "\(name).listen", "\(listenKey) is already the listener of pool \(other)")
            }
            listens[listenKey] = name
            config.pools.append(pool)
        }
        if config.pools.isEmpty { throw fail(top, "pools", "no pool is defined") }
        return config
    }

    static func parseSettings(_ node: YAMLNode, into config: inout ProxyConfig, _ fail: (YAMLNode?, String, String) -> ConfigError) throws {
        guard let m = node.mapping else { throw fail(node, settingsKey, "must be a mapping of settings") }
        for (k, v) in m {
            let key = k.string ?? ""
            switch key {
            case "threads":
                guard let n = v.int, n >= 0, n <= 256 else { throw fail(v, "\(settingsKey).threads", "must be an integer from 0 (one per core) to 256") }
                config.threads = n
            case "admin":
                guard let text = v.string else { throw fail(v, "\(settingsKey).admin", "must be host:port or off") }
                if text == "off" { config.admin = nil; continue }
                guard case let .tcp(host, port)? = parseListen(text) else {
                    throw fail(v, "\(settingsKey).admin", "'\(text)' is not host:port (or off)")
                }
                config.admin = (host, port)
            case "max_bulk_len", "max_multibulk_len", "max_inline_len":
                // Up to Redis's own ceilings for these (proto-max-bulk-len may be raised in
                // Redis, but a proxy buffering whole requests keeps 512 MB as its maximum).
                let ceiling = key == "max_bulk_len" ? RequestLimits.maxBulkLength
                    : key == "max_multibulk_len" ? Int(Int32.max) : 16 * 1024 * 1024
                guard let n = v.int, n >= 1, n <= ceiling else {
                    throw fail(v, "\(settingsKey).\(key)", "must be an integer from 1 to \(ceiling)")
                }
                switch key {
                case "max_bulk_len": config.requestLimits.bulkLength = n
                case "max_multibulk_len": config.requestLimits.argumentCount = n
                default: config.requestLimits.inlineLength = n
                }
            default:
                throw fail(k, "\(settingsKey).\(key)", "unknown setting (known: threads, admin, max_bulk_len, max_multibulk_len, max_inline_len)")
            }
        }
    }

    static func parsePool(name: String, _ node: YAMLNode, _ fail: (YAMLNode?, String, String) -> ConfigError,
                          warnings: inout [String]) throws -> PoolConfig {
        guard let m = node.mapping else { throw fail(node, name, "a pool must be a mapping of settings") }
        for (k, _) in m {
            let key = k.string ?? ""
            if !poolKeys.contains(key) {
                throw fail(k, "\(name).\(key)", "unknown pool setting (known: \(poolKeys.sorted().joined(separator: ", ")))")
            }
        }
        func key(_ k: String) -> String { "\(name).\(k)" }
        func int(_ k: String, min: Int, max: Int = Int.max) throws -> Int? {
            guard let v = m[k] else { return nil }
            guard let n = v.int, n >= min, n <= max else {
                throw fail(v, key(k), "must be an integer \(max == Int.max ? "of at least \(min)" : "from \(min) to \(max)")")
            }
            return n
        }
        func bool(_ k: String) throws -> Bool? {
            guard let v = m[k] else { return nil }
            guard let b = v.bool else { throw fail(v, key(k), "must be true or false") }
            return b
        }
        func string(_ k: String) throws -> String? {
            guard let v = m[k] else { return nil }
            guard v.isScalar, let s = v.string else { throw fail(v, key(k), "must be a string") }
            return s
        }

        guard let listenText = try string("listen") else { throw fail(node, key("listen"), "is required") }
        guard let listen = parseListen(listenText) else {
            throw fail(m["listen"], key("listen"), "'\(listenText)' is neither host:port nor /path/to.sock [octal mode]")
        }
        var pool = PoolConfig(name: name, listen: listen)
        if let h = try string("hash") {
            guard let f = HashFunction(rawValue: h) else {
                throw fail(m["hash"], key("hash"), "unknown hash '\(h)' (known: \(HashFunction.allCases.map(\.rawValue).joined(separator: ", ")))")
            }
            if f == .crc32 {
                warnings.append("\(name): hash crc32 keeps only 15 bits, as in nutcracker; with ketama nearly every key lands on one server (crc32a is the full CRC-32)")
            }
            pool.hash = f
        }
        if let t = try string("hash_tag") {
            guard let tag = HashTag(t) else { throw fail(m["hash_tag"], key("hash_tag"), "must be exactly two characters, like \"{}\"") }
            pool.hashTag = tag
        }
        if let d = try string("distribution") {
            guard let dist = Distribution(rawValue: d) else {
                throw fail(m["distribution"], key("distribution"), "unknown distribution '\(d)' (known: ketama, modula, random)")
            }
            pool.distribution = dist
        }
        if let t = try int("timeout", min: 1) { pool.timeoutMs = t }
        if let b = try int("backlog", min: 1) { pool.backlog = b }
        if let p = try bool("preconnect") { pool.preconnect = p }
        if let r = try bool("redis"), !r {
            throw fail(m["redis"], key("redis"), "ringproxy speaks only the Redis protocol; set redis: true")
        } else if m["redis"] == nil {
            warnings.append("\(name): no 'redis: true'; nutcracker would treat this pool as memcached, ringproxy serves it as Redis")
        }
        if let a = try string("redis_auth") { pool.redisAuth = a }
        if let u = try string("redis_user") {
            guard !u.isEmpty, !u.contains(where: { $0 == " " || $0 == "\r" || $0 == "\n" }) else {
                throw fail(m["redis_user"], key("redis_user"), "must be one word, an ACL user name")
            }
            guard pool.redisAuth != nil else { throw fail(m["redis_user"], key("redis_user"), "needs redis_auth, the user's password") }
            pool.redisUser = u
        }
        if let a = try string("client_auth") { pool.clientAuth = a }
        if let u = try string("client_user") {
            guard !u.isEmpty, !u.contains(" ") else { throw fail(m["client_user"], key("client_user"), "must be one word, a user name") }
            guard pool.clientPassword != nil else {
                throw fail(m["client_user"], key("client_user"), "needs client_auth (or redis_auth), the user's password")
            }
            pool.clientUser = u
        }
        if let t = try int("client_idle_timeout", min: 0) { pool.clientIdleTimeoutMs = t }
        if let d = m["deny_commands"] {
            guard let items = d.sequence else {
                throw fail(d, key("deny_commands"), "must be a list of command names, e.g. [flushall, \"config set\"]")
            }
            var names: [String] = []
            for item in items {
                guard let text = item.string, !text.isEmpty else {
                    throw fail(item, key("deny_commands"), "each entry must be a command name")
                }
                // "CONFIG SET", "config|set" and "config set" all mean the subcommand.
                let words = text.lowercased().split(whereSeparator: { $0 == " " || $0 == "|" })
                guard words.count == 1 || words.count == 2 else {
                    throw fail(item, key("deny_commands"), "'\(text)' is not a command or 'command subcommand'")
                }
                let name = words.joined(separator: "|")
                guard CommandTable.redis70.commands.contains(where: { $0.spec.name == name }) else {
                    throw fail(item, key("deny_commands"), "'\(text)' is not a Redis 7.0 command")
                }
                names.append(name)
            }
            pool.denyCommands = names
        }
        if let db = try int("redis_db", min: 0) { pool.redisDB = db }
        if let c = try int("server_connections", min: 1, max: 1024) { pool.serverConnections = c }
        if let e = try bool("auto_eject_hosts") { pool.autoEjectHosts = e }
        if let t = try int("server_retry_timeout", min: 1) { pool.serverRetryTimeoutMs = t }
        if let l = try int("server_failure_limit", min: 1) { pool.serverFailureLimit = l }
        if let c = try int("client_connections", min: 0) { pool.clientConnections = c }

        if let v = try int("health_check_interval", min: 0, max: 3_600_000) { pool.health.intervalMs = v }
        if let v = try int("health_check_timeout", min: 1, max: 600_000) { pool.health.timeoutMs = v }
        if let v = try int("health_check_fall", min: 1, max: 100) { pool.health.fall = v }
        if let v = try int("health_check_rise", min: 1, max: 100) { pool.health.rise = v }
        if let v = try string("health_check_command") {
            guard !v.isEmpty, !v.contains("\r"), !v.contains("\n") else {
                throw fail(m["health_check_command"], key("health_check_command"), "must be one line, e.g. PING")
            }
            pool.health.command = v
        }
        if let v = try string("health_check_expect") { pool.health.expect = v }
        if let v = try string("down_server_reply") {
            switch v {
            case "miss": pool.answerDownAsMiss = true
            case "error": pool.answerDownAsMiss = false
            default: throw fail(m["down_server_reply"], key("down_server_reply"), "must be miss or error")
            }
        }

        guard let serversNode = m["servers"] else { throw fail(node, key("servers"), "is required") }
        guard let seq = serversNode.sequence, !seq.isEmpty else {
            throw fail(serversNode, key("servers"), "must be a list of host:port:weight [name]")
        }
        var seen: [String: Int] = [:]
        for item in seq {
            guard let line = item.string else { throw fail(item, key("servers"), "each server must be a string host:port:weight [name]") }
            switch ServerSpec.parse(line) {
            case let .failure(e):
                throw fail(item, key("servers"), e.description)
            case let .success(spec):
                if let other = seen[spec.ringIdentity] {
                    throw fail(item, key("servers"), "duplicate server name '\(spec.ringIdentity)' (also on line \(other))")
                }
                seen[spec.ringIdentity] = item.line
                pool.servers.append(spec)
            }
        }
        pool.servers.sort(by: ServerSpec.nutcrackerOrder)
        return pool
    }

    /// "host:port", "/path/to.sock" or "/path/to.sock 0666" (nutcracker's forms).
    public static func parseListen(_ text: String) -> ListenAddress? {
        let parts = text.split(whereSeparator: { $0 == " " || $0 == "\t" }).map(String.init)
        guard let first = parts.first, parts.count <= 2 else { return nil }
        if first.hasPrefix("/") {
            var mode: Int?
            if parts.count == 2 {
                guard let m = Int(parts[1], radix: 8), m >= 0, m <= 0o777 else { return nil }
                mode = m
            }
            return .unix(path: first, mode: mode)
        }
        guard parts.count == 1, case let .success(address) = HostPort.parse(first) else { return nil }
        return .tcp(host: address.host, port: address.port)
    }

    static func readFile(_ path: String) -> String? {
        guard let f = fopen(path, "r") else { return nil }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

#if canImport(Glibc)
import Glibc
#endif
