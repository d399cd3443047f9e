// The fuzz harness's pools (every hash function, both deterministic distributions, hash
// tags, ejected hosts) and its split and merge checks.

import RingCore

// MARK: pools

struct FuzzPool {
    let placement: KeyPlacement
    let serverCount: Int
    var policy: PoolPolicy {
        PoolPolicy(name: "fuzz", denied: FuzzPools.nothingDenied, hashTag: placement.tag)
    }

    /// The server for `key`, checked to be a server of this pool or -1 (none live).
    func route(_ key: UnsafeRawBufferPointer) -> Int {
        if let tag = placement.tag {
            // The hashed part is a piece of the key itself, never other memory.
            let part = tag.hashedPart(key)
            if part.count > 0 {
                let s = part.baseAddress! - key.baseAddress!
                check(s >= 0 && s + part.count <= key.count, "hash tag part outside the key")
            }
        }
        let s = placement.server(forKey: key)
        check(s >= -1 && s < serverCount, "server \(s) of \(serverCount)")
        check(s >= 0 || placement.ring.isEmpty, "no server from a ring that has live servers")
        return s
    }
}

enum FuzzPools {
    static let nothingDenied = [Bool](repeating: false, count: CommandTable.redis70.commands.count)

    static func servers(_ lines: [String]) -> [ServerSpec] {
        lines.map { line -> ServerSpec in
            guard case let .success(s) = ServerSpec.parse(line) else { fatalError("bad server line \(line)") }
            return s
        }.sorted(by: ServerSpec.nutcrackerOrder)
    }

    static func pool(_ servers: [ServerSpec], _ distribution: Distribution, _ hash: HashFunction,
                     _ tag: String?, live: [Bool]? = nil) -> FuzzPool {
        let live = live ?? Array(repeating: true, count: servers.count)
        let ring = KetamaRing(distribution: distribution, servers: servers, live: live)
        return FuzzPool(placement: KeyPlacement(hash: hash, tag: tag.flatMap(HashTag.init), ring: ring,
                                                serverCount: servers.count),
                        serverCount: servers.count)
    }

    /// Every hash function once, on three- and five-server pools, ketama and modula, with
    /// and without hash tags, one with an ejected host; plus a one-server pool and one
    /// with no live server. Random distribution is left out: a fuzz target must be
    /// deterministic. Built once per process (rings cost md5 work).
    static let all: [FuzzPool] = {
        let one = servers(["127.0.0.1:6379:1"])
        let three = servers(["10.0.0.1:6379:1", "10.0.0.2:6379:1", "10.0.0.3:6379:1"])
        let five = servers(["10.0.1.1:6379:1 alpha", "10.0.1.2:6379:2 beta", "10.0.1.3:6379:3",
                            "/tmp/redis.sock:1 delta", "10.0.1.5:11211:5"])
        let tags: [String?] = [nil, "{}", "$$", "[]"]
        var pools: [FuzzPool] = []
        for (i, hash) in HashFunction.allCases.enumerated() {
            let servers = i % 2 == 0 ? three : five
            var live = Array(repeating: true, count: servers.count)
            if i % 5 == 4 { live[1] = false }  // an ejected host
            pools.append(pool(servers, i % 4 == 3 ? .modula : .ketama, hash, tags[i % 4], live: live))
        }
        pools.append(pool(one, .ketama, .md5, "{}"))
        pools.append(pool(three, .ketama, .fnv1a_64, nil, live: [false, false, false]))
        return pools
    }()
}

// MARK: split and merge

/// The rest of ClientSession.split for keys on several servers: write each server's part,
/// then merge fabricated replies and replies taken from the input.
func checkSplit(_ kind: SplitKind, _ info: CommandInfo, _ request: UnsafeRawBufferPointer,
                _ args: [ArgumentSpan], _ keyServers: [Int], _ context: RunContext) {
    let replies = context.replies
    let step = kind == .allOK ? 2 : 1
    var partServers: [Int] = []
    for s in keyServers where !partServers.contains(s) { partServers.append(s) }

    // Each part's client key positions, and its command parsed back.
    var partPositions: [[Int]] = []
    guard let name = info.wireName else { check(false, "\(info.spec.name) split without a wire name"); return }
    let nameBytes = UnsafeRawBufferPointer(start: name.utf8Start, count: name.utf8CodeUnitCount)
    for serverIndex in partServers {
        let positions = keyServers.indices.filter { keyServers[$0] == serverIndex }
        partPositions.append(positions)
        let indices = positions.map { 1 + $0 * step }
        let out = context.out
        writeSplitCommand(name: name, args: args, request: request, indices: indices[...],
                          withValues: kind == .allOK, into: out)
        do {
            let buf = out.readable
            var p = RequestParser()
            check(p.parse(buf) == .request(length: buf.count), "split part does not parse whole")
            check(p.args.count == 1 + indices.count * step, "split part has \(p.args.count) arguments")
            check(equal(slice(buf, p.args[0]), nameBytes), "split part has another command name")
            for (k, i) in indices.enumerated() {
                for v in 0..<step {
                    check(equal(slice(buf, p.args[1 + k * step + v]), slice(request, args[i + v])),
                          "split part argument \(1 + k * step + v) differs from the request's \(i + v)")
                }
            }
        }
    }
    let keyCount = keyServers.count
    check(partPositions.reduce(0) { $0 + $1.count } == keyCount, "parts' key counts do not sum to \(keyCount)")

    let seed = mix(request)
    let parts = partServers.count
    let version: RESPVersion = seed & 1 == 0 ? .resp2 : .resp3
    // Parts answer in any order: rotate, and reverse on another bit of the seed.
    var order = (0..<parts).map { (Int(seed >> 2) % parts + $0) % parts }
    if seed & 2 != 0 { order.reverse() }
    let failMask = seed >> 8
    let failing: (Int) -> Bool = { part in part < 24 && (failMask >> UInt32(part)) & 1 == 1 }

    func key(_ position: Int) -> UnsafeRawBufferPointer { slice(request, args[1 + position * step]) }
    func errorReply(_ part: Int) -> [UInt8] { Array("-ERR part \(part) failed\r\n".utf8) }
    /// An MGET element a server could answer for the key at `position`: its own name as the
    /// value, or a nil for some keys (in the connection's protocol).
    func value(_ position: Int) -> [UInt8] {
        let k = key(position)
        if k.count % 3 == 0 { return Array((version == .resp3 ? "_\r\n" : "$-1\r\n").utf8) }
        return Array("$\(k.count)\r\n".utf8) + Array(k) + [13, 10]
    }
    func fabricatedReply(_ part: Int) -> [UInt8] {
        switch kind {
        case .values:
            var r = Array("*\(partPositions[part].count)\r\n".utf8)
            for p in partPositions[part] { r += value(p) }
            return r
        case .sum: return Array(":\(partPositions[part].count)\r\n".utf8)
        case .allOK: return Array("+OK\r\n".utf8)
        case .sameReply, .logicalAnd, .concat, .firstNonNull, .scanPage, .sumPairs, .maxInteger, .minInteger, .byServer, .gather:
            check(false, "\(kind) is sent to every server or one, never split by key")
            return []
        }
    }

    /// Merges with `reply(part)` for parts that answer and a failure for those in
    /// `failed`, in `order`; returns the merged reply (in the scratch buffer, valid until
    /// its next use), checked to be one whole reply.
    func merge(failed: (Int) -> Bool, reply: (Int) -> [UInt8]) -> UnsafeRawBufferPointer {
        let state = context.merge
        state.reset(kind: kind, keyCount: keyCount, parts: parts)
        if kind == .values {
            for (part, positions) in partPositions.enumerated() {
                for p in positions { state.assign(position: p, toPart: part) }
            }
        }
        var failures = 0
        for (k, part) in order.enumerated() {
            check(!state.isComplete, "merge complete before every part answered")
            if failed(part) {
                failures += 1
                // Both ways a part fails: the proxy's own error, or the server's.
                if k % 2 == 0 {
                    state.fail(part: part, error: errorReply(part))
                } else {
                    errorReply(part).withUnsafeBytes { state.apply(part: part, reply: $0) }
                }
            } else {
                reply(part).withUnsafeBytes { state.apply(part: part, reply: $0) }
            }
        }
        check(state.isComplete && state.outstanding == 0, "merge not complete after every part")
        check(state.failedParts >= failures, "merge counted \(state.failedParts) failed parts, not \(failures)")
        let out = context.out
        state.write(into: out, version: version)
        let merged = out.readable
        checkOneReply(merged, "merged \(info.spec.name) reply")
        if kind == .values, merged.first == UInt8(ascii: "*") {
            let header = Array("*\(keyCount)\r\n".utf8)
            check(merged.starts(with: header), "merged MGET reply has not \(keyCount) elements")
        }
        return merged
    }

    func expected(failed: (Int) -> Bool) -> [UInt8] {
        var partOf = [Int](repeating: 0, count: keyCount)
        for (part, positions) in partPositions.enumerated() { for p in positions { partOf[p] = part } }
        switch kind {
        case .values:
            var r = Array("*\(keyCount)\r\n".utf8)
            for p in 0..<keyCount {
                if failed(partOf[p]) {
                    r += Array((version == .resp3 ? "_\r\n" : "$-1\r\n").utf8)
                } else {
                    r += value(p)
                }
            }
            return r
        case .sum:
            let answered = (0..<parts).filter { !failed($0) }.reduce(0) { $0 + partPositions[$1].count }
            return Array(":\(answered)\r\n".utf8)
        case .allOK:
            if let first = order.first(where: failed) { return errorReply(first) }
            return Array("+OK\r\n".utf8)
        case .sameReply, .logicalAnd, .concat, .firstNonNull, .scanPage, .sumPairs, .maxInteger, .minInteger, .byServer, .gather:
            check(false, "\(kind) is sent to every server or one, never split by key")
            return []
        }
    }

    let noFailure: (Int) -> Bool = { _ in false }
    let all = merge(failed: noFailure, reply: fabricatedReply)
    check(all.elementsEqual(expected(failed: noFailure)), "merged \(info.spec.name) with every part answering is wrong")
    let some = merge(failed: failing, reply: fabricatedReply)
    check(some.elementsEqual(expected(failed: failing)), "merged \(info.spec.name) with failed parts is wrong")
    // Whatever servers answer, the client gets one well-formed reply. Part k gets the
    // input's reply k (from a seed-chosen start, wrapping around).
    if !replies.isEmpty {
        let base = Int(seed % UInt32(replies.count))
        _ = merge(failed: noFailure, reply: { replies[(base + $0) % replies.count] })
    }
}
