// The proxy's one key finder: which arguments of a request are keys, and which are SORT
// patterns that name keys. The router places a request by exactly these (RoutePlanner) and
// COMMAND GETKEYS answers exactly these, so what GETKEYS says is how the proxy routes.
//
// Most commands' keys are where Redis's key spec puts them (KeyPositions). A few hide keys
// in options the spec cannot place: XREAD's STREAMS, PUBLISH's channel, SORT's STORE and
// BY/GET patterns, GEORADIUS's STORE/STOREDIST. Those are read here the way the Redis
// commands themselves read them (sortCommand, georadiusGetKeys), so the proxy never misses
// a key Redis would touch.

public enum RequestKeys {
    /// Calls `key` with the index of every key argument and `pattern` with the index of
    /// every SORT BY/GET pattern, in argument order. Returns the error Redis (or the proxy)
    /// answers a request whose keys cannot be found, nil otherwise.
    @inlinable
    public static func visit(_ spec: RedisCommandSpec, layout: KeyLayout, _ request: RequestView,
                             key: (Int) -> Void, pattern: (Int) -> Void) -> ProxyError? {
        let argc = request.count
        switch layout {
        case .spec:
            var keyCount: Int?
            if let kc = spec.keyCount {
                guard kc.countIndex < argc, let n = request.integer(kc.countIndex) else { return .notInteger }
                switch KeyPositions.validateKeyCount(spec, argc: argc, value: n) {
                case .failure(.badKeyCount): return .negativeKeyCount
                case .failure(.keyCountTooLarge): return .keyCountTooLarge
                case .success: keyCount = n
                }
            }
            KeyPositions.forEach(spec, argc: argc, keyCountValue: keyCount, key)
        case .channel:
            guard argc >= 2 else { return .syntax }
            key(1)
        case .afterStreams:
            // XREAD [COUNT n] [BLOCK ms] STREAMS key... id...; XREADGROUP GROUP g c [...] STREAMS ...
            var i = 1
            while i < argc && !request.argument(i, is: "streams") { i += 1 }
            let rest = argc - i - 1
            guard i < argc, rest > 0, rest % 2 == 0 else { return .syntax }
            for k in (i + 1)..<(i + 1 + rest / 2) { key(k) }
        case .sort:
            sortKeys(request, store: true, key: key, pattern: pattern)
        case .sortReadOnly:
            sortKeys(request, store: false, key: key, pattern: pattern)
        case .storeOption:
            // georadiusGetKeys: the key, and the last STORE or STOREDIST argument from index
            // 5 on (GEORADIUSBYMEMBER's first option; GEORADIUS's unit, never "store").
            key(1)
            var stored = -1
            var i = 5
            while i < argc {
                if i + 1 < argc && (request.argument(i, is: "store") || request.argument(i, is: "storedist")) {
                    stored = i + 1
                    i += 1
                }
                i += 1
            }
            if stored > 0 { key(stored) }
        }
        return nil
    }

    /// SORT key [BY pattern] [LIMIT offset count] [GET pattern ...] [ASC|DESC] [ALPHA]
    /// [STORE destination], parsed as sortCommand parses it: the last STORE is the
    /// destination, and parsing stops at the first word Redis would answer a syntax error
    /// (it then touches nothing, so nothing after it matters).
    @usableFromInline
    static func sortKeys(_ request: RequestView, store: Bool, key: (Int) -> Void, pattern: (Int) -> Void) {
        let argc = request.count
        key(1)
        var destination = -1
        var j = 2
        while j < argc {
            let left = argc - j - 1
            if request.argument(j, is: "asc") || request.argument(j, is: "desc") || request.argument(j, is: "alpha") {
                j += 1
            } else if request.argument(j, is: "limit") && left >= 2 {
                j += 3
            } else if store && request.argument(j, is: "store") && left >= 1 {
                destination = j + 1
                j += 2
            } else if (request.argument(j, is: "by") || request.argument(j, is: "get")) && left >= 1 {
                pattern(j + 1)
                j += 2
            } else {
                break
            }
        }
        if destination > 0 { key(destination) }
    }

    /// The indices of a request's keys, in argument order (COMMAND GETKEYS), or the error.
    public static func indices(_ spec: RedisCommandSpec, layout: KeyLayout, _ request: RequestView) -> Result<[Int], ProxyError> {
        var keys: [Int] = []
        if let error = visit(spec, layout: layout, request, key: { keys.append($0) }, pattern: { _ in }) {
            return .failure(error)
        }
        return .success(keys.sorted())
    }
}

/// Where the keys a SORT pattern names can live.
public enum PatternPlace: Equatable, Sendable {
    /// The pattern names no key: "#" (the element itself), or no "*" (Redis then reads
    /// nothing: BY without "*" means "do not sort", GET without "*" answers nil).
    case noKey
    /// Every key it can name is on this server (or -1: none is live).
    case server(Int)
    /// Its keys can be on any server.
    case anywhere
}

extension KeyPlacement {
    /// Where the keys formed from `pattern` live. Redis Cluster's rule (sortCommand with
    /// patternHashSlot, Redis 7.2) in terms of this pool: a pattern is placed only when the
    /// part that decides a key's place is fixed before the "*" that SORT replaces with an
    /// element: a complete, non-empty hash tag (`{user1}:*->name`), or a key_routes prefix.
    /// Anything else can name keys on every server, which only a one-server pool holds.
    public func place(sortPattern pattern: UnsafeRawBufferPointer) -> PatternPlace {
        guard let star = pattern.firstIndex(of: UInt8(ascii: "*")) else { return .noKey }
        let literal = UnsafeRawBufferPointer(rebasing: pattern[..<star])
        if singleServer { return .server(server(forKey: literal)) }
        if !routes.isEmpty {
            // A longer route prefix that starts with the literal part may match some formed
            // keys and not others; one the literal part starts with matches them all.
            if routes.hasPrefix(extending: literal) { return .anywhere }
            if let routed = routes.server(forKey: literal) { return .server(routed) }
        }
        guard let tag else { return .anywhere }
        // The formed key's first open character must be in the literal part, and the close
        // after it too, with something between them; else the element decides the tag.
        guard let open = literal.firstIndex(of: tag.open) else { return .anywhere }
        var close = open + 1
        while close < literal.count && literal[close] != tag.close { close += 1 }
        if close >= literal.count || close == open + 1 { return .anywhere }
        return .server(server(forHashedPart: UnsafeRawBufferPointer(rebasing: literal[(open + 1)..<close])))
    }

    /// The server of a key whose hashed part (its hash tag's content) is `part`.
    @inlinable
    public func server(forHashedPart part: UnsafeRawBufferPointer) -> Int {
        if singleServer { return ring.isEmpty ? -1 : Int(ring.owners[0]) }
        let h: UInt32 = part.isEmpty ? 0 : (hash == .fnv1a_64 ? Hashes.fnv1a_64(part) : hash.hash(part))
        return ring.server(forHash: h)
    }
}

extension KeyRoutes {
    /// Whether a route's prefix is longer than `literal` and starts with it.
    public func hasPrefix(extending literal: UnsafeRawBufferPointer) -> Bool {
        routes.contains { route in
            route.prefix.count > literal.count && literal.indices.allSatisfy { route.prefix[$0] == literal[$0] }
        }
    }
}
