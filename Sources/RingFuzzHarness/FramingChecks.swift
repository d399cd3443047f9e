// Framing checks of the fuzz harness: replies and requests must frame the same whatever
// way their bytes arrive, and never past what has arrived.

import RingCore

// MARK: reply scanning

struct ReplyOutcome: Equatable {
    var lengths: [Int] = []
    var error: String?
    /// Bytes taken by whole replies; the rest is an incomplete reply (or the error's).
    var consumed = 0
}

/// Scans `input` as an upstream connection does: the bytes up to each arrival end are in
/// the buffer, and each scan gets the buffer from the current reply's first byte.
func scanReplies(_ input: UnsafeRawBufferPointer, arrivals: [Int]) -> ReplyOutcome {
    var scanner = ReplyScanner()
    var outcome = ReplyOutcome()
    outcome.consumed = feed(input, arrivals: arrivals) { rest, _ in
        switch scanner.scan(rest) {
        case let .reply(length):
            check(length > 0 && length <= rest.count, "reply length \(length) of \(rest.count) bytes")
            outcome.lengths.append(length)
            return .used(length)
        case .incomplete:
            return .wait  // the scanner keeps its place
        case let .error(message):
            outcome.error = message
            return .stop
        }
    }
    return outcome
}

/// What a framing step did with the bytes it was given.
enum FeedStep {
    case used(Int)
    /// Incomplete: wait for the next arrival.
    case wait
    /// An error: nothing past this point can be framed.
    case stop
}

/// Feeds `input` to `step` as a connection receives it: after each arrival, `step` gets
/// the bytes from the first one not yet used up to what has arrived (and that offset),
/// again and again while it uses some. Returns the bytes used in all.
func feed(_ input: UnsafeRawBufferPointer, arrivals: [Int],
          _ step: (UnsafeRawBufferPointer, Int) -> FeedStep) -> Int {
    var start = 0
    for available in arrivals {
        framing: while start < available {
            let arrived = Arrived(input, start, available)
            defer { arrived.release() }
            switch step(arrived.bytes, start) {
            case let .used(length): start += length
            case .wait: break framing
            case .stop: return start
            }
        }
    }
    return start
}

/// Returns the whole replies found in `input` (one-shot), for the merge checks.
func checkReplyScanning(_ input: UnsafeRawBufferPointer) -> [[UInt8]] {
    guard input.count > 0 else { return [] }
    let once = scanReplies(input, arrivals: [input.count])
    checkAnySplit(input, chunkings: [(0, 16), (7, 300)], byteByByteUpTo: 512, "reply scan", once) { scanReplies(input, arrivals: $0) }
    var replies: [[UInt8]] = []
    var p = 0
    for length in once.lengths {
        replies.append(Array(input[p..<(p + length)]))
        p += length
    }
    return replies
}

// MARK: request parsing

enum Frame: Equatable {
    /// `args` are where the arguments lie in the whole input: the same spans mean the same
    /// bytes, and comparing them costs no copies.
    case request(args: [ArgumentSpan], inline: Bool, length: Int)
    case skip(Int)
    case error(String)
}

struct ParseOutcome: Equatable {
    var frames: [Frame] = []
    var consumed = 0
}

/// Parses `input` as a client session does (see ClientSession.process): on `.incomplete`
/// the same request is parsed again from its first byte once more bytes have arrived.
/// `onRequest` gets each whole request and the parser that framed it.
func parseRequests(_ input: UnsafeRawBufferPointer, arrivals: [Int], limits: RequestLimits = RequestLimits(),
                   onRequest: ((UnsafeRawBufferPointer, RequestParser) -> Void)? = nil) -> ParseOutcome {
    var parser = RequestParser(limits: limits)
    var outcome = ParseOutcome()
    outcome.consumed = feed(input, arrivals: arrivals) { rest, start in
        switch parser.parse(rest) {
        case let .request(length):
            check(length > 0 && length <= rest.count, "request length \(length) of \(rest.count) bytes")
            check(!parser.args.isEmpty, "a request without arguments")
            for a in parser.args {
                check(a.offset >= 0 && a.count >= 0 && a.offset + a.count <= length,
                      "argument \(a) outside the request of \(length) bytes")
            }
            let request = UnsafeRawBufferPointer(rebasing: rest[0..<length])
            outcome.frames.append(.request(args: parser.args.map { ArgumentSpan(offset: start + $0.offset, count: $0.count) },
                                           inline: parser.wasInline, length: length))
            onRequest?(request, parser)
            return .used(length)
        case let .skip(length):
            check(length > 0 && length <= rest.count, "skip length \(length) of \(rest.count) bytes")
            outcome.frames.append(.skip(length))
            return .used(length)
        case .incomplete:
            return .wait
        case let .error(message):
            outcome.frames.append(.error(message))
            return .stop
        }
    }
    return outcome
}

func checkRequestParsing(_ input: UnsafeRawBufferPointer, _ context: RunContext) {
    guard input.count > 0 else { return }
    let once = parseRequests(input, arrivals: [input.count]) { request, parser in
        checkRequest(request, parser, context)
    }
    checkAnySplit(input, chunkings: [(3, 16), (11, 300)], byteByByteUpTo: 256, "request parse", once) { parseRequests(input, arrivals: $0) }
}

/// The same outcome as `once` whatever the arrivals: input-chosen chunkings (each a salt
/// and a largest chunk), and one byte at a time for inputs up to `byteByByteUpTo`.
func checkAnySplit<Outcome: Equatable>(_ input: UnsafeRawBufferPointer, chunkings: [(salt: Int, maxChunk: Int)],
                                       byteByByteUpTo: Int, _ what: String, _ once: Outcome,
                                       _ run: ([Int]) -> Outcome) {
    for (salt, maxChunk) in chunkings {
        let chunked = run(arrivals(input, salt: salt, maxChunk: maxChunk))
        check(chunked == once, "chunked \(what) \(chunked) differs from one-shot \(once)")
    }
    if input.count <= byteByByteUpTo {
        let single = run(byteByByte(input.count))
        check(single == once, "byte-by-byte \(what) \(single) differs from one-shot \(once)")
    }
}

/// Limits small enough that inputs of a few KiB reach them (the defaults are 64 KiB inline,
/// 512 MB bulk, 1M arguments): the same chunking check, and no request exceeds them.
let smallLimits = RequestLimits(bulkLength: 40, argumentCount: 6, inlineLength: 24)

func checkSmallLimits(_ input: UnsafeRawBufferPointer) {
    guard input.count > 0 else { return }
    let once = parseRequests(input, arrivals: [input.count], limits: smallLimits) { request, parser in
        if parser.wasInline {
            // Only the line's length is limited (as in Redis); it may end in CR LF after
            // `inlineLength` bytes.
            check(request.count <= smallLimits.inlineLength + 2, "inline request of \(request.count) bytes over the limit")
        } else {
            check(parser.args.count <= smallLimits.argumentCount, "\(parser.args.count) arguments over the limit")
            for a in parser.args { check(a.count <= smallLimits.bulkLength, "argument of \(a.count) bytes over the limit") }
        }
    }
    checkAnySplit(input, chunkings: [(5, 8)], byteByByteUpTo: 128, "request parse (small limits)", once) {
        parseRequests(input, arrivals: $0, limits: smallLimits)
    }
}
