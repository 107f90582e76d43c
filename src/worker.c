/*
 * worker.c - the worker pool.  Slots arrive from nng callbacks through a
 * mutex-protected FIFO; each worker thread takes one, runs it through
 * dispatch with its own shard links and arena, and sends the reply.
 *
 * Why threads and blocking-style shard I/O rather than everything on nng's
 * callbacks: a request's shard round waits (in ppoll, bounded by the
 * deadline), and nng callbacks must never wait.  With W workers, W requests
 * talk to the shards at once; more wait in the queue, bounded by the number
 * of slots (--max-inflight).
 */
#include <stdlib.h>

#include "log.h"
#include "server.h"
#include "vs_time.h"

#define VSD_ARENA_CHUNK (256 * 1024)

static void *
vsd_worker_main(void *arg)
{
	struct vsd_worker *w = arg;
	struct vsd_server *srv = w->srv;
	struct vsd_slot *slot;
	nng_msg *reply;

	for (;;) {
		pthread_mutex_lock(&srv->mu);
		while (srv->qhead == NULL && !srv->stopping)
			pthread_cond_wait(&srv->cv, &srv->mu);
		slot = srv->qhead;
		if (slot == NULL) {             /* stopping and drained */
			pthread_mutex_unlock(&srv->mu);
			break;
		}
		srv->qhead = slot->next;
		if (srv->qhead == NULL)
			srv->qtail = NULL;
		pthread_mutex_unlock(&srv->mu);

		reply = vsd_dispatch(w, slot->msg, slot->recv_us);
		nng_msg_free(slot->msg);
		slot->msg = NULL;
		vsd_arena_reset(&w->arena);
		vsd_listener_reply(slot, reply);
	}
	return NULL;
}

void
vsd_workers_submit(struct vsd_server *srv, struct vsd_slot *slot)
{
	slot->next = NULL;
	pthread_mutex_lock(&srv->mu);
	if (srv->qtail != NULL)
		srv->qtail->next = slot;
	else
		srv->qhead = slot;
	srv->qtail = slot;
	pthread_cond_signal(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
}

int
vsd_workers_start(struct vsd_server *srv)
{
	int i, rv;

	srv->nworkers = 0;
	srv->workers = calloc((size_t)srv->cfg->workers, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return -1;
	for (i = 0; i < srv->cfg->workers; i++) {
		struct vsd_worker *w = &srv->workers[i];

		w->srv = srv;
		vsd_arena_init(&w->arena, VSD_ARENA_CHUNK);
		if (vsd_stats_init(&w->stats, srv->cfg->nshards) != 0)
			goto fail;
		w->links = vsd_links_new(srv->cfg, srv->health, &w->stats);
		w->res = calloc(srv->cfg->nshards, sizeof(*w->res));
		if (w->links == NULL || w->res == NULL)
			goto fail;
		if ((rv = pthread_create(&w->thread, NULL, vsd_worker_main, w)) != 0)
			goto fail;
		srv->nworkers++;
	}
	return 0;
fail:
	vsd_links_free(srv->workers[i].links);
	free(srv->workers[i].res);
	vsd_stats_fini(&srv->workers[i].stats);
	vsd_err("starting worker %d failed", i);
	vsd_workers_stop(srv);
	return -1;
}

void
vsd_workers_stop(struct vsd_server *srv)
{
	int i;

	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->cv);
	pthread_mutex_unlock(&srv->mu);
	for (i = 0; i < srv->nworkers; i++) {
		struct vsd_worker *w = &srv->workers[i];

		pthread_join(w->thread, NULL);
		vsd_links_free(w->links);
		free(w->res);
		vsd_arena_fini(&w->arena);
		vsd_stats_fini(&w->stats);
	}
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
}
