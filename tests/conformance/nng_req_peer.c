/*
 * nng_req_peer.c - a stock libnng REQ client for the interop test
 * (tests/conformance/interop.py): nothing of vsetd's code, only libnng.
 *
 * Why it exists beside nngcat: nngcat --req sends one request at a time.
 * A real libnng application sends several at once on one socket, one per
 * nng_ctx, and libnng puts them all on the same connection (pipe); the
 * server must tell them apart by the SP request id alone and answer each
 * on its own context.  This program does exactly that over any transport
 * libnng speaks (tcp://, tls+tcp://, ipc://, ws://):
 *
 *   nng_req_peer [--cacert FILE] [--server-name NAME] [--resend-ms N]
 *                URL TIMEOUT_MS REQ_FILE OUT_FILE [REQ_FILE OUT_FILE ...]
 *
 * It dials URL (synchronously: no server is an error), sends every
 * REQ_FILE's bytes as one request on its own context, all of them before
 * waiting for any reply, then writes the body of each context's reply to
 * the matching OUT_FILE.  It prints two lines: "pipes N", the number of
 * distinct connections the replies came back on (1 when libnng kept them
 * on one connection), and "order I J ...", the requests (numbered from 0
 * in argument order) in the order their replies arrived; then exits 0.  On
 * any failure it prints the reason to stderr and exits 1.  The Python
 * side encodes the requests and decodes the replies with protoc.
 * --resend-ms sets NNG_OPT_REQ_RESENDTIME: libnng then sends a request
 * again, with the same request id on the same connection, every N ms
 * until its reply arrives (as any nng REQ client may).
 *
 * Memory: every message and aio is this program's; all are freed before
 * exit, also on the error paths (goto out).
 *
 * nng_close() of libnng 1.5.2 can hang for good after REQ resends (seen on
 * ipc://, in libnng's own threads).  The results are printed and flushed
 * before it, and it runs on a helper thread for at most
 * PEER_CLOSE_WAIT_MS: a peer that cannot close still exits, and its
 * answer stands.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>

#define PEER_MAX_REQUESTS 16
#define PEER_MAX_FILE_BYTES (1 << 20)
#define PEER_FIRST_PAIR 3               /* argv index of REQ_FILE 1 */
#define PEER_CLOSE_WAIT_MS 2000
#define PEER_NS_PER_MS 1000000L
#define PEER_NS_PER_S 1000000000L

struct call {
	nng_ctx ctx;
	nng_aio *aio;
	const char *in, *out;
	int open;
	atomic_int receiving;   /* set before the receive is posted */
	int arrival;            /* rank of its reply among all replies */
};

static atomic_int arrivals;

/* aio callback (an nng thread): rank the reply, nothing else.  The send
 * completes through here too, before `receiving` is set. */
static void
on_done(void *arg)
{
	struct call *c = arg;

	if (atomic_load(&c->receiving))
		c->arrival = atomic_fetch_add(&arrivals, 1);
}

static int
usage(void)
{
	fprintf(stderr, "usage: nng_req_peer [--cacert FILE] [--server-name "
	    "NAME] [--resend-ms N] URL TIMEOUT_MS REQ_FILE OUT_FILE "
	    "[REQ_FILE OUT_FILE ...] (at most %d pairs)\n", PEER_MAX_REQUESTS);
	return 1;
}

/* The whole file as a new message: 0, or -1 with the reason printed. */
static int
read_msg(const char *path, nng_msg **out)
{
	FILE *f = fopen(path, "rb");
	char buf[4096];
	nng_msg *m = NULL;
	size_t n, total = 0;
	int rv = -1, e;

	if (f == NULL) {
		perror(path);
		return -1;
	}
	if ((e = nng_msg_alloc(&m, 0)) != 0) {
		fprintf(stderr, "nng_msg_alloc: %s\n", nng_strerror(e));
		goto out;
	}
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		total += n;
		if (total > PEER_MAX_FILE_BYTES) {
			fprintf(stderr, "%s: over %d bytes\n", path,
			    PEER_MAX_FILE_BYTES);
			goto out;
		}
		/* appending, never inserting (nng issue #1808) */
		if ((e = nng_msg_append(m, buf, n)) != 0) {
			fprintf(stderr, "nng_msg_append: %s\n", nng_strerror(e));
			goto out;
		}
	}
	if (ferror(f)) {
		perror(path);
		goto out;
	}
	*out = m;
	m = NULL;
	rv = 0;
out:
	if (m != NULL)
		nng_msg_free(m);
	fclose(f);
	return rv;
}

static int
write_body(const char *path, nng_msg *m)
{
	FILE *f = fopen(path, "wb");
	size_t len = nng_msg_len(m);

	if (f == NULL) {
		perror(path);
		return -1;
	}
	if (fwrite(nng_msg_body(m), 1, len, f) != len) {
		perror(path);
		fclose(f);
		return -1;
	}
	return fclose(f) == 0 ? 0 : -1;
}

static int
setup_tls(nng_dialer d, const char *cacert, const char *name)
{
	nng_tls_config *tls = NULL;
	int e;

	if ((e = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0 ||
	    (e = nng_tls_config_ca_file(tls, cacert)) != 0 ||
	    (e = nng_tls_config_auth_mode(tls,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (name != NULL && (e = nng_tls_config_server_name(tls, name)) != 0) ||
	    (e = nng_dialer_set_ptr(d, NNG_OPT_TLS_CONFIG, tls)) != 0)
		fprintf(stderr, "TLS setup (%s): %s\n", cacert, nng_strerror(e));
	if (tls != NULL)
		nng_tls_config_free(tls);       /* the dialer holds its own */
	return e == 0 ? 0 : -1;
}

struct closer {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	nng_socket sock;
	int done;
};

static void *
closer_main(void *arg)
{
	struct closer *c = arg;

	nng_close(c->sock);
	pthread_mutex_lock(&c->mu);
	c->done = 1;
	pthread_cond_signal(&c->cv);
	pthread_mutex_unlock(&c->mu);
	return NULL;
}

/* nng_close(sock), waiting for it at most PEER_CLOSE_WAIT_MS. */
static void
close_bounded(nng_socket sock)
{
	static struct closer c = { PTHREAD_MUTEX_INITIALIZER,
	    PTHREAD_COND_INITIALIZER, NNG_SOCKET_INITIALIZER, 0 };
	struct timespec until;
	pthread_t th;
	int done;

	c.sock = sock;
	if (pthread_create(&th, NULL, closer_main, &c) != 0) {
		nng_close(sock);
		return;
	}
	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += PEER_CLOSE_WAIT_MS / 1000;
	until.tv_nsec += (long)(PEER_CLOSE_WAIT_MS % 1000) * PEER_NS_PER_MS;
	if (until.tv_nsec >= PEER_NS_PER_S) {
		until.tv_sec++;
		until.tv_nsec -= PEER_NS_PER_S;
	}
	pthread_mutex_lock(&c.mu);
	while (!c.done)
		if (pthread_cond_timedwait(&c.cv, &c.mu, &until) != 0)
			break;
	done = c.done;
	pthread_mutex_unlock(&c.mu);
	if (done)
		pthread_join(th, NULL);
	else
		fprintf(stderr, "nng_close did not return within %d ms "
		    "(libnng); exiting anyway\n", PEER_CLOSE_WAIT_MS);
}

int
main(int argc, char **argv)
{
	struct call calls[PEER_MAX_REQUESTS];
	const char *cacert = NULL, *name = NULL, *url;
	nng_socket sock = NNG_SOCKET_INITIALIZER;
	nng_dialer d;
	nng_msg *m;
	uint32_t pipes[PEER_MAX_REQUESTS];
	int a = 1, i, j, n = 0, e, timeout, resend = 0, npipes = 0, open = 0, rv = 1;

	memset(calls, 0, sizeof(calls));
	while (a + 1 < argc && strncmp(argv[a], "--", 2) == 0) {
		if (strcmp(argv[a], "--cacert") == 0)
			cacert = argv[a + 1];
		else if (strcmp(argv[a], "--server-name") == 0)
			name = argv[a + 1];
		else if (strcmp(argv[a], "--resend-ms") == 0)
			resend = atoi(argv[a + 1]);
		else
			return usage();
		a += 2;
	}
	argc -= a - 1;
	argv += a - 1;
	if (argc < PEER_FIRST_PAIR + 2 || (argc - PEER_FIRST_PAIR) % 2 != 0 ||
	    (argc - PEER_FIRST_PAIR) / 2 > PEER_MAX_REQUESTS)
		return usage();
	url = argv[1];
	timeout = atoi(argv[2]);
	n = (argc - PEER_FIRST_PAIR) / 2;

	if ((e = nng_req0_open(&sock)) != 0) {
		fprintf(stderr, "nng_req0_open: %s\n", nng_strerror(e));
		goto out;
	}
	open = 1;
	if (resend > 0 && (e = nng_socket_set_ms(sock, NNG_OPT_REQ_RESENDTIME,
	    resend)) != 0) {
		fprintf(stderr, "resend time: %s\n", nng_strerror(e));
		goto out;
	}
	if ((e = nng_dialer_create(&d, sock, url)) != 0) {
		fprintf(stderr, "%s: %s\n", url, nng_strerror(e));
		goto out;
	}
	if (cacert != NULL && setup_tls(d, cacert, name) != 0)
		goto out;
	if ((e = nng_dialer_start(d, 0)) != 0) {
		fprintf(stderr, "dial %s: %s\n", url, nng_strerror(e));
		goto out;
	}
	/* Every request out before any reply is awaited. */
	for (i = 0; i < n; i++) {
		struct call *c = &calls[i];

		c->in = argv[PEER_FIRST_PAIR + 2 * i];
		c->out = argv[PEER_FIRST_PAIR + 2 * i + 1];
		if ((e = nng_ctx_open(&c->ctx, sock)) != 0 ||
		    (e = nng_aio_alloc(&c->aio, on_done, c)) != 0) {
			fprintf(stderr, "context %d: %s\n", i, nng_strerror(e));
			goto out;
		}
		c->open = 1;
		if (read_msg(c->in, &m) != 0)
			goto out;
		nng_aio_set_timeout(c->aio, timeout);
		nng_aio_set_msg(c->aio, m);
		nng_ctx_send(c->ctx, c->aio);
		nng_aio_wait(c->aio);
		if ((e = nng_aio_result(c->aio)) != 0) {
			/* on failure the message is still on the aio: out frees it */
			fprintf(stderr, "send %d: %s\n", i, nng_strerror(e));
			goto out;
		}
		nng_aio_set_msg(c->aio, NULL);  /* libnng owns it now */
	}
	for (i = 0; i < n; i++) {
		atomic_store(&calls[i].receiving, 1);
		nng_aio_set_timeout(calls[i].aio, timeout);
		nng_ctx_recv(calls[i].ctx, calls[i].aio);
	}
	for (i = 0; i < n; i++) {
		struct call *c = &calls[i];
		uint32_t p;

		nng_aio_wait(c->aio);
		if ((e = nng_aio_result(c->aio)) != 0) {
			fprintf(stderr, "reply %d: %s\n", i, nng_strerror(e));
			goto out;
		}
		m = nng_aio_get_msg(c->aio);
		nng_aio_set_msg(c->aio, NULL);
		p = nng_pipe_id(nng_msg_get_pipe(m));
		e = write_body(c->out, m);
		nng_msg_free(m);
		if (e != 0)
			goto out;
		for (j = 0; j < npipes && pipes[j] != p; j++)
			;
		if (j == npipes)
			pipes[npipes++] = p;
	}
	printf("pipes %d\norder", npipes);
	for (j = 0; j < n; j++)
		for (i = 0; i < n; i++)
			if (calls[i].arrival == j)
				printf(" %d", i);
	printf("\n");
	fflush(stdout);
	rv = 0;
out:
	for (i = 0; i < n && i < PEER_MAX_REQUESTS; i++) {
		if (calls[i].aio != NULL) {
			nng_aio_stop(calls[i].aio);
			if (nng_aio_get_msg(calls[i].aio) != NULL)
				nng_msg_free(nng_aio_get_msg(calls[i].aio));
			nng_aio_free(calls[i].aio);
		}
		if (calls[i].open)
			nng_ctx_close(calls[i].ctx);
	}
	if (open)
		close_bounded(sock);
	return rv;
}
