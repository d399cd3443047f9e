// ringproxy's command line as a pure function from arguments to options, read the way
// nutcracker's getopt_long reads them (combined short flags, -cFILE, --long=value, unique
// long prefixes). It never prints, exits or touches a file: main.swift does.

public struct LaunchOptions: Equatable, Sendable {
    public var configPath = "conf/ringproxy.yml"
    public var testOnly = false
    /// `--diff FILE` (with -t): the running config file to list the new one's changes against.
    public var diffAgainst: String?
    public var threads: Int?
    public var verbosity = 5
    public var logFile: String?
    public var pidFile: String?
    public var statsPort: Int?
    public var statsAddress: String?
    public var daemonize = false
    public var showHelp = false
    public var showVersion = false
    public var describeStats = false
    /// `--takeover-socket PATH`: the unix socket a successor takes the listeners over from.
    public var takeoverSocket: String?
    /// One line each for stderr: options accepted for nutcracker's sake that do nothing here.
    public var notices: [String] = []

    public init() {}

    /// A unix socket's path fits sockaddr_un's 108 bytes with its terminating zero.
    public static let maxSocketPathBytes = 107

    /// Every option, in `usage` order. Long names after the first are aliases.
    static let table: [Option] = [
        Option("c", ["conf-file", "config"], value: "FILE", "configuration file (default: conf/ringproxy.yml)") { $0.configPath = $1 },
        Option("t", ["test-conf"], "check the configuration and exit") { o, _ in o.testOnly = true },
        // Long only: nutcracker has no such flag, and a letter of its own could clash with one
        // nutcracker adds.
        Option(nil, ["diff"], value: "FILE", "with -t: what a reload from the running FILE would change") {
            $0.diffAgainst = $1
        },
        Option("T", ["threads"], value: "N", "worker threads (default: the config's, else one per core)") {
            $0.threads = try integer("-T", $1, 0...1024)
        },
        Option("v", ["verbose", "verbosity"], value: "N", "log level, nutcracker's scale 0..11 (default 5: notice)") {
            $0.verbosity = try integer("-v", $1, 0...Int.max)
        },
        Option("o", ["output"], value: "FILE", "log file (default: stderr)") { $0.logFile = $1 },
        Option("p", ["pid-file"], value: "FILE", "write the process id to FILE (removed at exit)") { $0.pidFile = $1 },
        Option("s", ["stats-port"], value: "PORT", "admin HTTP port: /metrics, /stats, /healthz, /readyz (default 22222)") {
            $0.statsPort = try integer("-s", $1, 1...65535)
        },
        Option("a", ["stats-addr"], value: "ADDR", "admin HTTP address (default 127.0.0.1)") { $0.statsAddress = $1 },
        Option("d", ["daemonize"], "run in the background; returns once listening (exit 0) or failed (exit 1)") { o, _ in
            o.daemonize = true
        },
        Option("D", ["describe-stats"], "print what each stats field means and exit") { o, _ in o.describeStats = true },
        Option("i", ["stats-interval"], value: "MS", "accepted for nutcracker, ignored: stats are summed when read") {
            _ = try integer("-i", $1, 0...Int.max)
            $0.notices.append("-i (stats interval) is ignored: stats are summed when read, never aggregated on an interval")
        },
        Option("m", ["mbuf-size"], value: "BYTES", "accepted for nutcracker, ignored: buffers grow as requests need") {
            _ = try integer("-m", $1, 0...Int.max)
            $0.notices.append("-m (mbuf size) is ignored: ringproxy's buffers grow as requests need")
        },
        // Long only, like --diff: nutcracker has no binary upgrade.
        Option(nil, ["takeover-socket"], value: "PATH", "serve upgrades at PATH; if a ringproxy serves there, take over from it") {
            guard !$1.isEmpty, $1.utf8.count <= LaunchOptions.maxSocketPathBytes else {
                throw LaunchOptionsError("--takeover-socket needs a path of 1 to \(LaunchOptions.maxSocketPathBytes) bytes")
            }
            $0.takeoverSocket = $1
        },
        Option("V", ["version"], "print the version and exit") { o, _ in o.showVersion = true },
        Option("h", ["help"], "print this help and exit") { o, _ in o.showHelp = true },
        // nutcracker's usage lists -? for help too.
        Option("?", [], "") { o, _ in o.showHelp = true },
    ]

    public static var usage: String {
        var lines = [
            "Usage: ringproxy [options]",
            "",
            "A Redis partitioning proxy that places keys exactly as twemproxy (nutcracker) does.",
            "",
            "Options:",
        ]
        for option in table where !option.long.isEmpty {
            var names = (option.short.map { "-\($0), " } ?? "    ") + option.long.map { "--" + $0 }.joined(separator: ", ")
            if let v = option.value { names += " \(v)" }
            lines.append("  " + names.padding(to: 34) + option.help)
        }
        lines += [
            "",
            "Short flags combine as nutcracker's do (-tc FILE, -dv 6); values may follow at once",
            "(-cFILE) or after '=' (--conf-file=FILE); a long name may be shortened while unique.",
            "-t --diff RUNNING -c NEW checks NEW as a reload would and lists what it would change.",
            "With -d, log to a file (-o): the daemon's stderr is closed once it listens.",
        ]
        return lines.joined(separator: "\n")
    }

    /// Reads `arguments` (without the program name). Errors name the offending argument.
    public static func parse(_ arguments: [String]) -> Result<LaunchOptions, LaunchOptionsError> {
        var options = LaunchOptions()
        var i = 0
        func nextValue(for name: String) throws -> String {
            guard i < arguments.count else { throw LaunchOptionsError("option \(name) needs a value") }
            i += 1
            return arguments[i - 1]
        }
        do {
            while i < arguments.count {
                let argument = arguments[i]
                i += 1
                if argument == "--" {
                    if i < arguments.count { throw LaunchOptionsError("unexpected argument '\(arguments[i])'") }
                    break
                }
                if argument.hasPrefix("--") {
                    var name = String(argument.dropFirst(2))
                    var inline: String?
                    if let eq = name.firstIndex(of: "=") {
                        inline = String(name[name.index(after: eq)...])
                        name = String(name[..<eq])
                    }
                    let option = try longOption(name)
                    if option.value == nil {
                        if inline != nil { throw LaunchOptionsError("option '--\(name)' takes no value") }
                        try option.apply(&options, "")
                    } else {
                        try option.apply(&options, try inline ?? nextValue(for: "'--\(name)'"))
                    }
                } else if argument.hasPrefix("-") && argument.count > 1 {
                    // getopt: flags combine until one that takes a value, which takes the
                    // rest of the argument, or else the next argument.
                    var rest = Substring(argument.dropFirst())
                    while let flag = rest.first {
                        rest = rest.dropFirst()
                        guard let option = table.first(where: { $0.short == flag }) else {
                            let inArgument = argument.count > 2 ? " (in '\(argument)')" : ""
                            throw LaunchOptionsError("unknown option '-\(flag)'\(inArgument)")
                        }
                        if option.value == nil {
                            try option.apply(&options, "")
                        } else {
                            try option.apply(&options, rest.isEmpty ? try nextValue(for: "-\(flag)") : String(rest))
                            break
                        }
                    }
                } else {
                    throw LaunchOptionsError("unexpected argument '\(argument)'")
                }
            }
        } catch let e as LaunchOptionsError {
            return .failure(e)
        } catch {
            return .failure(LaunchOptionsError("\(error)"))
        }
        if options.diffAgainst != nil && !options.testOnly {
            return .failure(LaunchOptionsError("--diff goes with -t: it lists what the file -t checks would change"))
        }
        return .success(options)
    }

    /// An exact long name, or a prefix of only one option's names (as getopt_long allows).
    static func longOption(_ name: String) throws -> Option {
        if let exact = table.first(where: { $0.long.contains(name) }) { return exact }
        let candidates = name.isEmpty ? [] : table.filter { $0.long.contains { $0.hasPrefix(name) } }
        if candidates.count == 1 { return candidates[0] }
        if candidates.isEmpty { throw LaunchOptionsError("unknown option '--\(name)'") }
        let names = candidates.map { "--" + $0.long[0] }.joined(separator: ", ")
        throw LaunchOptionsError("option '--\(name)' is ambiguous (\(names))")
    }

    static func integer(_ flag: String, _ text: String, _ range: ClosedRange<Int>) throws -> Int {
        guard let n = Int(text) else { throw LaunchOptionsError("\(flag) takes an integer, not '\(text)'") }
        guard range.contains(n) else {
            throw LaunchOptionsError("\(flag) must be between \(range.lowerBound) and \(range.upperBound), not \(n)")
        }
        return n
    }

    struct Option {
        /// nil: a long name only.
        let short: Character?
        let long: [String]
        /// The value's name in `usage`; nil for a flag without a value.
        let value: String?
        let help: String
        let apply: (inout LaunchOptions, String) throws -> Void

        init(_ short: Character?, _ long: [String], value: String? = nil, _ help: String,
             _ apply: @escaping (inout LaunchOptions, String) throws -> Void) {
            self.short = short
            self.long = long
            self.value = value
            self.help = help
            self.apply = apply
        }
    }
}

public struct LaunchOptionsError: Error, Equatable, CustomStringConvertible {
    public let message: String
    init(_ message: String) { self.message = message }
    public var description: String { message }
}

extension String {
    fileprivate func padding(to width: Int) -> String {
        count >= width ? self + " " : self + String(repeating: " ", count: width - count)
    }
}
