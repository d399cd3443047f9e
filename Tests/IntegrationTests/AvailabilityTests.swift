// Under steady load from several clients (GET, SET, MGET over keys on all four servers),
// one redis-server is SIGKILLed and later restarted. The proxy must keep serving: with
// auto_eject_hosts no request sent after the server is marked down gets an error, and with
// down_server_reply: miss reads never get an error at all; the server rejoins after its
// health checks pass with no client errors. Detection time and errors are reported.

import Foundation
import XCTest

#if canImport(Glibc)
import Glibc
#endif

final class AvailabilityTests: XCTestCase {
    struct Sample {
        let sentAt: Date
        let command: String
        let onVictim: Bool
        let reply: String
        var isError: Bool { reply.hasPrefix("-") }
    }

    /// Log line time ("2026-11-23T11:10:24.667Z [warn] upstream cache-2 ... down: ...").
    func logTime(_ log: String, containing text: String) -> Date? {
        guard let line = log.split(separator: "\n").first(where: { $0.contains(text) }) else { return nil }
        let f = DateFormatter()
        f.locale = Locale(identifier: "en_US_POSIX")
        f.timeZone = TimeZone(identifier: "UTC")
        f.dateFormat = "yyyy-MM-dd'T'HH:mm:ss.SSS'Z'"
        return f.date(from: String(line.prefix(24)))
    }

    func runLoad(settings: [String], label: String) throws -> (samples: [Sample], killAt: Date, restartAt: Date, log: String, victim: Int) {
        let f = try ProxyFixture(timeoutMs: 500, extraSettings: settings + ["health_check_interval: 200", "health_check_timeout: 150"])
        defer { f.stop() }
        let keys = (0..<64).map { "load:\($0):" + String($0 * 7919, radix: 16) }
        let perServer = f.keysOnDistinctServers(prefix: "mg:")
        let seed = try RESPClient(port: f.port)
        for k in keys + perServer { XCTAssertEqual(try seed.command("SET", k, "v").text, "+OK\r\n") }
        let victim = f.serverIndex(of: perServer[1])
        let victimPort = f.redis[victim].port

        final class Results: @unchecked Sendable {
            let lock = NSLock()
            var samples: [Sample] = []
        }
        let results = Results()
        let start = Date()
        let runFor: TimeInterval = 4.5
        let group = DispatchGroup()
        for c in 0..<4 {
            group.enter()
            Thread {
                defer { group.leave() }
                guard let client = try? RESPClient(port: f.port, timeoutSeconds: 5) else { return }
                var local: [Sample] = []
                var i = c
                // Bounded: at most runFor seconds and 200,000 requests per client.
                while Date().timeIntervalSince(start) < runFor && local.count < 200_000 {
                    let k = keys[i % keys.count]
                    let onVictim = f.serverIndex(of: k) == victim
                    for (name, args) in [("SET", ["SET", k, "v"]), ("GET", ["GET", k]), ("MGET", ["MGET"] + perServer)] {
                        let sent = Date()
                        guard let r = try? client.command(bytes: args.map { Array($0.utf8) }) else { return }
                        local.append(Sample(sentAt: sent, command: name, onVictim: name == "MGET" || onVictim, reply: r.text))
                    }
                    i += 4
                }
                results.lock.lock(); results.samples += local; results.lock.unlock()
            }.start()
        }
        usleep(800_000)
        let killAt = Date()
        f.redis[victim].stop()
        usleep(1_500_000)
        let restartAt = Date()
        let restarted = try RedisServer(port: victimPort)
        defer { restarted.stop() }
        XCTAssertEqual(group.wait(timeout: .now() + 30), .success, "load clients finished")
        usleep(300_000)
        return (results.samples, killAt, restartAt, f.proxy.log, victim)
    }

    func testKilledServerIsEjected() throws {
        let run = try runLoad(settings: ["auto_eject_hosts: true"], label: "eject")
        let name = "cache-\(run.victim + 1)"
        let down = logTime(run.log, containing: "upstream \(name) 127.0.0.1")
        XCTAssertNotNil(down, "the log names the state change: \(run.log)")
        guard let markedDown = down else { return }
        let errors = run.samples.filter(\.isError)
        let before = errors.filter { $0.sentAt < markedDown }
        let after = errors.filter { $0.sentAt >= markedDown }
        let rejoined = run.log.split(separator: "\n").contains { $0.contains("upstream \(name)") && $0.contains(" up:") }
        print("eject: \(run.samples.count) requests; detection \(Int(markedDown.timeIntervalSince(run.killAt) * 1000)) ms after SIGKILL; \(before.count) errors before detection (requests in flight), \(after.count) after; rejoined: \(rejoined)")
        XCTAssertEqual(after.count, 0, "no error once the server is marked down: \(after.prefix(3).map(\.reply))")
        XCTAssertTrue(rejoined, "the restarted server rejoins after its checks pass: \(run.log)")
        XCTAssertTrue(run.log.contains("down: connection closed by server") || run.log.contains("down: connection refused") || run.log.contains("failed health checks"), run.log)
        XCTAssertGreaterThan(run.samples.filter { $0.sentAt > run.restartAt.addingTimeInterval(1) }.count, 0, "load ran past the rejoin")
    }

    func testKilledServerAnswersMisses() throws {
        let run = try runLoad(settings: ["down_server_reply: miss"], label: "miss")
        let readErrors = run.samples.filter { $0.isError && $0.command != "SET" && $0.sentAt > run.killAt }
        let writeErrors = run.samples.filter { $0.isError && $0.command == "SET" }
        let misses = run.samples.filter { $0.command == "GET" && $0.onVictim && $0.reply == "$-1\r\n" }
        let mgetWithNil = run.samples.filter { $0.command == "MGET" && $0.reply.contains("$-1\r\n") }
        print("miss: \(run.samples.count) requests; \(readErrors.count) read errors; \(misses.count) GET misses and \(mgetWithNil.count) MGETs with nil for the dead server; \(writeErrors.count) write errors naming it")
        XCTAssertEqual(readErrors.count, 0, "reads only miss: \(readErrors.prefix(3).map(\.reply))")
        XCTAssertGreaterThan(misses.count + mgetWithNil.count, 0, "the dead server's keys were read as misses")
        XCTAssertTrue(writeErrors.allSatisfy { $0.onVictim && $0.reply.contains("cache-\(run.victim + 1)") }, "write errors name the server")
        let errorsAfterRejoin = run.samples.filter { $0.isError && $0.sentAt > run.restartAt.addingTimeInterval(1.5) }
        XCTAssertEqual(errorsAfterRejoin.count, 0, "no errors once it rejoined: \(errorsAfterRejoin.prefix(3).map(\.reply))")
    }
}
