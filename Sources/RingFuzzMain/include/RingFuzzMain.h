// See fuzz_main.c.
#ifndef RING_FUZZ_MAIN_H
#define RING_FUZZ_MAIN_H
int RingFuzz_main(int argc, char **argv);
#endif
