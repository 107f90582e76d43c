/*
 * test_stats.c - the stats survey (--survey-listen) and Prometheus metrics
 * (--metrics-listen) against a real vsetd and real Redis shards: the
 * counts they report are the calls this test made, and a killed shard
 * shows up as errors and an open breaker.  Calls through the
 * Redis-protocol door (--resp-listen) are counted apart from RPCs (the
 * `frontend` label, and the survey's by_frontend), and in the totals.
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include <nng/nng.h>
#include <nng/protocol/survey0/survey.h>

#include "harness.h"
#include "stats.pb-c.h"
#include "vsetd.h"

#define NSEARCH 20
#define NCOUNT_RPC 3                 /* Count calls over the RPC listener */
#define NCOUNT_RESP 5                /* VCARD through the RESP door */

static h_cluster *cl;
static char survey_url[64], metrics_url[64], resp_addr[64];
static int metrics_port, resp_port;

static int
free_port(void)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    getsockname(fd, (struct sockaddr *)&a, &len) != 0)
		port = -1;
	else
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int
setup(void **state)
{
	const char *args[] = { "--survey-listen", survey_url,
	    "--metrics-listen", metrics_url, "--resp-listen", resp_addr, NULL };

	(void)state;
	snprintf(survey_url, sizeof(survey_url), "tcp://127.0.0.1:%d",
	    free_port());
	metrics_port = free_port();
	resp_port = free_port();
	snprintf(resp_addr, sizeof(resp_addr), "127.0.0.1:%d", resp_port);
	snprintf(metrics_url, sizeof(metrics_url), "http://127.0.0.1:%d",
	    metrics_port);
	return h_cluster_start(&cl, 2, args);
}

static int
teardown(void **state)
{
	(void)state;
	h_cluster_destroy(cl);
	return 0;
}

/* One survey round: the report of our one vsetd, or NULL.  Retries while
 * the surveyor's pipe is not yet connected (surveys reach only connected
 * pipes). */
static Vsetd__V1__StatsReport *
survey(void)
{
	Vsetd__V1__StatsReport *rep = NULL;
	nng_socket s;
	nng_msg *m;
	int i;

	if (nng_surveyor0_open(&s) != 0)
		return NULL;
	nng_socket_set_ms(s, NNG_OPT_SURVEYOR_SURVEYTIME, 500);
	if (nng_dial(s, survey_url, NULL, 0) != 0)
		goto out;
	for (i = 0; i < 10 && rep == NULL; i++) {
		if (nng_msg_alloc(&m, 0) != 0)
			break;
		if (nng_sendmsg(s, m, 0) != 0) {
			nng_msg_free(m);
			continue;
		}
		if (nng_recvmsg(s, &m, 0) != 0)
			continue;       /* survey timed out: try again */
		rep = vsetd__v1__stats_report__unpack(NULL, nng_msg_len(m),
		    nng_msg_body(m));
		nng_msg_free(m);
	}
out:
	nng_close(s);
	return rep;
}

static uint64_t
code_count(const Vsetd__V1__StatsReport *r, const char *method,
    const char *code)
{
	size_t i, j;

	for (i = 0; i < r->n_methods; i++) {
		if (strcmp(r->methods[i]->method, method) != 0)
			continue;
		for (j = 0; j < r->methods[i]->n_codes; j++)
			if (strcmp(r->methods[i]->codes[j]->code, code) == 0)
				return r->methods[i]->codes[j]->count;
	}
	return 0;
}

static const Vsetd__V1__MethodStats *
method(const Vsetd__V1__StatsReport *r, const char *name)
{
	size_t i;

	for (i = 0; i < r->n_methods; i++)
		if (strcmp(r->methods[i]->method, name) == 0)
			return r->methods[i];
	return NULL;
}

/* GET /metrics over a plain socket; malloc'd body or NULL. */
static char *
http_get_metrics(void)
{
	struct sockaddr_in a;
	char *buf = NULL, *body;
	size_t len = 0, cap = 0;
	ssize_t n;
	int fd;
	const char req[] = "GET /metrics HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n";
	struct timeval tv = { 5, 0 };

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)metrics_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if ((fd = socket(AF_INET, SOCK_STREAM, 0)) < 0)
		return NULL;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) != 0 ||
	    write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1))
		goto out;
	for (;;) {
		if (cap - len < 4096) {
			char *p = realloc(buf, cap + 65536);

			if (p == NULL)
				goto out;
			buf = p;
			cap += 65536;
		}
		if ((n = read(fd, buf + len, cap - len - 1)) <= 0)
			break;
		len += (size_t)n;
	}
	buf[len] = '\0';
	if (strncmp(buf, "HTTP/1.", 7) != 0 || strstr(buf, " 200 ") == NULL ||
	    (body = strstr(buf, "\r\n\r\n")) == NULL)
		goto out;
	memmove(buf, body + 4, strlen(body + 4) + 1);
	close(fd);
	return buf;
out:
	close(fd);
	free(buf);
	return NULL;
}

/* The MethodStats of one front end in the survey's by_frontend, or NULL. */
static const Vsetd__V1__MethodStats *
method_from(const Vsetd__V1__StatsReport *r, const char *name,
    const char *frontend)
{
	size_t i;

	for (i = 0; i < r->n_by_frontend; i++)
		if (strcmp(r->by_frontend[i]->method, name) == 0 &&
		    strcmp(r->by_frontend[i]->frontend, frontend) == 0)
			return r->by_frontend[i];
	return NULL;
}

/* Send one RESP command over fd and read its reply (one line) into buf. */
static int
resp_cmd(int fd, const char *cmd, char *buf, size_t len)
{
	size_t got = 0;
	ssize_t n;

	if (write(fd, cmd, strlen(cmd)) != (ssize_t)strlen(cmd))
		return -1;
	while (got + 1 < len && (got < 2 || memcmp(buf + got - 2, "\r\n", 2))) {
		if ((n = read(fd, buf + got, len - 1 - got)) <= 0)
			return -1;
		got += (size_t)n;
	}
	buf[got] = '\0';
	return 0;
}

static void
test_frontend_label(void **state)
{
	struct sockaddr_in a;
	struct timeval tv = { 5, 0 };
	vs_count_result *cr;
	vs_client *c;
	Vsetd__V1__StatsReport *r;
	const Vsetd__V1__MethodStats *ms;
	char *text, line[200], reply[64];
	int i, fd;

	(void)state;
	assert_int_equal(vs_connect(&c, h_vsetd_url(cl), 2000), VS_OK);
	for (i = 0; i < NCOUNT_RPC; i++) {
		assert_int_equal(vs_count(c, "fe", &cr), VS_OK);
		vs_count_result_free(cr);
	}
	vs_close(c);
	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_port = htons((uint16_t)resp_port);
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((fd = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	for (i = 0; i < NCOUNT_RESP; i++) {
		assert_int_equal(resp_cmd(fd, "*2\r\n$5\r\nVCARD\r\n$2\r\nfe\r\n",
		    reply, sizeof(reply)), 0);
		assert_string_equal(reply, ":0\r\n");
	}
	close(fd);

	text = http_get_metrics();
	assert_non_null(text);
	snprintf(line, sizeof(line), "vsetd_requests_total{method=\"Count\","
	    "code=\"OK\",frontend=\"rpc\"} %d\n", NCOUNT_RPC);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "vsetd_requests_total{method=\"Count\","
	    "code=\"OK\",frontend=\"resp\"} %d\n", NCOUNT_RESP);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "vsetd_request_duration_seconds_count"
	    "{method=\"Count\",frontend=\"resp\"} %d\n", NCOUNT_RESP);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "vsetd_request_duration_seconds_count"
	    "{method=\"Count\",frontend=\"rpc\"} %d\n", NCOUNT_RPC);
	assert_non_null(strstr(text, line));
	free(text);

	r = survey();
	assert_non_null(r);
	/* the totals count both front ends, as before the label */
	assert_int_equal(code_count(r, "Count", "OK"), NCOUNT_RPC + NCOUNT_RESP);
	ms = method_from(r, "Count", "resp");
	assert_non_null(ms);
	assert_int_equal(ms->n_codes, 1);
	assert_int_equal(ms->codes[0]->count, NCOUNT_RESP);
	assert_int_equal(ms->latency->count, NCOUNT_RESP);
	ms = method_from(r, "Count", "rpc");
	assert_non_null(ms);
	assert_int_equal(ms->latency->count, NCOUNT_RPC);
	assert_null(method_from(r, "Search", "resp"));
	vsetd__v1__stats_report__free_unpacked(r, NULL);
}

static void
test_counts_and_health(void **state)
{
	float v[4] = { 1, 0, 0, 0 }, bad[3] = { 1, 2, 3 };
	vs_item items[6];
	char ids[6][8];
	vs_search_params p = { "obs", v, 4, 5, 0, 0 };
	vs_search_result *res;
	vs_client *c;
	Vsetd__V1__StatsReport *r;
	const Vsetd__V1__MethodStats *ms;
	char *text, line[200];
	int i;

	(void)state;
	assert_int_equal(vs_connect(&c, h_vsetd_url(cl), 2000), VS_OK);
	for (i = 0; i < 6; i++) {
		snprintf(ids[i], sizeof(ids[i]), "e%d", i);
		items[i].id = ids[i];
		items[i].vector = v;
		items[i].dim = 4;
		items[i].attrs_json = NULL;
	}
	assert_int_equal(vs_insert(c, "obs", items, 6, NULL), VS_OK);
	for (i = 0; i < NSEARCH; i++) {
		assert_int_equal(vs_search(c, &p, &res), VS_OK);
		vs_search_result_free(res);
	}
	p.vector = bad;
	p.dim = 3;
	p.k = 100000;       /* beyond --max-k */
	assert_int_equal(vs_search(c, &p, &res), VS_INVALID_ARGUMENT);

	r = survey();
	assert_non_null(r);
	assert_int_equal(code_count(r, "Search", "OK"), NSEARCH);
	assert_int_equal(code_count(r, "Search", "INVALID_ARGUMENT"), 1);
	assert_int_equal(code_count(r, "Insert", "OK"), 1);
	ms = method(r, "Search");
	assert_non_null(ms);
	assert_int_equal(ms->latency->count, NSEARCH + 1);
	assert_true(ms->latency->p50_us > 0);
	assert_true(ms->latency->histogram.len > 0);
	assert_int_equal(r->n_shards, 2);
	for (i = 0; i < 2; i++) {
		/* each search is one round on every shard (+ the insert's) */
		assert_true(r->shards[i]->ok >= NSEARCH);
		assert_string_equal(r->shards[i]->health, "up");
		assert_int_equal(r->shards[i]->errors, 0);
	}
	assert_int_equal(r->inflight, 0);
	vsetd__v1__stats_report__free_unpacked(r, NULL);

	text = http_get_metrics();
	assert_non_null(text);
	snprintf(line, sizeof(line),
	    "vsetd_requests_total{method=\"Search\",code=\"OK\","
	    "frontend=\"rpc\"} %d\n", NSEARCH);
	assert_non_null(strstr(text, line));
	snprintf(line, sizeof(line), "vsetd_request_duration_seconds_count"
	    "{method=\"Search\",frontend=\"rpc\"} %d\n", NSEARCH + 1);
	assert_non_null(strstr(text, line));
	assert_non_null(strstr(text, "vsetd_shard_up{shard=\"1\""));
	assert_non_null(strstr(text, "# TYPE vsetd_request_duration_seconds histogram"));
	free(text);

	/* The same through `vset stats --json` and as a table. */
	{
		char cmd[512], out[65536], want[64];
		size_t n;
		FILE *f;

		snprintf(cmd, sizeof(cmd), "\"%s\" --json stats --survey %s",
		    getenv("VSET_BIN"), survey_url);
		assert_non_null(f = popen(cmd, "r"));
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		assert_int_equal(pclose(f), 0);
		assert_true(strncmp(out, "{\"routers\":[{", 13) == 0);
		snprintf(want, sizeof(want), "\"OK\":%d", NSEARCH);
		assert_non_null(strstr(out, "\"method\":\"Search\""));
		assert_non_null(strstr(out, want));
		assert_non_null(strstr(out, "\"health\":\"up\""));
		snprintf(cmd, sizeof(cmd), "\"%s\" stats --survey %s",
		    getenv("VSET_BIN"), survey_url);
		assert_non_null(f = popen(cmd, "r"));
		n = fread(out, 1, sizeof(out) - 1, f);
		out[n] = '\0';
		assert_int_equal(pclose(f), 0);
		assert_non_null(strstr(out, "Search"));
		assert_non_null(strstr(out, "127.0.0.1:"));
	}

	/* A dead shard: errors counted, breaker open, metric down. */
	assert_int_equal(h_shard_kill(cl, 1), 0);
	p.vector = v;
	p.dim = 4;
	p.k = 5;
	for (i = 0; i < 5; i++) {
		assert_int_equal(vs_search(c, &p, &res), VS_OK);
		assert_true(res->partial);
		vs_search_result_free(res);
	}
	r = survey();
	assert_non_null(r);
	assert_true(r->shards[1]->errors >= 3);
	assert_string_equal(r->shards[1]->health, "open");
	assert_string_equal(r->shards[0]->health, "up");
	vsetd__v1__stats_report__free_unpacked(r, NULL);
	text = http_get_metrics();
	assert_non_null(text);
	assert_non_null(strstr(text, "vsetd_shard_up{shard=\"1\""));
	{
		const char *l = strstr(text, "vsetd_shard_up{shard=\"1\"");
		const char *eol = strchr(l, '\n');

		assert_true(eol != NULL && eol[-1] == '0');
	}
	free(text);
	vs_close(c);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_frontend_label),
		cmocka_unit_test(test_counts_and_health),
	};

	return cmocka_run_group_tests_name("stats", tests, setup, teardown);
}
