/*
 * fuzz_main.c - libFuzzer entry point for one target of fz_target.h, built
 * once per target with FZ_ONE defined as its function (fz_envelope_one,
 * fz_dispatch_one; see meson.build).  Built only with -Dfuzz=true (clang);
 * tests/fuzz/fz_replay.c runs the same entry points over the seed corpus
 * in every build.
 */
#include <stdlib.h>

#include "fz_target.h"

#ifndef FZ_ONE
#error "FZ_ONE must name the fz_target.h entry point to fuzz"
#endif

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (fz_setup() != 0)
		abort();
	/* Free the fake server at exit so LeakSanitizer reports only what
	 * an input leaked. */
	atexit(fz_teardown);
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	FZ_ONE(data, size);
	return 0;
}
