// The fuzz harness over RingCore: one input is run through everything the proxy does with
// bytes it does not control. It is a library (not part of the fuzz executable) so the unit
// tests can replay inputs the fuzzer found through exactly this code.
//
// The same bytes serve as a client's request stream and as a server's reply stream; RESP
// requests are valid RESP replies too, so a seed of either kind exercises both. An invariant
// that does not hold stops the process (fatalError), which libFuzzer reports as a crash and
// keeps the input.
//
// What is checked:
// - RequestParser and ReplyScanner give the same frames whether the bytes arrive at once,
//   in input-chosen chunks, or one byte at a time (both are meant to work on any split);
//   the parser also with limits small enough for short inputs to reach, which no request
//   may exceed. Each chunked read sees only the bytes that have arrived (see `Arrived`).
// - No frame is empty or longer than the bytes it was given (an empty frame would make the
//   proxy loop forever), and every argument lies inside its request.
// - Every request is re-encoded as RESP and parses back to the same arguments.
// - Command lookup agrees with a plain dictionary; key positions lie inside the request
//   and a validated key count is exactly the number of keys found.
// - Every request is planned by the proxy's own RoutePlanner in every pool: a forwarded
//   request's keys all live on its server, a split's plan matches each key's server, an
//   error is one whole reply. Keys route to a server index of their pool (or -1 when none
//   is live), in pools with
//   every hash function, both deterministic distributions, hash tags and ejected hosts.
// - A split command's parts parse back to exactly the original keys (and values), and the
//   parts' key counts sum to the original count.
// - Merging: with fabricated replies the merged reply is exactly what the client must get
//   (MGET in key order with nils for failed shards, DEL/EXISTS's sum of the answering
//   shards, MSET's +OK or the first failure); with replies taken from the input it is one
//   well-formed reply and MGET's has one element per key. One MergeState is reused through
//   `reset` for all merges of an input, as workers recycle theirs.

import RingCore

public enum FuzzHarness {
    /// Runs one input through every check. Returns normally when all hold.
    public static func run(_ input: UnsafeRawBufferPointer) {
        let context = RunContext(replies: checkReplyScanning(input))
        checkRequestParsing(input, context)
        checkSmallLimits(input)
    }

    public static func run(_ input: [UInt8]) {
        input.withUnsafeBytes { run($0) }
    }
}

/// What the checks of one input share: the whole replies found in it (fed to merges as
/// servers' answers), and one MergeState reused through `reset` for every merge, as
/// workers recycle theirs. Made afresh per input so no state leaks from one input to the
/// next (libFuzzer must be able to replay a crash from its input alone).
final class RunContext {
    let replies: [[UInt8]]
    let merge = MergeState(kind: .sum, keyCount: 0, parts: 0)
    /// Where re-encoded requests, split parts and merged replies are written, cleared before
    /// each use: allocating buffers per check costs more under ASan than the checks.
    let scratch = ByteBuffer(capacity: 4096)
    /// The production planner, as a worker holds one for all its clients.
    var planner = RoutePlanner(table: CommandTable.redis70)
    init(replies: [[UInt8]]) { self.replies = replies }

    /// `scratch`, emptied.
    var out: ByteBuffer { scratch.clear(); return scratch }
}

/// Stops the process when an invariant does not hold; the message says which.
@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant failed: \(message())") }
}

@inline(__always)
func slice(_ buf: UnsafeRawBufferPointer, _ span: ArgumentSpan) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: buf[span.offset..<(span.offset + span.count)])
}

func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && a.elementsEqual(b)
}

/// A cheap hash of some bytes, to derive choices (apply order, failing shards, RESP version)
/// from the input without reserving input bytes for them.
func mix(_ bytes: UnsafeRawBufferPointer) -> UInt32 { Hashes.fnv1a_32(bytes) }

/// Where each arrival ends when the input comes in chunks whose sizes the input itself
/// chooses (1 to `maxChunk` bytes, read from the input at positions that depend on `salt`).
/// Long inputs get proportionally larger chunks (about a hundred arrivals at most): every
/// arrival re-parses the request in progress, and the fuzzer must stay fast.
func arrivals(_ input: UnsafeRawBufferPointer, salt: Int, maxChunk: Int) -> [Int] {
    let n = input.count
    let maxChunk = Swift.max(maxChunk, n / 48)
    var ends: [Int] = []
    var pos = 0
    var k = 0
    while pos < n {
        let b = Int(input[(k &* 31 &+ salt) % n])
        pos = Swift.min(n, pos + 1 + b % maxChunk)
        ends.append(pos)
        k += 1
    }
    return ends
}

/// The bytes `start..<end` of the input (what has arrived and is not yet consumed) in a
/// heap block of exactly that size. In a release build Swift does not bounds-check unsafe
/// buffer subscripts, so a read past what has arrived (or before the buffer's start) would
/// go unnoticed inside the whole input; here it runs into ASan's redzone. When everything
/// has arrived no copy is needed: libFuzzer passes the input in a block of exactly its size.
struct Arrived {
    let bytes: UnsafeRawBufferPointer
    private let block: UnsafeMutableRawBufferPointer?

    init(_ input: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        if end == input.count {
            bytes = UnsafeRawBufferPointer(rebasing: input[start..<end])
            block = nil
        } else {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: end - start, alignment: 1)
            b.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[start..<end]))
            bytes = UnsafeRawBufferPointer(b)
            block = b
        }
    }

    func release() { block?.deallocate() }
}

/// One byte per arrival: the hardest split. Kept to small inputs, as the request parser
/// re-parses an incomplete request from its first byte on every arrival.
func byteByByte(_ n: Int) -> [Int] { Array(Swift.stride(from: 1, through: n, by: 1)) }

// MARK: reply scanning

struct ReplyOutcome: Equatable {
    var lengths: [Int] = []
    var error: String?
    /// Bytes taken by whole replies; the rest is an incomplete reply (or the error's).
    var consumed = 0
}

/// Scans `input` as an upstream connection does: the bytes up to each arrival end are in
/// the buffer, and each scan gets the buffer from the current reply's first byte.
func scanReplies(_ input: UnsafeRawBufferPointer, arrivals: [Int]) -> ReplyOutcome {
    var scanner = ReplyScanner()
    var outcome = ReplyOutcome()
    var start = 0
    for available in arrivals {
        scanning: while start < available {
            let arrived = Arrived(input, start, available)
            defer { arrived.release() }
            let rest = arrived.bytes
            switch scanner.scan(rest) {
            case let .reply(length):
                check(length > 0 && length <= rest.count, "reply length \(length) of \(rest.count) bytes")
                outcome.lengths.append(length)
                start += length
            case .incomplete:
                break scanning  // wait for more bytes; the scanner keeps its place
            case let .error(message):
                outcome.error = message
                outcome.consumed = start
                return outcome
            }
        }
    }
    outcome.consumed = start
    return outcome
}

/// Returns the whole replies found in `input` (one-shot), for the merge checks.
func checkReplyScanning(_ input: UnsafeRawBufferPointer) -> [[UInt8]] {
    guard input.count > 0 else { return [] }
    let once = scanReplies(input, arrivals: [input.count])
    for salt in [0, 7] {
        let chunked = scanReplies(input, arrivals: arrivals(input, salt: salt, maxChunk: salt == 0 ? 16 : 300))
        check(chunked == once, "chunked reply scan \(chunked) differs from one-shot \(once)")
    }
    if input.count <= 512 {
        let single = scanReplies(input, arrivals: byteByByte(input.count))
        check(single == once, "byte-by-byte reply scan \(single) differs from one-shot \(once)")
    }
    var replies: [[UInt8]] = []
    var p = 0
    for length in once.lengths {
        replies.append(Array(input[p..<(p + length)]))
        p += length
    }
    return replies
}

// MARK: request parsing

enum Frame: Equatable {
    /// `args` are where the arguments lie in the whole input: the same spans mean the same
    /// bytes, and comparing them costs no copies.
    case request(args: [ArgumentSpan], inline: Bool, length: Int)
    case skip(Int)
    case error(String)
}

struct ParseOutcome: Equatable {
    var frames: [Frame] = []
    var consumed = 0
}

/// Parses `input` as a client session does (see ClientSession.process): on `.incomplete`
/// the same request is parsed again from its first byte once more bytes have arrived.
/// `onRequest` gets each whole request and the parser that framed it.
func parseRequests(_ input: UnsafeRawBufferPointer, arrivals: [Int], limits: RequestLimits = RequestLimits(),
                   onRequest: ((UnsafeRawBufferPointer, RequestParser) -> Void)? = nil) -> ParseOutcome {
    var parser = RequestParser(limits: limits)
    var outcome = ParseOutcome()
    var start = 0
    for available in arrivals {
        framing: while start < available {
            let arrived = Arrived(input, start, available)
            defer { arrived.release() }
            let rest = arrived.bytes
            switch parser.parse(rest) {
            case let .request(length):
                check(length > 0 && length <= rest.count, "request length \(length) of \(rest.count) bytes")
                check(!parser.args.isEmpty, "a request without arguments")
                for a in parser.args {
                    check(a.offset >= 0 && a.count >= 0 && a.offset + a.count <= length,
                          "argument \(a) outside the request of \(length) bytes")
                }
                let request = UnsafeRawBufferPointer(rebasing: rest[0..<length])
                outcome.frames.append(.request(args: parser.args.map { ArgumentSpan(offset: start + $0.offset, count: $0.count) },
                                               inline: parser.wasInline, length: length))
                onRequest?(request, parser)
                start += length
            case let .skip(length):
                check(length > 0 && length <= rest.count, "skip length \(length) of \(rest.count) bytes")
                outcome.frames.append(.skip(length))
                start += length
            case .incomplete:
                break framing
            case let .error(message):
                outcome.frames.append(.error(message))
                outcome.consumed = start
                return outcome
            }
        }
    }
    outcome.consumed = start
    return outcome
}

func checkRequestParsing(_ input: UnsafeRawBufferPointer, _ context: RunContext) {
    guard input.count > 0 else { return }
    let once = parseRequests(input, arrivals: [input.count]) { request, parser in
        checkRequest(request, parser, context)
    }
    for salt in [3, 11] {
        let chunked = parseRequests(input, arrivals: arrivals(input, salt: salt, maxChunk: salt == 3 ? 16 : 300))
        check(chunked == once, "chunked request parse \(chunked) differs from one-shot \(once)")
    }
    if input.count <= 256 {
        let single = parseRequests(input, arrivals: byteByByte(input.count))
        check(single == once, "byte-by-byte request parse \(single) differs from one-shot \(once)")
    }
}

/// Limits small enough that inputs of a few KiB reach them (the defaults are 64 KiB inline,
/// 512 MB bulk, 1M arguments): the same chunking check, and no request exceeds them.
let smallLimits = RequestLimits(bulkLength: 40, argumentCount: 6, inlineLength: 24)

func checkSmallLimits(_ input: UnsafeRawBufferPointer) {
    guard input.count > 0 else { return }
    let once = parseRequests(input, arrivals: [input.count], limits: smallLimits) { request, parser in
        if parser.wasInline {
            // Only the line's length is limited (as in Redis); it may end in CR LF after
            // `inlineLength` bytes.
            check(request.count <= smallLimits.inlineLength + 2, "inline request of \(request.count) bytes over the limit")
        } else {
            check(parser.args.count <= smallLimits.argumentCount, "\(parser.args.count) arguments over the limit")
            for a in parser.args { check(a.count <= smallLimits.bulkLength, "argument of \(a.count) bytes over the limit") }
        }
    }
    let chunked = parseRequests(input, arrivals: arrivals(input, salt: 5, maxChunk: 8), limits: smallLimits)
    check(chunked == once, "chunked request parse (small limits) \(chunked) differs from one-shot \(once)")
    if input.count <= 128 {
        let single = parseRequests(input, arrivals: byteByByte(input.count), limits: smallLimits)
        check(single == once, "byte-by-byte request parse (small limits) \(single) differs from one-shot \(once)")
    }
}

// MARK: one request: lookup, keys, routing, split and merge

/// Lower-cased command name -> index in the table, to check the table's own hash lookup.
let commandsByName: [[UInt8]: Int] = {
    var d: [[UInt8]: Int] = [:]
    for c in CommandTable.redis70.commands { d[Array(c.spec.name.utf8)] = c.index }
    return d
}()

func checkRequest(_ request: UnsafeRawBufferPointer, _ parser: RequestParser, _ context: RunContext) {
    let args = parser.args
    let argc = args.count

    // Re-encoding (done for inline requests before they go to a server) keeps every argument.
    let encoded = context.out
    writeRequest(args: args, request: request, into: encoded)
    do {
        let buf = encoded.readable
        var p = RequestParser()
        check(p.parse(buf) == .request(length: buf.count), "re-encoded request does not parse whole")
        check(p.args.count == argc && !p.wasInline, "re-encoded request has \(p.args.count) arguments, not \(argc)")
        for i in 0..<argc {
            check(equal(slice(buf, p.args[i]), slice(request, args[i])), "re-encoded argument \(i) differs")
        }
    }

    // Integers as Redis reads them: compare with the standard library's parser (which
    // also takes a leading "+"; Redis does not).
    for a in args where a.count <= 19 {
        let bytes = slice(request, a)
        if bytes.first == UInt8(ascii: "+") { continue }
        let reference = Int(String(decoding: bytes, as: UTF8.self))
        let ascii = bytes.allSatisfy { $0 < 0x80 }
        if ascii { check(parseInteger(bytes) == reference, "parseInteger disagrees with Int() on \(Array(bytes))") }
    }

    let table = CommandTable.redis70
    let name = slice(request, args[0])
    let found = table.lookup(name)
    let expected = name.count <= 32 ? commandsByName[ASCII.lowercased(name)] : nil
    check(found?.index == expected, "lookup found \(String(describing: found?.spec.name)), expected index \(String(describing: expected))")
    let view = RequestView(bytes: request, args: args, isInline: parser.wasInline)
    let state = SessionState(id: 1, authenticated: true)
    guard let info = found else {
        let decision = context.planner.plan(view, state: state, pool: FuzzPools.all[0].policy,
                                            placement: FuzzPools.all[0].placement)
        guard case .reject(.unknownCommand) = decision else { check(false, "unknown command planned as \(decision)"); return }
        return
    }
    if info.spec.arityAccepts(argc) { checkMissReply(info.miss, argc: argc, context) }

    if info.spec.hasSubcommands, argc >= 2, let sub = table.lookup(container: info.spec.name, sub: slice(request, args[1])) {
        check(sub.spec.name.hasPrefix(info.spec.name + "|"), "subcommand \(sub.spec.name) of \(info.spec.name)")
        if sub.spec.arityAccepts(argc) { checkMissReply(sub.miss, argc: argc, context) }
    }

    // Every pool plans the request with the proxy's own RoutePlanner. Writing split parts
    // and merging (the costly part) is done for two of the pools where the keys land on
    // several servers, chosen by the request's bytes, to keep the fuzzer fast.
    var splitting: [[Int]] = []
    for pool in FuzzPools.all {
        let decision = context.planner.plan(view, state: state, pool: pool.policy, placement: pool.placement)
        switch decision {
        case let .forward(server, command, miss):
            check(server >= 0 && server < pool.serverCount, "forwarded to server \(server) of \(pool.serverCount)")
            check(command == info.index, "forward names command \(command), not \(info.index)")
            checkMissReply(miss, argc: argc, context)
            checkForwardedKeys(info, view, server: server, pool)
        case let .split(kind, command):
            check(info.route == .split(kind) && command == info.index, "\(info.spec.name) split as \(kind)")
            let keyServers = context.planner.keyServers
            check(keyServers.count == (argc - 1) / kind.argumentsPerKey, "split planned \(keyServers.count) keys")
            for (position, s) in keyServers.enumerated() {
                check(pool.route(slice(request, args[1 + position * kind.argumentsPerKey])) == s,
                      "split key \(position) planned on server \(s)")
            }
            check(Set(keyServers) == Set(context.planner.partServers) && context.planner.partServers.count > 1,
                  "split with parts \(context.planner.partServers) for keys \(keyServers)")
            splitting.append(keyServers)
        case let .local(command, _):
            check(info.route == .local(command), "\(info.spec.name) answered locally as \(command)")
        case let .reject(error):
            let out = context.out
            out.appendError(error.message)
            checkOneReply(out.readable, "error reply for \(error)")
        }
    }
    guard case let .split(kind) = info.route, !splitting.isEmpty else { return }
    let seed = Int(mix(request) >> 4)
    let first = seed % splitting.count
    checkSplit(kind, info, request, args, splitting[first], context)
    if splitting.count > 1 {
        let second = (first + 1 + (seed >> 8) % (splitting.count - 1)) % splitting.count
        checkSplit(kind, info, request, args, splitting[second], context)
    }
}

func checkMissReply(_ miss: MissReply, argc: Int, _ context: RunContext) {
    for version in [RESPVersion.resp2, .resp3] {
        let out = context.out
        if miss.write(into: out, version: version, argumentCount: argc) {
            checkOneReply(out.readable, "miss reply \(miss)")
        } else {
            check(out.isEmpty, "a refused miss reply wrote bytes")
        }
    }
}

/// `bytes` must be exactly one whole reply.
func checkOneReply(_ bytes: UnsafeRawBufferPointer, _ what: @autoclosure () -> String) {
    var scanner = ReplyScanner()
    let result = scanner.scan(bytes)
    check(result == .reply(length: bytes.count), "\(what()) is not one whole reply: \(result) for \(bytes.count) bytes")
}

/// A request the planner sent whole to `server`: its key positions are consistent with the
/// command's key spec, and every key lives on that server.
func checkForwardedKeys(_ info: CommandInfo, _ request: RequestView, server: Int, _ pool: FuzzPool) {
    var spec = info.spec
    if spec.hasSubcommands, let sub = CommandTable.redis70.lookup(container: spec.name, sub: request[1]) { spec = sub.spec }
    let argc = request.count
    var keyCount: Int?
    if let kc = spec.keyCount {
        guard let n = request.integer(kc.countIndex), case let .success(v) = KeyPositions.validateKeyCount(spec, argc: argc, value: n)
        else { check(false, "\(spec.name) forwarded with an invalid key count"); return }
        check(v == n, "validateKeyCount changed \(n) to \(v)")
        keyCount = n
    }
    var keys: [Int] = []
    KeyPositions.forEach(spec, argc: argc, keyCountValue: keyCount) { keys.append($0) }
    var fixedKeys = 0
    KeyPositions.forEach(spec, argc: argc, keyCountValue: nil) { _ in fixedKeys += 1 }
    if let n = keyCount {
        check(keys.count - fixedKeys == n, "\(spec.name): count says \(n) keys, found \(keys.count - fixedKeys)")
    }
    check(!keys.isEmpty, "\(spec.name) forwarded without keys")
    var previous = 0
    for i in keys {
        check(i > previous && i < argc, "\(spec.name): key index \(i) after \(previous), argc \(argc)")
        check(i != spec.keyCount?.countIndex, "\(spec.name): the key count taken as a key")
        check(pool.route(request[i]) == server, "\(spec.name): key \(i) does not live on server \(server)")
        previous = i
    }
}

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
