/*
 * view.c - the layout calls route by, and adopting a new one (view.h).
 *
 * The current view is a small value behind a mutex: a call copies it
 * once when it starts, so the lock is held for a copy, never across I/O.
 * Adoption appends the new layout's shards to the table first (table.h),
 * so by the time a call can route to an index, every worker's links can
 * reach it (they grow to the table at the start of each round).
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "table.h"
#include "view.h"

static pthread_mutex_t vsd_view_mu = PTHREAD_MUTEX_INITIALIZER;
static struct vsd_view vsd_view_cur;

static void
vsd_view_of(const struct vsd_topo *t, struct vsd_view *v)
{
	v->epoch = t->epoch;
	vsd_phase_layout_of(t, &v->l);
	v->nall = v->l.nold > v->l.nnew ? v->l.nold : v->l.nnew;
}

void
vsd_view_start(const struct vsd_topo *t, uint32_t nshards)
{
	struct vsd_view v;

	if (t != NULL) {
		vsd_view_of(t, &v);
	} else {
		memset(&v, 0, sizeof(v));
		v.l.phase = VSD_PHASE_STABLE;
		v.l.nold = v.l.nnew = v.nall = nshards;
	}
	pthread_mutex_lock(&vsd_view_mu);
	vsd_view_cur = v;
	pthread_mutex_unlock(&vsd_view_mu);
}

void
vsd_view_now(struct vsd_view *v)
{
	pthread_mutex_lock(&vsd_view_mu);
	*v = vsd_view_cur;
	pthread_mutex_unlock(&vsd_view_mu);
}

uint64_t
vsd_view_epoch(void)
{
	uint64_t e;

	pthread_mutex_lock(&vsd_view_mu);
	e = vsd_view_cur.epoch;
	pthread_mutex_unlock(&vsd_view_mu);
	return e;
}

/* host and port of a record's address ("[v6]:port" loses its brackets,
 * as config.c stores a host). */
static int
vsd_view_split(const struct vsd_topo_addr *a, char *host, size_t hostsize,
    int *port)
{
	const char *colon = strrchr(a->s, ':');
	const char *h = a->s;
	size_t len;

	if (colon == NULL)
		return -1;
	len = (size_t)(colon - a->s);
	if (h[0] == '[' && len >= 2) {
		h++;
		len -= 2;
	}
	if (len == 0 || len >= hostsize)
		return -1;
	memcpy(host, h, len);
	host[len] = '\0';
	*port = atoi(colon + 1);
	return 0;
}

int
vsd_view_register(const struct vsd_topo *t, char *err, size_t errlen)
{
	/* The layouts of a move share their prefix: the longer one names
	 * every shard of the union (phase_route.h). */
	const struct vsd_topo_addr *all = t->nfrom > t->nshards ? t->from :
	    t->shards;
	uint32_t i, n = t->nfrom > t->nshards ? t->nfrom : t->nshards;
	char host[VSD_TOPO_MAX_ADDR + 1];
	int port;

	for (i = 0; i < n; i++) {
		if (vsd_view_split(&all[i], host, sizeof(host), &port) != 0) {
			snprintf(err, errlen, "shard %u: bad address \"%s\"",
			    i, all[i].s);
			return -1;
		}
		if (vsd_table_add(i, host, port, err, errlen) != 0)
			return -1;
	}
	return 0;
}

int
vsd_view_adopt(const struct vsd_topo *t, char *err, size_t errlen)
{
	struct vsd_view v;
	int changed = 0;

	if (vsd_topo_check(t, err, errlen) != 0 ||
	    vsd_view_register(t, err, errlen) != 0)
		return -1;
	vsd_view_of(t, &v);
	if (vsd_phase_check(&v.l) != 0) {
		snprintf(err, errlen, "a move of more than one shard");
		return -1;
	}
	pthread_mutex_lock(&vsd_view_mu);
	if (v.epoch > vsd_view_cur.epoch) {
		vsd_view_cur = v;
		changed = 1;
	}
	pthread_mutex_unlock(&vsd_view_mu);
	if (changed)
		vsd_info("topology: now at epoch %llu, phase %s, %u -> %u "
		    "shards", (unsigned long long)v.epoch,
		    vsd_topo_phase_name(v.l.phase), v.l.nold, v.l.nnew);
	return 0;
}
