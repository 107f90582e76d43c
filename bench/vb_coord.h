/*
 * vb_coord.h - `vset-bench run`: the coordinator.
 *
 * It loads the dataset when it needs it (--load, --recall), bulk-loads the
 * collection (--load), computes the ground truth (--recall), then drives
 * the agents with three surveys on a SURVEYOR socket (PREPARE, RUN, BYE;
 * see vset_bench.proto), merges their histograms and counts, and prints
 * the summary (vb_report.h).
 *
 * Ownership: vb_run_opts's strings point into argv; shards and shard_pids
 * are malloc'd by vb_run_parse and freed by vb_run_opts_free.
 */
#ifndef VB_COORD_H
#define VB_COORD_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include "vset_bench.pb-c.h"

struct vb_run_opts {
	Vsetbench__V1__Plan plan;    /* what the agents get */
	double total_rate;           /* --rate, before dividing */
	uint64_t total_requests;     /* --requests, before dividing */
	size_t agents;
	int spawn;                   /* start the agents ourselves */
	int compare;                 /* vsetd, then direct, same agents */
	const char *listen;
	int agent_wait_s;
	int load;
	size_t load_batch, load_concurrency;
	int recall;
	const char *cache_dir;
	int json, quiet;
	pid_t vsetd_pid;
	pid_t *shard_pids;
	size_t n_shard_pids;
	const char *self;            /* our executable, for --spawn-agents */
};

/* Parse `run`'s arguments (argv[0] is "run").  0, 1 after --help (the
 * caller exits 0), or -1 after printing the problem (exit 2). */
int vb_run_parse(struct vb_run_opts *o, int argc, char **argv);
void vb_run_opts_free(struct vb_run_opts *o);
void vb_run_usage(FILE *f);

/* Run it; the process exit status. */
int vb_coord_main(struct vb_run_opts *o);

#endif
