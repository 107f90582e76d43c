/*
 * rel_rig.h - the deployment most fault tests start: N shards, one vsetd
 * in front of them, seeded data and (optionally) a client.
 *
 * Design.  A rig is a temp directory "vsetd-<tag>-XXXXXX" holding
 * shard0..shard<n-1> (tp_redis, any extra Redis arguments) and a vsetd
 * (tp_vsetd, log vsetd-<tag>.log) listening on tcp://127.0.0.1:0 with one
 * --shard per shard in index order.  Tests with other layouts (replicas,
 * TLS) use tests/lib directly.
 *
 * Ownership.  A rel_rig is caller-owned (in the test state: it must not
 * move while its processes run).  rel_rig_stop() kills its processes,
 * closes cli, frees d (whoever set it: rel_data_new() result handed over)
 * and removes the directory; it does not free the rig itself.
 * rel_rig_new() allocates a group state (any struct whose first member is
 * a rel_rig) that rel_rig_free() / rel_rig_teardown() free.
 */
#ifndef REL_RIG_H
#define REL_RIG_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>

#include "rel_data.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vsetd.h"

#define REL_RIG_MAX_SHARDS 8

struct rel_rig {
	char dir[PATH_MAX];
	int nshards;
	struct tp_redis shard[REL_RIG_MAX_SHARDS];
	char hosts[REL_RIG_MAX_SHARDS][40];
	const char *shard_args[2 * REL_RIG_MAX_SHARDS]; /* "--shard" host */
	struct tp_vsetd v;
	struct rel_data *d;          /* owned by the rig once set */
	vs_client *cli;              /* owned by the rig once set */
};

/* Start nshards Redis servers with redis_extra (may be NULL; password for
 * our own checks when it has --requirepass) and, unless vsetd_args is
 * NULL, vsetd with those extra arguments ({NULL} for none).  0 or -1;
 * on failure rel_rig_stop() still cleans up what was started. */
int rel_rig_start(struct rel_rig *r, const char *tag, int nshards,
    const char *const *redis_extra, const char *password,
    const char *const *vsetd_args);

/* Connect r->cli to the vsetd (timeout_ms) and insert all of r->d into
 * coll.  0 or -1 (printed). */
int rel_rig_load(struct rel_rig *r, const char *coll, int timeout_ms);

void rel_rig_stop(struct rel_rig *r);

/* Search r->d's first vector in coll (top k, a 1 s deadline per call)
 * until an answer is full (every shard ok, not partial), for at most
 * within_ms: the time it took, or -1. */
int64_t rel_rig_wait_full(struct rel_rig *r, const char *coll, uint32_t k,
    int64_t within_ms);

/* A zeroed group state of size bytes whose FIRST member is a struct
 * rel_rig, with the rig started as by rel_rig_start().  *out gets the
 * state even when this fails (-1), so that the group teardown cleans up
 * what was started; -1 with *out NULL when it cannot be allocated. */
int rel_rig_new(void **out, size_t size, const char *tag, int nshards,
    const char *const *redis_extra, const char *password,
    const char *const *vsetd_args);
/* rel_rig_stop() and free() of a rel_rig_new() state; NULL is a no-op. */
void rel_rig_free(void *state);
/* cmocka group teardown for a rel_rig_new() state. */
int rel_rig_teardown(void **st);

#endif
