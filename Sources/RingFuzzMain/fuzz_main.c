// main() for the RingFuzz executable. On Linux SwiftPM links every Swift executable with
// `--defsym main=<Module>_main` (so tests can link executables), and a fuzz target built
// with -parse-as-library has no such symbol: the link fails instead of using libFuzzer's
// main. This defines RingFuzz_main as what libFuzzer's own main does, through libFuzzer's
// public LLVMFuzzerRunDriver.
#include <stddef.h>
#include <stdint.h>
#include "RingFuzzMain.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);  // Sources/RingFuzz
int LLVMFuzzerRunDriver(int *argc, char ***argv, int (*callback)(const uint8_t *data, size_t size));

int RingFuzz_main(int argc, char **argv) {
    return LLVMFuzzerRunDriver(&argc, &argv, LLVMFuzzerTestOneInput);
}
