/*
 * stats_http.c - Prometheus text exposition at --metrics-listen
 * http://HOST:PORT/metrics, served by nng's HTTP server.
 *
 * The handler runs on an nng thread; it takes each worker's stats lock for
 * the time of a memcpy-sized merge and formats into a malloc'd buffer, so
 * it never waits on I/O.  Histogram buckets are Prometheus' cumulative
 * "le" buckets at fixed boundaries, computed from vs_hist's finer buckets.
 *
 * Requests are counted apart by where they came in: the `frontend` label
 * is "rpc" (the RPC listeners) or "resp" (the Redis-protocol door), so
 * sum by (method) over it gives what the series without it used to give.
 */
#include <nng/nng.h>
#include <nng/supplemental/http/http.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "sentinel.h"
#include "observe.h"
#include "server.h"
#include "vs_json.h"
#include "vs_status.h"
#include "vs_time.h"

static const double vsd_le[] = {
	0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
	0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define VSD_NLE (sizeof(vsd_le) / sizeof(vsd_le[0]))

/* The `frontend` label's values, by enum vsd_frontend. */
static const char *const vsd_frontend_names[VSD_FRONTENDS] = {
	[VSD_FRONTEND_RPC] = "rpc",
	[VSD_FRONTEND_RESP] = "resp",
};

/* One Prometheus histogram from h (us) with the given label text. */
static void
vsd_prom_hist(vs_sb *sb, const char *name, const char *labels,
    const vs_hist *h)
{
	uint64_t cum = 0;
	size_t b = 0, i;

	for (i = 0; i < VSD_NLE; i++) {
		uint64_t le_us = (uint64_t)(vsd_le[i] * 1e6);

		while (b < VS_HIST_NBUCKETS && vs_hist_bucket_high(b) <= le_us)
			cum += h->buckets[b++];
		vs_sb_printf(sb, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels,
		    vsd_le[i], (unsigned long long)cum);
	}
	vs_sb_printf(sb, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
	    (unsigned long long)vs_hist_count(h));
	vs_sb_printf(sb, "%s_sum{%s} %.6f\n", name, labels, (double)h->sum / 1e6);
	vs_sb_printf(sb, "%s_count{%s} %llu\n", name, labels,
	    (unsigned long long)vs_hist_count(h));
}

/* sentinel:// shards: where each one's primary and replicas are now, and
 * the failovers seen.  Host names and master names hold no quote or
 * backslash (config.c, sentinel.c), so they need no escaping here. */
static void
vsd_prom_sentinel(vs_sb *sb, const struct vsd_config *cfg)
{
	struct vsd_sentinel_view v;
	uint32_t i;

	vs_sb_puts(sb, "# HELP vsetd_shard_endpoints_info The current primary "
	    "and replicas of a sentinel:// shard.\n"
	    "# TYPE vsetd_shard_endpoints_info gauge\n");
	for (i = 0; i < cfg->nshards; i++)
		if (vsd_sentinel_view(cfg->sentinels, i, &v) == 0)
			vs_sb_printf(sb, "vsetd_shard_endpoints_info{shard=\"%u\","
			    "master=\"%s\",primary=\"%s\",replicas=\"%s\"} 1\n",
			    i, cfg->shards[i].sentinel_master, v.primary,
			    v.replicas);
	vs_sb_puts(sb, "# HELP vsetd_shard_failovers_total Primary changes "
	    "of a sentinel:// shard seen since start.\n"
	    "# TYPE vsetd_shard_failovers_total counter\n");
	for (i = 0; i < cfg->nshards; i++)
		if (vsd_sentinel_view(cfg->sentinels, i, &v) == 0)
			vs_sb_printf(sb, "vsetd_shard_failovers_total{shard="
			    "\"%u\"} %llu\n", i,
			    (unsigned long long)v.failovers);
	vs_sb_puts(sb, "# HELP vsetd_shard_last_failover_timestamp_seconds "
	    "When the last primary change was seen (0: none).\n"
	    "# TYPE vsetd_shard_last_failover_timestamp_seconds gauge\n");
	for (i = 0; i < cfg->nshards; i++)
		if (vsd_sentinel_view(cfg->sentinels, i, &v) == 0)
			vs_sb_printf(sb, "vsetd_shard_last_failover_timestamp_"
			    "seconds{shard=\"%u\"} %.3f\n", i,
			    (double)v.last_failover_ms / 1000.0);
}

static void
vsd_prom_render(struct vsd_server *srv, vs_sb *sb)
{
	const struct vsd_config *cfg = srv->cfg;
	struct vsd_stats_total *t;
	struct vsd_sentinel_view view;
	char labels[400];
	int m, c, fe, open, nm = vsd_method_count();
	uint32_t i, cons;

	if ((t = vsd_stats_snapshot(srv)) == NULL)
		return;
	vs_sb_printf(sb, "# HELP vsetd_build_info vsetd version.\n"
	    "# TYPE vsetd_build_info gauge\n"
	    "vsetd_build_info{version=\"%s\"} 1\n", VSETD_VERSION);
	vs_sb_printf(sb, "# HELP vsetd_uptime_seconds Seconds since start.\n"
	    "# TYPE vsetd_uptime_seconds gauge\nvsetd_uptime_seconds %.3f\n",
	    (double)(vs_now_us() - srv->started_us) / 1e6);
	vs_sb_printf(sb, "# HELP vsetd_inflight_requests Requests accepted "
	    "and not yet answered.\n# TYPE vsetd_inflight_requests gauge\n"
	    "vsetd_inflight_requests %d\n", atomic_load(&srv->inflight));

	vs_sb_puts(sb, "# HELP vsetd_requests_total Requests by method, "
	    "status code and front end (rpc, or resp: the Redis-protocol "
	    "door).\n# TYPE vsetd_requests_total counter\n");
	for (fe = 0; fe < VSD_FRONTENDS; fe++)
		for (m = 0; m <= nm; m++) {
			int slot = m < nm ? m : VSD_STATS_OTHER;
			const struct vsd_method_stats *ms = &t->fe[fe][slot];

			for (c = 0; c < VSD_STATS_CODES; c++)
				if (ms->codes[c] != 0)
					vs_sb_printf(sb, "vsetd_requests_total{"
					    "method=\"%s\",code=\"%s\","
					    "frontend=\"%s\"} %llu\n",
					    vsd_method_name(m < nm ? m : -1),
					    vs_code_name(c),
					    vsd_frontend_names[fe],
					    (unsigned long long)ms->codes[c]);
		}
	vs_sb_puts(sb, "# HELP vsetd_request_duration_seconds Time from "
	    "receipt to reply, by method and front end.\n"
	    "# TYPE vsetd_request_duration_seconds histogram\n");
	for (fe = 0; fe < VSD_FRONTENDS; fe++)
		for (m = 0; m <= nm; m++) {
			int slot = m < nm ? m : VSD_STATS_OTHER;

			if (vs_hist_count(&t->fe[fe][slot].lat) == 0)
				continue;
			snprintf(labels, sizeof(labels), "method=\"%s\","
			    "frontend=\"%s\"",
			    vsd_method_name(m < nm ? m : -1),
			    vsd_frontend_names[fe]);
			vsd_prom_hist(sb, "vsetd_request_duration_seconds",
			    labels, &t->fe[fe][slot].lat);
		}

	vs_sb_puts(sb, "# HELP vsetd_shard_up 1 when the shard's circuit "
	    "breaker is closed.\n# TYPE vsetd_shard_up gauge\n");
	for (i = 0; i < t->nshards; i++) {
		vsd_health_peek(&srv->health[(size_t)i * VSD_MAX_ENDPOINTS],
		    &open, &cons);
		if (vsd_sentinel_view(cfg->sentinels, i, &view) == 0)
			vs_sb_printf(sb, "vsetd_shard_up{shard=\"%u\",address="
			    "\"%s\"} %d\n", i, view.primary, !open);
		else
			vs_sb_printf(sb, "vsetd_shard_up{shard=\"%u\",address="
			    "\"%s:%d\"} %d\n", i, cfg->shards[i].ep[0].host,
			    cfg->shards[i].ep[0].port, !open);
	}
	if (cfg->sentinels != NULL)
		vsd_prom_sentinel(sb, cfg);
	vs_sb_puts(sb, "# HELP vsetd_shard_rounds_total Shard rounds by "
	    "outcome.\n# TYPE vsetd_shard_rounds_total counter\n");
	for (i = 0; i < t->nshards; i++)
		vs_sb_printf(sb,
		    "vsetd_shard_rounds_total{shard=\"%u\",outcome=\"ok\"} %llu\n"
		    "vsetd_shard_rounds_total{shard=\"%u\",outcome=\"error\"} %llu\n"
		    "vsetd_shard_rounds_total{shard=\"%u\",outcome=\"timeout\"} %llu\n",
		    i, (unsigned long long)t->shards[i].ok,
		    i, (unsigned long long)t->shards[i].errors,
		    i, (unsigned long long)t->shards[i].timeouts);
	vs_sb_puts(sb, "# HELP vsetd_shard_duration_seconds Time for a shard "
	    "to answer a round.\n"
	    "# TYPE vsetd_shard_duration_seconds histogram\n");
	for (i = 0; i < t->nshards; i++) {
		snprintf(labels, sizeof(labels), "shard=\"%u\"", i);
		vsd_prom_hist(sb, "vsetd_shard_duration_seconds", labels,
		    &t->shards[i].lat);
	}
	vsd_stats_total_free(t);
}

static void
vsd_metrics_cb(nng_aio *aio)
{
	nng_http_handler *h = nng_aio_get_input(aio, 1);
	struct vsd_server *srv = nng_http_handler_get_data(h);
	nng_http_res *res = NULL;
	vs_sb sb;
	int rv;

	vs_sb_init(&sb);
	vsd_prom_render(srv, &sb);
	if (sb.oom || sb.buf == NULL) {
		vs_sb_free(&sb);
		nng_aio_finish(aio, NNG_ENOMEM);
		return;
	}
	if ((rv = nng_http_res_alloc(&res)) != 0 ||
	    (rv = nng_http_res_set_header(res, "Content-Type",
	    "text/plain; version=0.0.4; charset=utf-8")) != 0 ||
	    (rv = nng_http_res_copy_data(res, sb.buf, sb.len)) != 0) {
		if (res != NULL)
			nng_http_res_free(res);
		vs_sb_free(&sb);
		nng_aio_finish(aio, rv);
		return;
	}
	vs_sb_free(&sb);
	nng_aio_set_output(aio, 0, res);
	nng_aio_finish(aio, 0);
}

int
vsd_metrics_start(struct vsd_server *srv, const char *url)
{
	nng_http_server *hs = NULL;
	nng_http_handler *h = NULL;
	nng_url *u = NULL;
	int rv;

	if ((rv = nng_url_parse(&u, url)) != 0 ||
	    (rv = nng_http_server_hold(&hs, u)) != 0) {
		vsd_err("--metrics-listen %s: %s", url, nng_strerror(rv));
		goto fail;
	}
	if ((rv = nng_http_handler_alloc(&h, "/metrics", vsd_metrics_cb)) != 0 ||
	    (rv = nng_http_handler_set_method(h, "GET")) != 0 ||
	    (rv = nng_http_handler_set_data(h, srv, NULL)) != 0 ||
	    (rv = nng_http_server_add_handler(hs, h)) != 0) {
		vsd_err("--metrics-listen: handler: %s", nng_strerror(rv));
		if (h != NULL)
			nng_http_handler_free(h);
		goto fail;
	}
	if ((rv = nng_http_server_start(hs)) != 0) {
		vsd_err("--metrics-listen %s: %s", url, nng_strerror(rv));
		goto fail;
	}
	nng_url_free(u);
	srv->http = hs;
	vsd_info("metrics on %s/metrics", url);
	return 0;
fail:
	if (hs != NULL)
		nng_http_server_release(hs);
	if (u != NULL)
		nng_url_free(u);
	return -1;
}

void
vsd_metrics_stop(struct vsd_server *srv)
{
	if (srv->http == NULL)
		return;
	nng_http_server_stop(srv->http);
	nng_http_server_release(srv->http);
	srv->http = NULL;
}
