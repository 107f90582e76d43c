/*
 * test_sentinel.c - sentinel:// shards: vsetd follows Redis Sentinel
 * through real failovers (issue 11).
 *
 * Setup: 2 shards, each a primary and a replica (real Redis 8), watched by
 * 3 real Sentinels (the same binary, --sentinel; each with its own
 * rewritable config file) as masters m0 and m1 with quorum 2,
 * down-after-milliseconds 1000 and failover-timeout 2000.  vsetd serves
 * "--shard sentinel://S0,S1,S2/m0 --shard sentinel://S0,S1,S2/m1
 * --wait-replicas 1".  A fourth Sentinel with requirepass watches m0, for
 * the AUTH checks.
 *
 * The tests run in order on the one deployment:
 *   1. start_errors: an unknown master name, and a wrong Sentinel password
 *      (from the environment), stop vsetd at start with a message that
 *      says so and a non-zero exit status; the right password starts it.
 *   2. failovers: under a mixed load (one writer inserting new ids through
 *      each vsetd, one searcher), 1 + 5 times: kill -9 a shard's primary (shards 0, 1, 0, ...),
 *      wait for Sentinel to promote its replica, restart the old primary
 *      as a replica of the new one (as a Redis whose config file Sentinel
 *      rewrote comes back).  Measured: the window from the kill to
 *      the first acknowledged write (started after the kill) on that
 *      shard.  Asserted: writes resume each time; the failed writes in the
 *      window are UNAVAILABLE and say "failover in progress"; searches are
 *      complete but for at most one per failover (the one in flight on
 *      the replica when Sentinel's promotion kills its clients); the old primary
 *      never takes a write from vsetd (no EVALSHA/EVAL succeeded on it
 *      since its restart: one sent before vsetd heard of the switch gets
 *      READONLY); and at the end every acknowledged id is on its
 *      shard's current primary (0 lost with --wait-replicas 1).  The first
 *      failover runs with Sentinel S0 (the first vsetd asks) killed: one
 *      Sentinel down changes nothing for vsetd; it is reported apart, since
 *      Sentinel's own election may take longer then.  A second vsetd
 *      without --wait-replicas on the same shards gives the window without
 *      WAIT, and the writes it lost (reported, not asserted).
 *   3. restart_during_failover: kill a primary and restart vsetd at once
 *      (the Sentinels still name the dead primary): the new vsetd's writes
 *      to that shard resume, on the primary Sentinel names in the end.
 *   4. readonly_never_acked: a primary demoted behind the Sentinels' back
 *      answers a write READONLY: the item fails UNAVAILABLE ("failover in
 *      progress", READONLY), is not acknowledged, and is not there.
 * /metrics and `vset stats` of the second vsetd name each shard's current
 * primary (and /metrics counts its failovers).
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rel_data.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vsetd.h"

#define NSHARDS 2
#define NSENT 3
#define NFAILOVERS 5
#define NPOOL 60000              /* ids the writer may use */
#define DIM 8
#define COLL "ha"
#define K 10
#define CALL_MS 3000
#define WAIT_MS "500"
#define SWITCH_WAIT_MS 20000     /* kill -> Sentinel names a new primary */
/* the same with 2 of 3 Sentinels: their election may take several rounds
 * of failover-timeout * 2 each (we saw up to 20 s) */
#define SWITCH_WAIT_2OF3_MS 45000
#define RESUME_WAIT_MS 30000     /* kill -> an acknowledged write */
#define RESUME_AFTER_SWITCH_MS 10000 /* the switch -> an acknowledged write */
#define REJOIN_WAIT_MS 30000     /* restart -> a replica Sentinel lists */
#define REPOINT_MS 8000          /* no master link that long: restart it */
#define START_FAIL_MS 10000      /* a refused start exits within this */
#define WRITER_PAUSE_MS 2
#define SEARCHER_PAUSE_MS 10
#define SENTINEL_PASSWORD "s3ntinel"

struct load {
	pthread_mutex_t mu;
	atomic_int stop;
	char url[128];
	const struct rel_data *d;
	unsigned char *acked;        /* d->n */
	size_t next;                 /* next pool item to write */
	uint64_t writes, write_ok, write_failed, failover_msgs;
	uint64_t searches, partial, search_err;
	/* the probe: first ack on shard probe_shard of a call started at or
	 * after probe_t0 (ms); 0 = none yet */
	int probe_shard;
	int64_t probe_t0, probe_ack;
	char last_err[256];
};

struct state {
	char dir[4096];
	struct tp_redis node[NSHARDS][2];
	struct tp_redis sent[NSENT + 1];
	char shardarg[NSHARDS][256];
	char pwshard[256];
	char metrics_url[64], survey_url[64];
	int metrics_port;
	struct tp_vsetd v, x, n;
	struct rel_data *d, *dn;
	struct load ld, ln;          /* through v (WAIT 1), through n (none) */
	pthread_t wt, st, wn;
	int threads;
};

static const char *
sentinel_conf(char *buf, size_t len, int nmasters, const int *ports,
    const char *extra)
{
	size_t used = 0;
	int i;

	used += (size_t)snprintf(buf + used, len - used, "%s", extra);
	for (i = 0; i < nmasters; i++)
		used += (size_t)snprintf(buf + used, len - used,
		    "sentinel monitor m%d 127.0.0.1 %d 2\n"
		    "sentinel down-after-milliseconds m%d 1000\n"
		    "sentinel failover-timeout m%d 2000\n", i, ports[i], i, i);
	return buf;
}

/* Sentinel sen's answer to SENTINEL get-master-addr-by-name m<shard>:
 * the port, or -1. */
static int
master_port(const struct tp_redis *sen, int shard)
{
	redisReply *r = tp_redis_cmd(sen, "SENTINEL get-master-addr-by-name m%d",
	    shard);
	int port = -1;

	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING)
		port = atoi(r->element[1]->str);
	if (r != NULL)
		freeReplyObject(r);
	return port;
}

/* Does Sentinel sen list a healthy replica of m<shard> on port? */
static int
sentinel_has_replica(const struct tp_redis *sen, int shard, int port)
{
	redisReply *r = tp_redis_cmd(sen, "SENTINEL replicas m%d", shard);
	size_t i, j;
	int found = 0;

	for (i = 0; r != NULL && r->type == REDIS_REPLY_ARRAY &&
	    i < r->elements; i++) {
		const redisReply *e = r->element[i];
		int p = -1, ok = 0;

		for (j = 0; e->type == REDIS_REPLY_ARRAY && j + 1 < e->elements;
		    j += 2) {
			if (strcmp(e->element[j]->str, "port") == 0)
				p = atoi(e->element[j + 1]->str);
			if (strcmp(e->element[j]->str, "flags") == 0)
				ok = strcmp(e->element[j + 1]->str, "slave") == 0;
		}
		if (p == port && ok)
			found = 1;
	}
	if (r != NULL)
		freeReplyObject(r);
	return found;
}

/* Does every live Sentinel list a healthy replica of m<shard> on port? */
static int
all_sentinels_list(struct state *s, int shard, int port)
{
	int i;

	for (i = 0; i < NSENT; i++)
		if (tp_proc_alive(&s->sent[i].p) &&
		    !sentinel_has_replica(&s->sent[i], shard, port))
			return 0;
	return 1;
}

/* Do the Sentinels know each other (num-other-sentinels) and the replica
 * of each master? */
static int
sentinels_ready(struct state *s, int want_others)
{
	int i, sh;

	for (i = 0; i < NSENT; i++) {
		for (sh = 0; sh < NSHARDS; sh++) {
			redisReply *r = tp_redis_cmd(&s->sent[i],
			    "SENTINEL master m%d", sh);
			size_t j;
			int others = -1, slaves = -1;

			for (j = 0; r != NULL && r->type == REDIS_REPLY_ARRAY &&
			    j + 1 < r->elements; j += 2) {
				if (strcmp(r->element[j]->str,
				    "num-other-sentinels") == 0)
					others = atoi(r->element[j + 1]->str);
				if (strcmp(r->element[j]->str, "num-slaves") == 0)
					slaves = atoi(r->element[j + 1]->str);
			}
			if (r != NULL)
				freeReplyObject(r);
			if (others < want_others || slaves < 1)
				return 0;
		}
	}
	return 1;
}

static struct tp_redis *
node_on(struct state *s, int shard, int port)
{
	int i;

	for (i = 0; i < 2; i++)
		if (s->node[shard][i].port == port)
			return &s->node[shard][i];
	return NULL;
}

static int
group_setup(void **st)
{
	static const char *const pextra[] = { "--repl-diskless-sync-delay",
	    "0", NULL };
	const char *extra[6] = { "--replicaof", "127.0.0.1", NULL,
	    "--repl-diskless-sync-delay", "0", NULL };
	struct state *s;
	const char *args[16];
	char sub[4200], port[16], conf[2048], pass[128];
	int ports[NSHARDS], i, a = 0;
	int64_t end;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	*st = s;
	pthread_mutex_init(&s->ld.mu, NULL);
	pthread_mutex_init(&s->ln.mu, NULL);
	if (tp_tmpdir(s->dir, sizeof(s->dir), "sentinel") != 0)
		return -1;
	for (i = 0; i < NSHARDS; i++) {
		snprintf(sub, sizeof(sub), "%s/p%d", s->dir, i);
		if (mkdir(sub, 0700) != 0 ||
		    tp_redis_start(&s->node[i][0], 0, sub, pextra, NULL) != 0)
			return -1;
		snprintf(sub, sizeof(sub), "%s/r%d", s->dir, i);
		snprintf(port, sizeof(port), "%d", s->node[i][0].port);
		extra[2] = port;
		if (mkdir(sub, 0700) != 0 ||
		    tp_redis_start(&s->node[i][1], 0, sub, extra, NULL) != 0 ||
		    tp_redis_wait_link_up(&s->node[i][1], 10000) != 0)
			return -1;
		ports[i] = s->node[i][0].port;
	}
	for (i = 0; i <= NSENT; i++) {
		snprintf(sub, sizeof(sub), "%s/s%d", s->dir, i);
		if (mkdir(sub, 0700) != 0)
			return -1;
		if (i < NSENT)
			sentinel_conf(conf, sizeof(conf), NSHARDS, ports, "");
		else
			sentinel_conf(conf, sizeof(conf), 1, ports,
			    "requirepass " SENTINEL_PASSWORD "\n");
		if (tp_sentinel_start(&s->sent[i], sub, conf,
		    i < NSENT ? NULL : SENTINEL_PASSWORD) != 0)
			return -1;
	}
	/* A failover needs the Sentinels to know each other (hello messages
	 * every 2 s) and the replica. */
	end = tp_now_ms() + 20000;
	while (!sentinels_ready(s, NSENT - 1)) {
		if (tp_now_ms() > end) {
			tp_log("Sentinels did not discover each other");
			return -1;
		}
		tp_sleep_ms(100);
	}
	for (i = 0; i < NSHARDS; i++)
		snprintf(s->shardarg[i], sizeof(s->shardarg[i]),
		    "sentinel://127.0.0.1:%d,127.0.0.1:%d,127.0.0.1:%d/m%d",
		    s->sent[0].port, s->sent[1].port, s->sent[2].port, i);
	snprintf(s->pwshard, sizeof(s->pwshard), "sentinel://127.0.0.1:%d/m0",
	    s->sent[NSENT].port);
	(void)pass;
	args[a++] = "--listen";
	args[a++] = "tcp://127.0.0.1:0";
	for (i = 0; i < NSHARDS; i++) {
		args[a++] = "--shard";
		args[a++] = s->shardarg[i];
	}
	args[a++] = "--wait-replicas";
	args[a++] = "1";
	args[a++] = "--wait-ms";
	args[a++] = WAIT_MS;
	args[a] = NULL;
	if (tp_vsetd_start(&s->v, s->dir, "a", args, NULL) != 0)
		return -1;
	a -= 4;                     /* the same without --wait-replicas */
	s->metrics_port = tp_free_port();
	snprintf(s->metrics_url, sizeof(s->metrics_url),
	    "http://127.0.0.1:%d", s->metrics_port);
	args[a++] = "--metrics-listen";
	args[a++] = s->metrics_url;
	snprintf(s->survey_url, sizeof(s->survey_url), "tcp://127.0.0.1:%d",
	    tp_free_port());
	args[a++] = "--survey-listen";
	args[a++] = s->survey_url;
	args[a] = NULL;
	if (tp_vsetd_start(&s->n, s->dir, "nowait", args, NULL) != 0)
		return -1;
	if ((s->d = rel_data_new("w", NPOOL, DIM, NSHARDS, 0x5e71)) == NULL ||
	    (s->dn = rel_data_new("n", NPOOL, DIM, NSHARDS, 0x5e72)) == NULL)
		return -1;
	if ((s->ld.acked = calloc(NPOOL, 1)) == NULL ||
	    (s->ln.acked = calloc(NPOOL, 1)) == NULL)
		return -1;
	return 0;
}

static void
load_stop(struct state *s)
{
	if (!s->threads)
		return;
	atomic_store(&s->ld.stop, 1);
	atomic_store(&s->ln.stop, 1);
	pthread_join(s->wt, NULL);
	pthread_join(s->st, NULL);
	pthread_join(s->wn, NULL);
	s->threads = 0;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;
	int i, j;

	if (s == NULL)
		return 0;
	load_stop(s);
	tp_proc_kill(&s->v.p);
	tp_proc_kill(&s->x.p);
	tp_proc_kill(&s->n.p);
	for (i = 0; i <= NSENT; i++)
		tp_redis_kill(&s->sent[i]);
	for (i = 0; i < NSHARDS; i++)
		for (j = 0; j < 2; j++)
			tp_redis_kill(&s->node[i][j]);
	rel_data_free(s->d);
	rel_data_free(s->dn);
	free(s->ld.acked);
	free(s->ln.acked);
	pthread_mutex_destroy(&s->ld.mu);
	pthread_mutex_destroy(&s->ln.mu);
	tp_rmtree(s->dir);
	free(s);
	return 0;
}

/* Start vsetd x with args and env: it must exit non-zero at start, with
 * needle in its log. */
static void
expect_start_fails(struct state *s, const char *tag, const char *shard,
    const char *const *env, const char *needle)
{
	const char *args[] = { "--listen", "tcp://127.0.0.1:0", "--shard",
	    shard, NULL };
	char log[4300];
	int64_t t = tp_now_ms();
	int st = 0;

	assert_int_not_equal(tp_vsetd_start(&s->x, s->dir, tag, args, env), 0);
	t = tp_now_ms() - t;
	assert_int_equal(tp_proc_wait(&s->x.p, 0, &st) == 0 ||
	    !tp_proc_alive(&s->x.p), 1);
	snprintf(log, sizeof(log), "%s/vsetd-%s.log", s->dir, tag);
	fprintf(stderr, "# %s: refused in %lld ms\n", tag, (long long)t);
	assert_true(t < START_FAIL_MS);
	assert_true(tp_file_contains(log, needle));
}

/* 1. Clear errors at start. */
static void
test_start_errors(void **st)
{
	struct state *s = *st;
	const char *wrong[] = { "VSETD_SENTINEL_PASSWORD=wrong", NULL };
	const char *right[] = { "VSETD_SENTINEL_PASSWORD=" SENTINEL_PASSWORD,
	    NULL };
	const char *args[] = { "--listen", "tcp://127.0.0.1:0", "--shard",
	    s->pwshard, NULL };
	char nosuch[300];

	snprintf(nosuch, sizeof(nosuch), "sentinel://127.0.0.1:%d,127.0.0.1:"
	    "%d/nosuch", s->sent[0].port, s->sent[1].port);
	expect_start_fails(s, "nosuch", nosuch, NULL,
	    "does not know master \"nosuch\"");
	expect_start_fails(s, "wrongpw", s->pwshard, wrong,
	    "Sentinel refused AUTH");
	expect_start_fails(s, "nopw", s->pwshard, NULL, "NOAUTH");
	assert_int_equal(tp_vsetd_start(&s->x, s->dir, "rightpw", args,
	    right), 0);
	assert_int_equal(tp_vsetd_term(&s->x, 5000), 0);
}

static void *
writer(void *arg)
{
	struct load *ld = arg;
	vs_client *c = NULL;
	vs_write_result *wr;
	size_t i;
	int rv;

	if (rel_connect(&c, ld->url, CALL_MS) != VS_OK)
		return NULL;
	while (!atomic_load(&ld->stop)) {
		int64_t t0 = tp_now_ms();

		pthread_mutex_lock(&ld->mu);
		i = ld->next++ % ld->d->n;
		pthread_mutex_unlock(&ld->mu);
		wr = NULL;
		rv = vs_insert(c, COLL, &ld->d->items[i], 1, &wr);
		pthread_mutex_lock(&ld->mu);
		ld->writes++;
		if (rv == VS_OK) {
			ld->write_ok++;
			ld->acked[i] = 1;
			if ((int)ld->d->owner[i] == ld->probe_shard &&
			    t0 >= ld->probe_t0 && ld->probe_ack == 0)
				ld->probe_ack = tp_now_ms();
		} else {
			ld->write_failed++;
			if (strstr(vs_errmsg(), "failover in progress") != NULL &&
			    rv == VS_UNAVAILABLE)
				ld->failover_msgs++;
			snprintf(ld->last_err, sizeof(ld->last_err), "%s %s",
			    vs_code_name(rv), vs_errmsg());
		}
		pthread_mutex_unlock(&ld->mu);
		vs_write_result_free(wr);
		tp_sleep_ms(WRITER_PAUSE_MS);
	}
	vs_close(c);
	return NULL;
}

static void *
searcher(void *arg)
{
	struct load *ld = arg;
	vs_client *c = NULL;
	vs_search_params sp;
	vs_search_result *r;
	size_t i = 0;
	int rv;

	if (rel_connect(&c, ld->url, CALL_MS) != VS_OK)
		return NULL;
	while (!atomic_load(&ld->stop)) {
		rel_search_params(&sp, ld->d, COLL, i++, K);
		r = NULL;
		rv = vs_search(c, &sp, &r);
		pthread_mutex_lock(&ld->mu);
		ld->searches++;
		if (rv != VS_OK) {
			ld->search_err++;
		} else if (r->partial) {
			ld->partial++;
			if (r->n_shard_errors > 0 && ld->partial <= 5)
				fprintf(stderr, "# incomplete search: shard "
				    "%u: %s\n", r->shard_errors[0].shard,
				    r->shard_errors[0].message);
		}
		pthread_mutex_unlock(&ld->mu);
		if (r != NULL)
			vs_search_result_free(r);
		tp_sleep_ms(SEARCHER_PAUSE_MS);
	}
	vs_close(c);
	return NULL;
}

/* GET /metrics from vsetd n; malloc'd body or NULL. */
static char *
get_metrics(int port)
{
	const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	struct timeval tv = { 5, 0 };
	struct sockaddr_in a;
	char *buf, *body;
	size_t len = 0, cap = 1 << 20;
	ssize_t n;
	int fd;

	if ((buf = malloc(cap)) == NULL)
		return NULL;
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0) {
		free(buf);
		return NULL;
	}
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto fail;
	while (len < cap - 1 && (n = read(fd, buf + len, cap - len - 1)) > 0)
		len += (size_t)n;
	buf[len] = '\0';
	if ((body = strstr(buf, "\r\n\r\n")) == NULL)
		goto fail;
	memmove(buf, body + 4, strlen(body + 4) + 1);
	close(fd);
	return buf;
fail:
	close(fd);
	free(buf);
	return NULL;
}

/* /metrics of vsetd n says shard sh's primary is on port, and counts at
 * least want failovers. */
static void
assert_metrics(struct state *s, int sh, int port, int want)
{
	char *m = get_metrics(s->metrics_port), line[256];
	const char *p;

	assert_non_null(m);
	snprintf(line, sizeof(line), "vsetd_shard_endpoints_info{shard=\"%d\","
	    "master=\"m%d\",primary=\"127.0.0.1:%d\"", sh, sh, port);
	if (strstr(m, line) == NULL)
		fprintf(stderr, "# /metrics lacks %s:\n%s\n", line, m);
	assert_non_null(strstr(m, line));
	snprintf(line, sizeof(line), "vsetd_shard_failovers_total{shard=\"%d\"}"
	    " ", sh);
	assert_non_null(p = strstr(m, line));
	/* Sentinel may add one of its own (a new primary busy with a full
	 * sync can miss down-after-milliseconds on a loaded machine) */
	fprintf(stderr, "# shard %d: %ld failovers counted, %d made\n", sh,
	    atol(p + strlen(line)), want);
	assert_true(atol(p + strlen(line)) >= want);
	free(m);
}

/* `vset --json stats` of vsetd n names shard sh's Sentinel master and
 * its current primary. */
static void
assert_vset_stats(struct state *s, int sh, int port)
{
	const char *bin = getenv("VSET_BIN");
	char cmd[512], want[128], *out = NULL;
	size_t len = 0, cap = 1 << 16;
	FILE *f;

	if (bin == NULL) {
		fail_msg("VSET_BIN is not set");
		return;
	}
	snprintf(cmd, sizeof(cmd), "%s --json stats --survey %s", bin,
	    s->survey_url);
	if ((out = calloc(1, cap)) == NULL) {
		fail_msg("out of memory");
		return;
	}
	assert_non_null(f = popen(cmd, "r"));
	len = fread(out, 1, cap - 1, f);
	out[len] = '\0';
	assert_int_equal(pclose(f), 0);
	snprintf(want, sizeof(want), "\"shard\":%d,\"address\":\"127.0.0.1:%d\"",
	    sh, port);
	if (strstr(out, want) == NULL)
		fprintf(stderr, "# vset stats lacks %s: %s\n", want, out);
	assert_non_null(strstr(out, want));
	snprintf(want, sizeof(want), "\"sentinel_master\":\"m%d\"", sh);
	assert_non_null(strstr(out, want));
	free(out);
}

static int
cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* Start r again (same port and dir) as a replica of primary_port, as a
 * Redis whose config file Sentinel rewrote (REPLICAOF + CONFIG REWRITE)
 * comes back.  0 or -1. */
/* When a rejoin times out: what the nodes and Sentinels said. */
static void
dump_replication(struct state *s, int sh, const struct tp_redis *old,
    int primary_port)
{
	const struct tp_redis *nodes[2] = { old, node_on(s, sh, primary_port) };
	redisReply *r;
	int i;

	for (i = 0; i < 2; i++) {
		if (nodes[i] == NULL)
			continue;
		r = tp_redis_cmd(nodes[i], "INFO replication");
		fprintf(stderr, "# port %d INFO replication:\n%s\n",
		    nodes[i]->port, r != NULL && r->type == REDIS_REPLY_STRING ?
		    r->str : "(no answer)");
		if (r != NULL)
			freeReplyObject(r);
	}
	for (i = 0; i < NSENT; i++)
		if (tp_proc_alive(&s->sent[i].p))
			fprintf(stderr, "# sentinel %d: m%d primary on %d, lists "
			    "%d: %d\n", i, sh, master_port(&s->sent[i], sh),
			    old->port, sentinel_has_replica(&s->sent[i], sh,
			    old->port));
}

static int
restart_as_replica(struct tp_redis *r, int primary_port)
{
	char port[16], dir[sizeof(r->dir)];
	const char *extra[] = { "--replicaof", "127.0.0.1", port,
	    "--repl-diskless-sync-delay", "0", NULL };
	int64_t end = tp_now_ms() + 3000;
	int rport = r->port;

	snprintf(port, sizeof(port), "%d", primary_port);
	snprintf(dir, sizeof(dir), "%s", r->dir);
	tp_redis_kill(r);
	/* a just-killed listener's port may be busy for a moment */
	while (tp_redis_start(r, rport, dir, extra, NULL) != 0) {
		if (tp_now_ms() > end)
			return -1;
		tp_sleep_ms(50);
	}
	return 0;
}

/* calls - failed_calls - rejected_calls of cmdstat_<cmd> in INFO text. */
static long
succeeded(const char *info, const char *cmd)
{
	char key[64];
	const char *at, *p;
	long calls = 0, failed = 0, rejected = 0;

	snprintf(key, sizeof(key), "cmdstat_%s:", cmd);
	if ((at = strstr(info, key)) == NULL)
		return 0;
	if ((p = strstr(at, "calls=")) != NULL)
		calls = atol(p + 6);
	if ((p = strstr(at, "rejected_calls=")) != NULL)
		rejected = atol(p + 15);
	if ((p = strstr(at, "failed_calls=")) != NULL)
		failed = atol(p + 13);
	return calls - failed - rejected;
}

/* Since its restart r never took a write from vsetd: every write vsetd
 * sends is an EVALSHA/EVAL of a fence script (writes Redis replicates from
 * the primary are plain VADD/VREM), and any that reached r was refused
 * (READONLY: vsetd sent it before it heard of the switch). */
static void
assert_never_written(const struct tp_redis *r)
{
	redisReply *cs = tp_redis_cmd(r, "INFO commandstats");
	const char *p;

	assert_non_null(cs);
	assert_int_equal(cs->type, REDIS_REPLY_STRING);
	if ((p = strstr(cs->str, "cmdstat_evalsha:")) != NULL)
		fprintf(stderr, "# old primary %d refused writes sent before "
		    "vsetd heard of the switch: %.*s\n", r->port,
		    (int)strcspn(p, "\r\n"), p);
	assert_int_equal(succeeded(cs->str, "evalsha"), 0);
	assert_int_equal(succeeded(cs->str, "eval"), 0);
	freeReplyObject(cs);
}

static void
probe(struct load *ld, int sh, int64_t t0)
{
	pthread_mutex_lock(&ld->mu);
	ld->probe_shard = sh;
	ld->probe_ack = 0;
	ld->probe_t0 = t0;
	pthread_mutex_unlock(&ld->mu);
}

/* The first acknowledged write of the probe, from t0; 0 = none yet. */
static int64_t
probed(struct load *ld, int64_t t0)
{
	int64_t t;

	pthread_mutex_lock(&ld->mu);
	t = ld->probe_ack;
	pthread_mutex_unlock(&ld->mu);
	return t ? t - t0 : 0;
}

/* Kill shard sh's primary and follow the failover to the end (the old
 * primary back as a replica).  Returns the window in ms. */
static int64_t
one_failover(struct state *s, int sh, const struct tp_redis *ask,
    int64_t switch_wait_ms, int64_t *win_nowait, int64_t *switched)
{
	struct tp_redis *old, *nw;
	int64_t t0, end, win, t_switch, repoint;
	int oldport, p, flipped = 0;

	oldport = master_port(ask, sh);
	assert_non_null(old = node_on(s, sh, oldport));
	/* from its death on (SIGKILL and reaped): a write that started
	 * before may still have been acknowledged by it */
	tp_redis_kill(old);
	t0 = tp_now_ms();
	probe(&s->ld, sh, t0);
	probe(&s->ln, sh, t0);
	end = t0 + switch_wait_ms;
	while ((p = master_port(ask, sh)) == oldport || p < 0) {
		assert_true(tp_now_ms() < end);
		tp_sleep_ms(20);
	}
	t_switch = tp_now_ms() - t0;
	*switched = t_switch;
	assert_non_null(nw = node_on(s, sh, p));
	/* The old primary comes back, as a replica of the new one. */
	assert_int_equal(restart_as_replica(old, p), 0);
	end = tp_now_ms() + RESUME_AFTER_SWITCH_MS;
	for (;;) {
		if ((win = probed(&s->ld, t0)) != 0 &&
		    (*win_nowait = probed(&s->ln, t0)) != 0)
			break;
		if (tp_now_ms() > end)
			fprintf(stderr, "# no write on shard %d: %s\n", sh,
			    s->ld.last_err);
		assert_true(tp_now_ms() <= end);
		tp_sleep_ms(10);
	}
	end = tp_now_ms() + REJOIN_WAIT_MS;
	repoint = tp_now_ms() + REPOINT_MS;
	/* Every live Sentinel must know the replica again before the next
	 * kill: the leader of the next election may be any of them, and
	 * one without fresh news of a replica finds "no good replica" and
	 * retries only after 2 x failover-timeout.  On a loaded machine
	 * Sentinel may fail over once more meanwhile, leaving the restarted
	 * node pointed at a replica: point it at the current primary, as an
	 * operator would. */
	for (;;) {
		int cur = master_port(ask, sh);

		if (cur == old->port) {
			/* Sentinel failed over once more, back to the node
			 * we restarted (seen on a loaded machine): the shard
			 * is whole when the other node is its replica. */
			struct tp_redis *other = node_on(s, sh, p);

			if (other != NULL &&
			    tp_redis_wait_link_up(other, 200) == 0 &&
			    all_sentinels_list(s, sh, p)) {
				flipped = 1;
				break;
			}
		} else if (tp_redis_wait_link_up(old, 200) == 0 &&
		    all_sentinels_list(s, sh, old->port)) {
			break;
		}
		if (tp_now_ms() >= end)
			dump_replication(s, sh, old, p);
		assert_true(tp_now_ms() < end);
		if (tp_now_ms() >= repoint && cur > 0 && cur != old->port) {
			/* A node that could not sync: start it again, as a
			 * replica of the primary Sentinel names now. */
			fprintf(stderr, "# shard %d: port %d has no master "
			    "link after %d ms: restarting it as a replica of "
			    "%d\n", sh, old->port, REPOINT_MS, cur);
			assert_int_equal(restart_as_replica(old, cur), 0);
			repoint = tp_now_ms() + REPOINT_MS;
		}
		tp_sleep_ms(50);
	}
	fprintf(stderr, "# failover of shard %d: %d -> %d, Sentinel switched "
	    "after %lld ms, first acknowledged write after %lld ms (%lld ms "
	    "without WAIT), old primary a replica after %lld ms\n", sh,
	    oldport, p, (long long)t_switch, (long long)win,
	    (long long)*win_nowait, (long long)(tp_now_ms() - t0));
	if (flipped) {
		/* It is a primary again, by Sentinel's choice: writes to it
		 * are right, so there is nothing to check here. */
		fprintf(stderr, "# shard %d: Sentinel failed over again, back "
		    "to %d; the never-written check is skipped for this "
		    "failover\n", sh, old->port);
		return win;
	}
	/* Load goes on meanwhile: vsetd must not write to it. */
	tp_sleep_ms(300);
	assert_never_written(old);
	return win;
}

/* 2. Five failovers under load. */
static void
test_failovers(void **st)
{
	struct state *s = *st;
	int64_t win[NFAILOVERS], winn[NFAILOVERS], sw[NFAILOVERS], w0, wn0,
	    sw0;
	redisContext *rc;
	size_t i, acked = 0, lost = 0, ackedn = 0, lostn = 0;
	int f, sh, p;

	snprintf(s->ld.url, sizeof(s->ld.url), "%s", s->v.url);
	s->ld.d = s->d;
	s->ld.probe_shard = -1;
	snprintf(s->ln.url, sizeof(s->ln.url), "%s", s->n.url);
	s->ln.d = s->dn;
	s->ln.probe_shard = -1;
	assert_int_equal(pthread_create(&s->wt, NULL, writer, &s->ld), 0);
	assert_int_equal(pthread_create(&s->wn, NULL, writer, &s->ln), 0);
	assert_int_equal(pthread_create(&s->st, NULL, searcher, &s->ld), 0);
	s->threads = 1;
	tp_sleep_ms(500);
	/* One Sentinel down (the one vsetd asks first) changes nothing for
	 * vsetd.  (Sentinel's own election may take longer with 2 of 3: that
	 * failover is reported apart.) */
	tp_redis_kill(&s->sent[0]);
	w0 = one_failover(s, 0, &s->sent[1], SWITCH_WAIT_2OF3_MS, &wn0, &sw0);
	fprintf(stderr, "# with one Sentinel down: first acknowledged write "
	    "after %lld ms (%lld ms without WAIT)\n", (long long)w0,
	    (long long)wn0);
	assert_int_equal(tp_redis_restart(&s->sent[0]), 0);
	for (f = 0; f < NFAILOVERS; f++)
		win[f] = one_failover(s, (f + 1) % NSHARDS, &s->sent[1],
		    SWITCH_WAIT_MS, &winn[f], &sw[f]);
	/* vsetd's own share: from Sentinel S1 naming the new primary (as
	 * the test saw it, polling every 20 ms) to the first ack */
	for (f = 0; f < NFAILOVERS; f++)
		sw[f] = winn[f] - sw[f];
	qsort(sw, NFAILOVERS, sizeof(sw[0]), cmp_i64);
	fprintf(stderr, "# from Sentinel's switch to the first acknowledged "
	    "write without WAIT: median %lld ms, worst %lld ms\n",
	    (long long)sw[NFAILOVERS / 2], (long long)sw[NFAILOVERS - 1]);
	tp_sleep_ms(300);
	load_stop(s);
	qsort(win, NFAILOVERS, sizeof(win[0]), cmp_i64);
	fprintf(stderr, "# write window over %d failovers: median %lld ms, "
	    "worst %lld ms\n", NFAILOVERS, (long long)win[NFAILOVERS / 2],
	    (long long)win[NFAILOVERS - 1]);
	qsort(winn, NFAILOVERS, sizeof(winn[0]), cmp_i64);
	fprintf(stderr, "# without --wait-replicas: median %lld ms, worst "
	    "%lld ms\n", (long long)winn[NFAILOVERS / 2],
	    (long long)winn[NFAILOVERS - 1]);
	fprintf(stderr, "# writes %llu ok %llu failed %llu (failover in "
	    "progress: %llu); searches %llu incomplete %llu errors %llu\n",
	    (unsigned long long)s->ld.writes,
	    (unsigned long long)s->ld.write_ok,
	    (unsigned long long)s->ld.write_failed,
	    (unsigned long long)s->ld.failover_msgs,
	    (unsigned long long)s->ld.searches,
	    (unsigned long long)s->ld.partial,
	    (unsigned long long)s->ld.search_err);
	assert_true(s->ld.failover_msgs > 0);
	/* Sentinel ends a promotion with CLIENT KILL TYPE normal on the
	 * promoted replica: a search in flight on it then (the one searcher
	 * has at most one) loses that shard. */
	assert_true(s->ld.partial <= NFAILOVERS + 1);
	assert_int_equal(s->ld.search_err, 0);
	/* Every acknowledged id is on its shard's current primary, which
	 * /metrics names, with 3 failovers per shard (1 + 5 in turn). */
	for (sh = 0; sh < NSHARDS; sh++) {
		p = master_port(&s->sent[1], sh);
		assert_metrics(s, sh, p, (NFAILOVERS + 1) / NSHARDS);
		assert_vset_stats(s, sh, p);
		assert_non_null(node_on(s, sh, p));
		assert_non_null(rc = tp_redis_connect(node_on(s, sh, p), 2000));
		for (i = 0; i < s->d->n; i++) {
			if (!s->ld.acked[i] || (int)s->d->owner[i] != sh)
				continue;
			acked++;
			if (tp_vemb(rc, COLL, s->d->ids[i], NULL, 0) != 1)
				lost++;
		}
		for (i = 0; i < s->dn->n; i++) {
			if (!s->ln.acked[i] || (int)s->dn->owner[i] != sh)
				continue;
			ackedn++;
			if (tp_vemb(rc, COLL, s->dn->ids[i], NULL, 0) != 1)
				lostn++;
		}
		redisFree(rc);
	}
	fprintf(stderr, "# acknowledged writes %zu, lost %zu (without "
	    "--wait-replicas: %zu, lost %zu)\n", acked, lost, ackedn, lostn);
	assert_true(acked > 0);
	assert_int_equal(lost, 0);
}

/* 3. vsetd restarted while Sentinel still names the dead primary. */
static void
test_restart_during_failover(void **st)
{
	struct state *s = *st;
	const char *args[] = { "--listen", "tcp://127.0.0.1:0", "--shard",
	    s->shardarg[0], "--shard", s->shardarg[1], "--wait-replicas", "1",
	    "--wait-ms", WAIT_MS, NULL };
	struct tp_redis *old;
	vs_client *c = NULL;
	vs_write_result *wr;
	redisContext *rc;
	int64_t t0, end;
	int oldport, p, rv, idx = -1;
	size_t i;

	oldport = master_port(&s->sent[1], 1);
	assert_non_null(old = node_on(s, 1, oldport));
	tp_proc_kill(&s->v.p);
	t0 = tp_now_ms();
	tp_redis_kill(old);
	/* The Sentinels will name the dead primary for another second. */
	assert_int_equal(tp_vsetd_start(&s->v, s->dir, "b", args, NULL), 0);
	assert_int_equal(master_port(&s->sent[1], 1), oldport);
	assert_int_equal(rel_connect(&c, s->v.url, CALL_MS), VS_OK);
	end = t0 + RESUME_WAIT_MS;
	for (i = 0; i < s->d->n; i++) {
		if (s->d->owner[i] != 1 || s->ld.acked[i])
			continue;
		wr = NULL;
		rv = vs_insert(c, COLL, &s->d->items[i], 1, &wr);
		vs_write_result_free(wr);
		if (rv == VS_OK) {
			idx = (int)i;
			break;
		}
		assert_true(tp_now_ms() < end);
		/* the old primary back, for WAIT 1 on the new one */
		if (!tp_proc_alive(&old->p) &&
		    (p = master_port(&s->sent[1], 1)) != oldport && p > 0)
			assert_int_equal(restart_as_replica(old, p), 0);
		tp_sleep_ms(20);
	}
	assert_true(idx >= 0);
	p = master_port(&s->sent[1], 1);
	fprintf(stderr, "# restarted vsetd: first write on shard 1 after "
	    "%lld ms, on %d (was %d)\n", (long long)(tp_now_ms() - t0), p,
	    oldport);
	assert_int_not_equal(p, oldport);
	assert_non_null(rc = tp_redis_connect(node_on(s, 1, p), 2000));
	assert_int_equal(tp_vemb(rc, COLL, s->d->ids[idx], NULL, 0), 1);
	redisFree(rc);
	vs_close(c);
	assert_int_equal(tp_vsetd_term(&s->v, 5000), 0);
}

/* 4. A primary demoted behind the Sentinels' back (REPLICAOF to a port
 * where nothing listens: read-only, data kept): a write through vsetd n
 * (no WAIT) gets READONLY, which is never an acknowledgement. */
static void
test_readonly_never_acked(void **st)
{
	struct state *s = *st;
	struct tp_redis *prim;
	vs_client *c = NULL;
	vs_write_result *wr = NULL;
	redisContext *rc;
	redisReply *r;
	size_t i;
	int rv, idx = -1;

	assert_non_null(prim = node_on(s, 1, master_port(&s->sent[1], 1)));
	for (i = 0; i < s->dn->n && idx < 0; i++)
		if (s->dn->owner[i] == 1 && !s->ln.acked[i])
			idx = (int)i;
	assert_true(idx >= 0);
	assert_int_equal(rel_connect(&c, s->n.url, CALL_MS), VS_OK);
	assert_non_null(r = tp_redis_cmd(prim, "REPLICAOF 127.0.0.1 1"));
	freeReplyObject(r);
	rv = vs_insert(c, COLL, &s->dn->items[idx], 1, &wr);
	fprintf(stderr, "# write to a demoted primary: %s %s\n",
	    vs_code_name(rv), vs_errmsg());
	assert_non_null(r = tp_redis_cmd(prim, "REPLICAOF NO ONE"));
	freeReplyObject(r);
	assert_int_equal(rv, VS_UNAVAILABLE);
	assert_non_null(wr);
	assert_int_equal(wr->items[0].outcome, VS_WRITE_FAILED);
	assert_int_equal(wr->items[0].code, VS_UNAVAILABLE);
	assert_non_null(strstr(wr->items[0].message, "READONLY"));
	assert_non_null(strstr(wr->items[0].message, "failover in progress"));
	vs_write_result_free(wr);
	assert_non_null(rc = tp_redis_connect(prim, 2000));
	assert_int_equal(tp_vemb(rc, COLL, s->dn->ids[idx], NULL, 0), 0);
	redisFree(rc);
	vs_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_start_errors),
		cmocka_unit_test(test_failovers),
		cmocka_unit_test(test_restart_during_failover),
		cmocka_unit_test(test_readonly_never_acked),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
