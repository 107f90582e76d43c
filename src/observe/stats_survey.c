/*
 * stats_survey.c - the stats survey: a RESPONDENT socket (--survey-listen)
 * on which vsetd answers every survey with a StatsReport
 * (proto/vsetd/v1/stats.proto), so one SURVEYOR can poll a fleet of
 * routers at once (`vset stats`, or the load tool).
 *
 * It runs on a thread of its own with blocking receives: building a report
 * takes each worker's stats lock briefly, which is fine here and would not
 * be in an nng callback.  vsd_survey_stop() closes the socket, which wakes
 * the receive with NNG_ECLOSED.
 */
#include <nng/nng.h>
#include <nng/protocol/survey0/respond.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "sentinel.h"
#include "observe.h"
#include "server.h"
#include "stats.pb-c.h"
#include "vs_status.h"
#include "vs_time.h"

/* Fill lat (its histogram bytes from the arena-less malloc in *buf). */
static void
vsd_latency_msg(Vsetd__V1__Latency *lat, const vs_hist *h, uint8_t **buf)
{
	size_t n = vs_hist_encoded_size(h);

	vsetd__v1__latency__init(lat);
	lat->count = vs_hist_count(h);
	lat->p50_us = vs_hist_percentile(h, 50);
	lat->p90_us = vs_hist_percentile(h, 90);
	lat->p99_us = vs_hist_percentile(h, 99);
	lat->p999_us = vs_hist_percentile(h, 99.9);
	lat->max_us = vs_hist_max(h);
	if ((*buf = malloc(n)) != NULL) {
		lat->histogram.data = *buf;
		lat->histogram.len = vs_hist_encode(h, *buf, n);
	}
}

/* The survey's name of each enum vsd_frontend. */
static const char *const vsd_frontend_names[VSD_FRONTENDS] = {
	[VSD_FRONTEND_RPC] = "rpc",
	[VSD_FRONTEND_RESP] = "resp",
};

/* Where one report's messages are carved from (vsd_survey_report). */
struct vsd_survey_mem {
	Vsetd__V1__CodeCount *cc, **ccp;
	size_t ncc;
	Vsetd__V1__Latency *lat;
	uint8_t **bufs;
	size_t nb;
};

/* Fill ms from one slot's counters. */
static void
vsd_method_msg(Vsetd__V1__MethodStats *ms, const char *name,
    const char *frontend, const struct vsd_method_stats *src,
    struct vsd_survey_mem *mem)
{
	int c;

	vsetd__v1__method_stats__init(ms);
	ms->method = (char *)name;
	if (frontend != NULL)
		ms->frontend = (char *)frontend;
	ms->codes = &mem->ccp[mem->ncc];
	for (c = 0; c < VSD_STATS_CODES; c++) {
		if (src->codes[c] == 0)
			continue;
		vsetd__v1__code_count__init(&mem->cc[mem->ncc]);
		mem->cc[mem->ncc].code = (char *)vs_code_name(c);
		mem->cc[mem->ncc].count = src->codes[c];
		mem->ccp[mem->ncc] = &mem->cc[mem->ncc];
		mem->ncc++;
		ms->n_codes++;
	}
	vsd_latency_msg(&mem->lat[mem->nb], &src->lat, &mem->bufs[mem->nb]);
	ms->latency = &mem->lat[mem->nb++];
}

/* Build and pack a report into a new nng message; NULL if out of memory. */
static nng_msg *
vsd_survey_report(struct vsd_server *srv)
{
	const struct vsd_config *cfg = srv->cfg;
	Vsetd__V1__StatsReport rep = VSETD__V1__STATS_REPORT__INIT;
	Vsetd__V1__MethodStats *ms = NULL, **msp = NULL;
	Vsetd__V1__ShardStats *ss = NULL, **ssp = NULL;
	struct vsd_survey_mem mem;
	struct vsd_stats_total *t;
	char (*addr)[300] = NULL;
	struct vsd_sentinel_view *views = NULL;
	int nm = vsd_method_count() + 1, m, fe, open;
	/* method messages: the totals, then each front end's */
	size_t nms = (size_t)nm * (1 + VSD_FRONTENDS), k, nfe = 0;
	uint32_t i, cons;
	nng_msg *msg = NULL;

	memset(&mem, 0, sizeof(mem));
	if ((t = vsd_stats_snapshot(srv)) == NULL)
		return NULL;
	ms = calloc(nms, sizeof(*ms));
	msp = calloc(nms, sizeof(*msp));
	mem.cc = calloc(nms * VSD_STATS_CODES, sizeof(*mem.cc));
	mem.ccp = calloc(nms * VSD_STATS_CODES, sizeof(*mem.ccp));
	ss = calloc(t->nshards + 1, sizeof(*ss));
	ssp = calloc(t->nshards + 1, sizeof(*ssp));
	mem.lat = calloc(nms + t->nshards, sizeof(*mem.lat));
	mem.bufs = calloc(nms + t->nshards, sizeof(*mem.bufs));
	addr = calloc(t->nshards + 1, sizeof(*addr));
	views = calloc(t->nshards + 1, sizeof(*views));
	if (ms == NULL || msp == NULL || mem.cc == NULL || mem.ccp == NULL ||
	    ss == NULL || ssp == NULL || mem.lat == NULL || mem.bufs == NULL ||
	    addr == NULL || views == NULL)
		goto out;

	rep.version = VSETD_VERSION;
	rep.listen = srv->bound;
	rep.uptime_ms = (uint64_t)((vs_now_us() - srv->started_us) / 1000);
	rep.inflight = atomic_load(&srv->inflight);
	rep.pid = (uint64_t)getpid();
	for (m = 0; m < nm; m++) {
		int slot = m < nm - 1 ? m : VSD_STATS_OTHER;

		vsd_method_msg(&ms[m], vsd_method_name(m < nm - 1 ? m : -1),
		    NULL, &t->methods[slot], &mem);
		msp[m] = &ms[m];
	}
	rep.methods = msp;
	rep.n_methods = (size_t)nm;
	for (fe = 0; fe < VSD_FRONTENDS; fe++)
		for (m = 0; m < nm; m++) {
			int slot = m < nm - 1 ? m : VSD_STATS_OTHER;

			if (vs_hist_count(&t->fe[fe][slot].lat) == 0)
				continue;
			k = (size_t)nm + nfe++;
			vsd_method_msg(&ms[k], vsd_method_name(m < nm - 1 ?
			    m : -1), vsd_frontend_names[fe], &t->fe[fe][slot],
			    &mem);
			msp[k] = &ms[k];
		}
	rep.by_frontend = msp + nm;
	rep.n_by_frontend = nfe;
	for (i = 0; i < t->nshards; i++) {
		const struct vsd_endpoint *ep = &cfg->shards[i].ep[0];

		vsetd__v1__shard_stats__init(&ss[i]);
		ss[i].shard = i;
		snprintf(addr[i], sizeof(addr[i]), "%s:%d", ep->host, ep->port);
		ss[i].address = addr[i];
		if (vsd_sentinel_view(cfg->sentinels, i, &views[i]) == 0) {
			/* a sentinel shard: where it is now, not at start */
			ss[i].address = views[i].primary;
			ss[i].replicas = views[i].replicas;
			ss[i].sentinel_master = cfg->shards[i].sentinel_master;
			ss[i].failovers = views[i].failovers;
			ss[i].last_failover_unix_ms = views[i].last_failover_ms;
		}
		vsd_health_peek(&srv->health[(size_t)i * VSD_MAX_ENDPOINTS],
		    &open, &cons);
		ss[i].health = open ? "open" : "up";
		ss[i].consecutive_failures = cons;
		ss[i].ok = t->shards[i].ok;
		ss[i].errors = t->shards[i].errors;
		ss[i].timeouts = t->shards[i].timeouts;
		vsd_latency_msg(&mem.lat[mem.nb], &t->shards[i].lat,
		    &mem.bufs[mem.nb]);
		ss[i].latency = &mem.lat[mem.nb++];
		ssp[i] = &ss[i];
	}
	rep.shards = ssp;
	rep.n_shards = t->nshards;
	if (nng_msg_alloc(&msg, vsetd__v1__stats_report__get_packed_size(&rep)) == 0)
		vsetd__v1__stats_report__pack(&rep, nng_msg_body(msg));
out:
	for (k = 0; mem.bufs != NULL && k < mem.nb; k++)
		free(mem.bufs[k]);
	free(mem.bufs);
	free(addr);
	free(views);
	free(mem.lat);
	free(ssp);
	free(ss);
	free(mem.ccp);
	free(mem.cc);
	free(msp);
	free(ms);
	vsd_stats_total_free(t);
	return msg;
}

static void *
vsd_survey_main(void *arg)
{
	struct vsd_server *srv = arg;
	nng_msg *req, *rep;
	int rv;

	for (;;) {
		if ((rv = nng_recvmsg(srv->survey_sock, &req, 0)) != 0) {
			if (rv == NNG_ECLOSED)
				break;
			continue;
		}
		nng_msg_free(req);              /* StatsRequest has no fields yet */
		if ((rep = vsd_survey_report(srv)) == NULL)
			continue;
		if (nng_sendmsg(srv->survey_sock, rep, 0) != 0)
			nng_msg_free(rep);      /* survey expired: drop */
	}
	return NULL;
}

int
vsd_survey_start(struct vsd_server *srv, const char *url)
{
	int rv;

	if ((rv = nng_respondent0_open(&srv->survey_sock)) != 0 ||
	    (rv = nng_listen(srv->survey_sock, url, NULL, 0)) != 0) {
		vsd_err("--survey-listen %s: %s", url, nng_strerror(rv));
		nng_close(srv->survey_sock);
		return -1;
	}
	if (pthread_create(&srv->survey_thread, NULL, vsd_survey_main, srv) != 0) {
		nng_close(srv->survey_sock);
		return -1;
	}
	srv->survey_running = 1;
	vsd_info("stats survey on %s", url);
	return 0;
}

void
vsd_survey_stop(struct vsd_server *srv)
{
	if (!srv->survey_running)
		return;
	nng_close(srv->survey_sock);
	pthread_join(srv->survey_thread, NULL);
	srv->survey_running = 0;
}
