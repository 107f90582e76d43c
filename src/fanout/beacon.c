/*
 * beacon.c - the router's heartbeat on shard 0 and its following of the
 * topology record (beacon.h says why and what).
 */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "beacon.h"
#include "log.h"
#include "mover.h"
#include "topology.h"
#include "view.h"

#define VSD_HOSTNAME_LEN 256
#define VSD_BEACON_ERRLEN 300

struct vsd_beacon {
	const struct vsd_config *cfg;
	char host[VSD_HOSTNAME_LEN];
	int port;
	char id[VSD_ROUTER_ID_LEN];
	pthread_t thread;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int stop;
	redisContext *rc;
	struct vsd_topo *t;          /* scratch record */
	int warned;                  /* a failure was logged */
	uint64_t refused;            /* an epoch adopt refused (logged) */
};

static uint64_t
vsd_unix_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void
vsd_beacon_fail(struct vsd_beacon *b, const char *what)
{
	if (!b->warned)
		vsd_warn("beacon: shard 0 (%s:%d): %s (retrying every %d ms)",
		    b->host, b->port, what, VSD_BEACON_PERIOD_MS);
	b->warned = 1;
	if (b->rc != NULL)
		redisFree(b->rc);
	b->rc = NULL;
}

static int
vsd_beacon_connect(struct vsd_beacon *b)
{
	struct timeval tv = { 0, VSD_BEACON_TIMEOUT_MS * 1000 };
	const struct vsd_config *cfg = b->cfg;
	redisReply *r;

	b->rc = redisConnectWithTimeout(b->host, b->port, tv);
	if (b->rc == NULL || b->rc->err) {
		vsd_beacon_fail(b, b->rc != NULL ? b->rc->errstr :
		    "out of memory");
		return -1;
	}
	if (redisSetTimeout(b->rc, tv) != REDIS_OK) {
		vsd_beacon_fail(b, "cannot set a timeout");
		return -1;
	}
	if (cfg->redis_password == NULL)
		return 0;
	r = cfg->redis_user != NULL ? redisCommand(b->rc, "AUTH %s %s",
	    cfg->redis_user, cfg->redis_password) :
	    redisCommand(b->rc, "AUTH %s", cfg->redis_password);
	if (r == NULL || r->type == REDIS_REPLY_ERROR) {
		vsd_beacon_fail(b, "AUTH refused");
		if (r != NULL)
			freeReplyObject(r);
		return -1;
	}
	freeReplyObject(r);
	return 0;
}

/* One beat: heartbeat, then follow the record. */
static void
vsd_beacon_beat(struct vsd_beacon *b)
{
	char val[64], why[VSD_BEACON_ERRLEN];
	struct vsd_view v;
	redisReply *r;
	int kind;

	if (b->rc == NULL && vsd_beacon_connect(b) != 0)
		return;
	vsd_view_now(&v);
	snprintf(val, sizeof(val), "%llu %llu", (unsigned long long)v.epoch,
	    (unsigned long long)vsd_unix_ms());
	redisAppendCommand(b->rc, "HSET %s %s %s", VSD_ROUTERS_KEY, b->id,
	    val);
	redisAppendCommand(b->rc, "HGETALL %s", VSD_TOPO_KEY);
	if (redisGetReply(b->rc, (void **)&r) != REDIS_OK) {
		vsd_beacon_fail(b, b->rc->errstr);
		return;
	}
	freeReplyObject(r);
	if (redisGetReply(b->rc, (void **)&r) != REDIS_OK) {
		vsd_beacon_fail(b, b->rc->errstr);
		return;
	}
	kind = vsd_topo_from_reply(r, b->t, why, sizeof(why));
	freeReplyObject(r);
	if (b->warned) {
		vsd_info("beacon: shard 0 answers again");
		b->warned = 0;
	}
	if (kind != VSD_TOPO_RECORD || b->t->epoch <= v.epoch)
		return;
	if (vsd_view_adopt(b->t, why, sizeof(why)) != 0 &&
	    b->refused != b->t->epoch) {
		b->refused = b->t->epoch;
		vsd_warn("beacon: cannot adopt topology epoch %llu: %s",
		    (unsigned long long)b->t->epoch, why);
	}
}

static void *
vsd_beacon_main(void *arg)
{
	struct vsd_beacon *b = arg;
	struct timespec until;

	pthread_mutex_lock(&b->mu);
	while (!b->stop) {
		pthread_mutex_unlock(&b->mu);
		vsd_beacon_beat(b);
		pthread_mutex_lock(&b->mu);
		clock_gettime(CLOCK_MONOTONIC, &until);
		until.tv_nsec += (long)VSD_BEACON_PERIOD_MS * 1000000L;
		until.tv_sec += until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		while (!b->stop && pthread_cond_timedwait(&b->cv, &b->mu,
		    &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&b->mu);
	return NULL;
}

int
vsd_beacon_start(const struct vsd_config *cfg, const char *listen,
    struct vsd_beacon **out)
{
	struct vsd_beacon *b;
	pthread_condattr_t ca;
	char host[VSD_HOSTNAME_LEN];

	*out = NULL;
	if (cfg->nshards == 0 || cfg->shards[0].sentinel_master != NULL) {
		vsd_info("beacon: shard 0 is a sentinel:// shard: no router "
		    "heartbeat (ReshardStatus will not list this router)");
		return 0;
	}
	if ((b = calloc(1, sizeof(*b))) == NULL ||
	    (b->t = malloc(sizeof(*b->t))) == NULL) {
		free(b);
		return -1;
	}
	b->cfg = cfg;
	snprintf(b->host, sizeof(b->host), "%s", cfg->shards[0].ep[0].host);
	b->port = cfg->shards[0].ep[0].port;
	if (gethostname(host, sizeof(host)) != 0)
		snprintf(host, sizeof(host), "?");
	host[sizeof(host) - 1] = '\0';
	snprintf(b->id, sizeof(b->id), "%s/%ld/%s", host, (long)getpid(),
	    listen);
	pthread_mutex_init(&b->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&b->cv, &ca);
	pthread_condattr_destroy(&ca);
	if (pthread_create(&b->thread, NULL, vsd_beacon_main, b) != 0) {
		pthread_cond_destroy(&b->cv);
		pthread_mutex_destroy(&b->mu);
		free(b->t);
		free(b);
		return -1;
	}
	*out = b;
	return 0;
}

void
vsd_beacon_stop(struct vsd_beacon *b)
{
	if (b == NULL)
		return;
	pthread_mutex_lock(&b->mu);
	b->stop = 1;
	pthread_cond_signal(&b->cv);
	pthread_mutex_unlock(&b->mu);
	pthread_join(b->thread, NULL);
	if (b->rc != NULL)
		redisFree(b->rc);
	pthread_cond_destroy(&b->cv);
	pthread_mutex_destroy(&b->mu);
	free(b->t);
	free(b);
}
