// CRC checksums used as key hashes. nutcracker's "crc32a" is the standard CRC-32 (as zlib);
// its "crc32" keeps only bits 16..30 of it (15 bits), which puts almost every key on one
// server under ketama: we reproduce that, and the config loader warns about it.
// "crc16" is the CRC-16/XMODEM table step (polynomial 0x1021) applied to a 32-bit
// accumulator that nutcracker never truncates, so results exceed 16 bits; measured against
// the binary, a 16-bit result places keys differently.

extension Hashes {
    static let crc32Table: [UInt32] = (0..<256).map { i -> UInt32 in
        var c = UInt32(i)
        for _ in 0..<8 { c = (c & 1) != 0 ? 0xEDB88320 ^ (c >> 1) : c >> 1 }
        return c
    }

    static let crc16Table: [UInt16] = (0..<256).map { i -> UInt16 in
        var c = UInt16(i) << 8
        for _ in 0..<8 { c = (c & 0x8000) != 0 ? (c << 1) ^ 0x1021 : c << 1 }
        return c
    }

    public static func crc32(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0xFFFFFFFF
        for b in key { crc = crc32Table[Int((crc ^ UInt32(b)) & 0xff)] ^ (crc >> 8) }
        return crc ^ 0xFFFFFFFF
    }

    public static func crc32Short(_ key: UnsafeRawBufferPointer) -> UInt32 {
        (crc32(key) >> 16) & 0x7fff
    }

    public static func crc16(_ key: UnsafeRawBufferPointer) -> UInt32 {
        var crc: UInt32 = 0
        for b in key { crc = (crc << 8) ^ UInt32(crc16Table[Int(((crc >> 8) ^ UInt32(b)) & 0xff)]) }
        return crc
    }
}
