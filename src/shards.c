/*
 * shards.c - the parallel shard round.  Design in shards.h; here the
 * details that matter:
 *
 * - Contexts are non-blocking (redisConnectNonBlock), so neither connect
 *   nor write nor read can ever block the worker past its deadline; ppoll()
 *   is the only place we wait, and its timeout is the time left (or the
 *   time until a hedge is due).
 * - hiredis's redisGetReply would flush and block on one context at a time;
 *   instead every context's output buffer is written as soon as its socket
 *   is writable, and replies are parsed from whatever each socket has.
 * - Replies are collected per link and handed to the commands only when
 *   that link has answered everything (or, for writes, when it fails), so
 *   a hedged pair of links can never mix their answers.
 * - An idle connection may have been closed by the shard (restart, client
 *   timeout): before reusing one we peek at it, so a restarted shard costs
 *   a reconnect, not a failed request.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "log.h"
#include "shard_reply.h"
#include "shards.h"
#include "stats.h"
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
};

/* One shard's part of a round. */
struct vsd_shard_round {
	size_t *pending;             /* cmd indices, in send order */
	size_t npending, cap;
	unsigned tried;              /* bitmask of endpoints started */
	int done;
	int64_t hedge_at;            /* 0 = no hedge due */
	int64_t latency_us;          /* when it answered, from round start */
};

struct vsd_links {
	const struct vsd_config *cfg;
	uint32_t n;
	struct vsd_link *link;       /* n * VSD_MAX_ENDPOINTS */
	struct vsd_shard_round *round;
	struct pollfd *pfd;
	struct vsd_link **pfd_link;
	uint32_t *pfd_shard;
	struct vsd_stats *stats;
	int64_t started_us;          /* of the current round */
	int kind;                    /* of the current round */
	struct vsd_cmd *cmds;        /* of the current round */
	struct vsd_shard_result *res;
};

#define VSD_LINK(l, s, e) (&(l)->link[(size_t)(s) * VSD_MAX_ENDPOINTS + (e)])

struct vsd_links *
vsd_links_new(const struct vsd_config *cfg, struct vsd_health *health,
    struct vsd_stats *stats)
{
	struct vsd_links *l;
	size_t nl;
	uint32_t s;
	int e;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->cfg = cfg;
	l->stats = stats;
	l->n = cfg->nshards;
	nl = (size_t)l->n * VSD_MAX_ENDPOINTS;
	l->link = calloc(nl, sizeof(*l->link));
	l->round = calloc(l->n, sizeof(*l->round));
	l->pfd = calloc(nl, sizeof(*l->pfd));
	l->pfd_link = calloc(nl, sizeof(*l->pfd_link));
	l->pfd_shard = calloc(nl, sizeof(*l->pfd_shard));
	if (l->link == NULL || l->round == NULL || l->pfd == NULL ||
	    l->pfd_link == NULL || l->pfd_shard == NULL) {
		vsd_links_free(l);
		return NULL;
	}
	for (s = 0; s < l->n; s++) {
		for (e = 0; e < cfg->shards[s].nep; e++) {
			VSD_LINK(l, s, e)->ep = &cfg->shards[s].ep[e];
			VSD_LINK(l, s, e)->health =
			    &health[(size_t)s * VSD_MAX_ENDPOINTS + e];
		}
	}
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

static void
vsd_link_drop(struct vsd_link *k)
{
	if (k->ctx != NULL) {
		redisFree(k->ctx);
		k->ctx = NULL;
	}
	k->active = 0;
	k->auth_pending = 0;
	k->wait_pending = 0;
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

static void vsd_shard_failed(struct vsd_links *l, uint32_t s, int e,
    int state, const char *msg);

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
			if (cfg->redis_user != NULL)
				redisAppendCommand(k->ctx, "AUTH %s %s",
				    cfg->redis_user, cfg->redis_password);
			else
				redisAppendCommand(k->ctx, "AUTH %s",
				    cfg->redis_password);
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
		redisAppendCommand(k->ctx, "WAIT %d %d", cfg->wait_replicas,
		    cfg->wait_ms);
		k->wait_pending = 1;
	}
	k->active = 1;
	k->want_write = 1;
	/* Write now rather than after a ppoll() for POLLOUT: the socket is
	 * almost always writable, and the shard starts a syscall sooner.
	 * Whatever does not fit (or a connect still in progress: EAGAIN)
	 * is written when ppoll() says so. */
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

/* Try the next endpoint of shard s whose breaker admits a read now.
 * Returns 1 if one was started. */
static int
vsd_try_replica(struct vsd_links *l, uint32_t s)
{
	const struct vsd_shard_addr *a = &l->cfg->shards[s];
	char why[200];
	int e, kind;

	if (l->kind != VSD_RUN_READ)
		return 0;
	for (e = 1; e < a->nep; e++) {
		if (l->round[s].tried & (1u << e))
			continue;
		if (!vsd_health_admit(VSD_LINK(l, s, e)->health, vs_now_us(),
		    &kind, why, sizeof(why))) {
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

	for (e = 0; e < l->cfg->shards[s].nep; e++)
		if (VSD_LINK(l, s, e)->active)
			return 1;
	return 0;
}

/* Link (s, e) failed: record it, then fail over, keep waiting for a hedge
 * twin, or give the shard up. */
static void
vsd_shard_failed(struct vsd_links *l, uint32_t s, int e, int state,
    const char *msg)
{
	struct vsd_link *k = VSD_LINK(l, s, e);
	struct vsd_shard_result *res = &l->res[s];

	vsd_health_failure(k->health, vs_now_us(),
	    state == VSD_SHARD_TIMED_OUT ? VSD_FAIL_TIMEOUT : VSD_FAIL_ERROR,
	    msg);
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
	if (state != VSD_SHARD_TIMED_OUT && vsd_try_replica(l, s))
		return;
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
			k->wait_acked = w->type == REDIS_REPLY_INTEGER ?
			    (int)w->integer : -1;
			freeReplyObject(w);
		}
	}
	/* Link (s, e) answered everything: it wins the shard. */
	k->active = 0;
	vsd_health_success(k->health);
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
	for (f = 0; f < l->cfg->shards[s].nep; f++) {
		struct vsd_link *t = VSD_LINK(l, s, f);

		if (f != e && t->active) {
			vsd_link_clear_replies(t);
			vsd_link_drop(t);
		}
	}
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
		if (vsd_reply_buffer_check(k->ctx, l->cfg, msg,
		    sizeof(msg)) != 0) {
			vsd_shard_failed(l, s, e, VSD_SHARD_FAILED, msg);
			return;
		}
		vsd_link_collect(l, s, e);
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
		l->round[s].npending = 0;
		l->round[s].tried = 0;
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
	struct vsd_link *k;
	int kind;
	uint32_t s;

	for (s = 0; s < l->n; s++) {
		struct vsd_shard_round *r = &l->round[s];
		struct vsd_shard_result *res = &l->res[s];

		if (r->npending == 0 || res->state == VSD_SHARD_FAILED) {
			r->done = 1;
			continue;
		}
		k = VSD_LINK(l, s, 0);
		r->tried |= 1;
		if (!vsd_health_admit(k->health, now, &kind, res->error,
		    sizeof(res->error))) {
			res->state = kind == VSD_FAIL_TIMEOUT ?
			    VSD_SHARD_TIMED_OUT : VSD_SHARD_FAILED;
			if (!vsd_try_replica(l, s))
				r->done = 1;
			continue;
		}
		vsd_link_start(l, s, 0);
		if (l->kind == VSD_RUN_READ && l->cfg->hedge_ms > 0 &&
		    l->cfg->shards[s].nep > 1)
			r->hedge_at = now + (int64_t)l->cfg->hedge_ms * 1000;
	}
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

	vsd_round_begin(l, cmds, n, kind, res);
	l->started_us = vs_now_us();
	vsd_round_start(l, l->started_us);

	for (;;) {
		nfd = 0;
		wake = deadline_us;
		now = vs_now_us();
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
			for (e = 0; e < l->cfg->shards[s].nep; e++) {
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
		ts.tv_sec = (wake - now) / 1000000;
		ts.tv_nsec = ((wake - now) % 1000000) * 1000;
		rv = ppoll(l->pfd, nfd, &ts, NULL);
		if (rv < 0 && errno != EINTR) {
			vsd_err("ppoll: %s", strerror(errno));
			break;
		}
		for (i = 0; rv > 0 && i < nfd; i++) {
			/* skip links a twin's answer dropped meanwhile */
			if (l->pfd[i].revents != 0 && l->pfd_link[i]->active)
				vsd_link_io(l, l->pfd_shard[i], l->pfd_link[i],
				    l->pfd[i].revents);
		}
	}

	/* Whatever is still waiting has run out of time. */
	for (s = 0; s < l->n; s++) {
		for (e = 0; e < l->cfg->shards[s].nep; e++) {
			struct vsd_link *k = VSD_LINK(l, s, e);
			char msg[120];

			if (!k->active)
				continue;
			snprintf(msg, sizeof(msg), "%s:%d: no reply before the "
			    "deadline (%zu of %zu replies in)", k->ep->host,
			    k->ep->port, k->got, l->round[s].npending);
			/* the deadline is the caller's, not a failover cue */
			l->round[s].tried = ~0u;
			vsd_shard_failed(l, s, e, VSD_SHARD_TIMED_OUT, msg);
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
}
