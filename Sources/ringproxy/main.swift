// ringproxy's command line. Flags follow nutcracker's where a service file may already pass
// them (-c, -t, -v, -o, -p, -s, -a, -V); everything else lives in the config file.

import RingConfig
import RingCore
import RingServer

#if canImport(Glibc)
import Glibc
#endif

let usage = """
Usage: ringproxy [options]

A Redis partitioning proxy that places keys exactly as twemproxy (nutcracker) does.

Options:
  -c, --config, --conf-file FILE  configuration file (default: conf/ringproxy.yml)
  -t, --test-conf                 check the configuration and exit
  -T, --threads N                 worker threads (default: the config's, else one per core)
  -v, --verbose N                 log level, nutcracker's scale 0..11 (default 5: notice)
  -o, --output FILE               log file (default: stderr)
  -p, --pid-file FILE             write the process id to FILE
  -s, --stats-port PORT           admin HTTP port: /metrics, /stats, /healthz, /readyz (default 22222)
  -a, --stats-addr ADDR           admin HTTP address (default 127.0.0.1)
  -V, --version                   print the version and exit
  -h, --help                      print this help and exit
"""

struct Options {
    var configPath = "conf/ringproxy.yml"
    var testOnly = false
    var threads: Int?
    var verbosity = 5
    var logFile: String?
    var pidFile: String?
    var statsPort: Int?
    var statsAddress: String?
}

func fail(_ message: String) -> Never {
    fputs("ringproxy: \(message)\n", stderr)
    exit(2)
}

func parseOptions(_ arguments: [String]) -> Options {
    var o = Options()
    var i = 0
    func value(_ flag: String, _ inline: String?) -> String {
        if let v = inline { return v }
        i += 1
        guard i < arguments.count else { fail("\(flag) needs a value (see --help)") }
        return arguments[i]
    }
    func integer(_ flag: String, _ text: String) -> Int {
        guard let n = Int(text) else { fail("\(flag) takes an integer, not '\(text)'") }
        return n
    }
    while i < arguments.count {
        var flag = arguments[i]
        var inline: String?
        if flag.hasPrefix("--"), let eq = flag.firstIndex(of: "=") {
            inline = String(flag[flag.index(after: eq)...])
            flag = String(flag[..<eq])
        } else if flag.hasPrefix("-") && !flag.hasPrefix("--") && flag.count > 2 {
            // nutcracker also accepts "-cFILE".
            inline = String(flag.dropFirst(2))
            flag = String(flag.prefix(2))
        }
        switch flag {
        case "-c", "--config", "--conf-file": o.configPath = value(flag, inline)
        case "-t", "--test-conf": o.testOnly = true
        case "-T", "--threads": o.threads = integer(flag, value(flag, inline))
        case "-v", "--verbose", "--verbosity": o.verbosity = integer(flag, value(flag, inline))
        case "-o", "--output": o.logFile = value(flag, inline)
        case "-p", "--pid-file": o.pidFile = value(flag, inline)
        case "-s", "--stats-port": o.statsPort = integer(flag, value(flag, inline))
        case "-a", "--stats-addr": o.statsAddress = value(flag, inline)
        case "-V", "--version":
            print("ringproxy \(RingProxyVersion.string)")
            exit(0)
        case "-h", "--help":
            print(usage)
            exit(0)
        default:
            fail("unknown option '\(arguments[i])' (see --help)")
        }
        i += 1
    }
    return o
}

let options = parseOptions(Array(CommandLine.arguments.dropFirst()))
let loaded: ProxyConfig
do {
    loaded = try ConfigLoader.load(path: options.configPath)
} catch {
    fputs("ringproxy: configuration error: \(error)\n", stderr)
    exit(1)
}
var config = loaded
if options.testOnly {
    for w in config.warnings { fputs("ringproxy: warning: \(w)\n", stderr) }
    print("ringproxy: configuration file '\(options.configPath)' syntax is ok (\(config.pools.count) pool(s))")
    exit(0)
}
guard Log.shared.configure(level: LogLevel(verbosity: options.verbosity), path: options.logFile) else {
    fail("cannot open log file '\(options.logFile ?? "")'")
}
for w in config.warnings { logWarn(w) }
if options.statsPort != nil || options.statsAddress != nil {
    // nutcracker's -s/-a: the admin listener (its port 22222 and our loopback default).
    config.admin = (options.statsAddress ?? config.admin?.host ?? "127.0.0.1", options.statsPort ?? config.admin?.port ?? 22222)
}
var threads = options.threads ?? config.threads
if threads == 0 { threads = ProxyServer.coreCount }

let server = ProxyServer(config: config, threads: threads)
do {
    try server.run {
        if let pidPath = options.pidFile {
            if let f = fopen(pidPath, "w") {
                fputs("\(getpid())\n", f)
                fclose(f)
            } else {
                logWarn("cannot write pid file \(pidPath)")
            }
        }
    }
} catch {
    logError("\(error)")
    exit(1)
}
if let pidPath = options.pidFile { unlink(pidPath) }
logNotice("stopped")
exit(0)
