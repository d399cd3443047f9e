// nutcracker's hash_tag: with tag "{}", the part of the key between the first "{" and the
// first "}" after it is hashed instead of the whole key, if that part is non-empty.

public struct HashTag: Equatable, Sendable {
    public let open: UInt8
    public let close: UInt8

    public init?(_ text: String) {
        let b = Array(text.utf8)
        guard b.count == 2 else { return nil }
        open = b[0]
        close = b[1]
    }

    /// The bytes of `key` to hash.
    @inlinable
    public func hashedPart(_ key: UnsafeRawBufferPointer) -> UnsafeRawBufferPointer {
        guard let s = key.firstIndex(of: open) else { return key }
        var e = s + 1
        while e < key.count, key[e] != close { e += 1 }
        if e >= key.count || e == s + 1 { return key }
        return UnsafeRawBufferPointer(rebasing: key[(s + 1)..<e])
    }
}

/// Everything that decides a key's server in one pool: key routes, hash function, hash
/// tag, ring.
public struct KeyPlacement: Sendable {
    public let hash: HashFunction
    public let tag: HashTag?
    public var ring: KetamaRing
    /// nutcracker answers the only server of a one-server pool without hashing.
    public let singleServer: Bool
    /// Prefixes pinned to a server (`key_routes`); a routed server stays its keys' server
    /// even when it is down and ejected: the route is the operator's explicit choice.
    public let routes: KeyRoutes
    /// The servers of the pool, live or not (SCAN's cursor counts them all).
    public let serverCount: Int

    public init(hash: HashFunction, tag: HashTag?, ring: KetamaRing, serverCount: Int, routes: KeyRoutes = .none) {
        self.hash = hash
        self.tag = tag
        self.ring = ring
        self.singleServer = serverCount == 1
        self.serverCount = serverCount
        self.routes = routes
    }

    /// The server index that owns `key`, or -1 when none is live.
    @inlinable
    public func server(forKey key: UnsafeRawBufferPointer) -> Int {
        if !routes.isEmpty, let routed = routes.server(forKey: key) { return routed }
        if singleServer { return ring.isEmpty ? -1 : Int(ring.owners[0]) }
        let part = tag.map { $0.hashedPart(key) } ?? key
        let h: UInt32 = part.isEmpty ? 0 : (hash == .fnv1a_64 ? Hashes.fnv1a_64(part) : hash.hash(part))
        return ring.server(forHash: h)
    }
}
