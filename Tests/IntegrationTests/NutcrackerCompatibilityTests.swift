// Keys written through the real nutcracker are found through ringproxy, and the other way
// round, with one config file served by both, for every hash function, weights, names,
// 26 servers, hash tags and modula. A second, independent check asks each redis-server
// directly whether it holds the keys ringproxy's placement says it should.

import Foundation
import RingConfig
import RingCore
import XCTest

final class NutcrackerCompatibilityTests: XCTestCase {
    struct Case {
        let name: String
        let yaml: String          // the pool's settings besides listen and servers
        let servers: [(index: Int, weight: Int, name: String?)]
        let keys: (String) -> [[UInt8]]
    }

    /// Varied keys: hex digests, non-ASCII UTF-8, raw high bytes, and plain "key:N" (which
    /// fnv1a_64 clusters, so on its own it would prove little).
    static func mixedKeys(_ prefix: String, count: Int = 1200) -> [[UInt8]] {
        (0..<count).map { i -> [UInt8] in
            let digest = MD5.digest(Array("\(prefix)\(i)".utf8)).map { String($0, radix: 16) }.joined()
            switch i % 6 {
            case 0: return Array("\(prefix)\(digest.prefix(12))".utf8)
            case 1: return Array("\(prefix)ключ-\(i)".utf8)
            case 2: return Array("\(prefix)clé:é\(i)".utf8)
            case 3: return Array("\(prefix)キー\(i)".utf8)
            case 4: return Array(prefix.utf8) + [0x80, 0xff, UInt8(i % 256), 0xe9, UInt8((i * 7) % 256)]
            default: return Array("\(prefix)key:\(i)".utf8)
            }
        }
    }

    static func taggedKeys(_ prefix: String) -> [[UInt8]] {
        (0..<1200).map { i -> [UInt8] in
            switch i % 4 {
            case 0: return Array("\(prefix){user\(i / 4)}:name".utf8)
            case 1: return Array("\(prefix){user\(i / 4)}:ключ".utf8)
            case 2: return Array("{}\(prefix)whole\(i)".utf8)
            default: return Array("\(prefix){a\(i)}{b}".utf8)
            }
        }
    }

    func testPlacementMatchesNutcracker() throws {
        guard let nutcracker = Harness.which("nutcracker") else { throw XCTSkip("nutcracker is not installed (make test installs it)") }
        let redis = try (0..<26).map { _ in try RedisServer() }
        defer { redis.forEach { $0.stop() } }

        let plain5 = (0..<5).map { (index: $0, weight: 1, name: String?.none) }
        var cases: [Case] = HashFunction.allCases.map { h in
            Case(name: "hash_\(h.rawValue)", yaml: "hash: \(h.rawValue)", servers: plain5, keys: { Self.mixedKeys($0) })
        }
        cases += [
            Case(name: "weights", yaml: "hash: fnv1a_64", servers: [(5, 1, nil), (6, 2, nil), (7, 3, nil), (8, 5, nil), (9, 8, nil), (10, 13, nil)],
                 keys: { Self.mixedKeys($0) }),
            Case(name: "names", yaml: "hash: murmur", servers: [(11, 1, "cache-b"), (12, 1, "a"), (13, 2, "zz-long-name"), (14, 1, "node7"), (15, 3, "c")],
                 keys: { Self.mixedKeys($0) }),
            Case(name: "many_named", yaml: "hash: fnv1a_64", servers: (0..<26).map { ($0, 1, "shard-\($0)") }, keys: { Self.mixedKeys($0, count: 2600) }),
            Case(name: "many_plain", yaml: "hash: fnv1a_64", servers: (0..<26).map { ($0, 1, nil) }, keys: { Self.mixedKeys($0, count: 2600) }),
            Case(name: "many_weighted_md5", yaml: "hash: md5", servers: (0..<26).map { ($0, 1 + $0 % 3, nil) }, keys: { Self.mixedKeys($0, count: 2600) }),
            Case(name: "hash_tag", yaml: "hash: md5\n  hash_tag: \"{}\"", servers: plain5, keys: { Self.taggedKeys($0) }),
            Case(name: "modula", yaml: "hash: fnv1a_64\n  distribution: modula", servers: [(16, 1, nil), (17, 2, nil), (18, 3, nil), (19, 1, "m4")],
                 keys: { Self.mixedKeys($0) }),
            Case(name: "modula_md5", yaml: "hash: md5\n  distribution: modula", servers: (20..<25).map { ($0, 1, nil) }, keys: { Self.mixedKeys($0) }),
        ]

        let dir = Harness.tempDir()
        let configPath = dir + "/compat.yml"
        var ports: [String: Int] = [:]
        var yaml = ""
        for c in cases {
            let port = Harness.freePort()
            ports[c.name] = port
            yaml += "\(c.name):\n  listen: 127.0.0.1:\(port)\n  \(c.yaml)\n  redis: true\n  timeout: 5000\n  servers:\n"
            for s in c.servers {
                yaml += "    - 127.0.0.1:\(redis[s.index].port):\(s.weight)\(s.name.map { " \($0)" } ?? "")\n"
            }
        }
        try yaml.write(toFile: configPath, atomically: true, encoding: .utf8)
        let statsPort = Harness.freePort()
        let ncArgs = ["-c", configPath, "-s", "\(statsPort)", "-a", "127.0.0.1"]
        XCTAssertEqual(Harness.run(nutcracker, ["-t"] + ncArgs, timeout: 10).status, 0, "nutcracker rejects the config")
        XCTAssertEqual(Harness.run(Harness.ringproxyBinary, ["-t", "-c", configPath], timeout: 10).status, 0, "ringproxy rejects the config")

        func startNutcracker() throws -> Background {
            let p = try Background("nutcracker", nutcracker, ncArgs)
            for c in cases where !Harness.waitForListener(port: ports[c.name]!) { throw HarnessError.notListening("nutcracker \(c.name): \(p.log)") }
            return p
        }

        func write(_ keys: [[UInt8]], port: Int) throws {
            let client = try RESPClient(port: port)
            var batch: [UInt8] = []
            for k in keys { batch += RESPClient.encode([Array("SET".utf8), k, Array("v:".utf8) + k]) }
            try client.send(batch)
            for k in keys {
                let r = try client.readReply()
                XCTAssertEqual(r.text, "+OK\r\n", "SET \(k.text) on port \(port)")
            }
        }

        func countFound(_ keys: [[UInt8]], port: Int) throws -> Int {
            let client = try RESPClient(port: port)
            var batch: [UInt8] = []
            for k in keys { batch += RESPClient.encode([Array("GET".utf8), k]) }
            try client.send(batch)
            var found = 0
            for k in keys where try client.readReply() == bulk(Array("v:".utf8) + k) { found += 1 }
            return found
        }

        // 1. Write keys A through nutcracker.
        var nc = try startNutcracker()
        for c in cases { try write(c.keys("A-\(c.name)-"), port: ports[c.name]!) }
        nc.stop()

        // 2. Read them through ringproxy, with the same file; write keys B.
        let rp = try startRingproxy(config: configPath, port: ports[cases[0].name]!)
        for c in cases where !Harness.waitForListener(port: ports[c.name]!) { XCTFail("ringproxy not listening for \(c.name)") }
        var foundA: [String: Int] = [:]
        for c in cases {
            foundA[c.name] = try countFound(c.keys("A-\(c.name)-"), port: ports[c.name]!)
            try write(c.keys("B-\(c.name)-"), port: ports[c.name]!)
        }
        XCTAssertEqual(rp.stop(), 0, "ringproxy exits 0 on SIGTERM")

        // 3. Read keys B through nutcracker.
        nc = try startNutcracker()
        defer { nc.stop() }
        for c in cases {
            let a = c.keys("A-\(c.name)-"), b = c.keys("B-\(c.name)-")
            let foundB = try countFound(b, port: ports[c.name]!)
            print("placement \(c.name): \(foundA[c.name]!)/\(a.count) keys written through nutcracker found through ringproxy; \(foundB)/\(b.count) written through ringproxy found through nutcracker")
            XCTAssertEqual(foundA[c.name], a.count, "\(c.name): keys written through nutcracker missing through ringproxy")
            XCTAssertEqual(foundB, b.count, "\(c.name): keys written through ringproxy missing through nutcracker")
        }

        // 4. Independently: each key sits on the server ringproxy's placement names.
        let config = try ConfigLoader.load(path: configPath)
        for pool in config.pools {
            guard let c = cases.first(where: { $0.name == pool.name }) else { continue }
            let placement = pool.placement()
            let portsByIndex = pool.servers.map { spec -> Int in
                if case let .tcp(_, port) = spec.address { return port }
                return 0
            }
            var misplaced = 0
            var used = Set<Int>()
            var direct: [Int: RESPClient] = [:]
            for k in c.keys("A-\(c.name)-") {
                let s = k.withUnsafeBytes { placement.server(forKey: $0) }
                used.insert(s)
                let port = portsByIndex[s]
                if direct[port] == nil { direct[port] = try RESPClient(port: port) }
                if try direct[port]!.command(bytes: [Array("EXISTS".utf8), k]).text != ":1\r\n" { misplaced += 1 }
                if misplaced > 0 { break }
            }
            XCTAssertEqual(misplaced, 0, "\(c.name): a key is not on the server the ring names")
            // crc32 keeps 15 bits: nearly every key lands on one server in nutcracker too.
            if pool.hash != .crc32 { XCTAssertGreaterThan(used.count, 1, "\(c.name): keys should spread over several servers") }
        }
    }
}
