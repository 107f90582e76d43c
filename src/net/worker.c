/*
 * worker.c - the worker pool.
 *
 * Each worker is a thread with its own nng_ctx and a lane (call.h): shard
 * links (shards.h), arena, per-shard results and counters.  Its loop:
 *
 *   1. take a request from the queue if one is there (slots, listener.c,
 *      fill it only while every worker was busy; net.c puts every request
 *      of a native tcp:// listener there);
 *   2. otherwise receive one itself: a receive on its own context with a
 *      callback-less aio, so the nng thread that delivers the request wakes
 *      this thread directly.  With a native listener there is no nng
 *      socket: the worker waits on the queue's condition variable instead;
 *   3. dispatch it, and send the reply from this thread (nng), or hand it
 *      back to where the queued job came from (vsd_job_reply).
 *
 * The pool sits below the transports: listener.c, net.c and resp_net.c
 * call into it, never the other way.  A job carries its reply function
 * (set by its transport), and the nng bridge's admission and overflow
 * slots reach a worker's own receive through srv->admit and srv->arm.
 *
 * A queued job carries its deadline (peeked from the envelope before
 * queueing, envelope.c): if no worker takes it in time, net.c removes it
 * from the queue and answers DEADLINE_EXCEEDED then, not when a worker
 * finally gets to it (vsd_workers_expired).
 *
 * Why not nng callbacks and a queue for everything (the classic nng async
 * server): a request's shard round waits in ppoll(), bounded by the
 * deadline, and nng callbacks must not wait, so work has to move to a
 * thread of ours.  With callbacks, that costs a second wake-up per request
 * (nng's callback thread, then ours), and on a small VM a wake-up costs
 * more CPU than everything else vsetd does for a search.  Receiving in the
 * worker removes it.
 *
 * The handshake with the queue (all under srv->mu): a worker about to wait
 * in its own receive says so (ARMING), posts the receive, then looks at
 * the queue once more before declaring itself POSTED.  A slot that queues
 * a request kicks one POSTED worker by cancelling its receive.  So a
 * queued request is always seen: either the worker's second look finds
 * it, or the worker was already POSTED and gets kicked.  A kick that
 * arrives after the receive completed is harmless: the worker answers
 * what it received and then takes the queue, and a stale cancel only
 * costs one spurious wake-up.
 *
 * Sending blocks only while an earlier reply to the same connection is
 * still being written (rep0 hands a reply to an idle connection at once).
 * The wait is bounded by what is left of --deadline-ms, but at least 1 s,
 * and the reply is dropped after it, so a client that stops reading its
 * replies cannot hold a worker for long.
 */
#include <stdlib.h>
#include <unistd.h>

#include "log.h"
#include "resp_cmd.h"
#include "server.h"
#include "table.h"
#include "vs_time.h"

#define VSD_ARENA_CHUNK (256 * 1024)
/* Least time a reply may wait for its connection, even past the
 * deadline (an earlier large reply may still be leaving). */
#define VSD_SEND_MIN_MS 1000

/* Send reply on the worker's context and wait for it to leave. */
static void
vsd_worker_send(struct vsd_worker *w, nng_msg *reply, int64_t recv_us)
{
	int64_t left_ms;

	if (reply == NULL)
		return;         /* out of memory: the client times out */
	left_ms = (recv_us + (int64_t)w->srv->cfg->deadline_ms * 1000 -
	    vs_now_us()) / 1000;
	if (left_ms < VSD_SEND_MIN_MS)
		left_ms = VSD_SEND_MIN_MS;
	nng_aio_set_timeout(w->saio, (nng_duration)left_ms);
	nng_aio_set_msg(w->saio, reply);
	nng_ctx_send(w->ctx, w->saio);
	nng_aio_wait(w->saio);
	if (nng_aio_result(w->saio) != 0) {
		vsd_debug("reply not sent: %s",
		    nng_strerror(nng_aio_result(w->saio)));
		nng_msg_free(nng_aio_get_msg(w->saio));
		nng_aio_set_msg(w->saio, NULL);
	}
}

/* Answer a request from the queue. */
static void
vsd_worker_run_job(struct vsd_worker *w, struct vsd_job *job)
{
	nng_msg *reply;

	reply = job->proto != 0 ? vsd_resp_run(w, job) :
	    vsd_dispatch_bytes(&w->lane, job->body, job->len, job->recv_us);
	vsd_arena_reset(&w->lane.arena);
	vsd_job_reply(w->srv, job, reply);
}

void
vsd_job_reply(struct vsd_server *srv, struct vsd_job *job, nng_msg *reply)
{
	job->reply(srv, job, reply);
}

/* Under srv->mu: unlink a queued job. */
static void
vsd_queue_unlink_locked(struct vsd_server *srv, struct vsd_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		srv->qhead = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	else
		srv->qtail = job->prev;
	job->prev = job->next = NULL;
}

/* Under srv->mu: the first queued job, or NULL. */
static struct vsd_job *
vsd_queue_pop_locked(struct vsd_server *srv)
{
	struct vsd_job *job = srv->qhead;

	if (job != NULL)
		vsd_queue_unlink_locked(srv, job);
	return job;
}

struct vsd_job *
vsd_workers_expired(struct vsd_server *srv, int64_t now, int64_t *next_due)
{
	struct vsd_job *job, *next, *out = NULL, **tail = &out;
	int64_t due = 0;

	pthread_mutex_lock(&srv->mu);
	for (job = srv->qhead; job != NULL; job = next) {
		next = job->next;
		if (job->due_us <= now) {
			vsd_queue_unlink_locked(srv, job);
			*tail = job;
			tail = &job->next;
		} else if (due == 0 || job->due_us < due) {
			due = job->due_us;
		}
	}
	srv->qdue_us = due;
	pthread_mutex_unlock(&srv->mu);
	*next_due = due;
	return out;
}

struct vsd_job *
vsd_workers_take_all(struct vsd_server *srv)
{
	struct vsd_job *out;

	pthread_mutex_lock(&srv->mu);
	out = srv->qhead;
	srv->qhead = srv->qtail = NULL;
	srv->qdue_us = 0;
	pthread_mutex_unlock(&srv->mu);
	return out;
}

/* Answer a request the worker received itself. */
static void
vsd_worker_run_own(struct vsd_worker *w, nng_msg *req, int64_t recv_us)
{
	struct vsd_server *srv = w->srv;
	nng_msg *reply;

	if (!srv->admit(srv, req, &reply)) {
		vsd_worker_send(w, reply, recv_us);
		return;
	}
	reply = vsd_dispatch(&w->lane, req, recv_us);
	nng_msg_free(req);
	vsd_arena_reset(&w->lane.arena);
	atomic_fetch_sub(&srv->inflight, 1);
	vsd_worker_send(w, reply, recv_us);
}

/* Wait in the worker's own receive.  Returns the request, or NULL when
 * kicked (the queue has work), stopping, or on a receive error. */
static nng_msg *
vsd_worker_receive(struct vsd_worker *w)
{
	struct vsd_server *srv = w->srv;
	nng_msg *msg;
	int cancel, allbusy, rv;

	nng_ctx_recv(w->ctx, w->raio);
	pthread_mutex_lock(&srv->mu);
	cancel = srv->qhead != NULL || srv->stopping;
	if (w->state == VSD_WORKER_ARMING)
		w->state = VSD_WORKER_POSTED;
	pthread_mutex_unlock(&srv->mu);
	if (cancel)
		nng_aio_cancel(w->raio);
	nng_aio_wait(w->raio);

	pthread_mutex_lock(&srv->mu);
	if (w->state != VSD_WORKER_KICKED)
		srv->nidle--;
	w->state = VSD_WORKER_BUSY;
	allbusy = srv->nidle == 0;
	pthread_mutex_unlock(&srv->mu);

	if ((rv = nng_aio_result(w->raio)) != 0) {
		if (rv != NNG_ECANCELED) {
			/* not a kick: do not spin on an error that repeats */
			vsd_warn("worker receive: %s", nng_strerror(rv));
			usleep(10000);
		}
		return NULL;
	}
	msg = nng_aio_get_msg(w->raio);
	nng_aio_set_msg(w->raio, NULL);
	if (allbusy)
		srv->arm(srv);          /* so overflow is still received */
	return msg;
}

static void *
vsd_worker_main(void *arg)
{
	struct vsd_worker *w = arg;
	struct vsd_server *srv = w->srv;
	struct vsd_job *job;
	nng_msg *req;

	for (;;) {
		pthread_mutex_lock(&srv->mu);
		if (srv->native)
			while (srv->qhead == NULL && !srv->stopping)
				pthread_cond_wait(&srv->qcv, &srv->mu);
		job = vsd_queue_pop_locked(srv);
		if (job != NULL) {
			pthread_mutex_unlock(&srv->mu);
			vsd_worker_run_job(w, job);
			continue;
		}
		if (srv->stopping) {            /* stopping and drained */
			pthread_mutex_unlock(&srv->mu);
			break;
		}
		w->state = VSD_WORKER_ARMING;
		srv->nidle++;
		pthread_mutex_unlock(&srv->mu);

		if ((req = vsd_worker_receive(w)) != NULL)
			vsd_worker_run_own(w, req, vs_now_us());
	}
	return NULL;
}

/* Under srv->mu: pick a worker waiting in its own receive, mark it kicked
 * and return it (its receive is cancelled by the caller, after unlocking). */
static struct vsd_worker *
vsd_worker_kick_locked(struct vsd_server *srv)
{
	int i;

	for (i = 0; i < srv->nworkers; i++) {
		struct vsd_worker *w = &srv->workers[i];

		if (w->state == VSD_WORKER_POSTED) {
			w->state = VSD_WORKER_KICKED;
			srv->nidle--;
			return w;
		}
	}
	return NULL;
}

int
vsd_workers_submit(struct vsd_server *srv, struct vsd_job *job)
{
	struct vsd_worker *w = NULL;
	int earlier;

	job->next = NULL;
	pthread_mutex_lock(&srv->mu);
	job->prev = srv->qtail;
	if (srv->qtail != NULL)
		srv->qtail->next = job;
	else
		srv->qhead = job;
	srv->qtail = job;
	earlier = srv->qdue_us == 0 || job->due_us < srv->qdue_us;
	if (earlier)
		srv->qdue_us = job->due_us;
	if (srv->native)
		pthread_cond_signal(&srv->qcv);
	else
		w = vsd_worker_kick_locked(srv);
	pthread_mutex_unlock(&srv->mu);
	if (w != NULL)
		nng_aio_cancel(w->raio);
	return earlier;
}

/* Free what a worker owns (its thread has exited or never ran). */
static void
vsd_worker_fini(struct vsd_worker *w)
{
	if (w->raio != NULL)
		nng_aio_free(w->raio);
	if (w->saio != NULL)
		nng_aio_free(w->saio);
	w->raio = w->saio = NULL;
	vsd_links_free(w->lane.links);
	w->lane.links = NULL;
	free(w->lane.res);
	w->lane.res = NULL;
	vsd_arena_fini(&w->lane.arena);
	vsd_stats_fini(&w->lane.stats);
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
		w->lane.cfg = srv->cfg;
		w->lane.lim = &srv->limits;
		w->lane.health = srv->health;
		vsd_arena_init(&w->lane.arena, VSD_ARENA_CHUNK);
		if (vsd_stats_init(&w->lane.stats, srv->cfg->nshards) != 0)
			goto fail;
		w->lane.links = vsd_links_new(srv->cfg, srv->health,
		    &w->lane.stats);
		w->lane.res = calloc(VSD_MAX_SHARDS, sizeof(*w->lane.res));
		if (w->lane.links == NULL || w->lane.res == NULL)
			goto fail;
		if (!srv->native && ((rv = nng_ctx_open(&w->ctx, srv->sock)) != 0 ||
		    (rv = nng_aio_alloc(&w->raio, NULL, NULL)) != 0 ||
		    (rv = nng_aio_alloc(&w->saio, NULL, NULL)) != 0)) {
			vsd_err("worker %d: %s", i, nng_strerror(rv));
			goto fail;
		}
		if ((rv = pthread_create(&w->thread, NULL, vsd_worker_main, w)) != 0)
			goto fail;
		srv->nworkers++;
	}
	return 0;
fail:
	vsd_worker_fini(&srv->workers[i]);
	vsd_err("starting worker %d failed", i);
	vsd_workers_stop(srv);
	return -1;
}

void
vsd_workers_stop(struct vsd_server *srv)
{
	int i;

	struct vsd_worker *w;

	/* Workers still in their own receive are kicked out of it; the
	 * others see `stopping` before they would post another. */
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	pthread_cond_broadcast(&srv->qcv);
	pthread_mutex_unlock(&srv->mu);
	for (;;) {
		pthread_mutex_lock(&srv->mu);
		w = vsd_worker_kick_locked(srv);
		pthread_mutex_unlock(&srv->mu);
		if (w == NULL)
			break;
		nng_aio_cancel(w->raio);
	}
	for (i = 0; i < srv->nworkers; i++) {
		pthread_join(srv->workers[i].thread, NULL);
		vsd_worker_fini(&srv->workers[i]);
	}
	free(srv->workers);
	srv->workers = NULL;
	srv->nworkers = 0;
}

struct vsd_stats_total *
vsd_stats_snapshot(struct vsd_server *srv)
{
	struct vsd_stats_total *t;
	uint32_t n = vsd_table_count(), i, m, c, fe;
	int w;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	if ((t->shards = calloc(n ? n : 1, sizeof(*t->shards))) == NULL) {
		free(t);
		return NULL;
	}
	t->nshards = n;
	for (m = 0; m < VSD_STATS_METHODS; m++) {
		vs_hist_reset(&t->methods[m].lat);
		for (fe = 0; fe < VSD_FRONTENDS; fe++)
			vs_hist_reset(&t->fe[fe][m].lat);
	}
	for (i = 0; i < n; i++)
		vs_hist_reset(&t->shards[i].lat);
	for (w = 0; w < srv->nworkers; w++) {
		struct vsd_stats *s = &srv->workers[w].lane.stats;

		pthread_mutex_lock(&s->mu);
		for (fe = 0; fe < VSD_FRONTENDS; fe++)
			for (m = 0; m < VSD_STATS_METHODS; m++) {
				const struct vsd_method_stats *src =
				    &s->methods[fe * VSD_STATS_METHODS + m];

				for (c = 0; c < VSD_STATS_CODES; c++)
					t->fe[fe][m].codes[c] += src->codes[c];
				vs_hist_merge(&t->fe[fe][m].lat, &src->lat);
			}
		for (i = 0; i < n && i < s->nshards; i++) {
			t->shards[i].ok += s->shards[i].ok;
			t->shards[i].errors += s->shards[i].errors;
			t->shards[i].timeouts += s->shards[i].timeouts;
			vs_hist_merge(&t->shards[i].lat, &s->shards[i].lat);
		}
		pthread_mutex_unlock(&s->mu);
	}
	/* the totals of every front end (the survey's numbers) */
	for (fe = 0; fe < VSD_FRONTENDS; fe++)
		for (m = 0; m < VSD_STATS_METHODS; m++) {
			for (c = 0; c < VSD_STATS_CODES; c++)
				t->methods[m].codes[c] += t->fe[fe][m].codes[c];
			vs_hist_merge(&t->methods[m].lat, &t->fe[fe][m].lat);
		}
	return t;
}
