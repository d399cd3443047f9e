// The configuration model: nutcracker's pool settings with their nutcracker defaults, plus
// ringproxy's own process settings. Plain values, validated once at load time; the data
// path reads them and never re-validates.

import RingCore

public enum ListenAddress: Equatable, Sendable, CustomStringConvertible {
    case tcp(host: String, port: Int)
    /// A unix socket; `mode` is the octal permission set on it (nutcracker: "path 0666").
    case unix(path: String, mode: Int?)

    public var description: String {
        switch self {
        case let .tcp(host, port): return "\(host):\(port)"
        case let .unix(path, _): return path
        }
    }
}

/// One `key_routes` entry, resolved: the prefix and the index of its server in `servers`.
public struct KeyRoute: Sendable, Equatable {
    public var prefix: String
    public var server: Int

    public init(prefix: String, server: Int) {
        self.prefix = prefix
        self.server = server
    }
}

public struct PoolConfig: Sendable, Equatable {
    public var name: String
    public var listen: ListenAddress
    public var hash: HashFunction = .fnv1a_64
    public var hashTag: HashTag?
    public var distribution: Distribution = .ketama
    /// Milliseconds a request may wait for its server; nil waits for ever (nutcracker's
    /// default).
    public var timeoutMs: Int?
    /// nutcracker's listen backlog default.
    public var backlog = 512
    public var preconnect = false
    /// nutcracker's meaning: clients must AUTH with it, and it is sent to every upstream on
    /// each new connection (as `AUTH redis_user redis_auth` when redis_user is set).
    public var redisAuth: String?
    /// ACL user the proxy authenticates as upstream (Redis 6+); nil: the default user.
    public var redisUser: String?
    /// A client password different from the upstreams' (`client_auth`); nil: redis_auth.
    public var clientAuth: String?
    /// The ACL user name clients give in `AUTH user password` (`client_user`); nil accepts
    /// only "default", as Redis does with no ACL users.
    public var clientUser: String?
    /// The database a client starts in; SELECT moves it within 0..<databases.
    public var redisDB = 0
    public var databases = 16
    /// `key_routes`: keys starting with a prefix go to the named server (by index into
    /// `servers`) instead of their ketama position; the longest prefix wins.
    public var keyRoutes: [KeyRoute] = []
    /// `keyless_scripts: any_server`: EVAL/FCALL naming no key run on one server (the one an
    /// empty key hashes to) instead of being refused.
    public var keylessScriptsAnyServer = false
    /// `multi_across_servers`: a MULTI whose keys span servers is refused (EXECABORT), or
    /// run as one MULTI/EXEC per server with the replies merged (see PerServerTransaction).
    public var multiAcrossServers = MultiAcrossServers.refuse
    /// Clients one worker lets block on one server at once (each holds a lease).
    public var maxBlockedClients = 512
    /// A subscriber's unread messages: closed past the hard limit, or past the soft one for
    /// its seconds (Redis's `client-output-buffer-limit pubsub 32mb 8mb 60`).
    public var pubsubOutputHardLimit = 32 * 1024 * 1024
    public var pubsubOutputSoftLimit = 8 * 1024 * 1024
    public var pubsubOutputSoftSeconds = 60
    /// Pipelined connections per server per worker; nutcracker's default is 1.
    public var serverConnections = 1
    public var autoEjectHosts = false
    public var serverRetryTimeoutMs = 30_000
    public var serverFailureLimit = 2
    /// Clients of the pool across all workers; over it a new client gets an error and is
    /// closed. 0 means unlimited, as in nutcracker (which parses but never enforces it).
    public var clientConnections = 0
    /// Milliseconds a client may stay idle (no request, no reply owed) before it is closed,
    /// like Redis's `timeout`; 0 never closes idle clients.
    public var clientIdleTimeoutMs = 0
    /// Commands refused with an error naming this setting (lower case, "container|sub" for
    /// subcommands). The default refuses what can wipe or reconfigure the servers behind a
    /// shared proxy; `deny_commands: []` refuses nothing beyond what the proxy cannot route.
    public var denyCommands: [String] = PoolConfig.defaultDenyCommands
    /// Active health checks (ringproxy's own keys `health_check_*`); interval 0 turns them
    /// off.
    public var health = HealthSettings()
    /// `down_server_reply: miss`: keys of a down server get the reply a missing key would
    /// get (reads) or an error naming the server (writes), without touching the network.
    /// Ignored when `auto_eject_hosts` moves those keys to other servers instead.
    public var answerDownAsMiss = false
    /// `sentinels` and their settings: the servers' addresses follow Sentinel's failovers.
    public var sentinel = SentinelSettings()
    /// `dns_refresh_interval`: ms between re-resolutions of servers given by host name (a
    /// "primary endpoint" moved to a promoted node); 0: resolved once, at start.
    public var dnsRefreshMs = 5000
    /// `read_from`: whether read-only commands go to replicas.
    public var readFrom = ReadFrom.master
    /// `replica_max_lag`: ms of replication lag past which a replica is not read from (0:
    /// any lag).
    public var replicaMaxLagMs = 10_000
    /// `replicas`: each server's replicas, in the order listed.
    public var replicas: [ReplicaSpec] = []
    /// Servers in nutcracker order (shorter ring identity first, then bytewise).
    public var servers: [ServerSpec] = []

    /// A down server's keys count as missing: answered as misses, or moved off the ring to
    /// servers where reads miss. Commands over the keyspace (KEYS, SCAN, RANDOMKEY) then
    /// skip it instead of answering an error naming it.
    public var downServerKeysMissing: Bool { answerDownAsMiss || autoEjectHosts }

    /// What can wipe or reconfigure the servers behind a shared proxy, from the command
    /// policy table (the one place that says what each command does in the proxy).
    public static let defaultDenyCommands = ProxyCommandPolicy.deniedByDefault

    /// The password clients must give (client_auth, else redis_auth); nil: no AUTH needed.
    public var clientPassword: String? { clientAuth ?? redisAuth }

    public init(name: String, listen: ListenAddress) {
        self.name = name
        self.listen = listen
    }

    public func placement(live: [Bool]? = nil) -> KeyPlacement {
        let ring = KetamaRing(distribution: distribution, servers: servers,
                              live: live ?? Array(repeating: true, count: servers.count))
        return KeyPlacement(hash: hash, tag: hashTag, ring: ring, serverCount: servers.count,
                            routes: KeyRoutes(keyRoutes.map { ($0.prefix, $0.server) }))
    }
}

/// One `replicas` entry: a replica of the server at `server` in `servers`.
public struct ReplicaSpec: Sendable, Equatable {
    public var server: Int
    public var address: HostPort

    public init(server: Int, address: HostPort) {
        self.server = server
        self.address = address
    }
}

/// How a pool follows Redis Sentinel (empty `sentinels`: it does not).
public struct SentinelSettings: Sendable, Equatable {
    public var sentinels: [HostPort] = []
    public var pollIntervalMs = 1000
    public var timeoutMs = 300
    public var password: String?
    public var user: String?
    /// Parsed and checked; requests are not parked yet (the window answers as the pool's
    /// down mode does).
    public var failoverHoldMs = 0

    public var isEnabled: Bool { !sentinels.isEmpty }

    public init() {}
}

public struct ProxyConfig: Sendable {
    public var file: String
    public var pools: [PoolConfig]
    /// Worker threads (libuv loops); 0, the default, means one per core (the cores the
    /// process may run on, so a CPU-limited container gets as many workers as it has CPUs).
    public var threads = 0
    /// What one client request may declare (Redis's defaults).
    public var requestLimits = RequestLimits()
    /// The admin HTTP listener (/metrics, /stats, /healthz, /readyz); nil turns it off.
    /// Loopback by default: stats are not for the network at large.
    public var admin: (host: String, port: Int)? = (host: "127.0.0.1", port: 22222)
    /// Warnings found while loading (kept to log once the log is open).
    public var warnings: [String] = []

    public init(file: String, pools: [PoolConfig]) {
        self.file = file
        self.pools = pools
    }
}

public struct ConfigError: Error, CustomStringConvertible {
    public let file: String
    public let line: Int
    public let key: String
    public let message: String

    public var description: String {
        line > 0 ? "\(file):\(line): \(key): \(message)" : "\(file): \(key): \(message)"
    }
}
