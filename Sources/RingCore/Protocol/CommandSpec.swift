// Redis's own metadata for one command, as its COMMAND reply gives it (RedisCommands.swift
// is generated from that reply): arity, key positions, flags and the request/response
// policy tips. Nothing here says what the proxy does; ProxyCommandPolicy does.

public struct CommandFlags: OptionSet, Sendable {
    public let rawValue: UInt32
    public init(rawValue: UInt32) { self.rawValue = rawValue }
    public static let write = CommandFlags(rawValue: 1 << 0)
    public static let readonly = CommandFlags(rawValue: 1 << 1)
    public static let denyoom = CommandFlags(rawValue: 1 << 2)
    public static let admin = CommandFlags(rawValue: 1 << 3)
    public static let pubsub = CommandFlags(rawValue: 1 << 4)
    public static let noscript = CommandFlags(rawValue: 1 << 5)
    public static let blocking = CommandFlags(rawValue: 1 << 6)
    public static let loading = CommandFlags(rawValue: 1 << 7)
    public static let stale = CommandFlags(rawValue: 1 << 8)
    public static let skipMonitor = CommandFlags(rawValue: 1 << 9)
    public static let skipSlowlog = CommandFlags(rawValue: 1 << 10)
    public static let fast = CommandFlags(rawValue: 1 << 11)
    public static let noAuth = CommandFlags(rawValue: 1 << 12)
    public static let mayReplicate = CommandFlags(rawValue: 1 << 13)
    public static let movablekeys = CommandFlags(rawValue: 1 << 14)
    public static let noMandatoryKeys = CommandFlags(rawValue: 1 << 15)
    public static let noMulti = CommandFlags(rawValue: 1 << 16)
    public static let allowBusy = CommandFlags(rawValue: 1 << 17)
    public static let asking = CommandFlags(rawValue: 1 << 18)
    public static let noAsyncLoading = CommandFlags(rawValue: 1 << 19)
}

/// One row of Redis's command table.
public struct RedisCommandSpec: Sendable {
    public let name: String
    /// Redis's arity: N means exactly N arguments (name included), -N means at least N.
    public let arity: Int
    public let firstKey: Int
    /// Negative counts from the end: -1 is the last argument.
    public let lastKey: Int
    public let keyStep: Int
    public let flags: CommandFlags
    /// For commands whose keys follow a count argument (EVAL, ZUNIONSTORE, LMPOP, ...):
    /// the count's index, the first key's index, and the step.
    public let keyCount: (countIndex: Int, firstKey: Int, step: Int)?
    public let hasSubcommands: Bool
    /// Redis's request_policy tip: how a cluster client spreads the command over shards.
    public let requestPolicy: RequestPolicy
    /// Redis's response_policy tip: how the shards' replies combine into one.
    public let responsePolicy: ResponsePolicy
    /// A key spec finds keys other than by position: after a keyword (SORT's STORE,
    /// XREAD's STREAMS, MIGRATE's KEYS) or by the command's own code (SORT's patterns).
    /// ProxyCommandPolicy must say where they are (KeyLayout) or refuse the command.
    public let keysInOptions: Bool

    public init(_ name: String, _ arity: Int, _ firstKey: Int, _ lastKey: Int, _ keyStep: Int,
                _ flags: CommandFlags, _ keyCount: (Int, Int, Int)?, _ hasSubcommands: Bool,
                _ requestPolicy: RequestPolicy = .none, _ responsePolicy: ResponsePolicy = .none,
                keysInOptions: Bool = false) {
        self.name = name
        self.arity = arity
        self.firstKey = firstKey
        self.lastKey = lastKey
        self.keyStep = keyStep
        self.flags = flags
        self.keyCount = keyCount.map { (countIndex: $0.0, firstKey: $0.1, step: $0.2) }
        self.hasSubcommands = hasSubcommands
        self.requestPolicy = requestPolicy
        self.responsePolicy = responsePolicy
        self.keysInOptions = keysInOptions
    }

    /// Whether the key spec can name more than one key.
    public var mayHaveSeveralKeys: Bool {
        keyCount != nil || (firstKey > 0 && lastKey != firstKey)
    }

    public func arityAccepts(_ argc: Int) -> Bool {
        arity >= 0 ? argc == arity : argc >= -arity
    }
}

/// COMMAND's `request_policy` tip (Redis 7): where a cluster client sends the command.
public enum RequestPolicy: Sendable, Equatable {
    case none
    /// Every node, replicas included (SCRIPT LOAD, CONFIG SET).
    case allNodes
    /// Every master (DBSIZE, KEYS, FLUSHDB).
    case allShards
    /// Split by key, each shard getting its own keys (MGET, MSET, DEL).
    case multiShard
    /// The client must know the command (SCAN).
    case special
}

/// COMMAND's `response_policy` tip (Redis 7): how the shards' replies combine.
public enum ResponsePolicy: Sendable, Equatable {
    case none, oneSucceeded, allSucceeded, aggLogicalAnd, aggLogicalOr, aggMin, aggMax, aggSum, special
}
