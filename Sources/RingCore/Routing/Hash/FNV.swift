// The FNV family as nutcracker computes it. Its "fnv1a_64" is in fact 32-bit: it starts
// from the low half of the 64-bit offset basis and multiplies by the 64-bit prime in 32-bit
// arithmetic, so only the low 32 bits of the prime (0x1b3) matter.

extension Hashes {
    static let fnv64Basis: UInt64 = 0xcbf29ce484222325
    static let fnv64Prime: UInt64 = 0x100000001b3
    static let fnv32Basis: UInt32 = 0x811c9dc5
    static let fnv32Prime: UInt32 = 16777619

    @inlinable
    public static func fnv1a_64(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h: UInt32 = 0x84222325  // low 32 bits of the 64-bit basis
        for b in key { h = (h ^ UInt32(bitPattern: Int32(Int8(bitPattern: b)))) &* 0x1b3 }
        return h
    }

    public static func fnv1_64(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h = fnv64Basis
        for b in key { h = (h &* fnv64Prime) ^ UInt64(signExtended(b)) }
        return UInt32(truncatingIfNeeded: h)
    }

    public static func fnv1_32(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h = fnv32Basis
        for b in key { h = (h &* fnv32Prime) ^ signExtended(b) }
        return h
    }

    public static func fnv1a_32(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var h = fnv32Basis
        for b in key { h = (h ^ signExtended(b)) &* fnv32Prime }
        return h
    }
}
