// "host:port" as every address in a configuration file writes it: pool listeners, the admin
// listener and server lines. One parser, so all three accept and refuse the same text.

public struct HostPort: Equatable, Sendable {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public enum Problem: Error, Equatable, Sendable {
        /// No ':' at all.
        case noPort
        /// What follows the last ':' is not a port in `validPorts`.
        case badPort
        /// Nothing before the ':'.
        case noHost
    }

    /// Port 0 would mean "any free port" to bind() and nothing at all to connect().
    public static let validPorts = 1...65535

    /// Splits at the last ':' (so an IPv6 host such as "::1:6379" keeps its colons). The
    /// port is checked before the host, so ":redis" is a bad port and ":6379" has no host.
    public static func parse<S: StringProtocol>(_ text: S) -> Result<HostPort, Problem> {
        guard let colon = text.lastIndex(of: ":") else { return .failure(.noPort) }
        guard let port = Int(text[text.index(after: colon)...]), validPorts.contains(port) else {
            return .failure(.badPort)
        }
        let host = String(text[..<colon])
        if host.isEmpty { return .failure(.noHost) }
        return .success(HostPort(host: host, port: port))
    }
}
