// MONITOR's line for one request, as Redis prints it (replicationFeedMonitors):
// +<seconds>.<microseconds> [<db> <addr>] "ARG" "arg"...\r\n, each argument quoted and
// escaped as sdscatrepr does, and credentials redacted as Redis 7.0 redacts them.

public enum MonitorLine {
    /// Whether Redis shows a command with these flags to monitors: administration and
    /// skip-monitor commands are never shown.
    @inlinable public static func shows(_ flags: CommandFlags) -> Bool {
        !flags.contains(.admin) && !flags.contains(.skipMonitor)
    }

    public static func write(_ request: RequestView, seconds: Int, microseconds: Int, db: Int, address: String,
                             into out: ByteBuffer) {
        out.append(UInt8(ascii: "+"))
        out.appendDecimal(seconds)
        out.append(UInt8(ascii: "."))
        var digits = 100_000
        while digits > 1 && microseconds < digits {
            out.append(UInt8(ascii: "0"))
            digits /= 10
        }
        out.appendDecimal(microseconds)
        out.append(" [")
        out.appendDecimal(db)
        out.append(UInt8(ascii: " "))
        out.append(string: address)
        out.append("] ")
        let redactFrom = redactedFrom(request)
        for i in 0..<request.count {
            if i > 0 { out.append(UInt8(ascii: " ")) }
            if let r = redactFrom, i >= r.start, i < r.end {
                out.append("\"(redacted)\"")
            } else {
                appendRepr(request[i], into: out)
            }
        }
        out.append("\r\n")
    }

    /// The arguments Redis hides: AUTH's, and HELLO's after its AUTH option.
    static func redactedFrom(_ request: RequestView) -> (start: Int, end: Int)? {
        if request.argument(0, is: "auth") { return (1, request.count) }
        if request.argument(0, is: "hello") {
            for i in 2..<max(2, request.count) where request.argument(i, is: "auth") { return (i + 1, min(i + 3, request.count)) }
        }
        return nil
    }

    /// sdscatrepr: quoted, with \\ \" \n \r \t \a \b escaped and other unprintable bytes as \xhh.
    public static func appendRepr(_ bytes: UnsafeRawBufferPointer, into out: ByteBuffer) {
        out.append(UInt8(ascii: "\""))
        let hex: [UInt8] = Array("0123456789abcdef".utf8)
        for b in bytes {
            switch b {
            case UInt8(ascii: "\\"): out.append("\\\\")
            case UInt8(ascii: "\""): out.append("\\\"")
            case 0x0a: out.append("\\n")
            case 0x0d: out.append("\\r")
            case 0x09: out.append("\\t")
            case 0x07: out.append("\\a")
            case 0x08: out.append("\\b")
            case 0x20...0x7e: out.append(b)
            default:
                out.append("\\x")
                out.append(hex[Int(b >> 4)])
                out.append(hex[Int(b & 0xf)])
            }
        }
        out.append(UInt8(ascii: "\""))
    }
}
