// Checks server lines, ring identities and order, ketama point counts and placement (against a Python model), modula, hash tags and KeyPlacement.
import XCTest
@testable import RingCore

final class RingTests: XCTestCase {
    static func spec(_ line: String) -> ServerSpec {
        guard case let .success(s) = ServerSpec.parse(line) else { fatalError("bad test line \(line)") }
        return s
    }

    static func sorted(_ lines: [String]) -> [ServerSpec] {
        lines.map(spec).sorted(by: ServerSpec.nutcrackerOrder)
    }

    static func allLive(_ servers: [ServerSpec]) -> [Bool] { Array(repeating: true, count: servers.count) }

    // MARK: ServerSpec

    func testParseTcpWithWeight() {
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379:1"),
                       .success(ServerSpec(address: .tcp(host: "127.0.0.1", port: 6379), weight: 1, name: nil)))
    }

    func testParseTcpWithWeightAndName() {
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379:2 cache-a"),
                       .success(ServerSpec(address: .tcp(host: "127.0.0.1", port: 6379), weight: 2, name: "cache-a")))
        XCTAssertEqual(ServerSpec.parse("  redis-1.local:6380:10\tr1  "),
                       .success(ServerSpec(address: .tcp(host: "redis-1.local", port: 6380), weight: 10, name: "r1")))
    }

    func testParseUnixSocket() {
        XCTAssertEqual(ServerSpec.parse("/tmp/r.sock:3 s1"),
                       .success(ServerSpec(address: .unix(path: "/tmp/r.sock"), weight: 3, name: "s1")))
    }

    func testParseErrors() {
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379"), .failure(.missingWeight("127.0.0.1:6379")))
        XCTAssertEqual(ServerSpec.parse("localhost:6379 cache"), .failure(.missingWeight("localhost:6379 cache")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379:0"), .failure(.badWeight("127.0.0.1:6379:0")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379:-1"), .failure(.badWeight("127.0.0.1:6379:-1")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:6379:x"), .failure(.badWeight("127.0.0.1:6379:x")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:70000:1"), .failure(.badPort("127.0.0.1:70000:1")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:0:1"), .failure(.badPort("127.0.0.1:0:1")))
        XCTAssertEqual(ServerSpec.parse("127.0.0.1:redis:1"), .failure(.badPort("127.0.0.1:redis:1")))
        XCTAssertEqual(ServerSpec.parse(":6379:1"), .failure(.missingHost(":6379:1")))
    }

    func testRingIdentity() {
        XCTAssertEqual(Self.spec("127.0.0.1:6379:1 cache-a").ringIdentity, "cache-a")
        XCTAssertEqual(Self.spec("127.0.0.1:6379:1").ringIdentity, "127.0.0.1:6379")
        XCTAssertEqual(Self.spec("127.0.0.1:6379:7").ringIdentity, "127.0.0.1:6379", "the weight is never part of it")
        XCTAssertEqual(Self.spec("10.0.0.1:11211:1").ringIdentity, "10.0.0.1", "port 11211 is left out")
        XCTAssertEqual(Self.spec("10.0.0.1:11211:1 mc").ringIdentity, "mc")
        XCTAssertEqual(Self.spec("/tmp/r.sock:1").ringIdentity, "/tmp/r.sock")
        XCTAssertEqual(Self.spec("127.0.0.1:6379:1").displayName, "127.0.0.1:6379")
        XCTAssertEqual(Self.spec("127.0.0.1:6379:1 a").displayName, "a")
    }

    func testNutcrackerOrderShorterFirstThenBytewise() {
        let order = Self.sorted(["10.0.0.10:6379:1", "10.0.0.9:6379:1", "10.0.0.1:11211:1", "b:1:1 zz", "x:1:1 Z",
                                 "x:1:1 \u{e9}", "x:1:1 aa", "x:1:1 ~~~"]).map(\.ringIdentity)
        // Lengths count UTF-8 bytes: "\u{e9}" is C3 A9, so it sorts after "zz" among 2-byte names.
        XCTAssertEqual(order, ["Z", "aa", "zz", "\u{e9}", "~~~", "10.0.0.1", "10.0.0.9:6379", "10.0.0.10:6379"])
    }

    // MARK: ketama point counts

    func testPointsPerServerInFloat32() {
        for (n, perServer) in [(1, 160), (4, 160), (10, 160), (25, 156), (47, 156), (50, 156)] {
            let servers = (0..<n).map { Self.spec("10.1.0.\($0):6379:1") }.sorted(by: ServerSpec.nutcrackerOrder)
            let ring = KetamaRing(distribution: .ketama, servers: servers, live: Self.allLive(servers))
            XCTAssertEqual(ring.values.count, n * perServer, "\(n) servers")
            for i in 0..<n {
                XCTAssertEqual(ring.owners.filter { $0 == Int32(i) }.count, perServer, "\(n) servers, server \(i)")
            }
        }
    }

    func testWeightedPointCounts() {
        let servers = Self.sorted(["a:1:1 a", "b:1:2 b", "c:1:3 c"])
        let ring = KetamaRing(distribution: .ketama, servers: servers, live: Self.allLive(servers))
        XCTAssertEqual([0, 1, 2].map { i in ring.owners.filter { $0 == Int32(i) }.count }, [80, 160, 240])
        XCTAssertEqual(ring.values, ring.values.sorted())
    }

    func testEjectedServersLeaveTheRing() {
        let servers = (0..<26).map { Self.spec("10.1.0.\($0):6379:1") }.sorted(by: ServerSpec.nutcrackerOrder)
        var live = Self.allLive(servers)
        live[3] = false
        // 25 live servers: 156 points each, none for the ejected one.
        let ring = KetamaRing(distribution: .ketama, servers: servers, live: live)
        XCTAssertEqual(ring.values.count, 25 * 156)
        XCTAssertFalse(ring.owners.contains(3))
        let none = KetamaRing(distribution: .ketama, servers: servers, live: Array(repeating: false, count: 26))
        XCTAssertTrue(none.isEmpty)
        XCTAssertEqual(none.server(forHash: 1234), -1)
    }

    // MARK: ketama placement, against an independent Python model of nutcracker

    static let weighted = sorted(["127.0.0.1:7101:1", "127.0.0.1:7102:2", "127.0.0.1:7103:1"])

    func testRingStartMatchesModel() {
        let ring = KetamaRing(distribution: .ketama, servers: Self.weighted, live: Self.allLive(Self.weighted))
        XCTAssertEqual(ring.values.count, 480)
        XCTAssertEqual(Array(ring.values.prefix(4)), [25329105, 26263821, 31726602, 43785327])
        XCTAssertEqual(Array(ring.owners.prefix(4)), [2, 1, 0, 1])
        // Lookup: first point >= hash, wrapping past the end.
        XCTAssertEqual(ring.server(forHash: 0), 2)
        XCTAssertEqual(ring.server(forHash: 25329105), 2)
        XCTAssertEqual(ring.server(forHash: 25329106), 1)
        XCTAssertEqual(Array(ring.values.suffix(2)), [4289029914, 4291229605])
        XCTAssertEqual(ring.server(forHash: 4291229605), 2)
        XCTAssertEqual(ring.server(forHash: 4289029914), 1)
        XCTAssertEqual(ring.server(forHash: 4291229606), 2, "past the last point wraps to the first")
        XCTAssertEqual(ring.server(forHash: UInt32.max), 2)
    }

    static let modelKeys = ["a", "foo", "key:0", "\u{e9}", "user:1000", "0cc175b9c0f1b6a831c399e269772661",
                            "92eb5ffee6ae2fec3ad71c777531578f", "caf\u{e9}-\u{20ac}", "zz", "session:7f3a"]

    static func place(_ p: KeyPlacement, _ key: String) -> Int {
        Array(key.utf8).withUnsafeBytes { p.server(forKey: $0) }
    }

    func testWeightedPlacementMatchesModel() {
        let ring = KetamaRing(distribution: .ketama, servers: Self.weighted, live: Self.allLive(Self.weighted))
        let p = KeyPlacement(hash: .fnv1a_64, tag: nil, ring: ring, serverCount: 3)
        XCTAssertEqual(Self.modelKeys.map { Self.place(p, $0) }, [1, 1, 1, 1, 1, 0, 1, 1, 1, 2])
    }

    func testTwentyFiveServerPlacementMatchesModel() {
        let servers = (1...25).map { Self.spec("10.0.0.\($0):6379:1") }.sorted(by: ServerSpec.nutcrackerOrder)
        XCTAssertEqual(servers[8].ringIdentity, "10.0.0.9:6379")
        XCTAssertEqual(servers[9].ringIdentity, "10.0.0.10:6379")
        let ring = KetamaRing(distribution: .ketama, servers: servers, live: Self.allLive(servers))
        let fnv = KeyPlacement(hash: .fnv1a_64, tag: nil, ring: ring, serverCount: 25)
        // "user:1000" goes to server 0 here; with exact arithmetic (160 points) it would not.
        XCTAssertEqual(Self.modelKeys.map { Self.place(fnv, $0) }, [4, 22, 8, 24, 0, 0, 4, 18, 24, 9])
        let murmur = KeyPlacement(hash: .murmur, tag: nil, ring: ring, serverCount: 25)
        XCTAssertEqual(Self.modelKeys.map { Self.place(murmur, $0) }, [1, 6, 15, 22, 19, 21, 1, 20, 10, 19])
    }

    // MARK: modula

    func testModulaIndex() {
        let servers = Self.sorted(["b:1:1 b", "a:1:2 a"])  // a (weight 2), b (weight 1)
        let ring = KetamaRing(distribution: .modula, servers: servers, live: Self.allLive(servers))
        XCTAssertEqual(ring.owners, [0, 0, 1])
        XCTAssertEqual((0..<7).map { ring.server(forHash: UInt32($0)) }, [0, 0, 1, 0, 0, 1, 0])
        XCTAssertEqual(ring.server(forHash: UInt32.max), 0)  // 4294967295 % 3 == 0
        var live = Self.allLive(servers)
        live[0] = false
        let rest = KetamaRing(distribution: .modula, servers: servers, live: live)
        XCTAssertEqual((0..<4).map { rest.server(forHash: UInt32($0)) }, [1, 1, 1, 1])
    }

    // MARK: hash tags

    static func tagged(_ tag: HashTag, _ key: String) -> String {
        Array(key.utf8).withUnsafeBytes { String(decoding: tag.hashedPart($0), as: UTF8.self) }
    }

    func testHashTagRules() {
        let tag = HashTag("{}")!
        XCTAssertEqual(Self.tagged(tag, "{}k"), "{}k")
        XCTAssertEqual(Self.tagged(tag, "{a}{b}"), "a")
        XCTAssertEqual(Self.tagged(tag, "x{}"), "x{}")
        XCTAssertEqual(Self.tagged(tag, "no tag"), "no tag")
        XCTAssertEqual(Self.tagged(tag, "user:{42}:name"), "42")
        XCTAssertEqual(Self.tagged(tag, "open{only"), "open{only")
        XCTAssertEqual(Self.tagged(tag, "}x{y}"), "y")
        XCTAssertEqual(Self.tagged(tag, "{{a}}"), "{a")
        XCTAssertEqual(Self.tagged(HashTag("::")!, "a:b:c"), "b")
        XCTAssertNil(HashTag("{"))
        XCTAssertNil(HashTag("{}}"))
    }

    func testTaggedKeysShareAServer() {
        let servers = (1...25).map { Self.spec("10.0.0.\($0):6379:1") }.sorted(by: ServerSpec.nutcrackerOrder)
        let ring = KetamaRing(distribution: .ketama, servers: servers, live: Self.allLive(servers))
        let tagged = KeyPlacement(hash: .fnv1a_64, tag: HashTag("{}"), ring: ring, serverCount: 25)
        let plain = KeyPlacement(hash: .fnv1a_64, tag: nil, ring: ring, serverCount: 25)
        // "{foo}..." hashes "foo", which the model puts on server 22.
        for key in ["{foo}", "{foo}:1", "x{foo}y", "{foo}{bar}"] {
            XCTAssertEqual(Self.place(tagged, key), 22, key)
        }
        XCTAssertEqual(Self.place(tagged, "foo"), Self.place(plain, "foo"))
    }

    // MARK: KeyPlacement

    func testOneServerAlwaysAnswersIt() {
        let servers = [Self.spec("127.0.0.1:6379:1")]
        let ring = KetamaRing(distribution: .ketama, servers: servers, live: [true])
        let p = KeyPlacement(hash: .fnv1a_64, tag: nil, ring: ring, serverCount: 1)
        let keys = ["", "a", "foo", "user:1000", "\u{e9}"] + (0..<100).map { "k\($0)" }
        for key in keys {
            XCTAssertEqual(Self.place(p, key), 0, key)
        }
        let down = KeyPlacement(hash: .fnv1a_64, tag: nil,
                                ring: KetamaRing(distribution: .ketama, servers: servers, live: [false]), serverCount: 1)
        XCTAssertEqual(Self.place(down, "a"), -1)
    }

    func testEmptyKeyHashesToZero() {
        let ring = KetamaRing(distribution: .ketama, servers: Self.weighted, live: Self.allLive(Self.weighted))
        for hash in [HashFunction.fnv1a_64, .murmur, .md5, .crc32a] {
            let p = KeyPlacement(hash: hash, tag: nil, ring: ring, serverCount: 3)
            XCTAssertEqual(Self.place(p, ""), ring.server(forHash: 0), hash.rawValue)
        }
        XCTAssertEqual(ring.server(forHash: 0), 2)
    }
}
