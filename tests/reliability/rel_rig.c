/*
 * rel_rig.c - start and stop the common fault-test deployment.
 *
 * Design note.  Start order is shards, then vsetd, so vsetd's first
 * connections find every shard up; stop order is the reverse (vsetd
 * first), so no shard death is ever seen by a vsetd that outlives it.
 */
#include "rel_rig.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int
rel_rig_start(struct rel_rig *r, const char *tag, int nshards,
    const char *const *redis_extra, const char *password,
    const char *const *vsetd_args)
{
	const char *argv[TP_MAX_ARGS + 1];
	int argc = 0, i;

	if (nshards < 1 || nshards > REL_RIG_MAX_SHARDS) {
		tp_log("rig: %d shards out of range", nshards);
		return -1;
	}
	r->nshards = nshards;
	if (tp_tmpdir(r->dir, sizeof(r->dir), tag) != 0) {
		r->dir[0] = '\0';
		return -1;
	}
	if (tp_shards_start(r->shard, nshards, r->dir, redis_extra, password,
	    r->shard_args, r->hosts) != 0)
		return -1;
	if (vsetd_args == NULL)
		return 0;
	argv[argc++] = "--listen";
	argv[argc++] = "tcp://127.0.0.1:0";
	for (i = 0; i < 2 * nshards; i++)
		argv[argc++] = r->shard_args[i];
	for (i = 0; vsetd_args[i] != NULL; i++) {
		if (argc >= TP_MAX_ARGS) {
			tp_log("rig: too many vsetd arguments");
			return -1;
		}
		argv[argc++] = vsetd_args[i];
	}
	argv[argc] = NULL;
	return tp_vsetd_start(&r->v, r->dir, tag, argv, NULL);
}

int
rel_rig_load(struct rel_rig *r, const char *coll, int timeout_ms)
{
	if (r->d == NULL) {
		tp_log("rig: no data to load");
		return -1;
	}
	if (rel_connect(&r->cli, r->v.url, timeout_ms) != VS_OK)
		return -1;
	return rel_data_load(r->cli, coll, r->d);
}

void
rel_rig_stop(struct rel_rig *r)
{
	int i;

	vs_close(r->cli);
	r->cli = NULL;
	tp_proc_kill(&r->v.p);
	for (i = 0; i < r->nshards; i++)
		tp_redis_kill(&r->shard[i]);
	rel_data_free(r->d);
	r->d = NULL;
	tp_rmtree(r->dir);
}

int
rel_rig_new(void **out, size_t size, const char *tag, int nshards,
    const char *const *redis_extra, const char *password,
    const char *const *vsetd_args)
{
	struct rel_rig *r;

	if ((r = calloc(1, size)) == NULL) {
		*out = NULL;
		return -1;
	}
	*out = r;
	return rel_rig_start(r, tag, nshards, redis_extra, password,
	    vsetd_args);
}

void
rel_rig_free(void *state)
{
	if (state == NULL)
		return;
	rel_rig_stop(state);
	free(state);
}

int
rel_rig_teardown(void **st)
{
	rel_rig_free(*st);
	return 0;
}

int64_t
rel_rig_wait_full(struct rel_rig *r, const char *coll, uint32_t k,
    int64_t within_ms)
{
	int64_t t0 = tp_now_ms();
	vs_search_result *res;
	vs_search_params sp;
	int rv, full;

	vs_set_timeout(r->cli, 1000);
	while (tp_now_ms() - t0 < within_ms) {
		rel_search_params(&sp, r->d, coll, 0, k);
		res = NULL;
		rv = vs_search(r->cli, &sp, &res);
		full = rv == VS_OK && !res->partial &&
		    res->shards.ok == (uint32_t)r->nshards;
		vs_search_result_free(res);
		if (full)
			return tp_now_ms() - t0;
		tp_sleep_ms(10);
	}
	return -1;
}
