/*
 * vb_engine.h - one agent's load: the threads that call vsetd (or the
 * shards directly) according to a plan, and what they measured.
 *
 * Operations, drawn by the plan's weights: search (a query vector, walking
 * the queries in order), insert and delete (`batch` items with ids unique
 * to the agent; deletes remove the thread's own oldest inserts), get (a
 * random loaded row, "i<row>").  Inserted items are copies of dataset
 * rows, so a mix with inserts lowers the recall it measures.
 *
 * Closed loop: `concurrency` threads, each sending its next request as soon
 * as the last one answered; latency is send-to-reply.
 * Open loop: requests are due at start + i/rate; `concurrency` worker
 * threads take the next due request, sleep until it is due, send it, and
 * record reply time minus *due* time.  So a stall that delays later sends
 * shows up in their latency (no coordinated omission), as long as there
 * are enough workers to keep up; `late` counts sends more than 1 ms behind
 * schedule, and a large `late` means the agent, not the server, was the
 * bottleneck.
 *
 * In vsetd mode the threads share `sockets` vs_clients (nng REQ sockets)
 * round-robin; the default, one per thread, sidesteps nng 1.5.2's slow
 * path for many contexts on one socket (nng #1663).  In direct mode each
 * thread owns a vb_direct (hiredis contexts are per thread).
 *
 * Ownership: the engine borrows plan and ds (both must outlive it) and
 * owns its connections; vb_engine_free closes them.
 */
#ifndef VB_ENGINE_H
#define VB_ENGINE_H

#include <stddef.h>
#include <stdint.h>

#include "vb_dataset.h"
#include "vs_hist.h"
#include "vset_bench.pb-c.h"

#define VB_NCODES 17             /* vsetd.v1.Code 0..16 */

typedef struct vb_result {
	vs_hist hist;                /* latency of every recorded request, us */
	uint64_t elapsed_us;         /* start of window to last reply */
	uint64_t requests;           /* recorded requests, = sum of codes */
	uint64_t codes[VB_NCODES];
	uint64_t partial;
	uint64_t searches, inserts, deletes, gets, items;
	uint64_t recall_hits, recall_total;
	uint64_t late;
	double cpu_s;                /* this process's CPU in the window */
} vb_result;

typedef struct vb_engine vb_engine;

/* Connect per the plan (every client or shard must answer now).  0, or -1
 * with a message in err. */
int vb_engine_prepare(vb_engine **out, const Vsetbench__V1__Plan *plan,
    const vb_dataset *ds, uint64_t agent_id, char *err, size_t errlen);

/* Run the plan once; *res is overwritten.  progress: print a live line on
 * stderr (the caller decides, e.g. isatty).  0, or -1 with err. */
int vb_engine_run(vb_engine *e, vb_result *res, int progress, char *err,
    size_t errlen);

void vb_engine_free(vb_engine *e);

/* Merge src into dst (counts add, the window is the longer one). */
void vb_result_merge(vb_result *dst, const vb_result *src);

#endif
