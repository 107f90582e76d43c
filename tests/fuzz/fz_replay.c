/*
 * fz_replay.c - run a seed corpus (or saved crash inputs) through the fuzz
 * targets without libFuzzer, so the corpus is exercised in every build:
 * plain gcc, and the ASan/UBSan CI build.
 *
 *   fz-replay envelope|dispatch|reply|resp PATH...   (PATH: a file or a directory)
 *
 * Every input runs twice.  Leaks: under AddressSanitizer, LeakSanitizer
 * reports them at exit; without it, the heap in use (glibc mallinfo2, with
 * the thread cache off) must not grow during the second pass, when every
 * lazy one-time allocation (arena first chunk, library state) has already
 * happened in the first.  FZ_VERBOSE=1 names each input as it runs;
 * FZ_PASSES=N runs more passes and prints the heap after each.
 * Exit status 0 = every input handled; a failed check aborts.
 */
#include <dirent.h>
#include <malloc.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fz_target.h"

#if defined(__SANITIZE_ADDRESS__)
#define FZ_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define FZ_ASAN 1
#endif
#endif
#ifndef FZ_ASAN
#define FZ_ASAN 0
#endif

#define FZ_MAX_INPUTS 100000
#define FZ_MAX_INPUT_BYTES (64u << 20)
#define FZ_NO_TCACHE "glibc.malloc.tcache_count=0"

struct fz_input {
	char *path;                  /* owned */
	uint8_t *data;               /* owned */
	size_t len;
};

static struct fz_input fz_inputs[FZ_MAX_INPUTS];
static size_t fz_ninputs;

static int
fz_load(const char *path)
{
	struct fz_input *in;
	struct stat sb;
	FILE *f = NULL;
	int rv = -1;

	if (fz_ninputs == FZ_MAX_INPUTS) {
		fprintf(stderr, "fz-replay: more than %d inputs\n", FZ_MAX_INPUTS);
		return -1;
	}
	in = &fz_inputs[fz_ninputs];
	if ((f = fopen(path, "rb")) == NULL || fstat(fileno(f), &sb) != 0 ||
	    (size_t)sb.st_size > FZ_MAX_INPUT_BYTES) {
		fprintf(stderr, "fz-replay: cannot read %s\n", path);
		goto out;
	}
	in->len = (size_t)sb.st_size;
	in->path = strdup(path);
	in->data = malloc(in->len != 0 ? in->len : 1);
	if (in->path == NULL || in->data == NULL ||
	    fread(in->data, 1, in->len, f) != in->len) {
		fprintf(stderr, "fz-replay: cannot read %s\n", path);
		free(in->path);
		free(in->data);
		goto out;
	}
	fz_ninputs++;
	rv = 0;
out:
	if (f != NULL)
		fclose(f);
	return rv;
}

/* Regular files of dir, sorted so runs are reproducible; dotfiles
 * (README, .gitkeep) are not inputs. */
static int
fz_load_dir(const char *dir)
{
	struct dirent **ents = NULL;
	char path[4096];
	struct stat sb;
	int i, n, rv = 0;

	if ((n = scandir(dir, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "fz-replay: cannot list %s\n", dir);
		return -1;
	}
	for (i = 0; i < n; i++) {
		if (rv == 0 && ents[i]->d_name[0] != '.') {
			snprintf(path, sizeof(path), "%s/%s", dir, ents[i]->d_name);
			if (stat(path, &sb) == 0 && S_ISREG(sb.st_mode))
				rv = fz_load(path);
		}
		free(ents[i]);
	}
	free(ents);
	return rv;
}

static void
fz_pass(void (*one)(const uint8_t *, size_t), int verbose)
{
	size_t i;

	for (i = 0; i < fz_ninputs; i++) {
		if (verbose)
			fprintf(stderr, "fz-replay: %s (%zu bytes)\n",
			    fz_inputs[i].path, fz_inputs[i].len);
		one(fz_inputs[i].data, fz_inputs[i].len);
	}
}

int
main(int argc, char **argv)
{
	void (*one)(const uint8_t *, size_t);
	struct stat sb;
	size_t before, after, i;
	int a, status = 1, leakcheck = 1;
	int verbose = getenv("FZ_VERBOSE") != NULL;

	/* glibc's per-thread cache holds freed chunks that mallinfo2 counts
	 * as in use, so it looks like growth until it fills: run with it
	 * off (the tunable is read at startup, hence the re-exec). */
	if (!FZ_ASAN && (getenv("GLIBC_TUNABLES") == NULL ||
	    strstr(getenv("GLIBC_TUNABLES"), FZ_NO_TCACHE) == NULL)) {
		setenv("GLIBC_TUNABLES", FZ_NO_TCACHE, 1);
		execv("/proc/self/exe", argv);
		fprintf(stderr, "fz-replay: re-exec failed; leak check off\n");
		leakcheck = 0;
	}
	if (argc < 3) {
		fprintf(stderr, "usage: fz-replay envelope|dispatch|reply|resp PATH...\n");
		return 2;
	}
	if (strcmp(argv[1], "envelope") == 0)
		one = fz_envelope_one;
	else if (strcmp(argv[1], "dispatch") == 0)
		one = fz_dispatch_one;
	else if (strcmp(argv[1], "reply") == 0)
		one = fz_reply_one;
	else if (strcmp(argv[1], "resp") == 0)
		one = fz_resp_one;
	else {
		fprintf(stderr, "fz-replay: unknown target \"%s\"\n", argv[1]);
		return 2;
	}
	for (a = 2; a < argc; a++) {
		if (stat(argv[a], &sb) != 0) {
			fprintf(stderr, "fz-replay: no such path %s\n", argv[a]);
			goto out;
		}
		if ((S_ISDIR(sb.st_mode) ? fz_load_dir(argv[a]) :
		    fz_load(argv[a])) != 0)
			goto out;
	}
	if (fz_ninputs == 0) {
		/* An empty corpus would make this test pass vacuously. */
		fprintf(stderr, "fz-replay: no inputs found\n");
		goto out;
	}
	if (fz_setup() != 0)
		goto out;

	fz_pass(one, verbose);
	before = mallinfo2().uordblks;
	fz_pass(one, 0);
	after = mallinfo2().uordblks;
	if (getenv("FZ_PASSES") != NULL) {
		/* Debugging aid: does the heap keep growing, pass after pass? */
		int p, npasses = atoi(getenv("FZ_PASSES"));

		for (p = 3; p <= npasses; p++) {
			fz_pass(one, 0);
			fprintf(stderr, "fz-replay: heap in use after pass %d: "
			    "%zu bytes\n", p, mallinfo2().uordblks);
		}
	}
	fz_teardown();

	printf("fz-replay %s: %zu inputs, 2 passes, no check failed\n",
	    argv[1], fz_ninputs);
	if (FZ_ASAN) {
		printf("leaks: checked by LeakSanitizer at exit\n");
	} else if (!leakcheck) {
		printf("leaks: not checked\n");
	} else if (after > before) {
		fprintf(stderr, "fz-replay: heap grew by %zu bytes over a "
		    "second pass of %zu inputs: a leak (rerun with ASan to "
		    "find it)\n", after - before, fz_ninputs);
		goto out;
	} else {
		printf("leaks: heap in use %zu bytes before and %zu after the "
		    "second pass\n", before, after);
	}
	status = 0;
out:
	for (i = 0; i < fz_ninputs; i++) {
		free(fz_inputs[i].path);
		free(fz_inputs[i].data);
	}
	return status;
}
