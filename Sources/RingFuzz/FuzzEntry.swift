// libFuzzer's entry point. This target exists only when RINGPROXY_FUZZ=1 (see
// Package.swift) and is built with -sanitize=fuzzer,address, which links libFuzzer's own
// main(); `make fuzz` builds and runs it. The checks live in RingFuzzHarness so the unit
// tests can replay the inputs it found.

import RingFuzzHarness

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    FuzzHarness.run(UnsafeRawBufferPointer(start: data, count: size))
    return 0
}
