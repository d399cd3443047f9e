// Administration replies gathered from every server and combined into the one reply a
// client of a single Redis would parse, each server's part tagged with the server's name
// where it says something about that server (the pool's name for it: "cache-1", or its
// host:port). Pure: MergeState keeps the parts' bytes and calls `merge` once all answered.
//
// - SLOWLOG GET [n]: every server's entries, newest first, at most n (Redis's default 10;
//   -1 all); each entry keeps Redis's six fields, the sixth (the client name, which for a
//   proxy's upstream connection says nothing) replaced by the server's name.
// - LATENCY LATEST: every server's events, each named "event@server".
// - LATENCY HISTORY event: every server's samples, oldest first (LATEST tells the servers
//   apart).
// - LATENCY HISTOGRAM: per command, calls and bucket counts added over the servers.
// - LATENCY DOCTOR, LATENCY GRAPH: each server's text under a "server:" heading.
// - MEMORY STATS: a map from server name to that server's own MEMORY STATS map.

public enum ServerMerge: Equatable, Sendable {
    case slowlogGet, latencyLatest, latencyHistory, latencyHistogram, latencyText, memoryStats
}

public enum ServerReplies {
    /// Redis's SLOWLOG GET default count.
    public static let defaultSlowlogCount = 10

    /// SLOWLOG GET's count argument as Redis reads it (-1: all); nil for anything else.
    public static func slowlogCount(_ request: RequestView) -> Int {
        guard request.count >= 3, let n = request.integer(2) else { return defaultSlowlogCount }
        return n
    }

    /// The combined reply; `parts` are the servers' whole replies with their names, in
    /// pool order. A part that cannot be parsed makes the reply an error.
    public static func merge(_ kind: ServerMerge, parts: [(name: String, reply: [UInt8])], count: Int,
                             version: RESPVersion) -> RESPValue {
        var values: [(String, RESPValue)] = []
        for p in parts {
            guard let v = RESPValue.parse(p.reply) else {
                return .error(Array("ERR ringproxy: malformed reply from server \(p.name)".utf8))
            }
            if case .error = v { return v }
            values.append((p.name, v))
        }
        switch kind {
        case .slowlogGet:
            var entries: [(ts: Int, id: Int, entry: [RESPValue])] = []
            for (name, v) in values {
                for e in v.elements ?? [] {
                    guard var fields = e.elements, fields.count >= 2 else { continue }
                    if fields.count >= 6 { fields[5] = .string(name) } else { fields.append(.string(name)) }
                    entries.append((ts: fields[1].integerValue ?? 0, id: fields[0].integerValue ?? 0, entry: fields))
                }
            }
            entries.sort { $0.ts != $1.ts ? $0.ts > $1.ts : $0.id > $1.id }
            let kept = count < 0 ? entries : Array(entries.prefix(count))
            return .array(kept.map { .array($0.entry) })
        case .latencyLatest:
            var out: [RESPValue] = []
            for (name, v) in values {
                for e in v.elements ?? [] {
                    guard var fields = e.elements, let event = fields.first?.text else { continue }
                    fields[0] = .string("\(event)@\(name)")
                    out.append(.array(fields))
                }
            }
            return .array(out)
        case .latencyHistory:
            var samples: [(Int, RESPValue)] = []
            for (_, v) in values {
                for e in v.elements ?? [] { samples.append((e.elements?.first?.integerValue ?? 0, e)) }
            }
            return .array(samples.enumerated().sorted { a, b in
                a.element.0 != b.element.0 ? a.element.0 < b.element.0 : a.offset < b.offset
            }.map { $0.element.1 })
        case .latencyHistogram:
            return values.dropFirst().reduce(values.first?.1 ?? .map([])) { sumMaps($0, $1.1) }
        case .latencyText:
            var text = ""
            for (name, v) in values { text += "\(name):\n\(v.text ?? "")\n" }
            return version == .resp3 ? .verbatim(format: Array("txt".utf8), text: Array(text.utf8)) : .string(text)
        case .memoryStats:
            return .map(values.flatMap { [RESPValue.string($0.0), $0.1] })
        }
    }

    /// Two maps (or RESP2 flat arrays) with integers added key by key, nested maps merged
    /// alike; keys of `b` that `a` lacks are appended.
    static func sumMaps(_ a: RESPValue, _ b: RESPValue) -> RESPValue {
        guard var left = a.elements, let right = b.elements else { return a }
        var i = 0
        while i + 1 < right.count {
            let key = right[i], value = right[i + 1]
            var j = 0
            while j + 1 < left.count && left[j] != key { j += 2 }
            if j + 1 < left.count {
                switch (left[j + 1], value) {
                case let (.integer(x), .integer(y)): left[j + 1] = .integer(x &+ y)
                case (.map, .map), (.array, .array): left[j + 1] = sumMaps(left[j + 1], value)
                default: break
                }
            } else {
                left.append(key)
                left.append(value)
            }
            i += 2
        }
        if case .map = a { return .map(left) }
        return .array(left)
    }
}

extension RESPValue {
    public var integerValue: Int? {
        if case let .integer(n) = self { return n }
        return nil
    }
}
