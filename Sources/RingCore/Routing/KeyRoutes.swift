// `key_routes`: keys that start with a configured prefix go to a named server of the pool
// instead of their ketama position, the longest prefix winning. For libraries whose key
// names cannot carry a hash tag (rq's "rq:" keys, which its transactions span), so their
// keys stay on one server. Pure; consulted before hashing, and free when no route is set.

public struct KeyRoutes: Sendable, Equatable {
    /// (prefix, server index), longest prefix first, so the first match is the longest.
    @usableFromInline let routes: [(prefix: [UInt8], server: Int)]

    public static let none = KeyRoutes([])

    /// `routes`: prefixes (non-empty, distinct) and the index of the server each goes to.
    public init(_ routes: [(prefix: String, server: Int)]) {
        self.routes = routes.map { (Array($0.prefix.utf8), $0.server) }.sorted { $0.prefix.count > $1.prefix.count }
    }

    @inlinable public var isEmpty: Bool { routes.isEmpty }

    /// The server a routed key goes to, or nil for a key no prefix matches.
    @inlinable
    public func server(forKey key: UnsafeRawBufferPointer) -> Int? {
        for route in routes where route.prefix.count <= key.count {
            var matches = true
            for i in 0..<route.prefix.count where key[i] != route.prefix[i] {
                matches = false
                break
            }
            if matches { return route.server }
        }
        return nil
    }

    public static func == (a: KeyRoutes, b: KeyRoutes) -> Bool {
        a.routes.count == b.routes.count && zip(a.routes, b.routes).allSatisfy { $0.prefix == $1.prefix && $0.server == $1.server }
    }
}
