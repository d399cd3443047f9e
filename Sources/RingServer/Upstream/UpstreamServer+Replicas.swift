// A server's replicas as one worker reads from them (read_from): each is an UpstreamServer of
// its own (connections, back-off, stats under the index after the pool's servers), made with
// its master, and read from only while the checker finds it usable (see ReplicaBoard).

import CLibUV
import RingConfig
import RingCore

extension UpstreamServer {
    /// The replica slots of this server (listed, or for Sentinel to fill), when read_from
    /// reads from replicas.
    func makeReplicas() -> [UpstreamServer] {
        guard pool.config.readFrom != .master else { return [] }
        var list: [UpstreamServer] = []
        for (slot, r) in pool.config.replicaSlots.enumerated() where r.server == index {
            let name = "\(spec.displayName)-replica\(list.count + 1)"
            let replicaSpec = ServerSpec(address: .tcp(host: r.address.host, port: r.address.port), weight: 1, name: name)
            list.append(UpstreamServer(worker: worker, pool: pool, spec: replicaSpec, index: pool.config.servers.count + slot,
                                       address: sockaddr_storage(), replicaSlot: slot))
        }
        return list
    }

    /// Every tick (from sampleQueues, which runs whatever the pool's timeout): the checker's
    /// news (a replica became usable or not, Sentinel refilled a slot) reaches the rotation.
    func applyReplicaStates() {
        if let board = pool.board?.replicas {
            let generation = board.generation
            if generation != replicaGeneration {
                replicaGeneration = generation
                let states = board.states()
                let usable = states.usable[pool.index], epochs = states.epochs[pool.index]
                for r in replicas {
                    let slot = r.replicaSlot ?? 0
                    if epochs[slot] != r.replicaEpoch { r.replicaMoved(epoch: epochs[slot]) }
                }
                rotation.setUsable(replicas.map { usable[$0.replicaSlot ?? 0] })
            }
        }
    }
}

extension ClientSession {
    /// read_from: a read the replicas may answer goes to the next usable replica of
    /// `server`. True when the request was sent or answered here; false when it goes to
    /// the master (not a read, inside WATCH/MULTI, none usable with prefer_replica).
    func sendToReplica(_ request: RequestView, of server: UpstreamServer, miss: MissReply, command: Int) -> Bool {
        let commands = worker.commands.commands
        guard lease == nil, !state.inTransactionMode, command >= 0, command < commands.count,
              ReplicaReads.mayGoToReplica(commands[command].spec.flags) else { return false }
        let mode = pool.config.readFrom
        switch server.rotation.target(mode, isRead: true) {
        case .master:
            return false
        case .noReplica:
            worker.stats.add(pool: pool.index, .forwardError)
            let message = server.spec.upstreamError(.unavailable, "no usable replica (read_from: replica)")
            reply { $0.appendError(message) }
            return true
        case let .replica(i):
            let replica = server.replicas[i]
            guard let connection = replica.connection(for: state.version, database: state.database) else {
                if mode == .preferReplica { return false }
                answerUnreachable(replica, miss: miss, argumentCount: request.count)
                return true
            }
            let offset = append(request, to: connection)
            let sequence = order.reserve()
            connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                                   command: command, miss: miss, argumentCount: request.count)
            return true
        }
    }
}
