// Masters with one replica each (`--replicaof`), linked before a test uses them, and what
// the tests ask of a server directly: redis-cli, and its own count of a command's calls.

import Foundation
import XCTest

final class ReplicaGroups {
    let masters: [RedisServer]
    let replicas: [RedisServer]

    /// `count` masters, each with a replica whose link is up within `limitSeconds`.
    init(count: Int, limitSeconds: Double) throws {
        masters = try (0..<count).map { _ in try RedisServer() }
        replicas = try masters.map { try RedisServer(extraArgs: ["--replicaof", "127.0.0.1", "\($0.port)"]) }
        let linked = Date().addingTimeInterval(limitSeconds)
        while replicas.contains(where: { !redisCLI($0.port, "INFO", "replication").contains("master_link_status:up") })
            && Date() < linked { usleep(100_000) }
    }

    func stop() { for r in masters + replicas { r.stop() } }
}

/// redis-cli against the server on `port`, its stdout.
func redisCLI(_ port: Int, _ args: String...) -> String {
    Harness.run(Harness.which("redis-cli") ?? "/usr/bin/redis-cli", ["-p", "\(port)"] + args, timeout: 10).stdout
}

/// `calls=` of cmdstat_<command> in a server's INFO commandstats (0 when absent).
func commandCalls(_ port: Int, _ command: String) -> Int {
    for line in redisCLI(port, "INFO", "commandstats").split(whereSeparator: \.isNewline)
    where line.hasPrefix("cmdstat_\(command):calls=") {
        return Int(line.dropFirst("cmdstat_\(command):calls=".count).prefix { $0.isNumber }) ?? 0
    }
    return 0
}

/// How many replicas a /stats body shows as read from.
func usableReplicas(_ stats: String) -> Int { stats.components(separatedBy: "\"usable\":true").count - 1 }
