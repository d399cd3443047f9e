// One framed request seen in place: the bytes as the client sent them and the argument
// spans RequestParser found. Nothing is copied; the view is only valid while the read
// buffer it points into is, which is the handling of that one request.

public struct RequestView {
    public let bytes: UnsafeRawBufferPointer
    public let args: [ArgumentSpan]
    /// An inline command (`PING\r\n`): its bytes are not RESP and must be re-encoded.
    public let isInline: Bool

    @inlinable
    public init(bytes: UnsafeRawBufferPointer, args: [ArgumentSpan], isInline: Bool = false) {
        self.bytes = bytes
        self.args = args
        self.isInline = isInline
    }

    /// Arguments, the command name included.
    @inlinable public var count: Int { args.count }

    @inlinable
    public subscript(_ i: Int) -> UnsafeRawBufferPointer {
        let span = args[i]
        return UnsafeRawBufferPointer(rebasing: bytes[span.offset..<(span.offset + span.count)])
    }

    public func string(_ i: Int) -> String { String(decoding: self[i], as: UTF8.self) }

    public func lowercased(_ i: Int) -> String { ASCII.lowercasedString(self[i]) }

    /// Whether argument `i` is `word` (given in lower case), in any case.
    public func argument(_ i: Int, is word: String) -> Bool { ASCII.equalsLowercased(self[i], word) }

    public func integer(_ i: Int) -> Int? { parseInteger(self[i]) }
}
