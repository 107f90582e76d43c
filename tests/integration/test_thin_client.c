/*
 * test_thin_client.c - the C library's tcp:// transport without libnng
 * (clients/c/src/vs_sp.c, issue 13), against STOCK nng peers and broken
 * ones.  What a caller relies on:
 *   - against nngcat --rep (libnng's own REP socket in another process)
 *     a call goes out as one SP request and the reply comes back decoded,
 *     from several threads at once on one client; and this process starts
 *     no thread to do it (no nng task or poller threads);
 *   - VS_TRANSPORT=nng puts tcp:// back on libnng, with the same answers;
 *   - no server: vs_connect says UNAVAILABLE at once; a listener that is
 *     not SP (it sends an HTTP line): UNAVAILABLE naming the handshake; a
 *     REP that never answers: DEADLINE_EXCEEDED within the timeout plus
 *     the documented grace (VS_REPLY_GRACE_MS, 250 ms) and a margin;
 *   - the server restarts between two calls: the next call dials again
 *     and succeeds (the dead idle connection is noticed before sending).
 * The other direction (stock nng REQ clients against vsetd's native
 * tcp:// listener) is tests/python/test_transport.py and
 * tests/conformance (nngcat --req).
 */
#include <dirent.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "tp_proc.h"
#include "vsetd.h"
#include "vsetd.pb-c.h"

#define TIMEOUT_MS 2000
#define SHORT_TIMEOUT_MS 300
#define GRACE_MS 250                 /* VS_REPLY_GRACE_MS */
#define MARGIN_MS 1500               /* a busy 2-core machine */
#define START_WAIT_MS 5000
#define COUNT_ANSWER 42
#define NTHREADS 4
#define CALLS_PER_THREAD 50
#define LISTEN_BACKLOG 4             /* listen() backlog of a fake peer */

struct fx {
	char dir[256];
	char reply[300];             /* the file nngcat answers with */
	int port;
	char url[64];
	struct tp_proc rep;
	int running;
};

/* A ReplyEnvelope carrying CountResponse{count = COUNT_ANSWER}. */
static void
write_reply(struct fx *t)
{
	Vsetd__V1__CountResponse cr = VSETD__V1__COUNT_RESPONSE__INIT;
	Vsetd__V1__ReplyEnvelope env = VSETD__V1__REPLY_ENVELOPE__INIT;
	uint8_t payload[64], buf[128];
	size_t n;
	FILE *f;

	cr.count = COUNT_ANSWER;
	env.payload.len = vsetd__v1__count_response__pack(&cr, payload);
	env.payload.data = payload;
	n = vsetd__v1__reply_envelope__pack(&env, buf);
	snprintf(t->reply, sizeof(t->reply), "%s/reply.bin", t->dir);
	assert_non_null(f = fopen(t->reply, "wb"));
	assert_int_equal(fwrite(buf, 1, n, f), n);
	fclose(f);
}

/* nngcat --rep on t->port: every request gets the reply file. */
static void
rep_start(struct fx *t)
{
	char listen[80], log[300];
	const char *argv[] = { getenv("NNGCAT"), "--rep", "--listen", listen,
	    "--raw", "--file", t->reply, NULL };
	int64_t end;
	vs_client *c = NULL;

	assert_non_null(argv[0]);
	snprintf(listen, sizeof(listen), "tcp://127.0.0.1:%d", t->port);
	snprintf(log, sizeof(log), "%s/nngcat.log", t->dir);
	assert_int_equal(tp_proc_start(&t->rep, argv, NULL, t->dir, log), 0);
	t->running = 1;
	/* up when a connect succeeds */
	for (end = tp_now_ms() + START_WAIT_MS; ; tp_sleep_ms(20)) {
		if (vs_connect(&c, t->url, TIMEOUT_MS) == VS_OK)
			break;
		assert_true(tp_now_ms() < end);
	}
	vs_close(c);
}

static void
rep_stop(struct fx *t)
{
	if (t->running)
		tp_proc_kill(&t->rep);
	t->running = 0;
}

static int
setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));

	if (t == NULL || tp_tmpdir(t->dir, sizeof(t->dir), "thin") != 0)
		return -1;
	t->port = tp_free_port();
	snprintf(t->url, sizeof(t->url), "tcp://127.0.0.1:%d", t->port);
	unsetenv("VS_TRANSPORT");
	*state = t;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *t = *state;

	rep_stop(t);
	unsetenv("VS_TRANSPORT");
	tp_rmtree(t->dir);
	free(t);
	return 0;
}

static int
count_of(vs_client *c, uint64_t *n)
{
	vs_count_result *r = NULL;
	int code = vs_count(c, "any", &r);

	if (code == VS_OK) {
		*n = r->count;
		vs_count_result_free(r);
	}
	return code;
}

static int
threads_now(void)
{
	DIR *d = opendir("/proc/self/task");
	struct dirent *e;
	int n = 0;

	if (d == NULL)
		return -1;
	while ((e = readdir(d)) != NULL)
		n += e->d_name[0] != '.';
	closedir(d);
	return n;
}

static void *
caller(void *arg)
{
	vs_client *c = arg;
	uint64_t n = 0;
	intptr_t bad = 0;
	int i;

	for (i = 0; i < CALLS_PER_THREAD; i++)
		if (count_of(c, &n) != VS_OK || n != COUNT_ANSWER)
			bad++;
	return (void *)bad;
}

static void
test_stock_rep_peer(void **state)
{
	struct fx *t = *state;
	pthread_t th[NTHREADS];
	vs_client *c;
	uint64_t n = 0;
	void *bad;
	int before, i;

	write_reply(t);
	rep_start(t);
	before = threads_now();
	assert_int_equal(vs_connect(&c, t->url, TIMEOUT_MS), VS_OK);
	assert_int_equal(count_of(c, &n), VS_OK);
	assert_int_equal(n, COUNT_ANSWER);
	/* the whole exchange ran on this thread: nothing was started */
	assert_int_equal(threads_now(), before);
	for (i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&th[i], NULL, caller, c), 0);
	for (i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], &bad), 0);
		assert_int_equal((intptr_t)bad, 0);
	}
	vs_close(c);

	/* the same peer through libnng's REQ socket */
	setenv("VS_TRANSPORT", "nng", 1);
	assert_int_equal(vs_connect(&c, t->url, TIMEOUT_MS), VS_OK);
	n = 0;
	assert_int_equal(count_of(c, &n), VS_OK);
	assert_int_equal(n, COUNT_ANSWER);
	vs_close(c);
}

static void
test_restart_between_calls(void **state)
{
	struct fx *t = *state;
	vs_client *c;
	uint64_t n = 0;

	write_reply(t);
	rep_start(t);
	assert_int_equal(vs_connect(&c, t->url, TIMEOUT_MS), VS_OK);
	assert_int_equal(count_of(c, &n), VS_OK);
	rep_stop(t);
	rep_start(t);
	n = 0;
	assert_int_equal(count_of(c, &n), VS_OK);
	assert_int_equal(n, COUNT_ANSWER);
	vs_close(c);
}

static void
test_no_server(void **state)
{
	struct fx *t = *state;
	vs_client *c = NULL;
	int64_t t0 = tp_now_ms();

	assert_int_equal(vs_connect(&c, t->url, TIMEOUT_MS), VS_UNAVAILABLE);
	assert_null(c);
	assert_true(tp_now_ms() - t0 < TIMEOUT_MS);
	assert_non_null(strstr(vs_errmsg(), "cannot connect"));
	/* malformed tcp:// URLs are nng's business, and refused */
	assert_int_not_equal(vs_connect(&c, "tcp://127.0.0.1", TIMEOUT_MS),
	    VS_OK);
}

/* A TCP listener on an ephemeral loopback port (the test's fake peer);
 * its "tcp://127.0.0.1:PORT" url in url.  The caller closes it. */
static int
loopback_listen(char *url, size_t size)
{
	struct sockaddr_in a;
	socklen_t len = sizeof(a);
	int ls;

	memset(&a, 0, sizeof(a));
	a.sin_family = AF_INET;
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	assert_true((ls = socket(AF_INET, SOCK_STREAM, 0)) >= 0);
	assert_int_equal(bind(ls, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(ls, LISTEN_BACKLOG), 0);
	assert_int_equal(getsockname(ls, (struct sockaddr *)&a, &len), 0);
	snprintf(url, size, "tcp://127.0.0.1:%d", ntohs(a.sin_port));
	return ls;
}

/* A listener that answers an HTTP status line instead of SP. */
static void *
http_peer(void *arg)
{
	int ls = (int)(intptr_t)arg, fd;
	static const char line[] = "HTTP/1.1 400 Bad Request\r\n\r\n";

	if ((fd = accept(ls, NULL, NULL)) >= 0) {
		if (write(fd, line, sizeof(line) - 1) < 0)
			perror("write");
		tp_sleep_ms(200);
		close(fd);
	}
	return NULL;
}

static void
test_not_sp(void **state)
{
	struct fx *t = *state;
	pthread_t th;
	vs_client *c = NULL;
	char url[64];
	int ls;

	(void)t;
	ls = loopback_listen(url, sizeof(url));
	assert_int_equal(pthread_create(&th, NULL, http_peer,
	    (void *)(intptr_t)ls), 0);
	assert_int_equal(vs_connect(&c, url, TIMEOUT_MS), VS_UNAVAILABLE);
	assert_non_null(strstr(vs_errmsg(), "not an SP REP endpoint"));
	pthread_join(th, NULL);
	close(ls);
}

/* A REP peer that reads requests and never answers: the SP handshake,
 * then silence. */
static void *
mute_peer(void *arg)
{
	int ls = (int)(intptr_t)arg, fd;
	static const unsigned char hs[8] = { 0, 'S', 'P', 0, 0, 0x31, 0, 0 };
	char buf[256];

	if ((fd = accept(ls, NULL, NULL)) >= 0) {
		if (write(fd, hs, sizeof(hs)) < 0)
			perror("write");
		while (read(fd, buf, sizeof(buf)) > 0)
			;
		close(fd);
	}
	return NULL;
}

static void
test_mute_peer_deadline(void **state)
{
	pthread_t th;
	vs_client *c = NULL;
	uint64_t n;
	int64_t t0, took;
	char url[64];
	int ls;

	(void)state;
	ls = loopback_listen(url, sizeof(url));
	assert_int_equal(pthread_create(&th, NULL, mute_peer,
	    (void *)(intptr_t)ls), 0);
	assert_int_equal(vs_connect(&c, url, SHORT_TIMEOUT_MS), VS_OK);
	t0 = tp_now_ms();
	assert_int_equal(count_of(c, &n), VS_DEADLINE_EXCEEDED);
	took = tp_now_ms() - t0;
	printf("# a mute REP peer: DEADLINE_EXCEEDED after %lld ms (timeout "
	    "%d + grace %d)\n", (long long)took, SHORT_TIMEOUT_MS, GRACE_MS);
	assert_true(took >= SHORT_TIMEOUT_MS);
	assert_true(took <= SHORT_TIMEOUT_MS + GRACE_MS + MARGIN_MS);
	vs_close(c);                 /* the peer sees EOF and ends */
	pthread_join(th, NULL);
	close(ls);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_stock_rep_peer, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_restart_between_calls,
		    setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_server, setup,
		    teardown),
		cmocka_unit_test_setup_teardown(test_not_sp, setup, teardown),
		cmocka_unit_test_setup_teardown(test_mute_peer_deadline, setup,
		    teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
