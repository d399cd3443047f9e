// Administration answered from every server's (or one server's) reply at once: INFO
// merged with the proxy's own fields, CONFIG GET with the parameters the proxy overrides,
// and CONFIG SET/REWRITE/RESETSTAT answered OK only when every server did. A MergeState of
// kind `.gather` keeps each part's reply; this writes the one reply the client gets.

public enum GatherPlan: Equatable, Sendable {
    /// INFO: the servers' texts merged (InfoReport) with the proxy's sections.
    case info(InfoQuery, proxy: [InfoSection])
    /// CONFIG GET: one live server's parameters matching `patterns`, except those the proxy
    /// answers itself (`overrides`, already matched against the patterns).
    case configGet(overrides: [InfoField])
    /// CONFIG SET, REWRITE, RESETSTAT: +OK when every server said so, else the first
    /// error, naming its server (`servers` are the parts' names, in part order).
    case everyServerOK(servers: [String])

    /// The reply of every part (nil: none), the error bytes included.
    public func write(parts: [[UInt8]?], into out: ByteBuffer, version: RESPVersion) {
        switch self {
        case let .info(query, proxy):
            let texts = parts.compactMap { $0.flatMap(RESPText.bulkString) }.map(InfoReport.parse)
            let text = InfoReport.merge(servers: texts, proxy: proxy, query: query)
            if version == .resp3 {
                // Redis answers INFO with a verbatim string in RESP3.
                let bytes = Array(text.utf8)
                out.append(UInt8(ascii: "="))
                out.appendDecimal(bytes.count + 4)
                out.append("\r\ntxt:")
                out.append(bytes)
                out.append("\r\n")
            } else {
                out.appendBulk(string: text)
            }
        case let .configGet(overrides):
            guard let reply = parts.first ?? nil else { out.appendError("ERR no server answered CONFIG GET"); return }
            guard let pairs = RESPText.stringPairs(reply) else {
                out.append(reply)  // the server's error, or a shape the proxy passes on as it is
                return
            }
            let kept = pairs.filter { p in !overrides.contains { $0.name == p.name } } + overrides
            out.appendMapHeader(kept.count, version)
            for p in kept {
                out.appendBulk(string: p.name)
                out.appendBulk(string: p.value)
            }
        case let .everyServerOK(servers):
            for (i, reply) in parts.enumerated() {
                guard let r = reply, r.first != UInt8(ascii: "+") else { continue }
                let name = i < servers.count ? servers[i] : "server \(i)"
                var message = RESPText.errorMessage(r) ?? "ERR unexpected reply"
                if !message.contains(name) {
                    // Keep the error code first, so clients classify it as Redis's.
                    let code = message.prefix { $0 != " " }
                    message = "\(code) \(name): " + message.dropFirst(code.count).trimmingLeadingSpace()
                }
                out.appendError(message)
                return
            }
            out.append("+OK\r\n")
        }
    }
}

/// Reading the few reply shapes the gathered commands answer.
public enum RESPText {
    /// A bulk string ($) or verbatim string (=, its "txt:" prefix dropped) as text.
    public static func bulkString(_ reply: [UInt8]) -> String? {
        guard let type = reply.first, type == UInt8(ascii: "$") || type == UInt8(ascii: "="),
              let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              let n = Int(String(decoding: reply[1..<cr], as: UTF8.self)), n >= 0, cr + 2 + n <= reply.count else { return nil }
        var start = cr + 2
        if type == UInt8(ascii: "=") { start += min(4, n) }
        return String(decoding: reply[start..<(cr + 2 + n)], as: UTF8.self)
    }

    /// An error reply's message, without the dash and CRLF.
    public static func errorMessage(_ reply: [UInt8]) -> String? {
        guard reply.first == UInt8(ascii: "-") || reply.first == UInt8(ascii: "!") else { return nil }
        if reply.first == UInt8(ascii: "!") { return bulkString([UInt8(ascii: "$")] + reply.dropFirst()) }
        let end = reply.firstIndex(of: UInt8(ascii: "\r")) ?? reply.count
        return String(decoding: reply[1..<end], as: UTF8.self)
    }

    /// A flat array (RESP2) or map (RESP3) of bulk strings, as name/value pairs.
    public static func stringPairs(_ reply: [UInt8]) -> [InfoField]? {
        guard let type = reply.first, type == UInt8(ascii: "*") || type == UInt8(ascii: "%"),
              let cr = reply.firstIndex(of: UInt8(ascii: "\r")),
              var n = Int(String(decoding: reply[1..<cr], as: UTF8.self)), n >= 0 else { return nil }
        if type == UInt8(ascii: "*") {
            guard n % 2 == 0 else { return nil }
        } else {
            n *= 2
        }
        var strings: [String] = []
        var offset = cr + 2
        for _ in 0..<n {
            guard offset < reply.count, reply[offset] == UInt8(ascii: "$"),
                  let lineEnd = reply[offset...].firstIndex(of: UInt8(ascii: "\r")),
                  let len = Int(String(decoding: reply[(offset + 1)..<lineEnd], as: UTF8.self)), len >= 0,
                  lineEnd + 2 + len + 2 <= reply.count else { return nil }
            strings.append(String(decoding: reply[(lineEnd + 2)..<(lineEnd + 2 + len)], as: UTF8.self))
            offset = lineEnd + 2 + len + 2
        }
        return stride(from: 0, to: strings.count, by: 2).map { InfoField(strings[$0], strings[$0 + 1]) }
    }
}

extension Substring {
    func trimmingLeadingSpace() -> Substring {
        var s = self
        while s.first == " " { s = s.dropFirst() }
        return s
    }
}
