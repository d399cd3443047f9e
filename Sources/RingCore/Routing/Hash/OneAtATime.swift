// Bob Jenkins's one-at-a-time hash, over sign-extended bytes as nutcracker's signed chars.

extension Hashes {
    public static func oneAtATime(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0
        for b in key {
            h = h &+ signExtended(b)
            h = h &+ (h << 10)
            h ^= h >> 6
        }
        h = h &+ (h << 3)
        h ^= h >> 11
        h = h &+ (h << 15)
        return h
    }
}
