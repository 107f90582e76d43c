/*
 * table.h - the shards this router knows, a table that only grows.
 *
 * Why.  An online move (issue 10, fanout/topology.h) appends a shard to a
 * running deployment.  Every worker's connections, the breakers and the
 * per-shard counters are indexed by shard, and workers read them without
 * locks.  So the table is sized for VSD_MAX_SHARDS once, at start-up,
 * before any thread exists; a shard learned later is written into the
 * next free slot and only then published by raising the count (a release
 * store; readers load it with acquire), so a reader that sees index i
 * sees its address whole.  Entries are never changed or removed once
 * published: a shard that leaves the layout stays known, unused.
 *
 * cfg->nshards stays what it was at start-up (the --shard list plus what
 * the stored topology added); vsd_table_count() is the number known now.
 *
 * Ownership: the table is cfg->shards (vsd_config_fini frees the first
 * cfg->nshards entries' strings); hosts of shards added while running are
 * owned here and freed by vsd_table_fini().
 */
#ifndef VSD_TABLE_H
#define VSD_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "config.h"

/* Grow cfg->shards to VSD_MAX_SHARDS entries (before any thread starts).
 * 0, or -1 when out of memory. */
int vsd_table_init(struct vsd_config *cfg);
/* Free what vsd_table_add allocated (after every thread stopped). */
void vsd_table_fini(void);

/* Shards known now (>= the start-up count); 0 before vsd_table_init. */
uint32_t vsd_table_count(void);

/*
 * Make shard `index` the primary host:port.  An index already known must
 * have that primary (else -1, err says which address it has); index ==
 * the count appends it.  Serialised internally.  0, or -1 with err set
 * (a gap in the indexes, the table full, out of memory).
 */
int vsd_table_add(uint32_t index, const char *host, int port, char *err,
    size_t errlen);

#endif
