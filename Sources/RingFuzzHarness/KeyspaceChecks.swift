// Fuzz checks of the keyspace commands' reply handling: whatever a server answers, a SCAN
// page rewritten with the ring's cursor, KEYS' concatenation and RANDOMKEY's pick are each
// one well-formed reply for the client, and a rewritten cursor decodes to the position it
// names.

import RingCore

/// The input's own replies as servers' answers (at most this many, to keep runs fast).
let keyspaceReplyLimit = 8

func checkKeyspaceReplies(_ context: RunContext) {
    let replies = context.replies.prefix(keyspaceReplyLimit)
    guard !replies.isEmpty else { return }
    let serverCount = 1 + replies.count % 4
    for (i, reply) in replies.enumerated() {
        let server = i % serverCount
        let out = context.out
        reply.withUnsafeBytes { ScanPage.rewriteReply($0, server: server, serverCount: serverCount, into: out) }
        checkOneReply(out.readable, "rewritten SCAN page")
        // A page the rewrite accepted carries a cursor that decodes to where the scan goes next.
        let page = out.readable
        guard page.starts(with: Array("*2\r\n$".utf8)), let cr = page[5...].firstIndex(of: 13),
              let n = parseInteger(UnsafeRawBufferPointer(rebasing: page[5..<cr])), n > 0 else { continue }
        let text = UnsafeRawBufferPointer(rebasing: page[(cr + 2)..<(cr + 2 + n)])
        guard case let .success(next) = ScanCursor.decode(text, serverCount: serverCount) else {
            check(false, "a rewritten SCAN cursor does not decode")
            continue
        }
        check(next == .start || next.server >= server, "a SCAN cursor went back from server \(server) to \(next.server)")
    }
    for kind in [SplitKind.concat, .firstNonNull] {
        let merge = context.merge
        merge.reset(kind: kind, keyCount: 0, parts: replies.count)
        for (part, reply) in replies.enumerated() { reply.withUnsafeBytes { merge.apply(part: part, reply: $0) } }
        check(merge.isComplete, "\(kind) merge not complete")
        let out = context.out
        merge.write(into: out, version: replies.count % 2 == 0 ? .resp2 : .resp3)
        checkOneReply(out.readable, "merged \(kind) reply")
    }
}
