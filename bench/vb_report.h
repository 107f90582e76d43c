/*
 * vb_report.h - the coordinator's summary: a human table, or (--json) one
 * JSON object on stdout.
 *
 * JSON keys (all always present unless noted; times in ms, rates per s):
 *   mode "vsetd"|"direct", target, dataset, rows, dim, agents, k, ef,
 *   concurrency (per agent), rate (total, 0 = closed loop),
 *   requests, hist_count, duration_s, qps, p50_ms, p90_ms, p99_ms,
 *   p999_ms, max_ms, mean_ms, errors, errors_by_code {NAME: n},
 *   codes {NAME: n} (OK included), partial, partial_ratio,
 *   ops {search, insert, delete, get, items}, late,
 *   agents_cpu_us_per_req (the load generators' own CPU),
 *   recall (only with --recall; null when no search had ground truth),
 *   load {items, failed, requests, seconds, items_per_s} (only with --load),
 *   cpu {vsetd_s, vsetd_us_per_req, vsetd_rss_kb_before,
 *        vsetd_rss_kb_after, vsetd_switches, vsetd_switches_per_req,
 *        shards_s, shards_us_per_req} (only with --vsetd-pid /
 *        --shard-pid; keys for pids not given are absent; the switches
 *        are vsetd's voluntary + nonvoluntary context switches over all
 *        its threads during the run, absent if /proc did not show them),
 *   per_agent [{agent, host, pid, requests, hist_count, elapsed_s, qps}].
 * Without a timed window (load only), the run keys are absent.
 */
#ifndef VB_REPORT_H
#define VB_REPORT_H

#include <stdio.h>

#include "vb_engine.h"
#include "vb_loader.h"
#include "vset_bench.pb-c.h"

typedef struct vb_agent_summary {
	uint64_t id;
	char host[64];
	uint32_t pid;
	uint64_t requests, hist_count, elapsed_us;
} vb_agent_summary;

typedef struct vb_report {
	const Vsetbench__V1__Plan *plan;
	int direct;                  /* this run went straight to the shards */
	double total_rate;           /* --rate as given (all agents) */
	size_t rows, dim;
	int have_run;
	vb_result total;             /* merged over agents */
	double qps;                  /* sum of the agents' rates */
	vb_agent_summary *agents;
	size_t nagents;
	int recall_asked;
	int have_load;
	vb_load_stats load;
	int have_vsetd_cpu, have_shard_cpu;
	double vsetd_cpu_s, shards_cpu_s;
	long vsetd_rss_before_kb, vsetd_rss_after_kb;
	long long vsetd_switches;    /* during the run; -1 = unknown */
} vb_report;

void vb_report_text(FILE *f, const vb_report *r);
/* 0, or -1 if out of memory. */
int vb_report_json(FILE *f, const vb_report *r);

/* --compare: both runs, then vsetd/direct ratios.  JSON:
 *   {"mode":"compare", "vsetd":{...}, "direct":{...},
 *    "ratio":{"p50","p90","p99","p999","max","mean","qps"}}
 * where each inner object is as above and each ratio is vsetd / direct
 * (null when direct's value is 0). */
void vb_report_compare_text(FILE *f, const vb_report *v, const vb_report *d);
int vb_report_compare_json(FILE *f, const vb_report *v, const vb_report *d);

#endif
