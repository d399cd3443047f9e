// Real redis-servers (four unless told) and one ringproxy in front of them, with a TCP pool and a unix
// socket pool over the same servers; shared by the tests of one class and stopped after.

import Foundation
import RingConfig
import RingCore
import XCTest

final class ProxyFixture {
    let redis: [RedisServer]
    let proxy: Background
    let port: Int
    let socketPath: String
    let configPath: String
    let config: ProxyConfig
    /// The admin HTTP listener (/metrics, /stats, /healthz, /readyz).
    let adminPort: Int

    /// `servers` redis-servers (four by default), started with `redisArgs`.
    init(timeoutMs: Int = 3000, extraSettings: [String] = [], servers count: Int = 4, redisArgs: [String] = [],
         globalSettings: [String] = []) throws {
        redis = try (0..<count).map { _ in try RedisServer(extraArgs: redisArgs) }
        port = Harness.freePort()
        let dir = Harness.tempDir()
        socketPath = dir + "/ringproxy.sock"
        configPath = dir + "/proxy.yml"
        var servers = ""
        for (i, r) in redis.enumerated() { servers += "    - 127.0.0.1:\(r.port):1 cache-\(i + 1)\n" }
        let pool = "  hash: fnv1a_64\n  hash_tag: \"{}\"\n  redis: true\n"
        var yaml = "tcp:\n  listen: 127.0.0.1:\(port)\n" + pool + "  timeout: \(timeoutMs)\n"
        for line in extraSettings { yaml += "  \(line)\n" }
        yaml += "  servers:\n" + servers
        yaml += "unix:\n  listen: \(socketPath) 0600\n" + pool + "  servers:\n" + servers
        adminPort = Harness.freePort()
        yaml += "ringproxy:\n  admin: 127.0.0.1:\(adminPort)\n"
        for line in globalSettings { yaml += "  \(line)\n" }
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        config = try ConfigLoader.load(path: configPath)
        proxy = try startRingproxy(config: configPath, port: port)
        guard Harness.waitForListener(path: socketPath) else { throw HarnessError.notListening(socketPath) }
    }

    /// The index (in config order) of the server that owns `key`.
    func serverIndex(of key: String) -> Int {
        let placement = config.pools[0].placement()
        return Array(key.utf8).withUnsafeBytes { placement.server(forKey: $0) }
    }

    /// Keys that land on pairwise different servers (one per server).
    func keysOnDistinctServers(prefix: String) -> [String] {
        var byServer: [Int: String] = [:]
        var i = 0
        while byServer.count < redis.count && i < 100_000 {
            let k = "\(prefix)\(MD5.digest(Array("\(prefix)\(i)".utf8)).prefix(6).map { String($0, radix: 16) }.joined())"
            let s = serverIndex(of: k)
            if byServer[s] == nil { byServer[s] = k }
            i += 1
        }
        return (0..<redis.count).compactMap { byServer[$0] }
    }

    func stop() {
        proxy.stop()
        redis.forEach { $0.stop() }
    }
}
