/*
 * shards.c - the parallel shard round.  Design in shards.h; here the
 * details that matter:
 *
 * - Contexts are non-blocking (redisConnectNonBlock), so neither connect
 *   nor write nor read can ever block the worker past its deadline; the
 *   wait (ppoll(), or the lane's hook that yields to its event loop:
 *   vsd_links_set_wait) is the only place we wait, and its timeout is the
 *   time left (or the time until a hedge is due).
 * - hiredis's redisGetReply would flush and block on one context at a time;
 *   instead every context's output buffer is written as soon as its socket
 *   is writable, and replies are parsed from whatever each socket has.
 * - Replies are collected per link and handed to the commands only when
 *   that link has answered everything (or, for writes, when it fails), so
 *   a hedged pair of links can never mix their answers.
 * - An idle connection may have been closed by the shard (restart, client
 *   timeout): before reusing one we peek at it, so a restarted shard costs
 *   a reconnect, not a failed request.
 * - Blame: a link ends in one of three ways.  The shard failed it (refused,
 *   lost, protocol error, AUTH refused, or silent for --shard-timeout-ms:
 *   vsd_link_lost() with blame, reported to the breaker); it answered
 *   (success); or we gave up for reasons of our own (the caller's
 *   deadline, the stall rule, a hedge twin answered first: no verdict, and
 *   a half-open probe is released for the next call).  Any link that ends
 *   with replies outstanding is dropped.
 * - Sentinel shards (sentinel.h): each round first takes the shard's new
 *   endpoints if their generation changed (between rounds, so no link is
 *   active); a read whose connection the server closed (EOF) is retried
 *   once on the same endpoint, since Sentinel kills the clients of the
 *   replica it promotes; after a write round, READONLY replies are
 *   failures (never acknowledgements) and a failing primary's error says
 *   a failover is in progress.
 * - While it waits, every link is on its endpoint's waiter list
 *   (health.h) with the time bytes last moved; every VSD_STALL_CHECK_US a
 *   waiting round asks whether it must give way (the stall rule), and
 *   each round start asks whether the endpoint is "not answering".
 */
#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "sentinel.h"
#include "shard_reply.h"
#include "shards.h"
#include "stats.h"
#include "table.h"
#include "vs_time.h"

/* One connection: shard s, endpoint e. */
struct vsd_link {
	redisContext *ctx;
	const struct vsd_endpoint *ep;
	struct vsd_health *health;
	redisReply **replies;        /* this round's, in pending order */
	size_t cap;                  /* of replies */
	size_t got;                  /* replies received this round */
	int active;                  /* waiting on it this round */
	int want_write;
	int auth_pending;            /* an AUTH reply comes first */
	int wait_pending;            /* a WAIT reply comes last */
	int wait_acked;
	int probe;                   /* holds the breaker's half-open probe */
	int64_t progress_us;         /* bytes last moved (or the start) */
	struct vsd_waiter wait;      /* on the endpoint's list while active */
};

/* One shard's part of a round. */
struct vsd_shard_round {
	size_t *pending;             /* cmd indices, in send order */
	size_t npending, cap;
	unsigned tried;              /* bitmask of endpoints started */
	unsigned retried;            /* endpoints restarted after an EOF */
	int done;
	int64_t hedge_at;            /* 0 = no hedge due */
	int64_t latency_us;          /* when it answered, from round start */
};

struct vsd_links {
	const struct vsd_config *cfg;
	uint32_t n;                  /* shards set up (table.h: grows) */
	uint32_t cap;                /* entries allocated per array */
	struct vsd_health *health;   /* shared, VSD_MAX_SHARDS * endpoints */
	/* Each shard's endpoints as this worker uses them: the config's, or
	 * for a sentinel shard this worker's copy of generation gen[s]
	 * (sentinel.h; owned when gen[s] != 0). */
	struct vsd_shard_addr *addr;
	uint64_t *gen;
	struct vsd_link *link;       /* cap * VSD_MAX_ENDPOINTS */
	struct vsd_shard_round *round;
	struct pollfd *pfd;
	vsd_links_wait_fn wait;      /* NULL: ppoll() */
	void *wait_arg;
	struct vsd_link **pfd_link;
	uint32_t *pfd_shard;
	struct vsd_stats *stats;
	int64_t started_us;          /* of the current round */
	int kind;                    /* of the current round */
	struct vsd_cmd *cmds;        /* of the current round */
	struct vsd_shard_result *res;
	int64_t shard_timeout_us;    /* --shard-timeout-ms */
	int64_t wait_us;             /* --wait-ms, allowed on top for WAIT */
	int64_t stall_us;            /* --shard-stall-ms */
	int quorum;                  /* stalled waiters that close an endpoint */
	int64_t next_stall_check;    /* of the current round */
};

/* How often a waiting round applies the stall rule (health.h). */
#define VSD_STALL_CHECK_US 50000

#define VSD_LINK(l, s, e) (&(l)->link[(size_t)(s) * VSD_MAX_ENDPOINTS + (e)])

/* Set up shard s's entries (its address and one link per endpoint). */
static void
vsd_links_init_shard(struct vsd_links *l, uint32_t s)
{
	const struct vsd_config *cfg = l->cfg;
	int e;

	if (vsd_sentinel_gen(cfg->sentinels, s) == 0 ||
	    vsd_sentinel_copy(cfg->sentinels, s, &l->addr[s], &l->gen[s]) != 0)
		l->addr[s] = cfg->shards[s];    /* borrowed */
	for (e = 0; e < VSD_MAX_ENDPOINTS; e++) {
		VSD_LINK(l, s, e)->ep = &l->addr[s].ep[e];
		VSD_LINK(l, s, e)->health =
		    &l->health[(size_t)s * VSD_MAX_ENDPOINTS + e];
	}
}

/* Shards appended to the table since the last round (table.h): their
 * entries are set up here, in the worker's own thread. */
static void
vsd_links_grow(struct vsd_links *l)
{
	uint32_t n = vsd_table_count();

	while (l->n < n && l->n < l->cap)
		vsd_links_init_shard(l, l->n++);
}

struct vsd_links *
vsd_links_new(const struct vsd_config *cfg, struct vsd_health *health,
    struct vsd_stats *stats)
{
	struct vsd_links *l;
	size_t nl;
	uint32_t s;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->cfg = cfg;
	l->stats = stats;
	l->health = health;
	/* Sized for every shard the table may ever hold (table.h): the
	 * pages of shards never added are never touched. */
	l->cap = vsd_table_count() > 0 ? VSD_MAX_SHARDS : cfg->nshards;
	l->shard_timeout_us = (int64_t)cfg->shard_timeout_ms * 1000;
	l->wait_us = (int64_t)cfg->wait_ms * 1000;
	l->stall_us = (int64_t)cfg->shard_stall_ms * 1000;
	/* half of the workers, rounded up, at least 1 */
	l->quorum = cfg->workers > 1 ? (cfg->workers + 1) / 2 : 1;
	nl = (size_t)l->cap * VSD_MAX_ENDPOINTS;
	l->link = calloc(nl, sizeof(*l->link));
	l->round = calloc(l->cap, sizeof(*l->round));
	l->pfd = calloc(nl, sizeof(*l->pfd));
	l->pfd_link = calloc(nl, sizeof(*l->pfd_link));
	l->pfd_shard = calloc(nl, sizeof(*l->pfd_shard));
	l->addr = calloc(l->cap, sizeof(*l->addr));
	l->gen = calloc(l->cap, sizeof(*l->gen));
	if (l->link == NULL || l->round == NULL || l->pfd == NULL ||
	    l->pfd_link == NULL || l->pfd_shard == NULL || l->addr == NULL ||
	    l->gen == NULL) {
		vsd_links_free(l);
		return NULL;
	}
	for (s = 0; s < cfg->nshards; s++)
		vsd_links_init_shard(l, l->n++);
	return l;
}

static void
vsd_link_clear_replies(struct vsd_link *k)
{
	size_t i;

	for (i = 0; i < k->got; i++)
		freeReplyObject(k->replies[i]);
	k->got = 0;
}

/* The link no longer waits (answered, failed or given up). */
static void
vsd_link_idle(struct vsd_link *k)
{
	k->active = 0;
	vsd_health_wait_end(k->health, &k->wait);
}

static void
vsd_link_drop(struct vsd_link *k)
{
	if (k->ctx != NULL) {
		redisFree(k->ctx);
		k->ctx = NULL;
	}
	vsd_link_idle(k);
	k->auth_pending = 0;
	k->wait_pending = 0;
}

/* Verdicts for the endpoint's breaker (health.h: what counts). */
static void
vsd_link_blame(struct vsd_link *k, const char *msg)
{
	vsd_health_failure(k->health, vs_now_us(), msg);
	k->probe = 0;
}

static void
vsd_link_praise(struct vsd_link *k)
{
	vsd_health_success(k->health);
	k->probe = 0;
}

/* No verdict: only let go of a probe this link held. */
static void
vsd_link_no_verdict(struct vsd_link *k)
{
	if (k->probe) {
		vsd_health_release(k->health);
		k->probe = 0;
	}
}

void
vsd_links_free(struct vsd_links *l)
{
	size_t i;

	if (l == NULL)
		return;
	for (i = 0; l->link != NULL && i < (size_t)l->n * VSD_MAX_ENDPOINTS; i++) {
		vsd_link_clear_replies(&l->link[i]);
		vsd_link_drop(&l->link[i]);
		free(l->link[i].replies);
	}
	for (i = 0; l->round != NULL && i < l->n; i++)
		free(l->round[i].pending);
	for (i = 0; l->addr != NULL && l->gen != NULL && i < l->n; i++)
		if (l->gen[i] != 0)
			vsd_sentinel_addr_free(&l->addr[i]);
	free(l->addr);
	free(l->gen);
	free(l->link);
	free(l->round);
	free(l->pfd);
	free(l->pfd_link);
	free(l->pfd_shard);
	free(l);
}

void
vsd_cmds_free_replies(struct vsd_cmd *cmds, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		if (cmds[i].reply != NULL) {
			freeReplyObject(cmds[i].reply);
			cmds[i].reply = NULL;
		}
	}
}

static int
vsd_round_push(struct vsd_shard_round *r, size_t idx)
{
	size_t *p;

	if (r->npending == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 16;

		if ((p = realloc(r->pending, cap * sizeof(*p))) == NULL)
			return -1;
		r->pending = p;
		r->cap = cap;
	}
	r->pending[r->npending++] = idx;
	return 0;
}

/* Hand link k's replies to the commands (it is the one that answered, or a
 * failed write link whose partial answers are all there is). */
static void
vsd_link_deliver(struct vsd_links *l, uint32_t s, struct vsd_link *k)
{
	struct vsd_shard_round *r = &l->round[s];
	size_t i;

	for (i = 0; i < k->got; i++)
		l->cmds[r->pending[i]].reply = k->replies[i];
	k->got = 0;
}

/* Is an idle connection still usable?  Anything readable while we expect
 * nothing (EOF, an error, stray bytes) means no. */
static int
vsd_link_idle_ok(struct vsd_link *k)
{
	char b;
	ssize_t r;

	r = recv(k->ctx->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
	return r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
}

/* How a link was lost (vsd_link_lost). */
enum vsd_lost {
	VSD_LOST_FAULT,              /* the shard's fault: breaker, failover */
	VSD_LOST_GAVE_WAY,           /* the stall rule: no verdict, failover */
	VSD_LOST_DEADLINE,           /* the caller's deadline: no verdict */
};

static void vsd_link_lost(struct vsd_links *l, uint32_t s, int e,
    int state, const char *msg, int how);

/* The shard itself failed link (s, e). */
static void
vsd_shard_failed(struct vsd_links *l, uint32_t s, int e, int state,
    const char *msg)
{
	vsd_link_lost(l, s, e, state, msg, VSD_LOST_FAULT);
}

/* Start shard s's commands on endpoint e.  0, or -1 (already handled). */
static int
vsd_link_start(struct vsd_links *l, uint32_t s, int e)
{
	struct vsd_shard_round *r = &l->round[s];
	struct vsd_link *k = VSD_LINK(l, s, e);
	const struct vsd_config *cfg = l->cfg;
	char msg[200];
	size_t i;
	int done = 0;

	r->tried |= 1u << e;
	if (k->cap < r->npending) {
		redisReply **p = realloc(k->replies, r->npending * sizeof(*p));

		if (p == NULL) {
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, "out of memory");
			return -1;
		}
		k->replies = p;
		k->cap = r->npending;
	}
	k->got = 0;
	if (k->ctx != NULL && !vsd_link_idle_ok(k))
		vsd_link_drop(k);
	if (k->ctx == NULL) {
		k->ctx = redisConnectNonBlock(k->ep->host, k->ep->port);
		if (k->ctx == NULL || k->ctx->err) {
			snprintf(msg, sizeof(msg), "connect to %s:%d: %s",
			    k->ep->host, k->ep->port,
			    k->ctx ? k->ctx->errstr : "out of memory");
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return -1;
		}
		vsd_reply_limits_apply(k->ctx, cfg);
		if (cfg->redis_password != NULL) {
			int rv;

			/* Without its AUTH the commands would run
			 * unauthenticated (and fail NOAUTH, or worse, as
			 * the default user): never send them alone. */
			if (cfg->redis_user != NULL)
				rv = redisAppendCommand(k->ctx, "AUTH %s %s",
				    cfg->redis_user, cfg->redis_password);
			else
				rv = redisAppendCommand(k->ctx, "AUTH %s",
				    cfg->redis_password);
			if (rv != REDIS_OK) {
				snprintf(msg, sizeof(msg), "%s:%d: queueing "
				    "AUTH: %s", k->ep->host, k->ep->port,
				    k->ctx->errstr[0] ? k->ctx->errstr :
				    "out of memory");
				vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
				return -1;
			}
			k->auth_pending = 1;
		}
	}
	for (i = 0; i < r->npending; i++) {
		struct vsd_cmd *c = &l->cmds[r->pending[i]];

		if (redisAppendCommandArgv(k->ctx, c->argc, c->argv,
		    c->argvlen) != REDIS_OK) {
			snprintf(msg, sizeof(msg), "queueing: %s", k->ctx->errstr);
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return -1;
		}
	}
	k->wait_pending = 0;
	k->wait_acked = -1;
	if (l->kind == VSD_RUN_WRITE && cfg->wait_replicas > 0) {
		/* Without the WAIT the writes would be acknowledged with no
		 * replica's say: fail the shard instead. */
		if (redisAppendCommand(k->ctx, "WAIT %d %d",
		    cfg->wait_replicas, cfg->wait_ms) != REDIS_OK) {
			snprintf(msg, sizeof(msg), "%s:%d: queueing WAIT: %s",
			    k->ep->host, k->ep->port, k->ctx->errstr[0] ?
			    k->ctx->errstr : "out of memory");
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return -1;
		}
		k->wait_pending = 1;
	}
	k->active = 1;
	k->want_write = 1;
	k->progress_us = vs_now_us();
	vsd_health_wait_begin(k->health, &k->wait, k->progress_us);
	/* Write now rather than after a wait for POLLOUT: the socket is
	 * almost always writable, and the shard starts a syscall sooner.
	 * Whatever does not fit (or a connect still in progress: EAGAIN)
	 * is written when the wait says so. */
	if (redisBufferWrite(k->ctx, &done) != REDIS_OK) {
		snprintf(msg, sizeof(msg), "%s:%d: %s", k->ep->host,
		    k->ep->port, k->ctx->errstr);
		vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
		return -1;
	}
	if (done)
		k->want_write = 0;
	return 0;
}

/* May a round use endpoint (s, e) now?  The stall rule first (a shard
 * that is not answering is skipped without a verdict or a probe), then
 * the breaker.  1 = yes (k->probe set when this call probes); 0 = skip,
 * with why (whylen bytes) saying so. */
static int
vsd_endpoint_admit(struct vsd_links *l, uint32_t s, int e, int64_t now,
    char *why, size_t whylen)
{
	struct vsd_link *k = VSD_LINK(l, s, e);
	int n, rv;

	k->probe = 0;
	if (vsd_health_stalled(k->health, NULL, now, l->stall_us, l->quorum,
	    &n)) {
		snprintf(why, whylen, "shard %u (%s:%d) is not answering: %d "
		    "calls have waited on it for over %d ms", s, k->ep->host,
		    k->ep->port, n, l->cfg->shard_stall_ms);
		return 0;
	}
	rv = vsd_health_admit(k->health, now, why, whylen);
	if (rv == VSD_ADMIT_SKIP)
		return 0;
	k->probe = rv == VSD_ADMIT_PROBE;
	return 1;
}

/* Try the next endpoint of shard s whose breaker admits a read now.
 * Returns 1 if one was started. */
static int
vsd_try_replica(struct vsd_links *l, uint32_t s)
{
	const struct vsd_shard_addr *a = &l->addr[s];
	char why[200];
	int e;

	if (l->kind != VSD_RUN_READ)
		return 0;
	for (e = 1; e < a->nep; e++) {
		if (l->round[s].tried & (1u << e))
			continue;
		if (!vsd_endpoint_admit(l, s, e, vs_now_us(), why,
		    sizeof(why))) {
			l->round[s].tried |= 1u << e;
			continue;
		}
		if (vsd_link_start(l, s, e) == 0)
			return 1;
	}
	return 0;
}

static int
vsd_shard_has_active(struct vsd_links *l, uint32_t s)
{
	int e;

	for (e = 0; e < l->addr[s].nep; e++)
		if (VSD_LINK(l, s, e)->active)
			return 1;
	return 0;
}

/* Link (s, e) is lost (how: enum vsd_lost): give the breaker its verdict,
 * then fail over, keep waiting for a hedge twin, or give the shard up. */
static void
vsd_link_lost(struct vsd_links *l, uint32_t s, int e, int state,
    const char *msg, int how)
{
	struct vsd_link *k = VSD_LINK(l, s, e);
	struct vsd_shard_result *res = &l->res[s];
	/* A sentinel shard's server that closed (or reset: the request was
	 * still unread) the connection under a read is asked once more on a
	 * fresh one, with no verdict for its breaker
	 * yet: Sentinel ends a promotion with CLIENT KILL TYPE normal on the
	 * replica it promotes (every worker's connection at once), which is
	 * alive and has all the data. */
	int closed = k->ctx != NULL && (k->ctx->err == REDIS_ERR_EOF ||
	    (k->ctx->err == REDIS_ERR_IO &&
	    strstr(k->ctx->errstr, "reset by peer") != NULL));
	int retry = how == VSD_LOST_FAULT && l->kind == VSD_RUN_READ &&
	    l->gen[s] != 0 && closed && !(l->round[s].retried & (1u << e));
	char why[200];

	if (how == VSD_LOST_FAULT && !retry)
		vsd_link_blame(k, msg);
	else
		vsd_link_no_verdict(k);
	if (how == VSD_LOST_FAULT && e == 0)
		vsd_sentinel_suspect(l->cfg->sentinels, s);
	vsd_debug("shard %u endpoint %d (%s:%d): %s", s, e, k->ep->host,
	    k->ep->port, msg);
	if (l->kind == VSD_RUN_WRITE)
		vsd_link_deliver(l, s, k);      /* what it did write, it did */
	else
		vsd_link_clear_replies(k);
	vsd_link_drop(k);
	if (l->round[s].done)
		return;
	/* Keep the first error: it names the primary's problem. */
	if (res->state != VSD_SHARD_FAILED && res->state != VSD_SHARD_TIMED_OUT) {
		res->state = state;
		snprintf(res->error, sizeof(res->error), "%s", msg);
	}
	if (vsd_shard_has_active(l, s))
		return;                         /* a hedge twin may answer */
	if (how != VSD_LOST_DEADLINE && vsd_try_replica(l, s))
		return;
	if (retry && vsd_endpoint_admit(l, s, e, vs_now_us(), why,
	    sizeof(why))) {
		l->round[s].retried |= 1u << e;
		/* a failure to start comes back here, and ends the shard */
		(void)vsd_link_start(l, s, e);
		return;
	}
	l->round[s].done = 1;
}

/* Parse every complete reply link (s, e) has buffered. */
static void
vsd_link_collect(struct vsd_links *l, uint32_t s, int e)
{
	struct vsd_link *k = VSD_LINK(l, s, e);
	struct vsd_shard_round *r = &l->round[s];
	char msg[200];
	void *reply;
	int f;

	for (;;) {
		int expecting = k->auth_pending || k->got < r->npending ||
		    k->wait_pending;

		if (!expecting)
			break;
		reply = NULL;
		if (redisGetReplyFromReader(k->ctx, &reply) != REDIS_OK) {
			vsd_reply_error_text(k->ctx->errstr, msg, sizeof(msg));
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return;
		}
		if (reply == NULL)
			return;                 /* need more bytes */
		if (k->auth_pending) {
			redisReply *a = reply;

			k->auth_pending = 0;
			if (a->type == REDIS_REPLY_ERROR) {
				snprintf(msg, sizeof(msg), "AUTH refused by "
				    "%s:%d: %s", k->ep->host, k->ep->port, a->str);
				freeReplyObject(a);
				vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
				return;
			}
			freeReplyObject(a);
		} else if (k->got < r->npending) {
			k->replies[k->got++] = reply;
		} else {
			redisReply *w = reply;

			k->wait_pending = 0;
			/* Anything but a count (an error, a hostile type or
			 * a negative number) acknowledges nothing: 0, never
			 * -1, which would read as "no WAIT asked". */
			if (w->type != REDIS_REPLY_INTEGER || w->integer < 0)
				k->wait_acked = 0;
			else
				k->wait_acked = w->integer > INT_MAX ?
				    INT_MAX : (int)w->integer;
			freeReplyObject(w);
		}
	}
	/* Link (s, e) answered everything: it wins the shard. */
	vsd_link_idle(k);
	vsd_link_praise(k);
	if (r->done) {
		vsd_link_clear_replies(k);      /* a hedge loser finishing late */
		return;
	}
	vsd_link_deliver(l, s, k);
	r->done = 1;
	r->latency_us = vs_now_us() - l->started_us;
	l->res[s].state = VSD_SHARD_OK;
	l->res[s].endpoint = e;
	l->res[s].wait_acked = k->wait_acked;
	l->res[s].error[0] = '\0';
	/* A twin still in flight has replies coming: drop its connection. */
	for (f = 0; f < l->addr[s].nep; f++) {
		struct vsd_link *t = VSD_LINK(l, s, f);

		if (f != e && t->active) {
			vsd_link_no_verdict(t);
			vsd_link_clear_replies(t);
			vsd_link_drop(t);
		}
	}
}

/* Bytes moved on k (a successful read or write after the wait said so). */
static void
vsd_link_progress(struct vsd_link *k)
{
	k->progress_us = vs_now_us();
	vsd_health_wait_progress(&k->wait, k->progress_us);
}

static void
vsd_link_io(struct vsd_links *l, uint32_t s, struct vsd_link *k,
    short revents)
{
	int e = (int)(k - VSD_LINK(l, s, 0));
	char msg[200];
	int done = 0;

	if (k->want_write && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		if (redisBufferWrite(k->ctx, &done) != REDIS_OK) {
			snprintf(msg, sizeof(msg), "%s:%d: %s", k->ep->host,
			    k->ep->port, k->ctx->errstr);
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return;
		}
		if (done)
			k->want_write = 0;
		vsd_link_progress(k);
	}
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		if (redisBufferRead(k->ctx) != REDIS_OK) {
			snprintf(msg, sizeof(msg), "%s:%d: %s", k->ep->host,
			    k->ep->port, k->ctx->errstr);
			/* Keep what arrived before the error. */
			vsd_link_collect(l, s, e);
			if (k->active)
				vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return;
		}
		vsd_link_progress(k);
		if (vsd_reply_buffer_check(k->ctx, l->cfg, msg,
		    sizeof(msg)) != 0) {
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return;
		}
		vsd_link_collect(l, s, e);
	}
}

/* A sentinel shard whose endpoints changed (a failover): drop its links
 * (none is active between rounds) and take the new endpoints. */
static void
vsd_links_follow(struct vsd_links *l, uint32_t s)
{
	struct vsd_sentinels *sn = l->cfg->sentinels;
	uint64_t g;
	int e;

	if (l->gen[s] == 0 || (g = vsd_sentinel_gen(sn, s)) == l->gen[s])
		return;
	for (e = 0; e < VSD_MAX_ENDPOINTS; e++) {
		struct vsd_link *k = VSD_LINK(l, s, e);

		vsd_link_no_verdict(k);
		vsd_link_clear_replies(k);
		vsd_link_drop(k);
	}
	if (vsd_sentinel_copy(sn, s, &l->addr[s], &l->gen[s]) != 0)
		vsd_warn("shard %u: out of memory taking its new endpoints", s);
}

/* After a write round on a sentinel shard: a READONLY refusal is never an
 * acknowledgement (the server is a replica now: it was demoted), and a
 * primary that failed or was skipped is most likely being replaced.
 * Either way the Sentinels are asked again at once and the shard's
 * message says a failover is in progress, so callers retry. */
static void
vsd_links_write_check(struct vsd_links *l)
{
	char msg[2 * sizeof(l->res[0].error) + VSD_MAX_MASTER_NAME];
	uint32_t s;
	size_t i, len;

	for (s = 0; s < l->n; s++) {
		struct vsd_shard_round *r = &l->round[s];
		struct vsd_shard_result *res = &l->res[s];
		int readonly = 0;

		if (l->gen[s] == 0 || r->npending == 0)
			continue;
		for (i = 0; i < r->npending; i++) {
			redisReply *rep = l->cmds[r->pending[i]].reply;

			if (rep != NULL && rep->type == REDIS_REPLY_ERROR &&
			    strncmp(rep->str, "READONLY", 8) == 0) {
				if (!readonly)
					snprintf(res->error, sizeof(res->error),
					    "%s:%d: %.120s", l->addr[s].ep[0].host,
					    l->addr[s].ep[0].port, rep->str);
				freeReplyObject(rep);
				l->cmds[r->pending[i]].reply = NULL;
				readonly = 1;
			}
		}
		if (readonly)
			res->state = VSD_SHARD_FAILED;
		if (res->state != VSD_SHARD_FAILED &&
		    res->state != VSD_SHARD_TIMED_OUT)
			continue;
		vsd_sentinel_suspect(l->cfg->sentinels, s);
		snprintf(msg, sizeof(msg), "shard %u: primary failover in "
		    "progress (sentinel master %s): %s", s,
		    l->addr[s].sentinel_master ? l->addr[s].sentinel_master :
		    "?", res->error);
		len = strlen(msg);
		if (len >= sizeof(res->error))
			len = sizeof(res->error) - 1;
		memcpy(res->error, msg, len);
		res->error[len] = '\0';
	}
}

static void
vsd_round_begin(struct vsd_links *l, struct vsd_cmd *cmds, size_t n,
    int kind, struct vsd_shard_result *res)
{
	uint32_t s;
	size_t i;
	int e;

	l->kind = kind;
	l->cmds = cmds;
	l->res = res;
	for (s = 0; s < l->n; s++) {
		vsd_links_follow(l, s);
		l->round[s].npending = 0;
		l->round[s].tried = 0;
		l->round[s].retried = 0;
		l->round[s].done = 0;
		l->round[s].hedge_at = 0;
		for (e = 0; e < VSD_MAX_ENDPOINTS; e++) {
			VSD_LINK(l, s, e)->active = 0;
			VSD_LINK(l, s, e)->got = 0;
		}
		res[s].state = VSD_SHARD_UNUSED;
		res[s].endpoint = 0;
		res[s].wait_acked = -1;
		res[s].error[0] = '\0';
	}
	for (i = 0; i < n; i++) {
		cmds[i].reply = NULL;
		/* Routes come from a view, published only after the table
		 * held its shards (fanout/view.h), and l grew to the table
		 * just before: an index beyond it is a bug, not a shard. */
		assert(cmds[i].shard < l->n);
		if (cmds[i].shard >= l->n)
			continue;
		if (vsd_round_push(&l->round[cmds[i].shard], i) != 0) {
			res[cmds[i].shard].state = VSD_SHARD_FAILED;
			snprintf(res[cmds[i].shard].error,
			    sizeof(res[0].error), "out of memory");
		}
	}
}

/* Admit and start every shard that has commands. */
static void
vsd_round_start(struct vsd_links *l, int64_t now)
{
	uint32_t s;

	for (s = 0; s < l->n; s++) {
		struct vsd_shard_round *r = &l->round[s];
		struct vsd_shard_result *res = &l->res[s];

		if (r->npending == 0 || res->state == VSD_SHARD_FAILED) {
			r->done = 1;
			continue;
		}
		r->tried |= 1;
		if (!vsd_endpoint_admit(l, s, 0, now, res->error,
		    sizeof(res->error))) {
			/* Skipped (breaker open, or not answering): the
			 * shard is unavailable, whatever opened the
			 * breaker (protocol.md: failed, UNAVAILABLE). */
			res->state = VSD_SHARD_FAILED;
			vsd_sentinel_suspect(l->cfg->sentinels, s);
			if (!vsd_try_replica(l, s))
				r->done = 1;
			continue;
		}
		vsd_link_start(l, s, 0);
		if (l->kind == VSD_RUN_READ && l->cfg->hedge_ms > 0 &&
		    l->addr[s].nep > 1)
			r->hedge_at = now + (int64_t)l->cfg->hedge_ms * 1000;
	}
}

/* How long link k may move no byte before the shard has failed: the
 * shard timeout, plus --wait-ms once only the WAIT reply is left (WAIT
 * blocks that long by design). */
static int64_t
vsd_link_silence_us(const struct vsd_links *l, const struct vsd_link *k,
    const struct vsd_shard_round *r)
{
	if (k->wait_pending && !k->auth_pending && k->got >= r->npending)
		return l->shard_timeout_us + l->wait_us;
	return l->shard_timeout_us;
}

/* The shard's own timeout and the stall rule (health.h) over every
 * waiting link; the next time either can fire is folded into *wake. */
static void
vsd_round_watch(struct vsd_links *l, int64_t now, int64_t *wake)
{
	int check = now >= l->next_stall_check, waiting = 0, nst;
	int64_t silence;
	char msg[200];
	uint32_t s;
	int e;

	if (check)
		l->next_stall_check = now + VSD_STALL_CHECK_US;
	for (s = 0; s < l->n; s++) {
		struct vsd_shard_round *r = &l->round[s];

		/* a lost link may start a replica: e runs on over it */
		for (e = 0; !r->done && e < l->addr[s].nep; e++) {
			struct vsd_link *k = VSD_LINK(l, s, e);

			if (!k->active)
				continue;
			silence = vsd_link_silence_us(l, k, r);
			if (now - k->progress_us >= silence) {
				snprintf(msg, sizeof(msg), "%s:%d: no reply "
				    "for %lld ms (the shard timeout; %zu of "
				    "%zu replies in)", k->ep->host, k->ep->port,
				    (long long)(silence / 1000), k->got,
				    r->npending);
				vsd_shard_failed(l, s, e, VSD_SHARD_TIMED_OUT,
				    msg);
				continue;
			}
			if (check && vsd_health_stalled(k->health, &k->wait,
			    now, l->stall_us, l->quorum, &nst)) {
				snprintf(msg, sizeof(msg), "shard %u (%s:%d) "
				    "is not answering: %d calls have waited on "
				    "it for over %d ms", s, k->ep->host,
				    k->ep->port, nst, l->cfg->shard_stall_ms);
				vsd_link_lost(l, s, e, VSD_SHARD_FAILED, msg,
				    VSD_LOST_GAVE_WAY);
				continue;
			}
			waiting = 1;
			if (k->progress_us + silence < *wake)
				*wake = k->progress_us + silence;
		}
	}
	if (waiting && l->next_stall_check < *wake)
		*wake = l->next_stall_check;
}

void
vsd_links_set_wait(struct vsd_links *l, vsd_links_wait_fn fn, void *arg)
{
	l->wait = fn;
	l->wait_arg = arg;
}

void
vsd_links_run(struct vsd_links *l, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us, struct vsd_shard_result *res)
{
	struct timespec ts;
	int64_t now, wake;
	uint32_t s, nfd;
	size_t i;
	int e, rv;

	vsd_links_grow(l);
	vsd_round_begin(l, cmds, n, kind, res);
	l->started_us = vs_now_us();
	l->next_stall_check = l->started_us + VSD_STALL_CHECK_US;
	vsd_round_start(l, l->started_us);

	for (;;) {
		nfd = 0;
		wake = deadline_us;
		now = vs_now_us();
		vsd_round_watch(l, now, &wake);
		for (s = 0; s < l->n; s++) {
			struct vsd_shard_round *r = &l->round[s];

			if (r->done)
				continue;
			/* A hedge falls due: the primary has been silent. */
			if (r->hedge_at != 0 && now >= r->hedge_at) {
				r->hedge_at = 0;
				if (vsd_try_replica(l, s))
					vsd_debug("shard %u: hedging to a replica", s);
			}
			if (r->hedge_at != 0 && r->hedge_at < wake)
				wake = r->hedge_at;
			for (e = 0; e < l->addr[s].nep; e++) {
				struct vsd_link *k = VSD_LINK(l, s, e);

				if (!k->active)
					continue;
				l->pfd[nfd].fd = k->ctx->fd;
				l->pfd[nfd].events = POLLIN |
				    (k->want_write ? POLLOUT : 0);
				l->pfd[nfd].revents = 0;
				l->pfd_link[nfd] = k;
				l->pfd_shard[nfd] = s;
				nfd++;
			}
		}
		if (nfd == 0)
			break;
		if (now >= deadline_us)
			break;
		if (l->wait != NULL) {
			rv = l->wait(l->wait_arg, l->pfd, nfd, wake);
		} else {
			ts.tv_sec = (wake - now) / 1000000;
			ts.tv_nsec = ((wake - now) % 1000000) * 1000;
			rv = ppoll(l->pfd, nfd, &ts, NULL);
		}
		if (rv < 0 && errno != EINTR) {
			vsd_err("waiting on the shards: %s", strerror(errno));
			break;
		}
		for (i = 0; rv > 0 && i < nfd; i++) {
			/* skip links a twin's answer dropped meanwhile */
			if (l->pfd[i].revents != 0 && l->pfd_link[i]->active)
				vsd_link_io(l, l->pfd_shard[i], l->pfd_link[i],
				    l->pfd[i].revents);
		}
	}

	/* Whatever is still waiting has run out of the caller's time: not
	 * the shard's fault (no verdict), and not a failover cue. */
	for (s = 0; s < l->n; s++) {
		for (e = 0; e < l->addr[s].nep; e++) {
			struct vsd_link *k = VSD_LINK(l, s, e);
			char msg[120];

			if (!k->active)
				continue;
			snprintf(msg, sizeof(msg), "%s:%d: no reply before the "
			    "deadline (%zu of %zu replies in)", k->ep->host,
			    k->ep->port, k->got, l->round[s].npending);
			l->round[s].tried = ~0u;
			vsd_link_lost(l, s, e, VSD_SHARD_TIMED_OUT, msg,
			    VSD_LOST_DEADLINE);
		}
		if (!l->round[s].done && l->round[s].npending > 0 &&
		    l->res[s].state == VSD_SHARD_UNUSED) {
			l->res[s].state = VSD_SHARD_TIMED_OUT;
			snprintf(l->res[s].error, sizeof(l->res[s].error),
			    "no reply before the deadline");
		}
		if (l->stats != NULL && l->res[s].state != VSD_SHARD_UNUSED)
			vsd_stats_shard(l->stats, s, l->res[s].state,
			    l->round[s].latency_us);
	}
	if (kind == VSD_RUN_WRITE && l->cfg->sentinels != NULL)
		vsd_links_write_check(l);
}
