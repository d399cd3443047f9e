// What one client is subscribed to, as Redis counts it: channels and patterns together
// (the count SUBSCRIBE and PSUBSCRIBE answer), shard channels apart (SSUBSCRIBE's count).
// A value type in the session; the shared upstream side is SubscriptionTable.

/// The three families of subscription, each with its own commands and message kind.
public enum SubscriptionKind: Int, CaseIterable, Sendable {
    /// SUBSCRIBE: one channel, on the channel's server.
    case channel
    /// PSUBSCRIBE: a glob over channel names, on every server.
    case pattern
    /// SSUBSCRIBE: a shard channel, on the channel's server.
    case shard

    /// The reply's first element for a subscription.
    public var subscribeWord: StaticString {
        switch self {
        case .channel: return "subscribe"
        case .pattern: return "psubscribe"
        case .shard: return "ssubscribe"
        }
    }

    public var unsubscribeWord: StaticString {
        switch self {
        case .channel: return "unsubscribe"
        case .pattern: return "punsubscribe"
        case .shard: return "sunsubscribe"
        }
    }

    /// The command the proxy sends its shared connection, spelled for the wire.
    public var subscribeCommand: StaticString {
        switch self {
        case .channel: return "SUBSCRIBE"
        case .pattern: return "PSUBSCRIBE"
        case .shard: return "SSUBSCRIBE"
        }
    }

    public var unsubscribeCommand: StaticString {
        switch self {
        case .channel: return "UNSUBSCRIBE"
        case .pattern: return "PUNSUBSCRIBE"
        case .shard: return "SUNSUBSCRIBE"
        }
    }
}

/// SUBSCRIBE, UNSUBSCRIBE and their P and S forms.
public struct SubscriptionCommand: Equatable, Sendable {
    public let kind: SubscriptionKind
    public let subscribe: Bool

    public init(_ kind: SubscriptionKind, subscribe: Bool) {
        self.kind = kind
        self.subscribe = subscribe
    }
}

/// One subscription: its family and its name's bytes.
public struct SubscriptionKey: Hashable, Sendable {
    public let kind: SubscriptionKind
    public let name: [UInt8]

    public init(_ kind: SubscriptionKind, _ name: [UInt8]) {
        self.kind = kind
        self.name = name
    }

    public init(_ kind: SubscriptionKind, _ name: UnsafeRawBufferPointer) {
        self.init(kind, [UInt8](name))
    }
}

/// One client's subscriptions, in the order they were made (UNSUBSCRIBE without arguments
/// answers them in that order; Redis's order is its dict's, which no client relies on).
public struct ClientSubscriptions: Sendable {
    private var names: [[[UInt8]]] = [[], [], []]
    private var index: Set<SubscriptionKey> = []

    public init() {}

    public var isEmpty: Bool { index.isEmpty }
    public var total: Int { index.count }

    /// The count Redis answers after a change of `kind`: channels and patterns together
    /// (clientSubscriptionsCount), shard channels on their own.
    public func count(for kind: SubscriptionKind) -> Int {
        kind == .shard ? names[SubscriptionKind.shard.rawValue].count
            : names[SubscriptionKind.channel.rawValue].count + names[SubscriptionKind.pattern.rawValue].count
    }

    public func names(of kind: SubscriptionKind) -> [[UInt8]] { names[kind.rawValue] }

    public func contains(_ key: SubscriptionKey) -> Bool { index.contains(key) }

    /// Adds `key`; false when it was already there (Redis answers it again, changing nothing).
    public mutating func add(_ key: SubscriptionKey) -> Bool {
        guard index.insert(key).inserted else { return false }
        names[key.kind.rawValue].append(key.name)
        return true
    }

    /// Removes `key`; false when the client did not have it.
    public mutating func remove(_ key: SubscriptionKey) -> Bool {
        guard index.remove(key) != nil else { return false }
        if let i = names[key.kind.rawValue].firstIndex(of: key.name) { names[key.kind.rawValue].remove(at: i) }
        return true
    }

    public mutating func removeAll() {
        names = [[], [], []]
        index.removeAll()
    }
}
