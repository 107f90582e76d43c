/* stats.c - counters per worker, merged on read.  See stats.h. */
#include <stdlib.h>
#include <string.h>

#include "shards.h"
#include "stats.h"
#include "table.h"

int
vsd_stats_init(struct vsd_stats *s, uint32_t nshards)
{
	uint32_t i;

	memset(s, 0, sizeof(*s));
	/* Room for every shard the table may come to hold (table.h). */
	s->cap = vsd_table_count() > 0 ? VSD_MAX_SHARDS : nshards;
	s->methods = calloc((size_t)VSD_FRONTENDS * VSD_STATS_METHODS,
	    sizeof(*s->methods));
	s->shards = calloc(s->cap ? s->cap : 1, sizeof(*s->shards));
	if (s->methods == NULL || s->shards == NULL) {
		free(s->methods);
		free(s->shards);
		return -1;
	}
	s->nshards = nshards;
	for (i = 0; i < VSD_FRONTENDS * VSD_STATS_METHODS; i++)
		vs_hist_reset(&s->methods[i].lat);
	for (i = 0; i < nshards; i++)
		vs_hist_reset(&s->shards[i].lat);
	pthread_mutex_init(&s->mu, NULL);
	return 0;
}

void
vsd_stats_fini(struct vsd_stats *s)
{
	if (s->methods == NULL)
		return;
	pthread_mutex_destroy(&s->mu);
	free(s->methods);
	free(s->shards);
	s->methods = NULL;
	s->shards = NULL;
}

void
vsd_stats_request(struct vsd_stats *s, int method, int code,
    int64_t latency_us)
{
	vsd_stats_request_from(s, VSD_FRONTEND_RPC, method, code, latency_us);
}

void
vsd_stats_request_from(struct vsd_stats *s, int fe, int method, int code,
    int64_t latency_us)
{
	struct vsd_method_stats *ms;

	if (fe < 0 || fe >= VSD_FRONTENDS)
		fe = VSD_FRONTEND_RPC;
	if (method < 0 || method >= VSD_STATS_METHODS)
		method = VSD_STATS_OTHER;
	if (code < 0 || code >= VSD_STATS_CODES)
		code = 2;                       /* UNKNOWN */
	ms = &s->methods[fe * VSD_STATS_METHODS + method];
	pthread_mutex_lock(&s->mu);
	ms->codes[code]++;
	vs_hist_record(&ms->lat, latency_us > 0 ? (uint64_t)latency_us : 0);
	pthread_mutex_unlock(&s->mu);
}

void
vsd_stats_shard(struct vsd_stats *s, uint32_t shard, int state,
    int64_t latency_us)
{
	struct vsd_shard_stats *ss;

	if (shard >= s->cap)
		return;
	ss = &s->shards[shard];
	pthread_mutex_lock(&s->mu);
	while (s->nshards <= shard)      /* a shard added while running */
		vs_hist_reset(&s->shards[s->nshards++].lat);
	switch (state) {
	case VSD_SHARD_OK:
		ss->ok++;
		vs_hist_record(&ss->lat, latency_us > 0 ? (uint64_t)latency_us : 0);
		break;
	case VSD_SHARD_FAILED:
		ss->errors++;
		break;
	case VSD_SHARD_TIMED_OUT:
		ss->timeouts++;
		break;
	default:
		break;
	}
	pthread_mutex_unlock(&s->mu);
}

void
vsd_stats_total_free(struct vsd_stats_total *t)
{
	if (t == NULL)
		return;
	free(t->shards);
	free(t);
}
