/*
 * vb_loader.h - `--load`: put the dataset's rows into the collection
 * before the timed run, and measure how fast that went.
 *
 * Through vsetd: Insert requests of `batch` items, `concurrency` callers.
 * Direct: the same batches as pipelined VADDs to the owning shards (all
 * shards written before any reply is read).  Row i is element "i<i>".
 * Either way the throughput is items acknowledged per second: the batch
 * insert figure of docs/benchmarks.md.
 */
#ifndef VB_LOADER_H
#define VB_LOADER_H

#include <stddef.h>
#include <stdint.h>

#include "vb_dataset.h"
#include "vset_bench.pb-c.h"

typedef struct vb_load_stats {
	uint64_t items;              /* written */
	uint64_t failed;             /* not written */
	uint64_t requests;           /* batches sent */
	double seconds;
} vb_load_stats;

/* Target, collection and timeout come from plan (server_url or direct +
 * shards).  0, or -1 with err (a connection that cannot be made; failed
 * items are counted, not fatal). */
int vb_load(const Vsetbench__V1__Plan *plan, const vb_dataset *ds,
    size_t batch, size_t concurrency, int progress, vb_load_stats *st,
    char *err, size_t errlen);

#endif
