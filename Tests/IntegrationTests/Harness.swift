// Real processes on free loopback ports for the integration tests: redis-server,
// nutcracker, ringproxy, redis-cli, redis-benchmark, python3. Every process is stopped by
// the test that started it; every wait is bounded.

import Foundation
import RingCore
import XCTest

#if canImport(Glibc)
import Glibc
#endif

enum Harness {
    static let packageRoot: String = {
        var url = URL(fileURLWithPath: #filePath)
        for _ in 0..<3 { url.deleteLastPathComponent() }
        return url.path
    }()

    /// The binary under test: RINGPROXY_BIN (make test sets the release build) or the
    /// debug build.
    static var ringproxyBinary: String {
        ProcessInfo.processInfo.environment["RINGPROXY_BIN"] ?? packageRoot + "/.build/debug/ringproxy"
    }

    static func which(_ name: String) -> String? {
        for dir in ["/usr/bin", "/usr/sbin", "/usr/local/bin", "/bin"] where FileManager.default.isExecutableFile(atPath: "\(dir)/\(name)") {
            return "\(dir)/\(name)"
        }
        let r = run("/bin/sh", ["-c", "command -v \(name)"], timeout: 5)
        let path = r.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
        return path.isEmpty ? nil : path
    }

    /// A loopback TCP port nobody listens on right now.
    static func freePort() -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var addr = sockaddr_in()
        addr.sin_family = sa_family_t(AF_INET)
        addr.sin_addr.s_addr = inet_addr("127.0.0.1")
        addr.sin_port = 0
        _ = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        var len = socklen_t(MemoryLayout<sockaddr_in>.size)
        _ = withUnsafeMutablePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &len) } }
        return Int(UInt16(bigEndian: addr.sin_port))
    }

    static func tempDir() -> String {
        let path = NSTemporaryDirectory() + "ringproxy-test-" + UUID().uuidString.prefix(8)
        try? FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        return path
    }

    struct Output {
        var status: Int32
        var stdout: String
        var stderr: String
        var timedOut: Bool
    }

    /// Runs a command to completion (killed after `timeout` seconds).
    @discardableResult
    static func run(_ path: String, _ args: [String], timeout: TimeInterval, environment: [String: String]? = nil) -> Output {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: path)
        p.arguments = args
        if let e = environment { p.environment = ProcessInfo.processInfo.environment.merging(e) { $1 } }
        let dir = tempDir()
        let outPath = dir + "/out", errPath = dir + "/err"
        FileManager.default.createFile(atPath: outPath, contents: nil)
        FileManager.default.createFile(atPath: errPath, contents: nil)
        p.standardOutput = FileHandle(forWritingAtPath: outPath)
        p.standardError = FileHandle(forWritingAtPath: errPath)
        do { try p.run() } catch { return Output(status: -1, stdout: "", stderr: "\(error)", timedOut: false) }
        let deadline = Date().addingTimeInterval(timeout)
        var timedOut = false
        while p.isRunning {
            if Date() > deadline { timedOut = true; kill(p.processIdentifier, SIGKILL) }
            usleep(20_000)
        }
        p.waitUntilExit()
        let out = (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? ""
        let err = (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? ""
        try? FileManager.default.removeItem(atPath: dir)
        return Output(status: p.terminationStatus, stdout: out, stderr: err, timedOut: timedOut)
    }

    /// Waits until something accepts connections on `port` (or the unix socket `path`).
    static func waitForListener(port: Int? = nil, path: String? = nil, timeout: TimeInterval = 10) -> Bool {
        let deadline = Date().addingTimeInterval(timeout)
        while Date() < deadline {
            if let c = try? RESPClient(port: port, path: path) { c.close(); return true }
            usleep(20_000)
        }
        return false
    }
}

/// A process started in the background and stopped by `stop()` (or at deinit).
final class Background {
    let process = Process()
    let name: String
    let logPath: String

    init(_ name: String, _ path: String, _ args: [String]) throws {
        self.name = name
        process.executableURL = URL(fileURLWithPath: path)
        process.arguments = args
        logPath = Harness.tempDir() + "/\(name).log"
        FileManager.default.createFile(atPath: logPath, contents: nil)
        let log = FileHandle(forWritingAtPath: logPath)
        process.standardOutput = log
        process.standardError = log
        try process.run()
    }

    var pid: Int32 { process.processIdentifier }
    var log: String { (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? "" }

    /// Sends `signal` and waits (bounded) for the exit; returns the exit status.
    @discardableResult
    func stop(signal: Int32 = SIGTERM, timeout: TimeInterval = 10) -> Int32 {
        guard process.isRunning else { return process.terminationStatus }
        kill(pid, signal)
        let deadline = Date().addingTimeInterval(timeout)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning { kill(pid, SIGKILL) }
        process.waitUntilExit()
        return process.terminationStatus
    }

    deinit { if process.isRunning { kill(pid, SIGKILL); process.waitUntilExit() } }
}

/// A real redis-server on a free loopback port, no persistence.
final class RedisServer {
    let port: Int
    let process: Background

    init(port: Int? = nil, extraArgs: [String] = []) throws {
        self.port = port ?? Harness.freePort()
        process = try Background("redis-\(self.port)", Harness.which("redis-server") ?? "/usr/bin/redis-server",
                                 ["--port", "\(self.port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                                  "--dir", Harness.tempDir()] + extraArgs)
        guard Harness.waitForListener(port: self.port) else { throw HarnessError.notListening("redis-server \(self.port)") }
    }

    func stop() { process.stop(signal: SIGKILL) }
}

enum HarnessError: Error {
    case notListening(String)
    case connect(String)
    case closed
    case protocolError(String)
}

/// Starts ringproxy on a config file and waits until it listens.
func startRingproxy(config: String, port: Int? = nil, path: String? = nil, extraArgs: [String] = []) throws -> Background {
    let p = try Background("ringproxy", Harness.ringproxyBinary, ["-c", config] + extraArgs)
    guard Harness.waitForListener(port: port, path: path) else {
        let log = p.log
        p.stop(signal: SIGKILL)
        throw HarnessError.notListening("ringproxy: \(log)")
    }
    return p
}

/// A blocking RESP client over TCP or a unix socket; replies are framed with the proxy's own
/// ReplyScanner (which has its own unit tests) and returned as raw bytes.
final class RESPClient {
    private var fd: Int32
    private var buffer: [UInt8] = []

    init(port: Int? = nil, path: String? = nil, timeoutSeconds: Int = 10) throws {
        if let path = path {
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            withUnsafeMutableBytes(of: &addr.sun_path) { dst in
                let bytes = Array(path.utf8.prefix(dst.count - 1))
                dst.copyBytes(from: bytes)
                dst[bytes.count] = 0
            }
            let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) } }
            if r != 0 { Glibc.close(fd); throw HarnessError.connect(path) }
        } else {
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_addr.s_addr = inet_addr("127.0.0.1")
            addr.sin_port = UInt16(port!).bigEndian
            let r = withUnsafePointer(to: &addr) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
            if r != 0 { Glibc.close(fd); throw HarnessError.connect("127.0.0.1:\(port!)") }
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
    }

    deinit { close() }

    func close() {
        if fd >= 0 { Glibc.close(fd); fd = -1 }
    }

    static func encode(_ args: [[UInt8]]) -> [UInt8] {
        var out = Array("*\(args.count)\r\n".utf8)
        for a in args {
            out += Array("$\(a.count)\r\n".utf8)
            out += a
            out += [13, 10]
        }
        return out
    }

    static func encode(_ args: [String]) -> [UInt8] { encode(args.map { Array($0.utf8) }) }

    func send(_ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n <= 0 { throw HarnessError.closed }
            sent += n
        }
    }

    /// Reads one whole reply (bounded by the socket timeout).
    func readReply() throws -> [UInt8] {
        var scanner = ReplyScanner()
        while true {
            if !buffer.isEmpty {
                let result = buffer.withUnsafeBytes { scanner.scan($0) }
                switch result {
                case let .reply(length):
                    let reply = Array(buffer[0..<length])
                    buffer.removeFirst(length)
                    return reply
                case let .error(e): throw HarnessError.protocolError(e)
                case .incomplete: scanner.reset()
                }
            }
            var chunk = [UInt8](repeating: 0, count: 65536)
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n <= 0 { throw HarnessError.closed }
            buffer += chunk[0..<n]
        }
    }

    /// True when the server closed the connection (after any buffered replies).
    func isClosedByPeer() -> Bool {
        var chunk = [UInt8](repeating: 0, count: 1024)
        let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        return n == 0
    }

    func command(_ args: String...) throws -> [UInt8] {
        try send(RESPClient.encode(args))
        return try readReply()
    }

    func command(bytes args: [[UInt8]]) throws -> [UInt8] {
        try send(RESPClient.encode(args))
        return try readReply()
    }
}

extension Array where Element == UInt8 {
    var text: String { String(decoding: self, as: UTF8.self) }
}

func bulk(_ s: String) -> [UInt8] { Array("$\(s.utf8.count)\r\n\(s)\r\n".utf8) }
func bulk(_ b: [UInt8]) -> [UInt8] { Array("$\(b.count)\r\n".utf8) + b + [13, 10] }
