// One `servers:` line of a nutcracker pool: "host:port:weight [name]" or
// "/path/to.sock:weight [name]", parsed from the right as nutcracker does. The ring
// identity (what ketama hashes) is the name if given, else "host:port", else just "host"
// when the port is 11211; the weight is never part of it.

public struct ServerSpec: Equatable, Sendable {
    public enum Address: Equatable, Sendable {
        case tcp(host: String, port: Int)
        case unix(path: String)
    }

    public var address: Address
    public var weight: Int
    /// The explicit name from the line, if any.
    public var name: String?

    public init(address: Address, weight: Int, name: String?) {
        self.address = address
        self.weight = weight
        self.name = name
    }

    /// What ketama hashes for this server's points, and what sorts the servers.
    public var ringIdentity: String {
        if let n = name { return n }
        switch address {
        case let .tcp(host, port): return port == 11211 ? host : "\(host):\(port)"
        case let .unix(path): return path
        }
    }

    /// "host:port" or the socket path, for logs and error replies.
    public var addressText: String {
        switch address {
        case let .tcp(host, port): return "\(host):\(port)"
        case let .unix(path): return path
        }
    }

    /// The name shown in error replies and logs: the explicit name, else the address.
    public var displayName: String { name ?? addressText }

    public enum ParseError: Error, Equatable, CustomStringConvertible {
        case missingWeight(String)
        case badWeight(String)
        case badPort(String)
        case missingHost(String)

        public var description: String {
            switch self {
            case let .missingWeight(s): return "server '\(s)' has no weight: write host:port:weight [name]"
            case let .badWeight(s): return "server '\(s)' has a weight that is not a positive integer"
            case let .badPort(s): return "server '\(s)' has a port that is not between 1 and 65535"
            case let .missingHost(s): return "server '\(s)' has no host"
            }
        }
    }

    public static func parse(_ line: String) -> Result<ServerSpec, ParseError> {
        let trimmed = line.trimmingSpaces()
        var addressPart = trimmed
        var name: String?
        if let space = trimmed.lastIndex(where: { $0 == " " || $0 == "\t" }) {
            addressPart = String(trimmed[..<space]).trimmingSpaces()
            let n = String(trimmed[trimmed.index(after: space)...])
            if !n.isEmpty { name = n }
        }
        guard let weightColon = addressPart.lastIndex(of: ":") else { return .failure(.missingWeight(trimmed)) }
        let weightText = String(addressPart[addressPart.index(after: weightColon)...])
        guard let weight = Int(weightText), weight > 0 else { return .failure(.badWeight(trimmed)) }
        let hostPort = String(addressPart[..<weightColon])
        if hostPort.hasPrefix("/") {
            return .success(ServerSpec(address: .unix(path: hostPort), weight: weight, name: name))
        }
        switch HostPort.parse(hostPort) {
        case let .success(address):
            return .success(ServerSpec(address: .tcp(host: address.host, port: address.port), weight: weight, name: name))
        // "host:port" without a weight leaves no colon here: nutcracker requires the weight.
        case .failure(.noPort): return .failure(.missingWeight(trimmed))
        case .failure(.badPort): return .failure(.badPort(trimmed))
        case .failure(.noHost): return .failure(.missingHost(trimmed))
        }
    }

    /// nutcracker's server order: shorter identity first, then bytewise. This order is the
    /// server index used by modula and for ketama ties.
    public static func nutcrackerOrder(_ a: ServerSpec, _ b: ServerSpec) -> Bool {
        let x = Array(a.ringIdentity.utf8), y = Array(b.ringIdentity.utf8)
        if x.count != y.count { return x.count < y.count }
        return x.lexicographicallyPrecedes(y)
    }
}

extension String {
    func trimmingSpaces() -> String {
        var s = Substring(self)
        while let f = s.first, f == " " || f == "\t" { s = s.dropFirst() }
        while let l = s.last, l == " " || l == "\t" { s = s.dropLast() }
        return String(s)
    }
}
