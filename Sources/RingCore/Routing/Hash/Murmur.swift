// MurmurHash2 (32-bit) with nutcracker's seed: 0xdeadbeef times the key length.

extension Hashes {
    public static func murmur(_ key: UnsafeRawBufferPointer) -> UInt32 {
        let m: UInt32 = 0x5bd1e995
        let r: UInt32 = 24
        let length = UInt32(truncatingIfNeeded: key.count)
        let seed = 0xdeadbeef &* length
        var h = seed ^ length
        var i = 0
        var remaining = key.count
        while remaining >= 4 {
            var k = UInt32(key[i]) | UInt32(key[i + 1]) << 8 | UInt32(key[i + 2]) << 16 | UInt32(key[i + 3]) << 24
            k = k &* m
            k ^= k >> r
            k = k &* m
            h = h &* m
            h ^= k
            i += 4
            remaining -= 4
        }
        if remaining >= 3 { h ^= UInt32(key[i + 2]) << 16 }
        if remaining >= 2 { h ^= UInt32(key[i + 1]) << 8 }
        if remaining >= 1 {
            h ^= UInt32(key[i])
            h = h &* m
        }
        h ^= h >> 13
        h = h &* m
        h ^= h >> 15
        return h
    }
}
