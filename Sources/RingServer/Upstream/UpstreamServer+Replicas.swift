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
        // A reload this worker has not applied yet has a board of other indices.
        if let board = pool.board?.replicas, board.layout == worker.appliedLayout {
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

/// Where read_from sends one read (or one part of a split read).
enum ReplicaChoice {
    case master
    case replica(UpstreamServer, UpstreamConnection)
    /// read_from: replica, and none can take it: the error the client gets.
    case refused(String)
}

extension ClientSession {
    /// read_from for a request (or part) of `command` bound for `server`: the next usable
    /// replica with a connection, or the master (not a read, inside WATCH/MULTI, none usable
    /// with prefer_replica), or an error (read_from: replica, none usable).
    func replicaChoice(for server: UpstreamServer, command: Int) -> ReplicaChoice {
        let commands = worker.commands.commands
        guard lease == nil, !state.inTransactionMode, command >= 0, command < commands.count,
              ReplicaReads.mayGoToReplica(commands[command].spec.flags) else { return .master }
        let mode = pool.config.readFrom
        switch server.rotation.target(mode, isRead: true) {
        case .master:
            return .master
        case .noReplica:
            return .refused(server.spec.upstreamError(.unavailable, "no usable replica (read_from: replica)"))
        case let .replica(i):
            let replica = server.replicas[i]
            if let connection = replica.connection(for: state.version, database: state.database) {
                return .replica(replica, connection)
            }
            return mode == .preferReplica ? .master : .refused(replica.unavailableMessage)
        }
    }

    /// read_from: a whole request for `server`. True when it was sent to a replica or
    /// answered here; false when it goes to the master.
    func sendToReplica(_ request: RequestView, of server: UpstreamServer, miss: MissReply, command: Int) -> Bool {
        switch replicaChoice(for: server, command: command) {
        case .master:
            return false
        case let .refused(message):
            worker.stats.add(pool: pool.index, .forwardError)
            reply { $0.appendError(message) }
            return true
        case let .replica(_, connection):
            let offset = append(request, to: connection)
            let sequence = order.reserve()
            connection.expectReply(client: self, sequence: sequence, part: 0, now: worker.loop.nowMs, offset: offset,
                                   command: command, miss: miss, argumentCount: request.count)
            return true
        }
    }
}
