/*
 * shards.c - the parallel shard round.  Design in shards.h; here the
 * details that matter:
 *
 * - Contexts are non-blocking (redisConnectNonBlock), so neither connect
 *   nor write nor read can ever block the worker past its deadline; ppoll()
 *   is the only place we wait, and its timeout is the time left.
 * - hiredis's redisGetReply would flush and block on one context at a time;
 *   instead every context's output buffer is written as soon as its socket
 *   is writable, and replies are parsed from whatever each socket has.
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
#include "shards.h"
#include "vs_time.h"

struct vsd_link {
	redisContext *ctx;
	const char *host;
	int port;
	size_t *pending;             /* cmd indices awaiting a reply, in order */
	size_t npending, cap, next;  /* next = index into pending to fill */
	int active;                  /* in this round, still waiting */
	int want_write;
	int probe;                   /* admitted as the breaker's probe */
};

struct vsd_links {
	struct vsd_link *link;
	uint32_t n;
	struct vsd_health *health;
	struct pollfd *pfd;
	uint32_t *pfd_shard;
};

struct vsd_links *
vsd_links_new(const struct vsd_config *cfg, struct vsd_health *health)
{
	struct vsd_links *l;
	uint32_t i;

	if ((l = calloc(1, sizeof(*l))) == NULL)
		return NULL;
	l->n = cfg->nshards;
	l->health = health;
	l->link = calloc(l->n, sizeof(*l->link));
	l->pfd = calloc(l->n, sizeof(*l->pfd));
	l->pfd_shard = calloc(l->n, sizeof(*l->pfd_shard));
	if (l->link == NULL || l->pfd == NULL || l->pfd_shard == NULL) {
		vsd_links_free(l);
		return NULL;
	}
	for (i = 0; i < l->n; i++) {
		l->link[i].host = cfg->shards[i].host;
		l->link[i].port = cfg->shards[i].port;
	}
	return l;
}

void
vsd_links_free(struct vsd_links *l)
{
	uint32_t i;

	if (l == NULL)
		return;
	for (i = 0; l->link != NULL && i < l->n; i++) {
		if (l->link[i].ctx != NULL)
			redisFree(l->link[i].ctx);
		free(l->link[i].pending);
	}
	free(l->link);
	free(l->pfd);
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
vsd_link_push(struct vsd_link *k, size_t idx)
{
	size_t *p;

	if (k->npending == k->cap) {
		size_t cap = k->cap ? k->cap * 2 : 16;

		if ((p = realloc(k->pending, cap * sizeof(*p))) == NULL)
			return -1;
		k->pending = p;
		k->cap = cap;
	}
	k->pending[k->npending++] = idx;
	return 0;
}

static void
vsd_link_drop(struct vsd_link *k)
{
	if (k->ctx != NULL) {
		redisFree(k->ctx);
		k->ctx = NULL;
	}
}

/* Close the link and record a failure for this round. */
static void
vsd_link_fail(struct vsd_links *l, uint32_t s, struct vsd_shard_result *res,
    int state, const char *fmt, const char *detail)
{
	struct vsd_link *k = &l->link[s];

	res[s].state = state;
	snprintf(res[s].error, sizeof(res[s].error), fmt, detail);
	vsd_link_drop(k);
	k->active = 0;
	vsd_health_failure(&l->health[s], vs_now_us(),
	    state == VSD_SHARD_TIMED_OUT ? VSD_FAIL_TIMEOUT : VSD_FAIL_ERROR,
	    res[s].error);
	vsd_debug("shard %u (%s:%d): %s", s, k->host, k->port, res[s].error);
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

/* Connect if needed and queue the shard's commands.  0 or -1 (failed,
 * already recorded). */
static int
vsd_link_start(struct vsd_links *l, uint32_t s, struct vsd_cmd *cmds,
    struct vsd_shard_result *res)
{
	struct vsd_link *k = &l->link[s];
	size_t i;

	if (k->ctx != NULL && !vsd_link_idle_ok(k))
		vsd_link_drop(k);
	if (k->ctx == NULL) {
		k->ctx = redisConnectNonBlock(k->host, k->port);
		if (k->ctx == NULL) {
			vsd_link_fail(l, s, res, VSD_SHARD_FAILED,
			    "connect: %s", "out of memory");
			return -1;
		}
		if (k->ctx->err) {
			vsd_link_fail(l, s, res, VSD_SHARD_FAILED,
			    "connect: %s", k->ctx->errstr);
			return -1;
		}
	}
	for (i = 0; i < k->npending; i++) {
		struct vsd_cmd *c = &cmds[k->pending[i]];

		if (redisAppendCommandArgv(k->ctx, c->argc, c->argv,
		    c->argvlen) != REDIS_OK) {
			vsd_link_fail(l, s, res, VSD_SHARD_FAILED,
			    "queueing command: %s", k->ctx->errstr);
			return -1;
		}
	}
	k->active = 1;
	k->want_write = 1;
	return 0;
}

/* Parse every complete reply the context has buffered. */
static int
vsd_link_collect(struct vsd_links *l, uint32_t s, struct vsd_cmd *cmds,
    struct vsd_shard_result *res)
{
	struct vsd_link *k = &l->link[s];
	void *reply;

	while (k->next < k->npending) {
		reply = NULL;
		if (redisGetReplyFromReader(k->ctx, &reply) != REDIS_OK) {
			vsd_link_fail(l, s, res, VSD_SHARD_FAILED,
			    "protocol error: %s", k->ctx->errstr);
			return -1;
		}
		if (reply == NULL)
			return 0;       /* need more bytes */
		cmds[k->pending[k->next++]].reply = reply;
	}
	k->active = 0;
	res[s].state = VSD_SHARD_OK;
	vsd_health_success(&l->health[s]);
	return 0;
}

static void
vsd_link_io(struct vsd_links *l, uint32_t s, short revents,
    struct vsd_cmd *cmds, struct vsd_shard_result *res)
{
	struct vsd_link *k = &l->link[s];
	int done = 0;

	if (k->want_write && (revents & (POLLOUT | POLLERR | POLLHUP))) {
		if (redisBufferWrite(k->ctx, &done) != REDIS_OK) {
			vsd_link_fail(l, s, res, VSD_SHARD_FAILED, "%s",
			    k->ctx->errstr);
			return;
		}
		if (done)
			k->want_write = 0;
	}
	if (revents & (POLLIN | POLLERR | POLLHUP)) {
		if (redisBufferRead(k->ctx) != REDIS_OK) {
			/* Keep what arrived before the error. */
			if (vsd_link_collect(l, s, cmds, res) == 0 && !k->active)
				return;
			if (k->active)
				vsd_link_fail(l, s, res, VSD_SHARD_FAILED, "%s",
				    k->ctx != NULL ? k->ctx->errstr :
				    "connection lost");
			return;
		}
		vsd_link_collect(l, s, cmds, res);
	}
}

void
vsd_links_run(struct vsd_links *l, struct vsd_cmd *cmds, size_t n,
    int64_t deadline_us, struct vsd_shard_result *res)
{
	struct timespec ts;
	int64_t now, left;
	uint32_t s, nfd;
	size_t i;
	int kind, rv;

	for (s = 0; s < l->n; s++) {
		l->link[s].npending = 0;
		l->link[s].next = 0;
		l->link[s].active = 0;
		res[s].state = VSD_SHARD_UNUSED;
		res[s].error[0] = '\0';
	}
	for (i = 0; i < n; i++) {
		cmds[i].reply = NULL;
		if (vsd_link_push(&l->link[cmds[i].shard], i) != 0) {
			res[cmds[i].shard].state = VSD_SHARD_FAILED;
			snprintf(res[cmds[i].shard].error,
			    sizeof(res[0].error), "out of memory");
		}
	}
	now = vs_now_us();
	for (s = 0; s < l->n; s++) {
		if (l->link[s].npending == 0 ||
		    res[s].state == VSD_SHARD_FAILED)
			continue;
		if (!vsd_health_admit(&l->health[s], now, &kind,
		    res[s].error, sizeof(res[s].error))) {
			res[s].state = kind == VSD_FAIL_TIMEOUT ?
			    VSD_SHARD_TIMED_OUT : VSD_SHARD_FAILED;
			continue;
		}
		vsd_link_start(l, s, cmds, res);
	}

	for (;;) {
		nfd = 0;
		for (s = 0; s < l->n; s++) {
			struct vsd_link *k = &l->link[s];

			if (!k->active)
				continue;
			l->pfd[nfd].fd = k->ctx->fd;
			l->pfd[nfd].events = POLLIN |
			    (k->want_write ? POLLOUT : 0);
			l->pfd[nfd].revents = 0;
			l->pfd_shard[nfd] = s;
			nfd++;
		}
		if (nfd == 0)
			break;
		left = deadline_us - vs_now_us();
		if (left <= 0)
			break;
		ts.tv_sec = left / 1000000;
		ts.tv_nsec = (left % 1000000) * 1000;
		rv = ppoll(l->pfd, nfd, &ts, NULL);
		if (rv < 0 && errno != EINTR) {
			vsd_err("ppoll: %s", strerror(errno));
			break;
		}
		for (i = 0; rv > 0 && i < nfd; i++) {
			if (l->pfd[i].revents != 0)
				vsd_link_io(l, l->pfd_shard[i],
				    l->pfd[i].revents, cmds, res);
		}
	}

	for (s = 0; s < l->n; s++) {
		struct vsd_link *k = &l->link[s];
		char detail[64];

		if (!k->active)
			continue;
		snprintf(detail, sizeof(detail), "%zu of %zu", k->next,
		    k->npending);
		vsd_link_fail(l, s, res, VSD_SHARD_TIMED_OUT,
		    "no reply before the deadline (%s replies in)", detail);
	}
}
