// Active health checks: one thread and loop per process send the check command (PING) to every
// upstream on connections of their own and report to the HealthBoard, which decides up and
// down. The checker must never touch a worker's connections or state.

import CLibUV
import RingConfig
import RingCore

#if canImport(Glibc)
import Glibc
#endif

public final class HealthChecker: FlushScheduler {
    let loop = EventLoop()
    let board: HealthBoard
    private var probes: [HealthProbe] = []
    private var watchers: [SentinelWatcher] = []
    /// Re-resolves servers given by host name (nil: none to follow).
    private(set) var dns: DNSRefresher?
    /// Checks the replicas read_from reads from (nil: none).
    private var replicaProber: ReplicaProber?
    private var timers: [LoopTimer] = []
    private var stopper: LoopAsync?
    private var pollWaker: LoopAsync?
    private var thread = pthread_t()
    private var running = false

    public init(config: ProxyConfig, board: HealthBoard, addresses: [[sockaddr_storage]]) {
        self.board = board
        for (p, pool) in config.pools.enumerated() where pool.health.intervalMs > 0 {
            let poolProbes = pool.servers.indices.map {
                HealthProbe(checker: self, pool: pool, poolIndex: p, serverIndex: $0, address: addresses[p][$0])
            }
            probes += poolProbes
            let timer = LoopTimer(loop) { for probe in poolProbes { probe.tick() } }
            timer.start(afterMs: 0, repeatMs: UInt64(pool.health.intervalMs))
            timers.append(timer)
        }
        for (p, pool) in config.pools.enumerated() where pool.sentinel.isEnabled {
            watchers.append(SentinelWatcher(checker: self, pool: pool, poolIndex: p))
        }
        for w in watchers { w.start() }
        dns = DNSRefresher(checker: self, config: config)
        replicaProber = ReplicaProber(checker: self, config: config)
        if !watchers.isEmpty || dns != nil {
            let waker = LoopAsync(loop) { [unowned self] in
                for w in self.watchers { w.pollRequested() }
                self.dns?.requested()
            }
            pollWaker = waker
            board.setSentinelPollWaker(waker)
        }
        stopper = LoopAsync(loop) { [unowned self] in self.shutDown() }
    }

    public var isEnabled: Bool { !probes.isEmpty || !watchers.isEmpty || dns != nil || replicaProber != nil }

    /// A server moved to a new address: its probe's connection to the old one is dropped, so
    /// the next check (and nothing older) speaks for the new master.
    func addressSwitched(pool: Int, server: Int) {
        for p in probes where p.poolIndex == pool && p.serverIndex == server { p.addressSwitched() }
    }

    public func start() {
        guard isEnabled else { stopper?.close(); stopper = nil; return }
        running = true
        thread = loop.runOnNewThread(owner: self)
    }

    /// Thread-safe.
    public func stop() {
        guard running else { return }
        stopper?.send()
        pthread_join(thread, nil)
        running = false
    }

    private func shutDown() {
        for t in timers { t.close() }
        for p in probes { p.close() }
        for w in watchers { w.close() }
        dns?.close()
        replicaProber?.close()
        board.setSentinelPollWaker(nil)
        pollWaker?.close()
        pollWaker = nil
        stopper?.close()
        stopper = nil
    }

    public func scheduleFlush(_ stream: Stream) { stream.flush() }
}

final class HealthProbe: StreamHandler {
    unowned let checker: HealthChecker
    let poolIndex: Int
    let serverIndex: Int
    let spec: ServerSpec
    let settings: HealthSettings
    let password: String?
    let address: sockaddr_storage
    private var stream: Stream?
    private let input = ByteBuffer()
    private var scanner = ReplyScanner()
    /// Replies still expected for the check in progress (AUTH's, then the check's).
    private var awaiting = 0
    private var deadline: LoopTimer?
    private let expected: [UInt8]
    private let user: String?
    /// The board's switch count for the server when this probe's connection was made: a
    /// failure of a connection to an older address says nothing of the current one.
    private var switches: UInt64 = 0

    init(checker: HealthChecker, pool: PoolConfig, poolIndex: Int, serverIndex: Int, address: sockaddr_storage) {
        self.checker = checker
        self.poolIndex = poolIndex
        self.serverIndex = serverIndex
        self.spec = pool.servers[serverIndex]
        self.settings = pool.health
        self.password = pool.redisAuth
        self.user = pool.redisUser
        self.address = address
        self.expected = Array("+\(pool.health.expect)\r\n".utf8)
    }

    func tick() {
        if awaiting > 0 { return }  // the previous check is still within its timeout
        if stream == nil || stream!.isClosed { connect() }
        guard let s = stream else { return }
        awaiting = 0
        if let p = password {
            UpstreamHandshake.writeAuth(user: user, password: p, into: s.output)
            awaiting += 1
        }
        let words = settings.command.split(separator: " ")
        s.output.appendArrayHeader(words.count)
        for w in words { s.output.appendBulk(string: String(w)) }
        awaiting += 1
        s.scheduleFlush()
        if deadline == nil { deadline = LoopTimer(checker.loop) { [unowned self] in self.timedOut() } }
        deadline?.start(afterMs: UInt64(settings.timeoutMs), repeatMs: 0)
    }

    private func connect() {
        input.clear()
        scanner.reset()
        let s: Stream
        switch spec.address {
        case let .unix(path):
            s = Stream(loop: checker.loop, kind: .pipe, scheduler: checker)
            s.handler = self
            s.connect(toPath: path)
        case .tcp:
            // A name is asked again first (see DNSRefresher): a server replaced behind it
            // is found as soon as its old address stops answering.
            if checker.dns?.follows(pool: poolIndex, server: serverIndex) == true {
                checker.dns?.refresh(pool: poolIndex, server: serverIndex)
            }
            let current = checker.board.currentAddress(pool: poolIndex, server: serverIndex)
            switches = current.switches
            var a = current.address
            s = Stream(loop: checker.loop, kind: .tcp, scheduler: checker)
            s.handler = self
            let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { s.connect(to: $0) } }
            if r < 0 { s.close(); stream = nil; failed(uvErrorName(r)); return }
        }
        stream = s
    }

    private func timedOut() {
        guard awaiting > 0 else { return }
        stream?.close()
        stream = nil
        failed("timed out after \(settings.timeoutMs) ms")
    }

    private func failed(_ why: String) {
        awaiting = 0
        deadline?.stop()
        checker.board.checkFailed(pool: poolIndex, server: serverIndex, why: why, switches: switches)
    }

    private func passed() {
        awaiting = 0
        deadline?.stop()
        checker.board.checkPassed(pool: poolIndex, server: serverIndex)
    }

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        let p = input.writableSpace(minimum: 4096)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        input.commit(count)
        while !input.isEmpty {
            guard case let .reply(length) = scanner.scan(input.readable) else { return }
            let reply = Array(input.readable[0..<length])
            input.consume(length)
            guard awaiting > 0 else { continue }
            awaiting -= 1
            if awaiting > 0 { continue }  // AUTH's reply; the check's comes next
            if reply == expected {
                passed()
            } else {
                failed("unexpected reply \(String(decoding: reply.prefix(80), as: UTF8.self).trimmingCharacters())")
            }
        }
    }

    func didConnect(_ stream: Stream) { stream.startReading() }

    func didEnd(_ stream: Stream, error: Int32) {
        if self.stream === stream { self.stream = nil }
        stream.close()
        if awaiting > 0 { failed(error == UV_EOF.rawValue ? "connection closed" : uvErrorName(error)) }
    }

    func addressSwitched() {
        awaiting = 0
        deadline?.stop()
        stream?.close()
        stream = nil
    }

    func close() {
        deadline?.close()
        stream?.close()
    }
}

/// True for IPv4 and IPv6 literals, which never need resolving again.
func isNumericHost(_ host: String) -> Bool {
    var v4 = in_addr(), v6 = in6_addr()
    return inet_pton(AF_INET, host, &v4) == 1 || inet_pton(AF_INET6, host, &v6) == 1
}

extension String {
    func trimmingCharacters() -> String {
        String(filter { $0 != "\r" && $0 != "\n" })
    }
}
