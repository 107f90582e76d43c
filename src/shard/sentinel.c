/*
 * sentinel.c - following sentinel:// shards' primaries.  Design in
 * sentinel.h; here the details that matter:
 *
 * - Questions use blocking hiredis contexts with connect and I/O timeouts
 *   (VSD_SENTINEL_IO_MS), one fresh connection per question round: a
 *   Sentinel that is down or frozen costs at most that much, and the next
 *   Sentinel is asked.  They run on the follower thread (or main() at
 *   start), never on a worker.
 * - Subscriptions (+switch-master) are one connection per distinct
 *   Sentinel, read only when poll() says readable, so the thread never
 *   blocks on them; a lost one is reconnected every poll period.
 * - The announcement is only a cue: the endpoints always come from asking
 *   (so the replicas come with the primary, and the answer is checked the
 *   same way as at start).
 * - Workers cue the thread through a pipe (one byte per shard cue, only
 *   when its flag goes from 0 to 1), so a failing primary costs a worker
 *   an atomic exchange, not a syscall per request.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "log.h"
#include "sentinel.h"
#include "vs_time.h"

/* A cue from a worker is acted on at most this often per shard. */
#define VSD_SENTINEL_CUE_MIN_US 100000
#define VSD_SENTINEL_MAX_FIELDS 256  /* of one replica's description */
#define VSD_SENTINEL_ERR 1024        /* bytes of a start error message */

struct vsd_sshard {
	uint32_t shard;
	const struct vsd_shard_addr *addr;   /* Sentinels, master name */
	pthread_mutex_t mu;          /* cur, failovers, last_failover_ms */
	struct vsd_sentinel_answer cur;
	uint64_t failovers;
	int64_t last_failover_ms;
	_Atomic uint64_t gen;
	atomic_int cued;             /* a worker asked for a new look */
	int64_t last_ask_us;
	int prefer;                  /* the Sentinel that answered last */
};

struct vsd_sub {
	const struct vsd_endpoint *ep;
	redisContext *c;
	int64_t retry_at;
};

struct vsd_sentinels {
	const struct vsd_config *cfg;
	struct vsd_health *health;
	struct vsd_sshard *sh;
	size_t nsh;
	int32_t *of_shard;           /* cfg->nshards: index into sh, or -1 */
	struct vsd_sub *subs;
	size_t nsubs;
	int pipe[2];
	atomic_int stop;
	pthread_t thr;
	int running;
};

static int64_t
vsd_wall_ms(void)
{
	struct timeval tv;

	gettimeofday(&tv, NULL);
	return (int64_t)tv.tv_sec * 1000 + tv.tv_usec / 1000;
}

/* A connection to Sentinel ep, authenticated; NULL with err set. */
static redisContext *
vsd_sentinel_connect(const struct vsd_config *cfg,
    const struct vsd_endpoint *ep, char *err, size_t errlen)
{
	struct timeval tv = { VSD_SENTINEL_IO_MS / 1000,
	    (VSD_SENTINEL_IO_MS % 1000) * 1000 };
	redisContext *c;
	redisReply *r;

	c = redisConnectWithTimeout(ep->host, ep->port, tv);
	if (c == NULL || c->err) {
		snprintf(err, errlen, "%s:%d: connect: %s", ep->host, ep->port,
		    c ? c->errstr : "out of memory");
		goto fail;
	}
	if (redisSetTimeout(c, tv) != REDIS_OK) {
		snprintf(err, errlen, "%s:%d: setting timeouts: %s", ep->host,
		    ep->port, c->errstr);
		goto fail;
	}
	if (cfg->sentinel_password == NULL)
		return c;
	if (cfg->sentinel_user != NULL)
		r = redisCommand(c, "AUTH %s %s", cfg->sentinel_user,
		    cfg->sentinel_password);
	else
		r = redisCommand(c, "AUTH %s", cfg->sentinel_password);
	if (r == NULL) {
		snprintf(err, errlen, "%s:%d: AUTH: %s", ep->host, ep->port,
		    c->errstr);
		goto fail;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s:%d: Sentinel refused AUTH "
		    "(sentinel-user/sentinel-password): %.200s", ep->host,
		    ep->port, r->str);
		freeReplyObject(r);
		goto fail;
	}
	freeReplyObject(r);
	return c;
fail:
	if (c != NULL)
		redisFree(c);
	return NULL;
}

/* "1".."65535" -> port, else 0. */
static int
vsd_port(const char *s, size_t len)
{
	long v = 0;
	size_t i;

	if (len == 0 || len > 5)
		return 0;
	for (i = 0; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return 0;
		v = v * 10 + (s[i] - '0');
	}
	return v >= 1 && v <= 65535 ? (int)v : 0;
}

static int
vsd_is_str(const redisReply *r)
{
	return r != NULL && (r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS);
}

/* A host name as Sentinel gives it: printable, bounded, with no space,
 * quote, backslash or comma (it goes into metrics labels and lists). */
static int
vsd_host_ok(const redisReply *r)
{
	size_t i;

	if (!vsd_is_str(r) || r->len == 0 || r->len >= VSD_HOST_MAX)
		return 0;
	for (i = 0; i < r->len; i++)
		if (r->str[i] <= ' ' || r->str[i] > '~' || r->str[i] == '"' ||
		    r->str[i] == '\\' || r->str[i] == ',')
			return 0;
	return 1;
}

/* In a flat key/value array r, the value of key; NULL if absent. */
static const redisReply *
vsd_field(const redisReply *r, const char *key)
{
	size_t i;

	if (r->type != REDIS_REPLY_ARRAY || r->elements % 2 != 0 ||
	    r->elements > VSD_SENTINEL_MAX_FIELDS)
		return NULL;
	for (i = 0; i + 1 < r->elements; i += 2)
		if (vsd_is_str(r->element[i]) &&
		    strcmp(r->element[i]->str, key) == 0 &&
		    vsd_is_str(r->element[i + 1]))
			return r->element[i + 1];
	return NULL;
}

/* Does the comma list flags name flag? */
static int
vsd_has_flag(const char *flags, const char *flag)
{
	size_t n = strlen(flag);
	const char *p = flags;

	while ((p = strstr(p, flag)) != NULL) {
		if ((p == flags || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
		p += n;
	}
	return 0;
}

/* Is host:port a replica in answer k? */
static int
vsd_known_replica(const struct vsd_sentinel_answer *k, const char *host, int port)
{
	int j;

	for (j = 1; k != NULL && j < k->nep; j++)
		if (k->port[j] == port && strcmp(k->host[j], host) == 0)
			return 1;
	return 0;
}

void
vsd_sentinel_parse_replicas(const redisReply *r,
    struct vsd_sentinel_answer *a, const struct vsd_sentinel_answer *known)
{
	size_t i;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		return;
	for (i = 0; i < r->elements && i < VSD_SENTINEL_MAX_LIST &&
	    a->nep < VSD_MAX_ENDPOINTS; i++) {
		const redisReply *e = r->element[i], *ip, *port, *flags;
		int p, j, dup = 0;

		if ((ip = vsd_field(e, "ip")) == NULL ||
		    (port = vsd_field(e, "port")) == NULL ||
		    (flags = vsd_field(e, "flags")) == NULL)
			continue;
		if (!vsd_host_ok(ip) || (p = vsd_port(port->str, port->len)) == 0)
			continue;
		if (vsd_has_flag(flags->str, "s_down") ||
		    vsd_has_flag(flags->str, "o_down"))
			continue;       /* down */
		/* A replica Sentinel has lost its link to is not taken on,
		 * but one in use stays: the replica being promoted drops
		 * Sentinels' links just before +switch-master, and it has all
		 * the data.  (A dead one turns s_down within
		 * down-after-milliseconds; the breaker skips it meanwhile.)
		 * A replica whose own link to the primary is down stays too:
		 * that is what a dead primary's replica looks like, and reads
		 * need it most then. */
		if (vsd_has_flag(flags->str, "disconnected") &&
		    !vsd_has_flag(flags->str, "promoted") &&
		    !vsd_known_replica(known, ip->str, p))
			continue;
		for (j = 0; j < a->nep; j++)
			if (a->port[j] == p && strcmp(a->host[j], ip->str) == 0)
				dup = 1;
		if (dup)
			continue;
		memcpy(a->host[a->nep], ip->str, ip->len + 1);
		a->port[a->nep++] = p;
	}
}

int
vsd_sentinel_parse_master(const redisReply *r, struct vsd_sentinel_answer *a)
{
	int port;

	memset(a, 0, sizeof(*a));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    !vsd_host_ok(r->element[0]) || !vsd_is_str(r->element[1]) ||
	    (port = vsd_port(r->element[1]->str, r->element[1]->len)) == 0)
		return -1;
	memcpy(a->host[0], r->element[0]->str, r->element[0]->len + 1);
	a->port[0] = port;
	a->nep = 1;
	return 0;
}

/* Ask Sentinel ep about master name.  0 with *a filled, or -1 with err. */
static int
vsd_ask_one(const struct vsd_config *cfg, const struct vsd_endpoint *ep,
    const char *name, const struct vsd_sentinel_answer *known, struct vsd_sentinel_answer *a,
    char *err, size_t errlen)
{
	redisContext *c;
	redisReply *r = NULL, *m = NULL, *reps = NULL;
	const redisReply *ep_field;
	int rv = -1;

	if ((c = vsd_sentinel_connect(cfg, ep, err, errlen)) == NULL)
		return -1;
	memset(a, 0, sizeof(*a));
	if ((r = redisCommand(c, "SENTINEL get-master-addr-by-name %s",
	    name)) == NULL) {
		snprintf(err, errlen, "%s:%d: %s", ep->host, ep->port, c->errstr);
		goto out;
	}
	if (r->type == REDIS_REPLY_NIL) {
		snprintf(err, errlen, "%s:%d: does not know master \"%s\"",
		    ep->host, ep->port, name);
		goto out;
	}
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s:%d: %.200s", ep->host, ep->port, r->str);
		goto out;
	}
	if (vsd_sentinel_parse_master(r, a) != 0) {
		snprintf(err, errlen, "%s:%d: malformed answer to SENTINEL "
		    "get-master-addr-by-name", ep->host, ep->port);
		goto out;
	}
	/* The config epoch orders answers across Sentinels; without it (an
	 * error, an odd shape) the answer is taken as it is. */
	m = redisCommand(c, "SENTINEL master %s", name);
	if (m != NULL && (ep_field = vsd_field(m, "config-epoch")) != NULL)
		a->epoch = strtoull(ep_field->str, NULL, 10);
	reps = redisCommand(c, "SENTINEL replicas %s", name);
	vsd_sentinel_parse_replicas(reps, a, known);
	rv = 0;
out:
	if (r != NULL)
		freeReplyObject(r);
	if (m != NULL)
		freeReplyObject(m);
	if (reps != NULL)
		freeReplyObject(reps);
	redisFree(c);
	return rv;
}

/* Ask shard h's Sentinels, first `first`, then the others in order.  0
 * with *a (and h->prefer set), or -1 with err naming every failure. */
static int
vsd_ask(const struct vsd_config *cfg, struct vsd_sshard *h, int first,
    struct vsd_sentinel_answer *a, char *err, size_t errlen)
{
	const struct vsd_shard_addr *ad = h->addr;
	char one[300];
	size_t used = 0;
	int i, k;

	err[0] = '\0';
	for (k = 0; k < ad->nsentinel; k++) {
		i = (first + k) % ad->nsentinel;
		/* h->cur is written only by this thread (or main() before
		 * it): read without the lock */
		if (vsd_ask_one(cfg, &ad->sentinel[i], ad->sentinel_master,
		    h->cur.nep > 0 ? &h->cur : NULL, a, one, sizeof(one)) == 0) {
			h->prefer = i;
			return 0;
		}
		if (used < errlen)
			used += (size_t)snprintf(err + used, errlen - used,
			    "%s%s", used ? "; " : "", one);
	}
	return -1;
}

static int
vsd_same(const struct vsd_sentinel_answer *x, const struct vsd_sentinel_answer *y)
{
	int i;

	if (x->nep != y->nep)
		return 0;
	for (i = 0; i < x->nep; i++)
		if (x->port[i] != y->port[i] || strcmp(x->host[i], y->host[i]))
			return 0;
	return 1;
}

/* Publish answer a for shard h (unless older than what is in use). */
static void
vsd_apply(struct vsd_sentinels *sn, struct vsd_sshard *h,
    const struct vsd_sentinel_answer *a)
{
	char was[VSD_HOST_MAX + 8];
	int moved, e;

	pthread_mutex_lock(&h->mu);
	if (a->epoch < h->cur.epoch || vsd_same(a, &h->cur)) {
		if (a->epoch > h->cur.epoch)
			h->cur.epoch = a->epoch;
		pthread_mutex_unlock(&h->mu);
		return;
	}
	moved = h->cur.nep > 0 && (h->cur.port[0] != a->port[0] ||
	    strcmp(h->cur.host[0], a->host[0]) != 0);
	snprintf(was, sizeof(was), "%s:%d", h->cur.host[0], h->cur.port[0]);
	if (moved) {
		h->failovers++;
		h->last_failover_ms = vsd_wall_ms();
	}
	h->cur = *a;
	pthread_mutex_unlock(&h->mu);
	/* The breakers judged the old servers: start the new ones afresh
	 * (before the new generation, so no round sees an open breaker). */
	for (e = 0; e < VSD_MAX_ENDPOINTS; e++)
		vsd_health_success(&sn->health[(size_t)h->shard *
		    VSD_MAX_ENDPOINTS + e]);
	atomic_fetch_add(&h->gen, 1);
	if (moved)
		vsd_info("shard %u: sentinel master %s: primary is now %s:%d "
		    "(was %s), %d replicas", h->shard, h->addr->sentinel_master,
		    a->host[0], a->port[0], was, a->nep - 1);
	else
		vsd_info("shard %u: sentinel master %s: primary %s:%d, %d "
		    "replicas", h->shard, h->addr->sentinel_master, a->host[0],
		    a->port[0], a->nep - 1);
}

static void
vsd_refresh(struct vsd_sentinels *sn, struct vsd_sshard *h, int first)
{
	struct vsd_sentinel_answer a;
	char err[VSD_SENTINEL_ERR];

	h->last_ask_us = vs_now_us();
	atomic_store(&h->cued, 0);
	if (vsd_ask(sn->cfg, h, first, &a, err, sizeof(err)) != 0) {
		vsd_warn("shard %u: sentinel master %s: no answer: %s", h->shard,
		    h->addr->sentinel_master, err);
		return;
	}
	vsd_debug("shard %u: answer from Sentinel %s:%d", h->shard,
	    h->addr->sentinel[h->prefer].host, h->addr->sentinel[h->prefer].port);
	vsd_apply(sn, h, &a);
}

/* The rest of a +switch-master payload, "oldip oldport newip newport"
 * (len bytes): publish newip:newport as shard h's primary, keeping the
 * other replicas in use. */
static void
vsd_take_announced(struct vsd_sentinels *sn, struct vsd_sshard *h,
    const char *rest, size_t len)
{
	char buf[4 * VSD_HOST_MAX], *f[4], *save = NULL;
	redisReply host;
	struct vsd_sentinel_answer a;
	int n = 0, e, port;

	if (len >= sizeof(buf))
		return;
	memcpy(buf, rest, len);
	buf[len] = '\0';
	for (f[n] = strtok_r(buf, " ", &save); f[n] != NULL && n < 3;
	    f[++n] = strtok_r(NULL, " ", &save))
		;
	if (n != 3 || f[3] == NULL || strtok_r(NULL, " ", &save) != NULL ||
	    (port = vsd_port(f[3], strlen(f[3]))) == 0)
		return;
	memset(&host, 0, sizeof(host));
	host.type = REDIS_REPLY_STRING;
	host.str = f[2];
	host.len = strlen(f[2]);
	if (!vsd_host_ok(&host))
		return;
	memset(&a, 0, sizeof(a));
	memcpy(a.host[0], f[2], host.len + 1);
	a.port[0] = port;
	a.nep = 1;
	for (e = 1; e < h->cur.nep && a.nep < VSD_MAX_ENDPOINTS; e++) {
		if (h->cur.port[e] == port && strcmp(h->cur.host[e], f[2]) == 0)
			continue;
		memcpy(a.host[a.nep], h->cur.host[e], sizeof(a.host[0]));
		a.port[a.nep++] = h->cur.port[e];
	}
	a.epoch = h->cur.epoch;     /* the next answer brings the new one */
	vsd_apply(sn, h, &a);
}

/* +switch-master payload "name oldip oldport newip newport" from
 * subscription sub: ask that master's Sentinels again, the announcer
 * first. */
static void
vsd_on_message(struct vsd_sentinels *sn, struct vsd_sub *sub,
    const redisReply *r)
{
	const redisReply *payload;
	size_t i, len;
	int k;

	if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 ||
	    !vsd_is_str(r->element[0]) ||
	    strcmp(r->element[0]->str, "message") != 0 ||
	    !vsd_is_str(r->element[2]))
		return;                 /* subscribe confirmations and others */
	payload = r->element[2];
	if (payload->len > VSD_SENTINEL_ERR)
		return;
	for (i = 0; i < sn->nsh; i++) {
		struct vsd_sshard *h = &sn->sh[i];

		len = strlen(h->addr->sentinel_master);
		if (payload->len <= len || payload->str[len] != ' ' ||
		    memcmp(payload->str, h->addr->sentinel_master, len) != 0)
			continue;
		for (k = 0; k < h->addr->nsentinel; k++) {
			if (h->addr->sentinel[k].port == sub->ep->port &&
			    strcmp(h->addr->sentinel[k].host,
			    sub->ep->host) == 0)
				break;
		}
		if (k == h->addr->nsentinel)
			continue;       /* not one of this shard's Sentinels */
		vsd_info("shard %u: Sentinel %s:%d announces +switch-master "
		    "%.*s", h->shard, sub->ep->host, sub->ep->port,
		    (int)payload->len, payload->str);
		/* Take the announced primary at once (asking may wait on a
		 * Sentinel busy with the failover), then ask for the rest
		 * (the replicas), the announcer first. */
		vsd_take_announced(sn, h, payload->str + len + 1,
		    payload->len - len - 1);
		h->prefer = k;
		atomic_store(&h->cued, 1);
		h->last_ask_us = 0;
	}
}

static void
vsd_sub_drop(struct vsd_sub *sub, int64_t now)
{
	if (sub->c != NULL)
		redisFree(sub->c);
	sub->c = NULL;
	sub->retry_at = now + (int64_t)VSD_SENTINEL_POLL_MS * 1000;
}

static void
vsd_sub_connect(struct vsd_sentinels *sn, struct vsd_sub *sub, int64_t now)
{
	char err[300];
	redisReply *r;

	if (sub->c != NULL || now < sub->retry_at)
		return;
	if ((sub->c = vsd_sentinel_connect(sn->cfg, sub->ep, err,
	    sizeof(err))) == NULL) {
		vsd_debug("sentinel subscription: %s", err);
		vsd_sub_drop(sub, now);
		return;
	}
	r = redisCommand(sub->c, "SUBSCRIBE +switch-master");
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		vsd_warn("Sentinel %s:%d: SUBSCRIBE +switch-master: %s",
		    sub->ep->host, sub->ep->port, r ? r->str : sub->c->errstr);
		if (r != NULL)
			freeReplyObject(r);
		vsd_sub_drop(sub, now);
		return;
	}
	freeReplyObject(r);
}

static void
vsd_sub_read(struct vsd_sentinels *sn, struct vsd_sub *sub, int64_t now)
{
	void *reply;

	if (redisBufferRead(sub->c) != REDIS_OK) {
		vsd_debug("Sentinel %s:%d: subscription lost: %s",
		    sub->ep->host, sub->ep->port, sub->c->errstr);
		vsd_sub_drop(sub, now);
		return;
	}
	for (;;) {
		reply = NULL;
		if (redisGetReplyFromReader(sub->c, &reply) != REDIS_OK) {
			vsd_sub_drop(sub, now);
			return;
		}
		if (reply == NULL)
			return;
		vsd_on_message(sn, sub, reply);
		freeReplyObject(reply);
	}
}

static void *
vsd_follow(void *arg)
{
	struct vsd_sentinels *sn = arg;
	struct pollfd *pfd;
	struct vsd_sub **pfd_sub;
	int64_t now, next_poll;
	size_t i, n;
	char buf[64];

	pfd = calloc(sn->nsubs + 1, sizeof(*pfd));
	pfd_sub = calloc(sn->nsubs + 1, sizeof(*pfd_sub));
	if (pfd == NULL || pfd_sub == NULL) {
		vsd_err("sentinel follower: out of memory");
		goto out;
	}
	next_poll = vs_now_us() + (int64_t)VSD_SENTINEL_POLL_MS * 1000;
	while (!atomic_load(&sn->stop)) {
		now = vs_now_us();
		n = 0;
		pfd[n].fd = sn->pipe[0];
		pfd[n].events = POLLIN;
		pfd_sub[n++] = NULL;
		for (i = 0; i < sn->nsubs; i++) {
			vsd_sub_connect(sn, &sn->subs[i], now);
			if (sn->subs[i].c == NULL)
				continue;
			pfd[n].fd = sn->subs[i].c->fd;
			pfd[n].events = POLLIN;
			pfd_sub[n++] = &sn->subs[i];
		}
		now = vs_now_us();
		if (poll(pfd, n, next_poll > now ?
		    (int)((next_poll - now) / 1000) + 1 : 0) < 0 &&
		    errno != EINTR) {
			vsd_err("sentinel follower: poll: %s", strerror(errno));
			break;
		}
		now = vs_now_us();
		if (pfd[0].revents & POLLIN)
			while (read(sn->pipe[0], buf, sizeof(buf)) > 0)
				;
		for (i = 1; i < n; i++)
			if (pfd[i].revents != 0 && pfd_sub[i]->c != NULL)
				vsd_sub_read(sn, pfd_sub[i], now);
		if (atomic_load(&sn->stop))
			break;
		for (i = 0; i < sn->nsh; i++) {
			struct vsd_sshard *h = &sn->sh[i];

			if (atomic_load(&h->cued) &&
			    now - h->last_ask_us >= VSD_SENTINEL_CUE_MIN_US)
				vsd_refresh(sn, h, h->prefer);
		}
		if (now >= next_poll) {
			for (i = 0; i < sn->nsh; i++)
				vsd_refresh(sn, &sn->sh[i], sn->sh[i].prefer);
			next_poll = vs_now_us() +
			    (int64_t)VSD_SENTINEL_POLL_MS * 1000;
		} else if (next_poll - now > VSD_SENTINEL_CUE_MIN_US) {
			/* a cue within the rate limit waits no longer than it */
			for (i = 0; i < sn->nsh; i++)
				if (atomic_load(&sn->sh[i].cued) &&
				    next_poll > now + VSD_SENTINEL_CUE_MIN_US)
					next_poll = now + VSD_SENTINEL_CUE_MIN_US;
		}
	}
out:
	free(pfd);
	free(pfd_sub);
	return NULL;
}

static int
vsd_sub_add(struct vsd_sentinels *sn, const struct vsd_endpoint *ep)
{
	size_t i;

	for (i = 0; i < sn->nsubs; i++)
		if (sn->subs[i].ep->port == ep->port &&
		    strcmp(sn->subs[i].ep->host, ep->host) == 0)
			return 0;
	sn->subs[sn->nsubs].ep = ep;
	sn->subs[sn->nsubs].c = NULL;
	sn->subs[sn->nsubs].retry_at = 0;
	sn->nsubs++;
	return 0;
}

int
vsd_sentinels_start(struct vsd_config *cfg, struct vsd_health *health,
    struct vsd_sentinels **out)
{
	struct vsd_sentinels *sn;
	struct vsd_sentinel_answer a;
	char err[VSD_SENTINEL_ERR];
	uint32_t s;
	size_t n = 0, j;
	int e, fl;

	*out = NULL;
	for (s = 0; s < cfg->nshards; s++)
		if (cfg->shards[s].sentinel_master != NULL)
			n++;
	if (n == 0)
		return 0;
	if ((sn = calloc(1, sizeof(*sn))) == NULL)
		return -1;
	sn->pipe[0] = sn->pipe[1] = -1;
	sn->cfg = cfg;
	sn->health = health;
	sn->sh = calloc(n, sizeof(*sn->sh));
	sn->of_shard = calloc(cfg->nshards, sizeof(*sn->of_shard));
	sn->subs = calloc(n * VSD_MAX_SENTINELS, sizeof(*sn->subs));
	if (sn->sh == NULL || sn->of_shard == NULL || sn->subs == NULL)
		goto fail;
	for (s = 0; s < cfg->nshards; s++) {
		struct vsd_sshard *h;

		sn->of_shard[s] = -1;
		if (cfg->shards[s].sentinel_master == NULL)
			continue;
		h = &sn->sh[sn->nsh];
		h->shard = s;
		h->addr = &cfg->shards[s];
		pthread_mutex_init(&h->mu, NULL);
		sn->of_shard[s] = (int32_t)sn->nsh++;
		if (vsd_ask(cfg, h, 0, &a, err, sizeof(err)) != 0) {
			vsd_err("shard %u: no Sentinel gave the primary of "
			    "master \"%s\": %s", s, h->addr->sentinel_master,
			    err);
			goto fail;
		}
		h->cur = a;
		atomic_store(&h->gen, 1);
		for (e = 0; e < a.nep; e++) {
			if ((cfg->shards[s].ep[e].host = strdup(a.host[e])) ==
			    NULL)
				goto fail;
			cfg->shards[s].ep[e].port = a.port[e];
			cfg->shards[s].nep = e + 1;
		}
		vsd_info("shard %u: sentinel master %s: primary %s:%d, %d "
		    "replicas", s, h->addr->sentinel_master, a.host[0],
		    a.port[0], a.nep - 1);
		for (e = 0; e < h->addr->nsentinel; e++)
			vsd_sub_add(sn, &h->addr->sentinel[e]);
	}
	if (pipe(sn->pipe) != 0)
		goto fail;
	for (j = 0; j < 2; j++) {
		fl = fcntl(sn->pipe[j], F_GETFL);
		fcntl(sn->pipe[j], F_SETFL, fl | O_NONBLOCK);
	}
	if (pthread_create(&sn->thr, NULL, vsd_follow, sn) != 0)
		goto fail;
	sn->running = 1;
	cfg->sentinels = sn;
	*out = sn;
	return 0;
fail:
	vsd_sentinels_stop(sn);
	return -1;
}

void
vsd_sentinels_stop(struct vsd_sentinels *sn)
{
	size_t i;

	if (sn == NULL)
		return;
	atomic_store(&sn->stop, 1);
	if (sn->running) {
		if (write(sn->pipe[1], "x", 1) < 0)
			vsd_debug("sentinel stop: %s", strerror(errno));
		pthread_join(sn->thr, NULL);
	}
	for (i = 0; i < sn->nsubs; i++)
		if (sn->subs[i].c != NULL)
			redisFree(sn->subs[i].c);
	for (i = 0; i < sn->nsh; i++)
		pthread_mutex_destroy(&sn->sh[i].mu);
	if (sn->pipe[0] >= 0)
		close(sn->pipe[0]);
	if (sn->pipe[1] >= 0)
		close(sn->pipe[1]);
	free(sn->subs);
	free(sn->sh);
	free(sn->of_shard);
	free(sn);
}

static struct vsd_sshard *
vsd_of(struct vsd_sentinels *sn, uint32_t s)
{
	if (sn == NULL || s >= sn->cfg->nshards || sn->of_shard[s] < 0)
		return NULL;
	return &sn->sh[sn->of_shard[s]];
}

uint64_t
vsd_sentinel_gen(struct vsd_sentinels *sn, uint32_t s)
{
	struct vsd_sshard *h = vsd_of(sn, s);

	return h != NULL ? atomic_load(&h->gen) : 0;
}

void
vsd_sentinel_addr_free(struct vsd_shard_addr *a)
{
	int e;

	for (e = 0; e < a->nep; e++) {
		free(a->ep[e].host);
		a->ep[e].host = NULL;
	}
	a->nep = 0;
}

int
vsd_sentinel_copy(struct vsd_sentinels *sn, uint32_t s,
    struct vsd_shard_addr *out, uint64_t *gen)
{
	struct vsd_sshard *h = vsd_of(sn, s);
	struct vsd_shard_addr n;
	int e;

	if (h == NULL)
		return -1;
	memset(&n, 0, sizeof(n));
	pthread_mutex_lock(&h->mu);
	*gen = atomic_load(&h->gen);
	for (e = 0; e < h->cur.nep; e++) {
		if ((n.ep[e].host = strdup(h->cur.host[e])) == NULL)
			break;
		n.ep[e].port = h->cur.port[e];
		n.nep = e + 1;
	}
	pthread_mutex_unlock(&h->mu);
	if (e < h->cur.nep || n.nep == 0) {
		vsd_sentinel_addr_free(&n);
		return -1;
	}
	vsd_sentinel_addr_free(out);
	n.sentinel_master = h->addr->sentinel_master;  /* borrowed */
	*out = n;
	return 0;
}

void
vsd_sentinel_suspect(struct vsd_sentinels *sn, uint32_t s)
{
	struct vsd_sshard *h = vsd_of(sn, s);

	if (h == NULL || atomic_exchange(&h->cued, 1) != 0)
		return;
	if (write(sn->pipe[1], "c", 1) < 0 && errno != EAGAIN)
		vsd_debug("sentinel cue: %s", strerror(errno));
}

int
vsd_sentinel_view(struct vsd_sentinels *sn, uint32_t s,
    struct vsd_sentinel_view *v)
{
	struct vsd_sshard *h = vsd_of(sn, s);
	size_t used = 0;
	int e;

	memset(v, 0, sizeof(*v));
	if (h == NULL)
		return -1;
	pthread_mutex_lock(&h->mu);
	if (h->cur.nep > 0)
		snprintf(v->primary, sizeof(v->primary), "%s:%d",
		    h->cur.host[0], h->cur.port[0]);
	for (e = 1; e < h->cur.nep && used < sizeof(v->replicas); e++)
		used += (size_t)snprintf(v->replicas + used,
		    sizeof(v->replicas) - used, "%s%s:%d", e > 1 ? "," : "",
		    h->cur.host[e], h->cur.port[e]);
	v->failovers = h->failovers;
	v->last_failover_ms = h->last_failover_ms;
	pthread_mutex_unlock(&h->mu);
	return 0;
}
