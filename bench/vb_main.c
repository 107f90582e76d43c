/*
 * vb_main.c - vset-bench: load generator and benchmark for vsetd.
 *
 *   vset-bench run ...      coordinator (vb_coord.c, options in vb_opts.c)
 *   vset-bench agent ...    load agent (vb_agent.c)
 *   vset-bench floor ...    the RPC hop's own cost (vb_floor.c)
 *
 * Exit status: 0 ok, 1 failure, 2 usage, 3 results incomplete (an agent
 * did not answer; the summary covers those that did).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "vb_agent.h"
#include "vb_coord.h"
#include "vb_floor.h"

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vset-bench run --dataset SPEC [options]   (run --help)\n"
	    "       vset-bench agent --coordinator URL [--once]\n"
	    "       vset-bench floor [--server URL] [options]   (floor --help)\n"
	    "       vset-bench --version\n");
}

int
main(int argc, char **argv)
{
	struct vb_run_opts o;
	char self[4096];
	ssize_t n;
	int rv;

	if (argc < 2) {
		usage(stderr);
		return 2;
	}
	if (strcmp(argv[1], "--version") == 0) {
		printf("vset-bench %s\n", VSETD_VERSION);
		return 0;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "agent") == 0)
		return vb_agent_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "floor") == 0)
		return vb_floor_main(argc - 1, argv + 1);
	if (strcmp(argv[1], "run") != 0) {
		usage(stderr);
		return 2;
	}
	rv = vb_run_parse(&o, argc - 1, argv + 1);
	if (rv != 0) {
		vb_run_opts_free(&o);
		return rv > 0 ? 0 : 2;
	}
	/* Spawned agents run this very binary. */
	if ((n = readlink("/proc/self/exe", self, sizeof(self) - 1)) > 0) {
		self[n] = '\0';
		o.self = self;
	} else {
		o.self = argv[0];
	}
	rv = vb_coord_main(&o);
	vb_run_opts_free(&o);
	return rv;
}
