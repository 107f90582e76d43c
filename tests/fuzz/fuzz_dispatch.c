/*
 * fuzz_dispatch.c - libFuzzer entry point for fz_dispatch_one() (fz_target.h).
 * Built only with -Dfuzz=true (clang); tests/fuzz/fz_replay.c runs the
 * same entry point over the seed corpus in every build.
 */
#include <stdlib.h>

#include "fz_target.h"

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
	fz_dispatch_one(data, size);
	return 0;
}
