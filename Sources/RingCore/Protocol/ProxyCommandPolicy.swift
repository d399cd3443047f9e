// What this proxy must know about a command that Redis's COMMAND reply does not say: the
// commands it answers itself, the ones it refuses and why, the miss a read answers for a
// down server, the wire name of a split command's parts, and the default deny-list. One
// table, read by CommandTable; everything else comes from Redis's own metadata.

/// What the proxy does with a command instead of what Redis's metadata would suggest.
public enum ProxyAction: Equatable, Sendable {
    /// Answered by the proxy itself.
    case local(LocalCommand)
    /// Refused with an error naming the reason.
    case refuse(UnsupportedReason)
    /// Routed by its keys to one server even though Redis tips it `multi_shard`: MSETNX
    /// must set all of its keys or none, which parts on several servers cannot promise.
    case oneServer
    /// Routed by its keys where the key spec does not find them (see `keyLayout`).
    case routeByKeys
    /// Changes the session's transaction mode (TransactionRules).
    case transaction(TransactionCommand)
    /// Sent to every live server; the replies combine by Redis's response_policy tip.
    case broadcast
    /// A (un)subscription, carried by the worker's shared subscriber connections.
    case subscription(SubscriptionCommand)
    /// Sent to every live server; the replies combine as given, where Redis's tip does not
    /// say how (RANDOMKEY).
    case broadcastMerging(SplitKind)
    /// SCAN: one server at a time, the client's cursor naming which (ScanCursor).
    case scan
}

public struct ProxyCommandRow: Sendable {
    public let name: String
    public let action: ProxyAction?
    /// The reply a read gets for a down server in `down_server_reply: miss` pools; nil takes
    /// the default (an error for writes, a null for single-key reads).
    public let miss: MissReply?
    /// The command a split part is sent as, spelled as Redis does.
    public let wireName: StaticString?
    /// In the default `deny_commands`: it can wipe or reconfigure servers shared by others.
    public let deniedByDefault: Bool
    /// Where the keys are when Redis's key spec cannot say (nil: by the spec).
    public let keyLayout: KeyLayout?
    /// Where the command names a database (MOVE, COPY), checked against the pool's.
    public let database: DatabaseArgument?

    init(_ name: String, _ action: ProxyAction? = nil, miss: MissReply? = nil, wire: StaticString? = nil,
         denied: Bool = false, keys: KeyLayout? = nil, database: DatabaseArgument? = nil) {
        self.name = name
        self.action = action
        self.miss = miss
        self.wireName = wire
        self.deniedByDefault = denied
        self.keyLayout = keys
        self.database = database
    }
}

public enum ProxyCommandPolicy {
    private static func local(_ name: String, _ command: LocalCommand) -> ProxyCommandRow {
        ProxyCommandRow(name, .local(command))
    }
    private static func admin(_ name: String, denied: Bool = false) -> ProxyCommandRow {
        ProxyCommandRow(name, .refuse(.serverAdministration), denied: denied)
    }
    private static func dedicated(_ name: String, denied: Bool = false) -> ProxyCommandRow {
        ProxyCommandRow(name, .refuse(.needsDedicatedConnection), denied: denied)
    }
    private static func miss(_ name: String, _ reply: MissReply) -> ProxyCommandRow {
        ProxyCommandRow(name, miss: reply)
    }

    public static let rows: [ProxyCommandRow] = [
        // Split by key (Redis tips them multi_shard); the miss of a down server's keys.
        ProxyCommandRow("mget", miss: .nulls(fromArgument: 1), wire: "MGET"),
        ProxyCommandRow("mset", wire: "MSET"),
        ProxyCommandRow("del", wire: "DEL"),
        ProxyCommandRow("unlink", wire: "UNLINK"),
        ProxyCommandRow("exists", miss: .zero, wire: "EXISTS"),
        ProxyCommandRow("touch", miss: .zero, wire: "TOUCH"),
        ProxyCommandRow("msetnx", .oneServer),

        // Answered by the proxy: they concern the connection, or clients ask them at start.
        local("ping", .ping), local("echo", .echo), local("quit", .quit), local("select", .select),
        local("command", .command), local("config", .config), local("client", .client),
        local("hello", .hello), local("auth", .auth), local("info", .info), local("time", .time),
        local("reset", .reset),
        // As a standalone master answers: a master without replicas.
        local("role", .role),

        // Transactions, on a connection leased to the keys' server (TransactionRules).
        ProxyCommandRow("multi", .transaction(.multi)), ProxyCommandRow("exec", .transaction(.exec)),
        ProxyCommandRow("discard", .transaction(.discard)), ProxyCommandRow("watch", .transaction(.watch)),
        ProxyCommandRow("unwatch", .transaction(.unwatch)),
        // Keys the key spec cannot place: after STREAMS, or PUBLISH's and SPUBLISH's channel.
        ProxyCommandRow("xread", .routeByKeys, miss: .error, keys: .afterStreams),
        ProxyCommandRow("xreadgroup", .routeByKeys, keys: .afterStreams),
        // A message to a down server's channel reaches nobody: in miss pools, `:0` receivers.
        ProxyCommandRow("publish", .routeByKeys, miss: .zero, keys: .channel),
        ProxyCommandRow("spublish", .routeByKeys, miss: .zero, keys: .channel),
        // Keys in options (RequestKeys): SORT's STORE and the keys its BY/GET patterns name,
        // GEORADIUS's STORE/STOREDIST. All must be on the key's server, or it is refused.
        ProxyCommandRow("sort", .routeByKeys, keys: .sort),
        ProxyCommandRow("sort_ro", .routeByKeys, miss: .emptyArray, keys: .sortReadOnly),
        ProxyCommandRow("georadius", .routeByKeys, keys: .storeOption),
        ProxyCommandRow("georadiusbymember", .routeByKeys, keys: .storeOption),
        // Another database of the key's own server: keys stay on their server in every
        // database, so only the database number must be one clients can SELECT.
        ProxyCommandRow("move", database: .at(2)), ProxyCommandRow("copy", database: .afterDBKeyword),

        // Pub/sub on the worker's shared subscriber connections: a channel on its server, a
        // pattern on every server (SubscriptionTable).
        ProxyCommandRow("subscribe", .subscription(SubscriptionCommand(.channel, subscribe: true))),
        ProxyCommandRow("unsubscribe", .subscription(SubscriptionCommand(.channel, subscribe: false))),
        ProxyCommandRow("psubscribe", .subscription(SubscriptionCommand(.pattern, subscribe: true))),
        ProxyCommandRow("punsubscribe", .subscription(SubscriptionCommand(.pattern, subscribe: false))),
        ProxyCommandRow("ssubscribe", .subscription(SubscriptionCommand(.shard, subscribe: true))),
        ProxyCommandRow("sunsubscribe", .subscription(SubscriptionCommand(.shard, subscribe: false))),
        ProxyCommandRow("wait", .refuse(.replicationWait)),

        // Every live server: scripts and functions must exist wherever a key may send them.
        ProxyCommandRow("script|load", .broadcast), ProxyCommandRow("script|exists", .broadcast),
        ProxyCommandRow("script|flush", .broadcast, denied: true),
        ProxyCommandRow("function|load", .broadcast), ProxyCommandRow("function|delete", .broadcast),
        ProxyCommandRow("function|flush", .broadcast), ProxyCommandRow("function|restore", .broadcast),
        ProxyCommandRow("dbsize", .broadcast), ProxyCommandRow("flushdb", .broadcast, denied: true),
        ProxyCommandRow("flushall", .broadcast, denied: true),
        // The keyspace: KEYS concatenates every server's keys; RANDOMKEY takes one server's
        // key; SCAN walks the servers one after another under one cursor.
        ProxyCommandRow("keys", .broadcast),
        ProxyCommandRow("randomkey", .broadcastMerging(.firstNonNull)),
        ProxyCommandRow("scan", .scan),
        // Pub/sub's introspection over every server: channel lists joined, counts added (a
        // pattern's count is any one server's: every server holds every pattern).
        ProxyCommandRow("pubsub|channels", .broadcastMerging(.concat)),
        ProxyCommandRow("pubsub|shardchannels", .broadcastMerging(.concat)),
        ProxyCommandRow("pubsub|numsub", .broadcastMerging(.sumPairs)),
        ProxyCommandRow("pubsub|shardnumsub", .broadcastMerging(.sumPairs)),
        ProxyCommandRow("pubsub|numpat", .broadcastMerging(.maxInteger)),

        // A client tied to one server connection; shared pipelined connections cannot.
        dedicated("sync"), dedicated("psync"),
        // Streams what this proxy receives, from every worker; denied by default (it shows
        // every client's keys and values).
        ProxyCommandRow("monitor", .local(.monitor), denied: true),

        // One server's administration, meaningless through a proxy that hides which is which.
        admin("shutdown", denied: true), admin("debug", denied: true), admin("replicaof", denied: true),
        admin("slaveof", denied: true), admin("failover", denied: true), admin("migrate", denied: true),
        admin("module", denied: true), admin("bgsave", denied: true),
        admin("bgrewriteaof", denied: true), admin("save", denied: true), admin("swapdb", denied: true),
        admin("cluster"), admin("readonly"), admin("readwrite"), admin("asking"),
        admin("replconf"), admin("pfdebug"), admin("pfselftest"), admin("script|debug"),
        admin("object|help"), admin("xgroup|help"), admin("xinfo|help"), admin("pubsub|help"),
        admin("script|help"), admin("function|help"),

        // Administration over every server (ServerReplies): what concerns one server is
        // tagged with its name; counts are added; LASTSAVE is the oldest save.
        ProxyCommandRow("lastsave", .broadcastMerging(.minInteger)),
        ProxyCommandRow("lolwut", .broadcastMerging(.sameReply)),
        ProxyCommandRow("slowlog|get", .broadcastMerging(.byServer(.slowlogGet))),
        ProxyCommandRow("slowlog|len", .broadcast), ProxyCommandRow("slowlog|reset", .broadcast),
        ProxyCommandRow("latency|latest", .broadcastMerging(.byServer(.latencyLatest))),
        ProxyCommandRow("latency|history", .broadcastMerging(.byServer(.latencyHistory))),
        ProxyCommandRow("latency|histogram", .broadcastMerging(.byServer(.latencyHistogram))),
        ProxyCommandRow("latency|doctor", .broadcastMerging(.byServer(.latencyText))),
        ProxyCommandRow("latency|graph", .broadcastMerging(.byServer(.latencyText))),
        ProxyCommandRow("latency|reset", .broadcastMerging(.sum)),
        ProxyCommandRow("memory|stats", .broadcastMerging(.byServer(.memoryStats))),
        ProxyCommandRow("memory|purge", .broadcast),
        admin("slowlog|help"), admin("latency|help"), admin("memory|help"),
        // ACL: users must be the same on every server, so what changes or lists them goes to
        // all (OK only if all said OK); the rest concerns one server's connections.
        ProxyCommandRow("acl", denied: true),
        ProxyCommandRow("acl|setuser", .broadcastMerging(.sameReply)),
        ProxyCommandRow("acl|deluser", .broadcastMerging(.sameReply)),
        ProxyCommandRow("acl|list", .broadcastMerging(.sameReply)),
        admin("acl|cat"), admin("acl|dryrun"), admin("acl|genpass"), admin("acl|getuser"), admin("acl|help"),
        admin("acl|load"), admin("acl|log"), admin("acl|save"), admin("acl|users"), admin("acl|whoami"),

        // Keyless reads of every server's data (no all_shards tip in Redis 7.0).
        ProxyCommandRow("function|dump", .refuse(.needsAllServers)),
        ProxyCommandRow("function|list", .refuse(.needsAllServers)),

        // Denied by default although routable: they wipe or reconfigure shared servers.
        ProxyCommandRow("config|set", denied: true), ProxyCommandRow("config|rewrite", denied: true),
        ProxyCommandRow("config|resetstat", denied: true), ProxyCommandRow("script|kill", denied: true),

        // Misses: what the command answers for a key that does not exist.
        miss("hexists", .zero), miss("sismember", .zero), miss("strlen", .zero), miss("llen", .zero),
        miss("scard", .zero), miss("hlen", .zero), miss("zcard", .zero), miss("hstrlen", .zero),
        miss("bitcount", .zero), miss("pfcount", .zero), miss("xlen", .zero), miss("zcount", .zero),
        miss("zlexcount", .zero), miss("getbit", .zero), miss("bitpos", .zero), miss("sintercard", .zero),
        miss("zintercard", .zero),
        miss("ttl", .minusTwo), miss("pttl", .minusTwo), miss("expiretime", .minusTwo), miss("pexpiretime", .minusTwo),
        miss("lrange", .emptyArray), miss("zrange", .emptyArray), miss("zrangebyscore", .emptyArray),
        miss("zrevrange", .emptyArray), miss("zrevrangebyscore", .emptyArray), miss("zrangebylex", .emptyArray),
        miss("zrevrangebylex", .emptyArray), miss("hkeys", .emptyArray), miss("hvals", .emptyArray),
        miss("xrange", .emptyArray), miss("xrevrange", .emptyArray),
        miss("zdiff", .emptyArray), miss("zinter", .emptyArray), miss("zunion", .emptyArray),
        miss("hrandfield", .emptyArray), miss("zrandmember", .emptyArray), miss("georadius_ro", .emptyArray),
        miss("georadiusbymember_ro", .emptyArray), miss("geosearch", .emptyArray),
        miss("hgetall", .emptyMap),
        miss("smembers", .emptySet), miss("sinter", .emptySet), miss("sunion", .emptySet), miss("sdiff", .emptySet),
        miss("type", .none),
        miss("hscan", .emptyScan), miss("sscan", .emptyScan), miss("zscan", .emptyScan),
        miss("getrange", .emptyBulk), miss("substr", .emptyBulk), miss("lcs", .emptyBulk),
        miss("hmget", .nulls(fromArgument: 2)), miss("zmscore", .nulls(fromArgument: 2)),
        miss("geopos", .nulls(fromArgument: 2)), miss("smismember", .zeros(fromArgument: 2)),
        // A script's answer cannot be made up: an error naming the server.
        miss("eval_ro", .error), miss("evalsha_ro", .error), miss("fcall_ro", .error),
    ]

    /// The row for `name` ("container|sub" for subcommands), if the proxy has one.
    public static func row(_ name: String) -> ProxyCommandRow? { rowsByName[name] }

    private static let rowsByName: [String: ProxyCommandRow] = {
        var d: [String: ProxyCommandRow] = [:]
        for r in rows {
            precondition(d[r.name] == nil, "ProxyCommandPolicy lists \(r.name) twice")
            d[r.name] = r
        }
        return d
    }()

    /// The default `deny_commands` of a pool.
    public static let deniedByDefault: [String] = rows.filter(\.deniedByDefault).map(\.name)
}
