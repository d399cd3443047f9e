// A connection of the checker thread's own to a sentinel or a candidate master: commands out,
// each whole reply handed over as a RESPValue, one `onEnd` when it breaks, times out or is
// closed. Control plane only (a few replies a second): simplicity over speed.

import CLibUV
import RingCore

final class ControlLink: StreamHandler {
    private let stream: Stream
    private let input = ByteBuffer()
    private var deadline: LoopTimer?
    private var ended = false
    var onReply: (RESPValue) -> Void = { _ in }
    var onEnd: () -> Void = {}

    /// A control reply larger than this is not one the proxy asked for (SENTINEL MASTER is
    /// about 1 KiB, INFO sentinel a few): the link is dropped instead of buffering it.
    static let maxReplyBytes = 1 << 20

    /// Connects to `address`; nil when the connect cannot even start.
    init?(loop: EventLoop, scheduler: FlushScheduler, address: HostPort) {
        guard case let .success(resolved) = resolveAddress(host: address.host, port: address.port) else { return nil }
        stream = Stream(loop: loop, kind: .tcp, scheduler: scheduler)
        stream.handler = self
        var a = resolved
        let r = withUnsafePointer(to: &a) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { stream.connect(to: $0) } }
        if r < 0 { stream.close(); return nil }
    }

    /// Ends the link (with `onEnd`) unless it is closed within `ms`; restarting moves it on.
    func expire(afterMs ms: Int, loop: EventLoop) {
        if deadline == nil { deadline = LoopTimer(loop) { [unowned self] in self.close() } }
        deadline?.start(afterMs: UInt64(ms), repeatMs: 0)
    }

    func send(_ words: [String]) {
        guard !ended else { return }
        stream.output.appendArrayHeader(words.count)
        for w in words { stream.output.appendBulk(string: w) }
        stream.scheduleFlush()
    }

    /// AUTH [user] password, when a password is set; returns the replies it owes.
    func auth(user: String?, password: String?) -> Int {
        guard let p = password else { return 0 }
        send(user.map { ["AUTH", $0, p] } ?? ["AUTH", p])
        return 1
    }

    func close() {
        guard !ended else { return }
        ended = true
        deadline?.close()
        deadline = nil
        stream.close()
        let end = onEnd
        onReply = { _ in }
        onEnd = {}
        end()
    }

    var isOpen: Bool { !ended }

    func readSpace(_ stream: Stream, suggested: Int) -> UnsafeMutableRawBufferPointer {
        let p = input.writableSpace(minimum: 4096)
        return UnsafeMutableRawBufferPointer(start: p, count: input.writableCount)
    }

    func didRead(_ stream: Stream, count: Int) {
        input.commit(count)
        while !ended, !input.isEmpty, let (value, used) = RESPValue.parse(input.readable) {
            input.consume(used)
            onReply(value)
        }
        if input.readableCount > ControlLink.maxReplyBytes { close() }
    }

    func didConnect(_ stream: Stream) { stream.startReading() }

    func didEnd(_ stream: Stream, error: Int32) { close() }
}
