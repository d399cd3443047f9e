// The subscriptions one worker holds on one server's shared subscriber connection: for each
// channel or pattern, the clients that want it. The first client to want a name makes the
// proxy subscribe upstream, the last to leave makes it unsubscribe, so 10,000 clients on a
// channel cost the server one subscription. A client's SUBSCRIBE reply waits for the
// server's confirmation of a name it newly subscribed, so a message published after the
// client saw its reply is never missed. Pure bookkeeping: the connection layer sends what
// this decides and delivers what it returns.

public struct SubscriptionTable: Sendable {
    /// A client request whose reply waits for confirmations (see ClientSession+PubSub).
    public struct Waiter: Equatable, Sendable {
        public let member: UInt64
        public let sequence: UInt64

        public init(member: UInt64, sequence: UInt64) {
            self.member = member
            self.sequence = sequence
        }
    }

    struct Entry: Sendable {
        var members: [UInt64]
        /// The server confirmed the subscription on the current connection.
        var confirmed = false
        var waiters: [Waiter] = []
    }

    /// What joining a name means upstream.
    public struct Join: Equatable, Sendable {
        /// The first member: subscribe upstream.
        public let subscribe: Bool
        /// The caller's reply waits for the server's confirmation.
        public let wait: Bool
    }

    private var entries: [SubscriptionKey: Entry] = [:]

    public init() {}

    /// Names subscribed upstream (or to be, once the connection is up).
    public var count: Int { entries.count }
    public var isEmpty: Bool { entries.isEmpty }

    /// `member` wants `key`. `linkOpen`: a connection to the server exists, so a subscribe
    /// sent now will be confirmed; without one the subscription is kept and restored when
    /// the server is back, and nobody waits. `waiter` is recorded when the reply must wait.
    public mutating func join(_ key: SubscriptionKey, member: UInt64, waiter: Waiter, linkOpen: Bool) -> Join {
        if var entry = entries[key] {
            if !entry.members.contains(member) { entry.members.append(member) }
            let wait = linkOpen && !entry.confirmed
            if wait { entry.waiters.append(waiter) }
            entries[key] = entry
            return Join(subscribe: false, wait: wait)
        }
        var entry = Entry(members: [member])
        if linkOpen { entry.waiters.append(waiter) }
        entries[key] = entry
        return Join(subscribe: true, wait: linkOpen)
    }

    /// `member` leaves `key`; true when it was the last, so the server is unsubscribed.
    public mutating func leave(_ key: SubscriptionKey, member: UInt64) -> Bool {
        guard var entry = entries[key], let i = entry.members.firstIndex(of: member) else { return false }
        entry.members.remove(at: i)
        entry.waiters.removeAll { $0.member == member }
        if entry.members.isEmpty {
            entries[key] = nil
            return true
        }
        entries[key] = entry
        return false
    }

    /// The server confirmed `key`: the replies that waited for it.
    public mutating func confirm(_ key: SubscriptionKey) -> [Waiter] {
        guard var entry = entries[key] else { return [] }
        entry.confirmed = true
        let waiters = entry.waiters
        entry.waiters = []
        entries[key] = entry
        return waiters
    }

    /// The members a message for `key` goes to.
    public func members(_ key: SubscriptionKey) -> [UInt64]? { entries[key]?.members }

    /// The connection broke: nothing is confirmed any more, and every waiting reply is
    /// released (its subscriptions are restored when the server is back).
    public mutating func linkLost() -> [Waiter] {
        var released: [Waiter] = []
        for key in Array(entries.keys) {
            released += entries[key]!.waiters
            entries[key]!.waiters = []
            entries[key]!.confirmed = false
        }
        return released
    }

    /// The channels and shard channels held (patterns live on every server and never move).
    public var channelKeys: [SubscriptionKey] { entries.keys.filter { $0.kind != .pattern } }

    /// The patterns held (a server a reload adds must get them too).
    public var patternKeys: [SubscriptionKey] { entries.keys.filter { $0.kind == .pattern } }

    /// Takes `key` out with its members (its server no longer owns the name); its waiters
    /// are returned to be released.
    public mutating func remove(_ key: SubscriptionKey) -> (members: [UInt64], waiters: [Waiter]) {
        guard let entry = entries.removeValue(forKey: key) else { return ([], []) }
        return (entry.members, entry.waiters)
    }

    /// Takes over `members` of a name moved here; true when it is new here, so the server
    /// must be subscribed.
    public mutating func adopt(_ key: SubscriptionKey, members: [UInt64]) -> Bool {
        if var entry = entries[key] {
            for m in members where !entry.members.contains(m) { entry.members.append(m) }
            entries[key] = entry
            return false
        }
        entries[key] = Entry(members: members)
        return true
    }

    /// Every name to subscribe on a new connection, by kind, in a stable order.
    public func namesToRestore() -> [(SubscriptionKind, [[UInt8]])] {
        SubscriptionKind.allCases.compactMap { kind in
            let names = entries.keys.filter { $0.kind == kind }.map(\.name).sorted { $0.lexicographicallyPrecedes($1) }
            return names.isEmpty ? nil : (kind, names)
        }
    }
}
