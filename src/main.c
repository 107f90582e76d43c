/*
 * main.c - vsetd: parse the flags, start the workers and the listener,
 * wait for SIGINT/SIGTERM, drain, stop.
 *
 * Signals are blocked in every thread and taken synchronously here with
 * sigwait(), so no handler ever runs in the middle of nng or hiredis.
 *
 * Shutdown order matters: refuse new requests (with UNAVAILABLE), wait
 * (bounded) for the ones in flight, wait until the workers finished the
 * queue (they run on the event loop, which sends their last replies), let
 * the loop write every reply still queued (net.c) and join it, and only
 * then close the sockets, stop every aio, and free the workers.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "beacon.h"
#include "config.h"
#include "log.h"
#include "sentinel.h"
#include "observe.h"
#include "server.h"
#include "table.h"
#include "topology.h"
#include "vs_time.h"

/* How long a drain may wait for calls in flight beyond the default
 * deadline before exiting anyway. */
#define VSD_DRAIN_SLACK_MS 2000

static void
vsd_drain(struct vsd_server *srv)
{
	int64_t until = vs_now_us() +
	    ((int64_t)srv->cfg->deadline_ms + VSD_DRAIN_SLACK_MS) * 1000;

	atomic_store(&srv->draining, 1);
	vsd_net_wake(srv);              /* closes a native listener */
	while (atomic_load(&srv->inflight) > 0 && vs_now_us() < until)
		usleep(2000);
	if (atomic_load(&srv->inflight) > 0)
		vsd_warn("stopping with %d calls still in flight",
		    atomic_load(&srv->inflight));
}

int
main(int argc, char **argv)
{
	struct vsd_config cfg;
	struct vsd_server srv;
	struct vsd_sentinels *sentinels = NULL;
	struct vsd_beacon *beacon = NULL;
	char bound[512];
	size_t h, nhealth = 0;
	sigset_t sigs;
	uint32_t i;
	int rv, sig, status = 1, workers_up = 0;

	signal(SIGPIPE, SIG_IGN);
	if ((rv = vsd_config_parse(&cfg, argc, argv)) != VSD_CONFIG_RUN) {
		vsd_config_fini(&cfg);
		return rv;
	}
	vsd_log_set_level(cfg.log_level);
	/* The stored topology may add shards: before anything is sized. */
	if ((rv = vsd_topo_startup(&cfg, VSD_TOPO_READ_MS)) != 0) {
		vsd_table_fini();
		vsd_config_fini(&cfg);
		return rv;
	}

	sigemptyset(&sigs);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGTERM);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);   /* inherited by all threads */

	memset(&srv, 0, sizeof(srv));
	srv.cfg = &cfg;
	srv.limits.max_batch = cfg.max_batch;
	srv.limits.max_k = cfg.max_k;
	srv.limits.max_dim = cfg.max_dim;
	srv.limits.max_id_bytes = cfg.max_id_bytes;
	pthread_mutex_init(&srv.mu, NULL);
	pthread_cond_init(&srv.qcv, NULL);
	/* every shard the table may come to hold (shard/table.h) */
	nhealth = (size_t)VSD_MAX_SHARDS * VSD_MAX_ENDPOINTS;
	if ((srv.health = calloc(nhealth, sizeof(*srv.health))) == NULL)
		goto out;
	for (h = 0; h < nhealth; h++)
		vsd_health_init(&srv.health[h], (uint32_t)getpid() ^ (uint32_t)h);

	/* sentinel:// shards: their endpoints before any worker needs them */
	if (vsd_sentinels_start(&cfg, srv.health, &sentinels) != 0)
		goto out;
	if (vsd_net_open(&srv) != 0 || vsd_listener_open(&srv) != 0)
		goto out;
	if (vsd_workers_start(&srv) != 0)
		goto out;
	workers_up = 1;
	srv.started_us = vs_now_us();
	if (vsd_listener_start(&srv, bound, sizeof(bound)) != 0 ||
	    vsd_net_start(&srv, bound, sizeof(bound)) != 0)
		goto out;
	snprintf(srv.bound, sizeof(srv.bound), "%s", bound);
	if (vsd_beacon_start(&cfg, bound, &beacon) != 0)
		goto out;
	if (cfg.survey_listen != NULL &&
	    vsd_survey_start(&srv, cfg.survey_listen) != 0)
		goto out;
	if (cfg.metrics_listen != NULL &&
	    vsd_metrics_start(&srv, cfg.metrics_listen) != 0)
		goto out;
	vsd_info("vsetd %s listening on %s, %u shards, %d workers on %s%d "
	    "event loop%s", VSETD_VERSION, bound, cfg.nshards, cfg.workers,
	    srv.nloops == 1 ? "" : "each of ", srv.nloops,
	    srv.nloops == 1 ? "" : "s");
	for (i = 0; i < cfg.nshards; i++) {
		const struct vsd_shard_addr *a = &cfg.shards[i];

		vsd_info("shard %u: %s:%d%s", i, a->ep[0].host, a->ep[0].port,
		    a->nep > 1 ? " (with replicas)" : "");
	}

	if (sigwait(&sigs, &sig) != 0)
		goto out;
	vsd_info("%s: draining %d calls in flight", strsignal(sig),
	    atomic_load(&srv.inflight));
	vsd_drain(&srv);
	status = 0;
out:
	vsd_beacon_stop(beacon);
	vsd_metrics_stop(&srv);
	vsd_survey_stop(&srv);
	if (workers_up)
		vsd_workers_stop(&srv);
	vsd_net_stop(&srv);
	vsd_listener_stop(&srv);
	if (workers_up)
		vsd_workers_free(&srv);
	vsd_sentinels_stop(sentinels);
	for (h = 0; srv.health != NULL && h < nhealth; h++)
		vsd_health_fini(&srv.health[h]);
	free(srv.health);
	pthread_cond_destroy(&srv.qcv);
	pthread_mutex_destroy(&srv.mu);
	vsd_table_fini();
	vsd_config_fini(&cfg);
	if (status == 0)
		vsd_info("stopped");
	return status;
}
