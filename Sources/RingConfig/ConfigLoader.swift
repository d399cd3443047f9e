// Reads a nutcracker YAML file unchanged: every top-level key is a pool, with nutcracker's
// pool keys. ringproxy's process-wide settings live under a top-level `ringproxy:` key, which
// nutcracker itself would reject, so a file without it stays usable by both. Every error
// names the file, the line and the key.

import RingCore

public enum ConfigLoader {
    /// The key that holds ringproxy's own process settings instead of a pool.
    public static let settingsKey = "ringproxy"

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

    /// The `ringproxy:` settings, each read back as YAML writes it (RingConfigTests checks
    /// that parseSettings reads it back). All are process-wide: the worker threads, the
    /// admin listener and the limits every worker's parsers were built with, so a reload
    /// reports a change to one as needing a restart (ConfigDiff).
    public static let settings: [(name: String, render: @Sendable (ProxyConfig) -> String)] = [
        ("threads", { String($0.threads) }),
        ("admin", { $0.admin.map { "\($0.host):\($0.port)" } ?? "off" }),
        ("max_bulk_len", { String($0.requestLimits.bulkLength) }),
        ("max_multibulk_len", { String($0.requestLimits.argumentCount) }),
        ("max_inline_len", { String($0.requestLimits.inlineLength) }),
    ]

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
                let known = settings.map(\.name).joined(separator: ", ")
                throw fail(k, "\(settingsKey).\(key)", "unknown setting (known: \(known))")
            }
        }
    }

    /// One pool from PoolKey.table: unknown keys are refused first, then each key of the
    /// table is applied in table order (the order its dependencies need), not file order.
    static func parsePool(name: String, _ node: YAMLNode, _ fail: (YAMLNode?, String, String) -> ConfigError,
                          warnings: inout [String]) throws -> PoolConfig {
        guard let m = node.mapping else { throw fail(node, name, "a pool must be a mapping of settings") }
        for (k, _) in m {
            let key = k.string ?? ""
            if PoolKey.byName[key] == nil {
                let known = PoolKey.table.map(\.name).sorted().joined(separator: ", ")
                throw fail(k, "\(name).\(key)", "unknown pool setting (known: \(known))")
            }
        }
        // `listen` is required, so this placeholder never outlives the loop below.
        var pool = PoolConfig(name: name, listen: .tcp(host: "", port: 0))
        for key in PoolKey.table {
            guard let value = m[key.name] else {
                if case .required = key.defaultValue { throw fail(node, "\(name).\(key.name)", "is required") }
                if let warning = key.warningWhenAbsent { warnings.append("\(name): \(warning)") }
                continue
            }
            do throws(PoolKeyError) {
                try key.apply(&pool, value, &warnings)
            } catch {
                throw fail(error.node, "\(name).\(key.name)", error.message)
            }
        }
        if let servers = m["servers"], let error = PoolKey.checkSentinelServers(servers, pool: pool) {
            throw fail(error.node, "\(name).servers", error.message)
        }
        if pool.sentinel.isEnabled && pool.autoEjectHosts {
            warnings.append("\(name): auto_eject_hosts with sentinels moves a failing-over group's keys to other servers; Sentinel already replaces the master, so keys would move for nothing")
        }
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

    /// What parseListen reads back as `listen`: the mode of a unix socket in octal.
    public static func listenText(_ listen: ListenAddress) -> String {
        switch listen {
        case let .unix(path, mode?): return path + " 0" + String(mode, radix: 8)
        default: return listen.description
        }
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
