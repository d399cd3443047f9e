// Pub/sub for one pool in one worker: per server, one shared subscriber connection and the
// table of which clients want which names on it. Clients join and leave names; the hub
// subscribes upstream for the first and unsubscribes for the last, hands each message to the
// clients that want it, and restores every subscription on a new connection when a server
// comes back. A channel is on the server its name hashes to (as a key would, hash tags and
// key_routes included); a pattern is on every server, since it can match any channel.

import RingCore

final class PubSubHub {
    // unowned(unsafe): the pool owns the hub.
    unowned(unsafe) let pool: PoolRuntime
    var tables: [SubscriptionTable]
    var links: [SubscriberConnection?]

    init(pool: PoolRuntime, servers: Int) {
        self.pool = pool
        tables = Array(repeating: SubscriptionTable(), count: servers)
        links = Array(repeating: nil, count: servers)
    }

    var worker: Worker { pool.worker }

    /// The servers a subscription lives on.
    func servers(for key: SubscriptionKey) -> Range<Int> {
        if key.kind == .pattern { return 0..<tables.count }
        let s = key.name.withUnsafeBytes { pool.placement.server(forKey: $0) }
        return s < 0 ? 0..<0 : s..<(s + 1)
    }

    /// `client` wants `key` on `server`; true when its reply (request `sequence`) must wait
    /// for the server's confirmation.
    func join(_ key: SubscriptionKey, server: Int, client: ClientSession, sequence: UInt64) -> Bool {
        let link = openLink(server)
        let before = tables[server].count
        let join = tables[server].join(key, member: client.id,
                                       waiter: .init(member: client.id, sequence: sequence), linkOpen: link != nil)
        countSubscriptions(server, before)
        if join.subscribe { link?.send(key.kind.subscribeCommand, [key.name]) }
        return join.wait
    }

    /// `client` leaves `key` wherever it holds it.
    func leave(_ key: SubscriptionKey, client: ClientSession) {
        for s in tables.indices {
            let before = tables[s].count
            guard tables[s].leave(key, member: client.id) else { continue }
            countSubscriptions(s, before)
            if let link = links[s], !link.isBroken { link.send(key.kind.unsubscribeCommand, [key.name]) }
        }
    }

    /// The live subscriber connection to `server`, opened (with every subscription the table
    /// holds) if the server may be tried; nil while it is down or backing off.
    func openLink(_ server: Int) -> SubscriberConnection? {
        if let link = links[server], !link.isBroken { return link }
        let upstream = pool.servers[server]
        guard upstream.maySubscribe else { return nil }
        let link = SubscriberConnection(hub: self, server: upstream)
        if link.isBroken {
            upstream.subscriberFailed(.cannotConnect)
            return nil
        }
        links[server] = link
        for (kind, names) in tables[server].namesToRestore() { link.send(kind.subscribeCommand, names) }
        return link
    }

    /// Every tick: servers that hold subscriptions but no connection get one once they may
    /// be tried again (back after a failure, or the back-off elapsed).
    func restore() {
        for s in tables.indices where !tables[s].isEmpty && (links[s] == nil || links[s]!.isBroken) {
            if openLink(s) != nil { logNotice("upstream \(pool.servers[s].logName): \(tables[s].count) subscriptions restored") }
        }
    }

    /// The ring changed (auto_eject_hosts ejected or restored a server): channels whose name
    /// now hashes elsewhere follow it, so PUBLISH, which goes by the new ring, reaches them.
    func placementChanged() {
        for s in tables.indices {
            for key in tables[s].channelKeys {
                let target = servers(for: key)
                guard let t = target.first, t != s else { continue }
                let before = tables[s].count
                let (members, waiters) = tables[s].remove(key)
                countSubscriptions(s, before)
                if let link = links[s], !link.isBroken { link.send(key.kind.unsubscribeCommand, [key.name]) }
                for w in waiters { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
                let link = openLink(t)
                let beforeTarget = tables[t].count
                if tables[t].adopt(key, members: members) { link?.send(key.kind.subscribeCommand, [key.name]) }
                countSubscriptions(t, beforeTarget)
            }
        }
    }

    func received(_ frame: UnsafeRawBufferPointer, from link: SubscriberConnection) {
        let s = link.server.index
        // A server a reload removed: its link is closing, and its names have moved.
        guard s < tables.count, links[s] === link else { return }
        guard let push = PushFrame.parse(frame) else {
            if frame.first == UInt8(ascii: "-") {
                logWarn("upstream \(link.server.logName) refused a subscription: \(String(decoding: frame.dropLast(2), as: UTF8.self))")
            }
            return
        }
        switch push.kind {
        case let .message(kind):
            worker.stats.add(pool: pool.index, server: s, .pubsubMessages)
            let key = SubscriptionKey(kind, UnsafeRawBufferPointer(rebasing: frame[push.name]))
            guard let members = tables[s].members(key) else { return }
            for id in members { worker.clients[id]?.deliverPush(frame) }
        case let .subscribed(kind):
            let key = SubscriptionKey(kind, UnsafeRawBufferPointer(rebasing: frame[push.name]))
            for w in tables[s].confirm(key) { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
        case .unsubscribed, .other:
            break
        }
    }

    /// A subscriber connection broke: replies waiting for its confirmations are released,
    /// and its subscriptions wait for `restore`.
    func linkBroke(_ link: SubscriberConnection) {
        let s = link.server.index
        guard s < links.count, links[s] === link else { return }
        links[s] = nil
        for w in tables[s].linkLost() { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
    }

    /// Sentinel moved the server: the link to the old master is dropped and the
    /// subscriptions are made again on the new one at once (not at the next tick).
    func serverMoved(_ server: Int) {
        guard let link = links[server] else { return }
        links[server] = nil
        link.close()
        for w in tables[server].linkLost() { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
        if !tables[server].isEmpty, openLink(server) != nil {
            logNotice("upstream \(pool.servers[server].logName): \(tables[server].count) subscriptions moved to the new master")
        }
    }

    func countSubscriptions(_ server: Int, _ before: Int) {
        let after = tables[server].count
        if after > before { worker.stats.add(pool: pool.index, server: server, .subscriptions, UInt64(after - before)) }
        if after < before { worker.stats.subtract(pool: pool.index, server: server, .subscriptions, UInt64(before - after)) }
    }

    func closeAll() {
        for case let link? in links { link.close() }
        links = Array(repeating: nil, count: links.count)
    }
}
