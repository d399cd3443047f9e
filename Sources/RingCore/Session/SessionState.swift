// What the proxy knows about one client connection besides its bytes: its mode, protocol,
// authentication and name. A value type: the session's modes are an explicit state machine
// here, changed only through `apply`, never through flags spread over the connection class.

public enum SessionMode: Equatable, Sendable {
    /// Requests are read and handled.
    case normal
    /// QUIT, end of input or a request that cannot be framed: nothing more is read, and the
    /// connection closes once every reply owed for earlier requests is written.
    case closing
}

public enum SessionEvent: Equatable, Sendable {
    case quit
    case protocolError
    /// The client half-closed its side (EOF); replies still owed are written.
    case endOfInput
}

/// What the connection must do after an event.
public enum SessionTransition: Equatable, Sendable {
    /// Stop reading; close when nothing is owed.
    case beginClosing
    /// Already closing: nothing new to do.
    case none
}

public struct SessionState: Sendable {
    public let id: UInt64
    public private(set) var mode: SessionMode = .normal
    public var version: RESPVersion = .resp2
    public var authenticated: Bool
    public var clientName: String?
    /// The database SELECT chose: the client's requests travel on server connections that
    /// selected it. Starts at the pool's redis_db.
    public var database: Int

    public init(id: UInt64, authenticated: Bool, database: Int = 0) {
        self.id = id
        self.authenticated = authenticated
        self.database = database
    }

    @inlinable public var acceptsRequests: Bool { mode == .normal }

    public mutating func apply(_ event: SessionEvent) -> SessionTransition {
        switch (mode, event) {
        case (.normal, .quit), (.normal, .protocolError), (.normal, .endOfInput):
            mode = .closing
            return .beginClosing
        case (.closing, _):
            return .none
        }
    }
}
