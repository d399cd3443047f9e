// Carrying out SUBSCRIBE and its kin for one client: its own subscriptions (for the counts
// Redis answers), its joins and leaves on the pool's PubSubHub, the replies that wait for a
// server's confirmation, and the messages the hub hands it, bounded by the pool's
// pubsub_output limits.

import RingConfig
import RingCore

/// A (un)subscribe reply written by the proxy, waiting for `waits` server confirmations.
struct PendingConfirmation {
    var bytes: [UInt8]
    var waits: Int
}

extension ClientSession {
    func subscription(_ command: SubscriptionCommand, _ request: RequestView) {
        var subs = subscriptions ?? ClientSubscriptions()
        let hub = pool.pubsub
        let kind = command.kind
        let out = ByteBuffer(capacity: 64 * request.count)
        // The reply's sequence if it is reserved now, or given by `reply` below: the same.
        let sequence = order.nextSequence
        var waits = 0
        if command.subscribe {
            for i in 1..<request.count {
                let key = SubscriptionKey(kind, request[i])
                if subs.add(key) {
                    for s in hub.servers(for: key) where hub.join(key, server: s, client: self, sequence: sequence) {
                        waits += 1
                    }
                }
                SubscriptionReplies.confirmation(kind.subscribeWord, name: request[i], count: subs.count(for: kind),
                                                 version: state.version, into: out)
            }
        } else {
            let named = request.count > 1
            let names = named ? [] : subs.names(of: kind)
            if !named && names.isEmpty {
                SubscriptionReplies.confirmation(kind.unsubscribeWord, name: nil, count: subs.count(for: kind),
                                                 version: state.version, into: out)
            }
            for i in 0..<(named ? request.count - 1 : names.count) {
                let key = named ? SubscriptionKey(kind, request[i + 1]) : SubscriptionKey(kind, names[i])
                if subs.remove(key) { hub.leave(key, client: self) }
                key.name.withUnsafeBytes {
                    SubscriptionReplies.confirmation(kind.unsubscribeWord, name: $0, count: subs.count(for: kind),
                                                     version: state.version, into: out)
                }
            }
        }
        let wasActive = subscriptions != nil
        subscriptions = subs.isEmpty ? nil : subs
        subscriptionsChanged(wasActive: wasActive)
        if waits == 0 {
            reply { $0.append(out.readable) }
        } else {
            _ = order.reserve()
            var pending = pendingConfirmations ?? [:]
            pending[sequence] = PendingConfirmation(bytes: out.bytes, waits: waits)
            pendingConfirmations = pending
        }
    }

    private func subscriptionsChanged(wasActive: Bool) {
        let active = subscriptions != nil
        state.subscriptionsChanged(active: active)
        if active && !wasActive { worker.stats.add(pool: pool.index, .subscribedClients) }
        if !active && wasActive { worker.stats.subtract(pool: pool.index, .subscribedClients) }
    }

    /// A server confirmed a subscription the reply of request `sequence` waited for.
    func subscriptionConfirmed(sequence: UInt64) {
        guard var pending = pendingConfirmations, var p = pending[sequence] else { return }
        p.waits -= 1
        if p.waits > 0 {
            pending[sequence] = p
            pendingConfirmations = pending
            return
        }
        pending[sequence] = nil
        pendingConfirmations = pending.isEmpty ? nil : pending
        p.bytes.withUnsafeBytes { deliver(sequence: sequence, part: 0, reply: $0) }
    }

    /// A message for one of this client's subscriptions, as the server sent it (RESP2).
    func deliverPush(_ frame: UnsafeRawBufferPointer) {
        guard !isClosed, !state.isClosing else { return }
        let resp3 = state.version == .resp3
        if order.isEmpty {
            ClientSession.writePush(frame, resp3: resp3, into: stream.output)
            stream.scheduleFlush()
        } else {
            // Behind replies still owed: it follows them, as if it had come a moment later.
            reply { ClientSession.writePush(frame, resp3: resp3, into: $0) }
        }
        let verdict = pool.outputLimit.check(pendingBytes: stream.pendingOutputBytes, nowMs: worker.loop.nowMs,
                                             overSoftSince: &overSoftLimitSince)
        if verdict != .within {
            logWarn("client \(id) of pool \(pool.config.name) closed: \(pool.outputLimit.describe(verdict))")
            worker.stats.add(pool: pool.index, .slowSubscribersClosed)
            close()
        }
    }

    /// The frame as it came for a RESP2 client; a RESP3 client gets the push type.
    private static func writePush(_ frame: UnsafeRawBufferPointer, resp3: Bool, into out: ByteBuffer) {
        if resp3 && frame.first == UInt8(ascii: "*") {
            out.append(UInt8(ascii: ">"))
            out.append(UnsafeRawBufferPointer(rebasing: frame[1...]))
        } else {
            out.append(frame)
        }
    }

    /// The client goes away or RESETs: it leaves every subscription, and replies that waited
    /// for confirmations are given now (a RESET's reply must not wait behind them for ever).
    func dropSubscriptions() {
        if let pending = pendingConfirmations {
            pendingConfirmations = nil
            for sequence in pending.keys.sorted() {
                pending[sequence]!.bytes.withUnsafeBytes { deliver(sequence: sequence, part: 0, reply: $0) }
            }
        }
        guard let subs = subscriptions else { return }
        subscriptions = nil
        for kind in SubscriptionKind.allCases {
            for name in subs.names(of: kind) { pool.pubsub.leave(SubscriptionKey(kind, name), client: self) }
        }
        subscriptionsChanged(wasActive: true)
    }
}
