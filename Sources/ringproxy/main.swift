// ringproxy's command line: reads the options (LaunchOptions, nutcracker's flags), loads the
// config and runs the server. Everything else lives in the config file and the libraries;
// this file must never hold proxy logic.

import RingConfig
import RingCore
import RingServer

#if canImport(Glibc)
import Glibc
#endif

func fail(_ message: String, status: Int32) -> Never {
    fputs("ringproxy: \(message)\n", stderr)
    exit(status)
}

let options: LaunchOptions
switch LaunchOptions.parse(Array(CommandLine.arguments.dropFirst())) {
case let .success(parsed): options = parsed
case let .failure(error): fail("\(error) (see --help)", status: 2)
}
if options.showVersion { print("ringproxy \(RingProxyVersion.string)") }
if options.showHelp { print(LaunchOptions.usage) }
if options.describeStats { print(StatsDescription.text) }
if options.showVersion || options.showHelp || options.describeStats { exit(0) }
for notice in options.notices { fputs("ringproxy: \(notice)\n", stderr) }

if options.testOnly {
    let check = ConfigCheck.run(path: options.configPath, running: options.diffAgainst)
    for line in check.errors { fputs(line + "\n", stderr) }
    for line in check.output { print(line) }
    exit(check.status)
}

var config: ProxyConfig
do {
    config = try ConfigLoader.load(path: options.configPath)
} catch {
    fail("configuration error: \(error)", status: 1)
}
guard Log.shared.configure(level: LogLevel(verbosity: options.verbosity), path: options.logFile) else {
    fail("cannot open log file '\(options.logFile ?? "")'", status: 2)
}
for w in config.warnings { logWarn(w) }
// nutcracker's -s/-a: the admin listener (its port 22222 and our loopback default); applied
// to the file again at each reload.
let commandLine: @Sendable (inout ProxyConfig) -> Void = { [statsAddress = options.statsAddress, statsPort = options.statsPort] c in
    guard statsPort != nil || statsAddress != nil else { return }
    c.admin = (statsAddress ?? c.admin?.host ?? "127.0.0.1", statsPort ?? c.admin?.port ?? 22222)
}
commandLine(&config)
var threads = options.threads ?? config.threads
if threads == 0 { threads = ProxyServer.coreCount }

// -d: fork now, while no loop or thread exists; this process exits once the daemon serves.
var readiness: DaemonReadiness?
if options.daemonize {
    guard let r = Daemon.detach(keeping: Log.shared.fileDescriptor.map { [$0] } ?? []) else { exit(1) }
    readiness = r
}

let server = ProxyServer(config: config, threads: threads, path: options.configPath, commandLine: commandLine)
server.takeoverPath = options.takeoverSocket
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
        readiness?.ready()
    }
} catch {
    logError("\(error)")
    exit(1)
}
// After a binary upgrade the file names the successor: it is removed only while it names us.
if let pidPath = options.pidFile, let f = fopen(pidPath, "r") {
    var pid: Int32 = 0
    let named = withUnsafeMutablePointer(to: &pid) { p in withVaList([p]) { vfscanf(f, "%d", $0) } }
    fclose(f)
    if named == 1 && pid == getpid() { unlink(pidPath) }
}
logNotice("stopped")
exit(0)
