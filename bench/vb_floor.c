/*
 * vb_floor.c - `vset-bench floor`: what one request costs before any shard
 * is involved.
 *
 *   echo   an nng REQ/REP echo: a child process serves a REP socket the
 *          cheapest way nng allows (contexts whose callbacks send the
 *          request straight back), and this process sends it --requests
 *          messages of --bytes bytes, one at a time, over loopback TCP.
 *          The child's CPU per request is the nng library's own cost of
 *          receiving and answering a message: no server built on nng REP
 *          sockets can spend less.
 *   vsetd  with --server: the same number of Search calls through
 *          libvsetd-client, on a collection name vsetd refuses
 *          (INVALID_ARGUMENT), so vsetd receives, checks, decodes,
 *          validates and answers each one without touching a shard.  With
 *          --vsetd-pid, vsetd's CPU per request.
 *
 * Together they split vsetd's per-search CPU and latency into the RPC hop
 * (echo), vsetd's fixed cost (vsetd minus echo) and the shard round (a
 * real search minus vsetd here).  Loopback only: the echo server binds
 * 127.0.0.1, and --server should be a local vsetd for the CPU figure.
 *
 * Why the echo server is a child process: its CPU must be counted apart
 * from the client's, and nng's threads are not fork-safe, so the child is
 * forked before this process touches nng.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/reqrep0/rep.h>
#include <nng/protocol/reqrep0/req.h>

#include "vb_floor.h"
#include "vb_proc.h"
#include "vs_hist.h"
#include "vs_time.h"
#include "vsetd.h"

#define VB_FLOOR_SLOTS 8
#define VB_FLOOR_TIMEOUT_MS 5000
#define VB_FLOOR_DIM 784            /* a Fashion-MNIST query */
#define VB_FLOOR_MAX_ERRORS 10      /* then stop: the server is not there */

struct vb_floor_opts {
	const char *server;
	long requests;
	long bytes;
	long vsetd_pid;
	int json;
};

struct vb_floor_result {
	vs_hist lat;
	double cpu_us;               /* server CPU per request, < 0 unknown */
	long errors;                 /* unexpected outcomes */
};

/* ------------------------------------------------------ the echo child */

struct vb_echo_slot {
	nng_ctx ctx;
	nng_aio *aio;
	int sending;
};

static void
vb_echo_cb(void *arg)
{
	struct vb_echo_slot *e = arg;

	if (nng_aio_result(e->aio) != 0) {
		if (e->sending && nng_aio_get_msg(e->aio) != NULL)
			nng_msg_free(nng_aio_get_msg(e->aio));
		if (nng_aio_result(e->aio) == NNG_ECLOSED)
			return;
		e->sending = 0;
		nng_ctx_recv(e->ctx, e->aio);
		return;
	}
	e->sending = !e->sending;
	if (e->sending)
		nng_ctx_send(e->ctx, e->aio);   /* the request goes back */
	else
		nng_ctx_recv(e->ctx, e->aio);
}

/* The child: serve until the parent goes away (its end of fd closes). */
static void
vb_echo_child(int fd)
{
	struct vb_echo_slot slots[VB_FLOOR_SLOTS];
	nng_socket sock;
	nng_listener l;
	char buf[64];
	int port = 0, i, n;

	if (nng_rep0_open(&sock) != 0 ||
	    nng_listen(sock, "tcp://127.0.0.1:0", &l, 0) != 0 ||
	    nng_listener_get_int(l, NNG_OPT_TCP_BOUND_PORT, &port) != 0)
		_exit(1);
	for (i = 0; i < VB_FLOOR_SLOTS; i++) {
		slots[i].sending = 0;
		if (nng_ctx_open(&slots[i].ctx, sock) != 0 ||
		    nng_aio_alloc(&slots[i].aio, vb_echo_cb, &slots[i]) != 0)
			_exit(1);
		nng_ctx_recv(slots[i].ctx, slots[i].aio);
	}
	n = snprintf(buf, sizeof(buf), "%d\n", port);
	if (write(fd, buf, (size_t)n) != n)
		_exit(1);
	while (read(fd, buf, sizeof(buf)) > 0)
		;                           /* EOF: the parent is done */
	_exit(0);
}

/* Fork the echo server; *pid and *port on success, and *fd to close to
 * stop it. */
static int
vb_echo_start(pid_t *pid, int *port, int *fd)
{
	int sv[2];
	char buf[64];
	ssize_t n;

	/* A socketpair: the child writes its port back on it, and sees EOF
	 * when we close our end (also if we die). */
	if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) != 0)
		return -1;
	if ((*pid = fork()) < 0) {
		close(sv[0]);
		close(sv[1]);
		return -1;
	}
	if (*pid == 0) {
		close(sv[0]);
		vb_echo_child(sv[1]);
	}
	close(sv[1]);
	*fd = sv[0];
	n = read(sv[0], buf, sizeof(buf) - 1);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	*port = atoi(buf);
	return *port > 0 ? 0 : -1;
}

static int
vb_floor_echo(const struct vb_floor_opts *o, struct vb_floor_result *r)
{
	vb_proc_sample before, after;
	nng_socket sock = NNG_SOCKET_INITIALIZER;
	nng_ctx ctx;
	nng_aio *aio = NULL;
	nng_msg *msg;
	char url[64];
	pid_t pid = -1;
	int port, fd = -1, rv = -1, have_cpu;
	long i;

	r->cpu_us = -1;
	if (vb_echo_start(&pid, &port, &fd) != 0) {
		fprintf(stderr, "vset-bench floor: cannot start the echo "
		    "server\n");
		goto out;
	}
	snprintf(url, sizeof(url), "tcp://127.0.0.1:%d", port);
	if (nng_req0_open(&sock) != 0 || nng_dial(sock, url, NULL, 0) != 0 ||
	    nng_ctx_open(&ctx, sock) != 0 ||
	    nng_aio_alloc(&aio, NULL, NULL) != 0) {
		fprintf(stderr, "vset-bench floor: cannot reach the echo "
		    "server at %s\n", url);
		goto out;
	}
	nng_aio_set_timeout(aio, VB_FLOOR_TIMEOUT_MS);
	have_cpu = vb_proc_read(pid, &before) == 0;
	for (i = 0; i < o->requests && r->errors < VB_FLOOR_MAX_ERRORS; i++) {
		int64_t t0 = vs_now_us();

		if (nng_msg_alloc(&msg, (size_t)o->bytes) != 0)
			goto out;
		memset(nng_msg_body(msg), 0x5a, (size_t)o->bytes);
		nng_aio_set_msg(aio, msg);
		nng_ctx_send(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			nng_msg_free(msg);
			r->errors++;
			continue;
		}
		nng_ctx_recv(ctx, aio);
		nng_aio_wait(aio);
		if (nng_aio_result(aio) != 0) {
			r->errors++;
			continue;
		}
		msg = nng_aio_get_msg(aio);
		if (nng_msg_len(msg) != (size_t)o->bytes)
			r->errors++;
		nng_msg_free(msg);
		vs_hist_record(&r->lat, (uint64_t)(vs_now_us() - t0));
	}
	if (have_cpu && vb_proc_read(pid, &after) == 0 && o->requests > 0)
		r->cpu_us = (after.cpu_s - before.cpu_s) * 1e6 /
		    (double)o->requests;
	rv = 0;
out:
	if (aio != NULL)
		nng_aio_free(aio);
	nng_close(sock);
	if (fd >= 0)
		close(fd);
	if (pid > 0)
		waitpid(pid, NULL, 0);
	return rv;
}

/* ------------------------------------------------------ through vsetd */

static int
vb_floor_vsetd(const struct vb_floor_opts *o, struct vb_floor_result *r)
{
	static float vec[VB_FLOOR_DIM];
	vb_proc_sample before, after;
	vs_search_params p;
	vs_search_result *res;
	vs_client *c = NULL;
	int have_cpu = 0, rv;
	long i;

	r->cpu_us = -1;
	if (vs_connect(&c, o->server, VB_FLOOR_TIMEOUT_MS) != VS_OK) {
		fprintf(stderr, "vset-bench floor: %s: %s\n", o->server,
		    vs_errmsg());
		return -1;
	}
	for (i = 0; i < VB_FLOOR_DIM; i++)
		vec[i] = (float)(i % 17) + 0.5f;
	memset(&p, 0, sizeof(p));
	/* A name vsetd refuses (a space), so no shard is asked. */
	p.collection = "floor probe";
	p.vector = vec;
	p.dim = VB_FLOOR_DIM;
	p.k = 10;
	if (o->vsetd_pid > 0)
		have_cpu = vb_proc_read((pid_t)o->vsetd_pid, &before) == 0;
	for (i = 0; i < o->requests && r->errors < VB_FLOOR_MAX_ERRORS; i++) {
		int64_t t0 = vs_now_us();

		res = NULL;
		rv = vs_search(c, &p, &res);
		vs_hist_record(&r->lat, (uint64_t)(vs_now_us() - t0));
		if (rv != VS_INVALID_ARGUMENT) {
			if (r->errors++ == 0)
				fprintf(stderr, "vset-bench floor: expected "
				    "INVALID_ARGUMENT, got %d: %s\n", rv,
				    vs_errmsg());
			if (rv == VS_OK)
				vs_search_result_free(res);
		}
	}
	if (have_cpu && vb_proc_read((pid_t)o->vsetd_pid, &after) == 0 &&
	    o->requests > 0)
		r->cpu_us = (after.cpu_s - before.cpu_s) * 1e6 /
		    (double)o->requests;
	vs_close(c);
	return 0;
}

/* ------------------------------------------------------------ report */

static void
vb_floor_print(const char *name, const struct vb_floor_result *r, int json,
    int last)
{
	const vs_hist *h = &r->lat;

	if (json) {
		printf("\"%s\":{\"requests\":%llu,\"errors\":%ld,"
		    "\"p50_ms\":%.4f,\"p99_ms\":%.4f,\"max_ms\":%.4f",
		    name, (unsigned long long)vs_hist_count(h), r->errors,
		    vs_hist_percentile(h, 50) / 1000.0,
		    vs_hist_percentile(h, 99) / 1000.0,
		    (double)vs_hist_max(h) / 1000.0);
		if (r->cpu_us >= 0)
			printf(",\"server_cpu_us_per_req\":%.1f", r->cpu_us);
		printf("}%s", last ? "" : ",");
		return;
	}
	printf("%-6s %8llu %6ld %9.1f %9.1f %9.1f", name,
	    (unsigned long long)vs_hist_count(h), r->errors,
	    vs_hist_percentile(h, 50), vs_hist_percentile(h, 99),
	    (double)vs_hist_max(h));
	if (r->cpu_us >= 0)
		printf(" %13.1f\n", r->cpu_us);
	else
		printf(" %13s\n", "-");
}

static void
vb_floor_usage(FILE *f)
{
	fprintf(f,
"usage: vset-bench floor [--server URL [--vsetd-pid PID]] [--requests N]\n"
"                        [--bytes B] [--json]\n"
"\n"
"The fixed cost of one request, with no shard work: an nng REQ/REP echo of\n"
"B-byte messages over loopback (a child process serves it; its CPU per\n"
"request is nng's own), and with --server the same number of Search calls\n"
"that vsetd refuses after decoding them (collection \"floor probe\").\n"
"One caller, one request at a time.\n"
"\n"
"  --server URL      a vsetd to measure as well (loopback for CPU figures)\n"
"  --vsetd-pid PID   report that vsetd's CPU per request (same host)\n"
"  --requests N      requests in each measurement (default 20000)\n"
"  --bytes B         echo message size (default 3300: a 784-float Search)\n"
"  --json            one JSON object: {\"echo\":{...},\"vsetd\":{...}}\n"
"  -h, --help        this help\n");
}

int
vb_floor_main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, 's' },
		{ "vsetd-pid", required_argument, NULL, 'p' },
		{ "requests", required_argument, NULL, 'n' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "json", no_argument, NULL, 'j' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct vb_floor_opts o;
	struct vb_floor_result echo, vsd;
	char *end;
	int c, rv = 1;

	memset(&o, 0, sizeof(o));
	o.requests = 20000;
	o.bytes = 3300;
	optind = 1;
	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (c) {
		case 's':
			o.server = optarg;
			break;
		case 'p':
		case 'n':
		case 'b': {
			long v = strtol(optarg, &end, 10);

			if (*optarg == '\0' || *end != '\0' || v < 1 ||
			    (c == 'n' && v > 10000000) ||
			    (c == 'b' && v > 16 * 1024 * 1024)) {
				fprintf(stderr, "vset-bench floor: bad value "
				    "\"%s\" for --%s\n", optarg, c == 'p' ?
				    "vsetd-pid" : c == 'n' ? "requests" :
				    "bytes");
				return 2;
			}
			if (c == 'p')
				o.vsetd_pid = v;
			else if (c == 'n')
				o.requests = v;
			else
				o.bytes = v;
			break;
		}
		case 'j':
			o.json = 1;
			break;
		case 'h':
			vb_floor_usage(stdout);
			return 0;
		default:
			vb_floor_usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "vset-bench floor: unexpected argument \"%s\"\n",
		    argv[optind]);
		return 2;
	}
	memset(&echo, 0, sizeof(echo));
	memset(&vsd, 0, sizeof(vsd));
	vs_hist_reset(&echo.lat);
	vs_hist_reset(&vsd.lat);
	if (vb_floor_echo(&o, &echo) != 0)
		return 1;
	if (o.server != NULL && vb_floor_vsetd(&o, &vsd) != 0)
		return 1;
	if (o.json) {
		printf("{");
		vb_floor_print("echo", &echo, 1, o.server == NULL);
		if (o.server != NULL)
			vb_floor_print("vsetd", &vsd, 1, 1);
		printf("}\n");
	} else {
		printf("%-6s %8s %6s %9s %9s %9s %13s\n", "path", "requests",
		    "errors", "p50_us", "p99_us", "max_us", "server_cpu_us");
		vb_floor_print("echo", &echo, 0, 0);
		if (o.server != NULL)
			vb_floor_print("vsetd", &vsd, 0, 0);
	}
	rv = echo.errors + vsd.errors > 0 ? 1 : 0;
	return rv;
}
