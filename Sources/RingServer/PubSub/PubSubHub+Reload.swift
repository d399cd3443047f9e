// A reload changed the pool's servers: each kept server keeps its subscriber connection and
// names (at its new place), a removed server's channels move to the servers their names now
// hash to, and a new server gets every pattern, since a pattern may match any channel.

import RingCore

extension PubSubHub {
    /// `before`: the pool's server list before the reload (`pool.servers` is the new one).
    func serversChanged(from before: [UpstreamServer]) {
        let after = pool.servers
        guard before.count != after.count || zip(before, after).contains(where: { $0 !== $1 }) else { return }
        var newTables = Array(repeating: SubscriptionTable(), count: after.count)
        var newLinks: [SubscriberConnection?] = Array(repeating: nil, count: after.count)
        var kept = Array(repeating: false, count: after.count)
        var orphaned: [SubscriptionTable] = []
        for (o, server) in before.enumerated() where o < tables.count {
            if let n = after.firstIndex(where: { $0 === server }) {
                newTables[n] = tables[o]
                newLinks[n] = links[o]
                kept[n] = true
            } else {
                if !tables[o].isEmpty { orphaned.append(tables[o]) }
                links[o]?.close()
            }
        }
        // Patterns, from any table that holds them (every server's holds them all).
        var patterns: [SubscriptionKey: [UInt64]] = [:]
        for table in newTables + orphaned {
            for key in table.patternKeys where patterns[key] == nil { patterns[key] = table.members(key) ?? [] }
        }
        tables = newTables
        links = newLinks
        for n in after.indices where !kept[n] {
            for (key, members) in patterns { _ = tables[n].adopt(key, members: members) }
            countSubscriptions(n, 0)
            if !tables[n].isEmpty { _ = openLink(n) }
        }
        // A removed server's channels go where their names hash now; its waiters are let go.
        for var table in orphaned {
            for key in table.channelKeys {
                let (members, waiters) = table.remove(key)
                for w in waiters { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
                guard let t = servers(for: key).first else { continue }
                let link = openLink(t)
                let before = tables[t].count
                if tables[t].adopt(key, members: members) { link?.send(key.kind.subscribeCommand, [key.name]) }
                countSubscriptions(t, before)
            }
            for key in table.patternKeys {
                for w in table.remove(key).waiters { worker.clients[w.member]?.subscriptionConfirmed(sequence: w.sequence) }
            }
        }
        // Kept servers' channels whose name the new ring puts elsewhere follow it.
        placementChanged()
    }
}
