// Per-request checks of the fuzz harness: command lookup, key positions, and the
// production RoutePlanner's decision in every fuzz pool.

import RingCore

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
        case let .block(server, command):
            check(info.blocks && command == info.index, "\(info.spec.name) planned as blocking")
            check(server >= 0 && server < pool.serverCount, "blocking on server \(server) of \(pool.serverCount)")
        case let .broadcast(kind, command, _):
            check(command == info.index, "\(info.spec.name) broadcast as \(kind)")
        case let .subscription(command, _):
            check(info.route == .subscription(command), "\(info.spec.name) planned as \(command)")
        case let .scan(cursor, command):
            check(info.route == .scan && command == info.index, "\(info.spec.name) planned as SCAN")
            check(cursor.server >= 0 && cursor.server < pool.serverCount, "SCAN on server \(cursor.server) of \(pool.serverCount)")
            // The cursor the proxy would hand out for this position decodes to it again.
            if let value = cursor.encoded(serverCount: pool.serverCount) {
                check(ScanCursor.decode(value, serverCount: pool.serverCount) == .success(cursor), "SCAN cursor \(value) round trip")
            }
        case let .transaction(command, server, _):
            check(info.route == .transaction(command), "\(info.spec.name) planned as \(command)")
            if let s = server { check(s >= 0 && s < pool.serverCount, "WATCH on server \(s)") }
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
    if info.keyLayout != .spec {
        guard case let .success(keys) = RequestKeys.indices(info.spec, layout: info.keyLayout, request), !keys.isEmpty
        else { check(false, "\(info.spec.name) forwarded without keys"); return }
        for i in keys { check(pool.route(request[i]) == server, "\(info.spec.name): key \(i) does not live on server \(server)") }
        return
    }
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
