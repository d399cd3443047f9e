// The fuzz harness over RingCore: one input is run through everything the proxy does with
// bytes it does not control. It is a library (not part of the fuzz executable) so the unit
// tests can replay inputs the fuzzer found through exactly this code.
//
// The same bytes serve as a client's request stream and as a server's reply stream; RESP
// requests are valid RESP replies too, so a seed of either kind exercises both. An invariant
// that does not hold stops the process (fatalError), which libFuzzer reports as a crash and
// keeps the input.
//
// What is checked:
// - RequestParser and ReplyScanner give the same frames whether the bytes arrive at once,
//   in input-chosen chunks, or one byte at a time (both are meant to work on any split);
//   the parser also with limits small enough for short inputs to reach, which no request
//   may exceed. Each chunked read sees only the bytes that have arrived (see `Arrived`).
// - No frame is empty or longer than the bytes it was given (an empty frame would make the
//   proxy loop forever), and every argument lies inside its request.
// - Every request is re-encoded as RESP and parses back to the same arguments.
// - Command lookup agrees with a plain dictionary; key positions lie inside the request
//   and a validated key count is exactly the number of keys found.
// - Every request is planned by the proxy's own RoutePlanner in every pool: a forwarded
//   request's keys all live on its server, a split's plan matches each key's server, an
//   error is one whole reply. Keys route to a server index of their pool (or -1 when none
//   is live), in pools with
//   every hash function, both deterministic distributions, hash tags and ejected hosts.
// - A split command's parts parse back to exactly the original keys (and values), and the
//   parts' key counts sum to the original count.
// - Merging: with fabricated replies the merged reply is exactly what the client must get
//   (MGET in key order with nils for failed shards, DEL/EXISTS's sum of the answering
//   shards, MSET's +OK or the first failure); with replies taken from the input it is one
//   well-formed reply and MGET's has one element per key. One MergeState is reused through
//   `reset` for all merges of an input, as workers recycle theirs.
// - SCAN pages, KEYS and RANDOMKEY merges of the input's replies are one well-formed reply
//   each, and a rewritten SCAN cursor decodes to a position at or after its server.

import RingCore

public enum FuzzHarness {
    /// Runs one input through every check. Returns normally when all hold.
    public static func run(_ input: UnsafeRawBufferPointer) {
        let context = RunContext(replies: checkReplyScanning(input))
        checkRequestParsing(input, context)
        checkKeyspaceReplies(context)
        checkSmallLimits(input)
    }

    public static func run(_ input: [UInt8]) {
        input.withUnsafeBytes { run($0) }
    }
}

/// What the checks of one input share: the whole replies found in it (fed to merges as
/// servers' answers), and one MergeState reused through `reset` for every merge, as
/// workers recycle theirs. Made afresh per input so no state leaks from one input to the
/// next (libFuzzer must be able to replay a crash from its input alone).
final class RunContext {
    let replies: [[UInt8]]
    let merge = MergeState(kind: .sum, keyCount: 0, parts: 0)
    /// Where re-encoded requests, split parts and merged replies are written, cleared before
    /// each use: allocating buffers per check costs more under ASan than the checks.
    let scratch = ByteBuffer(capacity: 4096)
    /// The production planner, as a worker holds one for all its clients.
    var planner = RoutePlanner(table: CommandTable.redis70)
    init(replies: [[UInt8]]) { self.replies = replies }

    /// `scratch`, emptied.
    var out: ByteBuffer { scratch.clear(); return scratch }
}

/// Stops the process when an invariant does not hold; the message says which.
@inline(never)
func check(_ condition: Bool, _ message: @autoclosure () -> String) {
    if !condition { fatalError("fuzz invariant failed: \(message())") }
}

@inline(__always)
func slice(_ buf: UnsafeRawBufferPointer, _ span: ArgumentSpan) -> UnsafeRawBufferPointer {
    UnsafeRawBufferPointer(rebasing: buf[span.offset..<(span.offset + span.count)])
}

func equal(_ a: UnsafeRawBufferPointer, _ b: UnsafeRawBufferPointer) -> Bool {
    a.count == b.count && a.elementsEqual(b)
}

/// A cheap hash of some bytes, to derive choices (apply order, failing shards, RESP version)
/// from the input without reserving input bytes for them.
func mix(_ bytes: UnsafeRawBufferPointer) -> UInt32 { Hashes.fnv1a_32(bytes) }

/// Where each arrival ends when the input comes in chunks whose sizes the input itself
/// chooses (1 to `maxChunk` bytes, read from the input at positions that depend on `salt`).
/// Long inputs get proportionally larger chunks (about a hundred arrivals at most): every
/// arrival re-parses the request in progress, and the fuzzer must stay fast.
func arrivals(_ input: UnsafeRawBufferPointer, salt: Int, maxChunk: Int) -> [Int] {
    let n = input.count
    let maxChunk = Swift.max(maxChunk, n / 48)
    var ends: [Int] = []
    var pos = 0
    var k = 0
    while pos < n {
        let b = Int(input[(k &* 31 &+ salt) % n])
        pos = Swift.min(n, pos + 1 + b % maxChunk)
        ends.append(pos)
        k += 1
    }
    return ends
}

/// The bytes `start..<end` of the input (what has arrived and is not yet consumed) in a
/// heap block of exactly that size. In a release build Swift does not bounds-check unsafe
/// buffer subscripts, so a read past what has arrived (or before the buffer's start) would
/// go unnoticed inside the whole input; here it runs into ASan's redzone. When everything
/// has arrived no copy is needed: libFuzzer passes the input in a block of exactly its size.
struct Arrived {
    let bytes: UnsafeRawBufferPointer
    private let block: UnsafeMutableRawBufferPointer?

    init(_ input: UnsafeRawBufferPointer, _ start: Int, _ end: Int) {
        if end == input.count {
            bytes = UnsafeRawBufferPointer(rebasing: input[start..<end])
            block = nil
        } else {
            let b = UnsafeMutableRawBufferPointer.allocate(byteCount: end - start, alignment: 1)
            b.copyMemory(from: UnsafeRawBufferPointer(rebasing: input[start..<end]))
            bytes = UnsafeRawBufferPointer(b)
            block = b
        }
    }

    func release() { block?.deallocate() }
}

/// One byte per arrival: the hardest split. Kept to small inputs, as the request parser
/// re-parses an incomplete request from its first byte on every arrival.
func byteByByte(_ n: Int) -> [Int] { Array(Swift.stride(from: 1, through: n, by: 1)) }
