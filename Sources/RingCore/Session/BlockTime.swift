// How long a blocking command may block, read from its own arguments as Redis reads them:
// seconds (a decimal) last for BLPOP, BRPOP, BZPOPMIN, BZPOPMAX, BRPOPLPUSH and BLMOVE, first
// for BLMPOP and BZMPOP, milliseconds after BLOCK for XREAD and XREADGROUP. The proxy waits
// that long plus the pool's timeout before it gives up on the server, never less.

public enum BlockTime {
    /// Milliseconds the command may block; nil for "for ever" (0) or an argument Redis
    /// would refuse itself (it then answers at once, and the pool's timeout applies).
    public static func milliseconds(command: String, _ request: RequestView) -> Int? {
        let argc = request.count
        switch command {
        case "blpop", "brpop", "bzpopmin", "bzpopmax", "brpoplpush", "blmove":
            return argc >= 2 ? seconds(request.string(argc - 1)) : nil
        case "blmpop", "bzmpop":
            return argc >= 2 ? seconds(request.string(1)) : nil
        case "xread", "xreadgroup":
            var i = 1
            while i + 1 < argc {
                if request.argument(i, is: "streams") { return nil }
                if request.argument(i, is: "block") {
                    guard let ms = request.integer(i + 1), ms > 0 else { return nil }
                    return ms
                }
                i += 1
            }
            return nil
        default:
            return nil
        }
    }

    private static func seconds(_ text: String) -> Int? {
        guard let s = Double(text), s > 0, s.isFinite, s < Double(Int.max / 1000) else { return nil }
        return Int((s * 1000).rounded(.up))
    }
}
