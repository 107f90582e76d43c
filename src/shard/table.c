/*
 * table.c - the growing shard table (table.h).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "table.h"

static struct vsd_config *vsd_table_cfg;
static _Atomic uint32_t vsd_table_n;
static uint32_t vsd_table_first_added;   /* cfg->nshards at start-up */
static pthread_mutex_t vsd_table_mu = PTHREAD_MUTEX_INITIALIZER;

int
vsd_table_init(struct vsd_config *cfg)
{
	struct vsd_shard_addr *n;

	n = realloc(cfg->shards, VSD_MAX_SHARDS * sizeof(*n));
	if (n == NULL)
		return -1;
	memset(n + cfg->nshards, 0,
	    (VSD_MAX_SHARDS - cfg->nshards) * sizeof(*n));
	cfg->shards = n;
	vsd_table_cfg = cfg;
	vsd_table_first_added = cfg->nshards;
	atomic_store_explicit(&vsd_table_n, cfg->nshards,
	    memory_order_release);
	return 0;
}

void
vsd_table_fini(void)
{
	uint32_t i, n = atomic_load(&vsd_table_n);

	for (i = vsd_table_first_added; vsd_table_cfg != NULL && i < n; i++) {
		free(vsd_table_cfg->shards[i].ep[0].host);
		vsd_table_cfg->shards[i].ep[0].host = NULL;
	}
	atomic_store(&vsd_table_n, vsd_table_first_added);
}

uint32_t
vsd_table_count(void)
{
	return atomic_load_explicit(&vsd_table_n, memory_order_acquire);
}

int
vsd_table_add(uint32_t index, const char *host, int port, char *err,
    size_t errlen)
{
	struct vsd_shard_addr *a;
	uint32_t n;
	int rv = -1;

	pthread_mutex_lock(&vsd_table_mu);
	n = atomic_load(&vsd_table_n);
	if (vsd_table_cfg == NULL) {
		snprintf(err, errlen, "the shard table is not set up");
		goto out;
	}
	if (index < n) {
		a = &vsd_table_cfg->shards[index];
		if (strcmp(a->ep[0].host, host) == 0 && a->ep[0].port == port)
			rv = 0;
		else
			snprintf(err, errlen, "shard %u is %s:%d here, not "
			    "%s:%d", index, a->ep[0].host, a->ep[0].port,
			    host, port);
		goto out;
	}
	if (index != n || n >= VSD_MAX_SHARDS) {
		snprintf(err, errlen, "cannot add shard %u: %u shards are "
		    "known (at most %d)", index, n, VSD_MAX_SHARDS);
		goto out;
	}
	a = &vsd_table_cfg->shards[n];
	memset(a, 0, sizeof(*a));
	if ((a->ep[0].host = strdup(host)) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	a->ep[0].port = port;
	a->nep = 1;
	atomic_store_explicit(&vsd_table_n, n + 1, memory_order_release);
	rv = 0;
out:
	pthread_mutex_unlock(&vsd_table_mu);
	return rv;
}
