/*
 * worker.c - the workers: fibers on the event loop's thread.
 *
 * A worker is a lane (fanout/call.h: shard links, arena, per-shard
 * results, counters) and a fiber (fiber.h) to run one request on.  Every
 * worker lives on net.c's epoll thread, the event loop, which also owns
 * the client connections: a request is read, decoded, fanned out to the
 * shards, merged and answered on that one thread, with no hand-off.
 *
 *   net.c reads a whole request    ->  vsd_workers_submit (the queue)
 *   vsd_workers_run (on the loop)  ->  an idle worker takes it, its fiber
 *                                      runs dispatch -> op -> rounds
 *   a round would wait             ->  vsd_worker_wait: its sockets go
 *                                      into the loop's epoll (one-shot,
 *                                      tagged with the worker), the fiber
 *                                      yields
 *   a socket is ready, or the time ->  vsd_workers_event marks it; the
 *   the round gave runs out            next vsd_workers_run resumes it
 *   the op is done                 ->  job->reply (net.c queues the reply
 *                                      frame and writes it on the loop)
 *
 * Why fibers rather than a thread pool (the design before issue 13):
 * handing a request to a worker thread and its reply back cost two thread
 * wake-ups per request, and on a 2-vCPU VM a wake-up costs more CPU than
 * all of vsetd's own work for a search (docs/benchmarks.md, "The hop").
 * Why fibers rather than callbacks: the ops run several rounds one after
 * another; a fiber keeps them straight-line code.
 *
 * --workers is how many requests each loop runs at once: each worker has
 * its own connections to every shard (Redis replies on a connection come
 * back in order, so a connection serves one request at a time), and the
 * stall rule's quorum (health.h) is half of them.  More requests wait in
 * their loop's queue, up to --max-inflight; one whose deadline passes
 * there is answered DEADLINE_EXCEEDED by net.c (vsd_workers_expired).
 * Each loop has the whole --workers: a connection lives on one loop, and
 * a loop with fewer workers would let one slow caller hold up the others
 * of its loop while another loop's workers sit idle.
 *
 * What may not happen on a fiber: blocking the thread.  Shard rounds
 * yield; locks (collection cache, view, health, stats) are held for a few
 * instructions and never across a round, so two fibers of one thread
 * never wait for each other.  The exceptions, bounded, are documented in
 * docs/architecture.md: the mover's direct connection to a shard being
 * added or removed (ReshardStart/Step, at most VSD_MV_DIRECT_MAX_MS).
 *
 * Requests from the nng bridge (listener.c: tls+tcp://, ipc://, ws://)
 * are submitted from nng's threads; submit then wakes the loop through its
 * eventfd.
 *
 * Worker states, all on the loop's thread:
 *   IDLE     no job; its fiber is suspended at the top of its loop.
 *   READY    to be resumed by the next vsd_workers_run.
 *   RUNNING  its fiber runs (only one at a time: the loop's thread).
 *   WAITING  suspended in vsd_worker_wait until an event or until_us.
 */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include "log.h"
#include "net_priv.h"
#include "resp_cmd.h"
#include "server.h"
#include "table.h"
#include "vs_time.h"

#define VSD_ARENA_CHUNK (256 * 1024)
/* A worker's stack.  The ops keep their data in the arena; what is on
 * the stack is status text and small scratch.  Mapped lazily, so only
 * the pages touched cost memory.  AddressSanitizer's frames are larger. */
#if defined(__SANITIZE_ADDRESS__)
#define VSD_WORKER_STACK (4u * 1024 * 1024)
#else
#define VSD_WORKER_STACK (512u * 1024)
#endif

/* Under net->mu: unlink a queued job. */
static void
vsd_queue_unlink_locked(struct vsd_net *net, struct vsd_job *job)
{
	if (job->prev != NULL)
		job->prev->next = job->next;
	else
		net->qhead = job->next;
	if (job->next != NULL)
		job->next->prev = job->prev;
	else
		net->qtail = job->prev;
	job->prev = job->next = NULL;
}

/* The first queued job, or NULL. */
static struct vsd_job *
vsd_queue_pop(struct vsd_net *net)
{
	struct vsd_job *job;

	pthread_mutex_lock(&net->mu);
	if ((job = net->qhead) != NULL)
		vsd_queue_unlink_locked(net, job);
	pthread_mutex_unlock(&net->mu);
	return job;
}

struct vsd_job *
vsd_workers_expired(struct vsd_net *net, int64_t now, int64_t *next_due)
{
	struct vsd_job *job, *next, *out = NULL, **tail = &out;
	int64_t due = 0;

	pthread_mutex_lock(&net->mu);
	for (job = net->qhead; job != NULL; job = next) {
		next = job->next;
		if (job->due_us <= now) {
			vsd_queue_unlink_locked(net, job);
			*tail = job;
			tail = &job->next;
		} else if (due == 0 || job->due_us < due) {
			due = job->due_us;
		}
	}
	net->qdue_us = due;
	pthread_mutex_unlock(&net->mu);
	*next_due = due;
	return out;
}

struct vsd_job *
vsd_workers_take_all(struct vsd_net *net)
{
	struct vsd_job *out;

	pthread_mutex_lock(&net->mu);
	out = net->qhead;
	net->qhead = net->qtail = NULL;
	net->qdue_us = 0;
	pthread_mutex_unlock(&net->mu);
	return out;
}

/* Run one job on the worker's lane and hand its reply back. */
static void
vsd_worker_run_job(struct vsd_worker *w, struct vsd_job *job)
{
	nng_msg *reply;

	reply = job->proto != 0 ? vsd_resp_run(w, job) :
	    vsd_dispatch_bytes(&w->lane, job->body, job->len, job->recv_us);
	vsd_arena_reset(&w->lane.arena);
	vsd_job_reply(w->srv, job, reply);
}

/* The fiber's body: run the job it was given, then wait for the next. */
static void
vsd_worker_main(void *arg)
{
	struct vsd_worker *w = arg;
	struct vsd_job *job;

	for (;;) {
		while (w->job == NULL) {
			w->state = VSD_WORKER_IDLE;
			vsd_fiber_yield(&w->fib);
		}
		job = w->job;
		vsd_worker_run_job(w, job);
		w->job = NULL;
	}
}

/* epoll's bits as poll's */
static short
vsd_poll_bits(uint32_t ev)
{
	return (short)(((ev & EPOLLIN) ? POLLIN : 0) |
	    ((ev & EPOLLOUT) ? POLLOUT : 0) | ((ev & EPOLLERR) ? POLLERR : 0) |
	    ((ev & EPOLLHUP) ? POLLHUP : 0));
}

/* The lane's wait (vsd_links_set_wait): put the sockets in the loop's
 * epoll, one-shot, tagged with this worker, and yield.  One-shot, so a
 * socket this worker no longer waits on (an idle connection the shard
 * closes) wakes the loop at most once, and is then ignored. */
static int
vsd_worker_wait(void *arg, struct pollfd *pfd, unsigned n, int64_t until_us)
{
	struct vsd_worker *w = arg;
	int ep = w->net->ep;
	struct epoll_event ev;
	unsigned i;

	assert(w->state == VSD_WORKER_RUNNING);
	for (i = 0; i < n; i++) {
		memset(&ev, 0, sizeof(ev));
		ev.events = EPOLLONESHOT |
		    ((pfd[i].events & POLLIN) ? EPOLLIN : 0) |
		    ((pfd[i].events & POLLOUT) ? EPOLLOUT : 0);
		ev.data.u64 = VSD_NET_TAG_WORKER |
		    ((uint64_t)w->idx << VSD_NET_TAG_WORKER_SHIFT) |
		    (uint32_t)pfd[i].fd;
		pfd[i].revents = 0;
		if (epoll_ctl(ep, EPOLL_CTL_MOD, pfd[i].fd, &ev) != 0 &&
		    (errno != ENOENT ||
		    epoll_ctl(ep, EPOLL_CTL_ADD, pfd[i].fd, &ev) != 0))
			return -1;
	}
	w->pfd = pfd;
	w->npfd = n;
	w->until_us = until_us;
	w->nready = 0;
	w->state = VSD_WORKER_WAITING;
	vsd_fiber_yield(&w->fib);
	w->pfd = NULL;
	w->npfd = 0;
	return w->nready;
}

void
vsd_workers_event(struct vsd_net *net, uint64_t tag, uint32_t events)
{
	uint32_t idx = (uint32_t)((tag & ~VSD_NET_TAG_WORKER) >>
	    VSD_NET_TAG_WORKER_SHIFT);
	int fd = (int)(uint32_t)tag;
	struct vsd_worker *w;
	unsigned i;

	if (idx >= (uint32_t)net->nworkers)
		return;
	w = &net->workers[idx];
	if (w->state != VSD_WORKER_WAITING && w->state != VSD_WORKER_READY)
		return;                 /* a stale one-shot: ignored */
	for (i = 0; i < w->npfd; i++) {
		if (w->pfd[i].fd != fd)
			continue;
		if (w->pfd[i].revents == 0)
			w->nready++;
		w->pfd[i].revents |= vsd_poll_bits(events);
		w->state = VSD_WORKER_READY;
	}
}

/* Resume w (READY) until it waits again or finishes its job. */
static void
vsd_worker_resume(struct vsd_worker *w)
{
	w->state = VSD_WORKER_RUNNING;
	vsd_fiber_resume(&w->fib);
	assert(w->state == VSD_WORKER_IDLE || w->state == VSD_WORKER_WAITING);
}

void
vsd_workers_run(struct vsd_net *net)
{
	struct vsd_server *srv = net->srv;
	int64_t now = vs_now_us();
	struct vsd_job *job;
	int i, progress, quiet, empty;

	for (i = 0; i < net->nworkers; i++) {
		struct vsd_worker *w = &net->workers[i];

		if (w->state == VSD_WORKER_WAITING && w->until_us <= now)
			w->state = VSD_WORKER_READY;    /* its time is up */
	}
	do {
		progress = 0;
		for (i = 0; i < net->nworkers; i++) {
			struct vsd_worker *w = &net->workers[i];

			if (w->state == VSD_WORKER_IDLE) {
				if ((job = vsd_queue_pop(net)) == NULL)
					continue;
				w->job = job;
				w->state = VSD_WORKER_READY;
			}
			if (w->state == VSD_WORKER_READY) {
				vsd_worker_resume(w);
				progress = 1;
			}
		}
	} while (progress);

	if (!srv->stopping)
		return;
	quiet = 1;
	for (i = 0; i < net->nworkers; i++)
		if (net->workers[i].state != VSD_WORKER_IDLE)
			quiet = 0;
	pthread_mutex_lock(&net->mu);
	empty = net->qhead == NULL;
	pthread_mutex_unlock(&net->mu);
	pthread_mutex_lock(&srv->mu);
	if (quiet && empty && !net->quiet) {
		net->quiet = 1;
		pthread_cond_broadcast(&srv->qcv);
	}
	pthread_mutex_unlock(&srv->mu);
}

int64_t
vsd_workers_next_wake(struct vsd_net *net)
{
	int64_t due = 0;
	int i;

	for (i = 0; i < net->nworkers; i++) {
		struct vsd_worker *w = &net->workers[i];

		if (w->state == VSD_WORKER_READY)
			return vs_now_us();
		if (w->state == VSD_WORKER_WAITING &&
		    (due == 0 || w->until_us < due))
			due = w->until_us;
	}
	return due;
}

void
vsd_job_reply(struct vsd_server *srv, struct vsd_job *job, nng_msg *reply)
{
	job->reply(srv, job, reply);
}

int
vsd_workers_submit(struct vsd_net *net, struct vsd_job *job)
{
	int earlier;

	job->loop = net;
	job->next = NULL;
	pthread_mutex_lock(&net->mu);
	job->prev = net->qtail;
	if (net->qtail != NULL)
		net->qtail->next = job;
	else
		net->qhead = job;
	net->qtail = job;
	earlier = net->qdue_us == 0 || job->due_us < net->qdue_us;
	if (earlier)
		net->qdue_us = job->due_us;
	pthread_mutex_unlock(&net->mu);
	return earlier;
}

/* Free what a worker owns (its fiber is idle or never ran). */
static void
vsd_worker_fini(struct vsd_worker *w)
{
	vsd_fiber_fini(&w->fib);
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
	int i, n = srv->cfg->workers * srv->nloops, loop;

	srv->nworkers = 0;
	srv->workers = calloc((size_t)n, sizeof(*srv->workers));
	if (srv->workers == NULL)
		return -1;
	/* loop by loop, --workers each: a connection lives on one loop, so
	 * each loop needs the whole complement for its callers */
	for (loop = 0; loop < srv->nloops; loop++) {
		struct vsd_net *net = srv->nets[loop];

		net->workers = &srv->workers[srv->nworkers];
		net->nworkers = srv->cfg->workers;
		for (i = 0; i < net->nworkers; i++)
			net->workers[i].net = net;
		srv->nworkers += net->nworkers;
	}
	assert(srv->nworkers == n);
	srv->nworkers = 0;
	for (i = 0; i < n; i++) {
		struct vsd_worker *w = &srv->workers[i];

		w->srv = srv;
		w->idx = (int)(w - w->net->workers);
		w->lane.cfg = srv->cfg;
		w->lane.lim = &srv->limits;
		w->lane.health = srv->health;
		vsd_arena_init(&w->lane.arena, VSD_ARENA_CHUNK);
		if (vsd_stats_init(&w->lane.stats, srv->cfg->nshards) != 0)
			goto fail;
		w->lane.links = vsd_links_new(srv->cfg, srv->health,
		    &w->lane.stats);
		w->lane.res = calloc(VSD_MAX_SHARDS, sizeof(*w->lane.res));
		if (w->lane.links == NULL || w->lane.res == NULL ||
		    vsd_fiber_init(&w->fib, VSD_WORKER_STACK, vsd_worker_main,
		    w) != 0)
			goto fail;
		vsd_links_set_wait(w->lane.links, vsd_worker_wait, w);
		w->state = VSD_WORKER_READY;    /* runs to its first yield */
		srv->nworkers++;
	}
	return 0;
fail:
	vsd_worker_fini(&srv->workers[i]);
	vsd_err("starting worker %d failed", i);
	vsd_workers_free(srv);
	return -1;
}

/* Under srv->mu: every running loop is quiet. */
static int
vsd_workers_quiet_locked(struct vsd_server *srv)
{
	int i;

	for (i = 0; i < srv->nloops; i++)
		if (srv->nets[i]->running && !srv->nets[i]->quiet)
			return 0;
	return 1;
}

void
vsd_workers_stop(struct vsd_server *srv)
{
	pthread_mutex_lock(&srv->mu);
	srv->stopping = 1;
	pthread_mutex_unlock(&srv->mu);
	vsd_net_wake(srv);
	/* every request is bounded by its deadline: this ends */
	pthread_mutex_lock(&srv->mu);
	while (!vsd_workers_quiet_locked(srv))
		pthread_cond_wait(&srv->qcv, &srv->mu);
	pthread_mutex_unlock(&srv->mu);
}

void
vsd_workers_free(struct vsd_server *srv)
{
	int i;

	for (i = 0; i < srv->nworkers; i++)
		vsd_worker_fini(&srv->workers[i]);
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
