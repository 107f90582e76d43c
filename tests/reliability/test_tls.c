/*
 * test_tls.c - tls+tcp:// listeners: the handshake succeeds with the right
 * CA and is refused, within bounded time, otherwise.
 *
 * Certificates are made at test time with openssl(1) in the test's temp
 * dir: CA "good" signs the server certificate (subjectAltName IP:127.0.0.1
 * and DNS:localhost) and a client certificate; CA "other" signs a second
 * client certificate and is the wrong CA for the client to trust.
 *
 * The clients verify the server by the name "localhost" (tls_server_name):
 * see test_ip_url for why.
 *
 * vsetd S: server certificate only.
 *   - a client trusting "good" connects and works;
 *   - a client trusting "other" is refused: VS_UNAVAILABLE from
 *     vs_connect_opts, within its timeout + margin;
 *   - a plain tcp:// client cannot talk to it (bounded).
 * vsetd M: --tls-ca good --tls-verify-clients (mutual TLS).
 *   - no client certificate: refused (VS_UNAVAILABLE);
 *   - a certificate from "other": refused;
 *   - a certificate from "good": works.
 * Both stay up throughout and exit 0 on SIGTERM.
 *
 * test_ip_url: a tls+tcp://127.0.0.1:PORT URL with tls_server_name NULL
 * ("the host in the URL", vsetd.h) against a certificate whose
 * subjectAltName has IP:127.0.0.1.  The Debian 12 mbedTLS (2.28) that nng
 * uses compares the expected name only with DNS names and the CN, never
 * with iPAddress entries, so the handshake is refused; the test checks
 * that the error tells the caller to set tls_server_name, and that doing
 * so works.  docs/operations.md has the workarounds.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "rel_data.h"
#include "tp_redis.h"
#include "tp_vsetd.h"
#include "vsetd.h"

#define DIM 8
#define COLL "tls"
#define CONNECT_MS 2000
#define MARGIN_MS 250

struct state {
	char dir[4096];
	char f[8][4200];             /* file paths, see enum */
	struct tp_redis shard;
	char host[1][40];
	struct tp_vsetd s, m;
	struct rel_data *d;
};

enum { CA, CA_OTHER, SRV_CRT, SRV_KEY, CLI_CRT, CLI_KEY, BAD_CRT, BAD_KEY };

/* Run a shell command (our own fixed text plus the temp dir path, which
 * mkdtemp made from $TMPDIR: no quoting hazards expected), output to log. */
static int
sh(const char *dir, const char *cmd)
{
	char buf[16384];
	int rv;

	snprintf(buf, sizeof(buf), "cd '%s' && (%s) >>openssl.log 2>&1", dir,
	    cmd);
	rv = system(buf);
	if (rv != 0) {
		fprintf(stderr, "# command failed (%d): %s\n", rv, cmd);
		snprintf(buf, sizeof(buf), "%s/openssl.log", dir);
		tp_log_tail(buf, 2000);
	}
	return rv;
}

static int
make_certs(struct state *s)
{
	static const char *const names[] = { "ca.crt", "ca2.crt",
	    "server.crt", "server.key", "client.crt", "client.key",
	    "bad.crt", "bad.key" };
	char ext[4200];
	int i;

	for (i = 0; i < 8; i++)
		snprintf(s->f[i], sizeof(s->f[i]), "%s/%s", s->dir, names[i]);
	snprintf(ext, sizeof(ext), "%s/san.ext", s->dir);
	if (tp_write_file(ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
	    "basicConstraints=CA:FALSE\n") != 0)
		return -1;
	return sh(s->dir,
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key "
	    "-out ca.crt -days 2 -subj /CN=vsetd-test-ca && "
	    "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca2.key "
	    "-out ca2.crt -days 2 -subj /CN=vsetd-other-ca && "
	    "openssl req -newkey rsa:2048 -nodes -keyout server.key "
	    "-out server.csr -subj /CN=localhost && "
	    "openssl x509 -req -in server.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out server.crt -days 2 -extfile san.ext && "
	    "openssl req -newkey rsa:2048 -nodes -keyout client.key "
	    "-out client.csr -subj /CN=vsetd-test-client && "
	    "openssl x509 -req -in client.csr -CA ca.crt -CAkey ca.key "
	    "-CAcreateserial -out client.crt -days 2 && "
	    "openssl req -newkey rsa:2048 -nodes -keyout bad.key "
	    "-out bad.csr -subj /CN=vsetd-bad-client && "
	    "openssl x509 -req -in bad.csr -CA ca2.crt -CAkey ca2.key "
	    "-CAcreateserial -out bad.crt -days 2") == 0 ? 0 : -1;
}

static int
group_setup(void **st)
{
	struct state *s;
	const char *args[16] = { "--listen", "tls+tcp://127.0.0.1:0" };
	vs_client *cli = NULL;
	vs_connect_options o;
	int rv;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return -1;
	*st = s;
	if (tp_tmpdir(s->dir, sizeof(s->dir), "tls") != 0 ||
	    make_certs(s) != 0 ||
	    tp_shards_start(&s->shard, 1, s->dir, NULL, NULL, args + 2,
	    s->host) != 0)
		return -1;
	args[4] = "--tls-cert";
	args[5] = s->f[SRV_CRT];
	args[6] = "--tls-key";
	args[7] = s->f[SRV_KEY];
	if (tp_vsetd_start(&s->s, s->dir, "s", args, NULL) != 0)
		return -1;
	args[8] = "--tls-ca";
	args[9] = s->f[CA];
	args[10] = "--tls-verify-clients";
	if (tp_vsetd_start(&s->m, s->dir, "m", args, NULL) != 0)
		return -1;
	if (strncmp(s->s.url, "tls+tcp://", 10) != 0) {
		fprintf(stderr, "# unexpected URL %s\n", s->s.url);
		return -1;
	}
	if ((s->d = rel_data_new("t", 50, DIM, 1, 0x715)) == NULL)
		return -1;
	memset(&o, 0, sizeof(o));
	o.timeout_ms = CONNECT_MS;
	o.tls_ca_file = s->f[CA];
	o.tls_server_name = "localhost";
	if ((rv = vs_connect_opts(&cli, s->s.url, &o)) != VS_OK) {
		fprintf(stderr, "# TLS connect: %s %s\n", vs_code_name(rv),
		    vs_errmsg());
		return -1;
	}
	rv = rel_data_load(cli, COLL, s->d);
	vs_close(cli);
	return rv;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;

	if (s == NULL)
		return 0;
	tp_proc_kill(&s->s.p);
	tp_proc_kill(&s->m.p);
	tp_redis_kill(&s->shard);
	rel_data_free(s->d);
	tp_rmtree(s->dir);
	free(s);
	return 0;
}

#define NAME "localhost"

/* Connect to url with the given files (NULL = none) and make one search.
 * Returns the first non-OK code (connect or search), VS_OK if both
 * worked; fails the test when it took longer than the bound. */
static int
try_tls(struct state *s, const char *url, const char *ca, const char *crt,
    const char *key, const char *server_name)
{
	vs_search_result *res = NULL;
	vs_search_params sp;
	vs_connect_options o;
	vs_client *cli = NULL;
	int64_t t = tp_now_ms();
	int rv;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = CONNECT_MS;
	o.tls_ca_file = ca;
	o.tls_cert_file = crt;
	o.tls_key_file = key;
	o.tls_server_name = server_name;
	rv = vs_connect_opts(&cli, url, &o);
	if (rv == VS_OK) {
		rel_search_params(&sp, s->d, COLL, 0, 5);
		rv = vs_search(cli, &sp, &res);
		if (rv == VS_OK && res->n_hits != 5)
			rv = VS_INTERNAL;
		vs_search_result_free(res);
		vs_close(cli);
	}
	t = tp_now_ms() - t;
	fprintf(stderr, "# %s ca=%s cert=%s: %s (%s) in %lld ms\n", url,
	    ca != NULL ? strrchr(ca, '/') + 1 : "-",
	    crt != NULL ? strrchr(crt, '/') + 1 : "-", vs_code_name(rv),
	    rv == VS_OK ? "" : vs_errmsg(), (long long)t);
	/* Connect and the call each bounded by CONNECT_MS (+ grace). */
	assert_true(t <= 2 * (CONNECT_MS + MARGIN_MS));
	return rv;
}

static void
test_server_auth(void **st)
{
	struct state *s = *st;
	char plain[160];

	assert_int_equal(try_tls(s, s->s.url, s->f[CA], NULL, NULL, NAME),
	    VS_OK);
	/* The wrong CA: the server's certificate is not vouched for. */
	assert_int_equal(try_tls(s, s->s.url, s->f[CA_OTHER], NULL, NULL,
	    NAME), VS_UNAVAILABLE);
	/* A name the certificate does not carry. */
	assert_int_equal(try_tls(s, s->s.url, s->f[CA], NULL, NULL,
	    "not-this-host"), VS_UNAVAILABLE);
	/* Plain TCP against the TLS port gets nowhere (bounded). */
	snprintf(plain, sizeof(plain), "tcp://%s", s->s.url + 10);
	assert_int_not_equal(try_tls(s, plain, NULL, NULL, NULL, NULL),
	    VS_OK);
	assert_true(tp_proc_alive(&s->s.p));
}

/* `vset` over TLS: run it, return its wait status, output in out. */
static int
run_vset(const char *args, char *out, size_t outlen)
{
	char cmd[8192];
	size_t n;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "\"%s\" %s 2>&1", getenv("VSET_BIN"), args);
	if ((f = popen(cmd, "r")) == NULL)
		return -1;
	n = fread(out, 1, outlen - 1, f);
	out[n] = '\0';
	return pclose(f);
}

static void
test_cli(void **st)
{
	struct state *s = *st;
	char args[6000], out[4096];
	int rv;

	snprintf(args, sizeof(args), "--server %s --tls-ca %s "
	    "--tls-server-name %s --json search " COLL " 1,0,0,0,0,0,0,0 -k 3",
	    s->s.url, s->f[CA], NAME);
	rv = run_vset(args, out, sizeof(out));
	fprintf(stderr, "# vset over TLS: %s", out);
	assert_int_equal(rv, 0);
	assert_non_null(strstr(out, "\"results\":[{\"id\""));
	/* no CA: refused before connecting, with the reason */
	snprintf(args, sizeof(args), "--server %s search " COLL
	    " 1,0,0,0,0,0,0,0", s->s.url);
	rv = run_vset(args, out, sizeof(out));
	assert_true(WIFEXITED(rv) && WEXITSTATUS(rv) == 1);
	assert_non_null(strstr(out, "INVALID_ARGUMENT: "));
	assert_non_null(strstr(out, "CA file"));
	/* the wrong CA: UNAVAILABLE */
	snprintf(args, sizeof(args), "--server %s --tls-ca %s "
	    "--tls-server-name %s search " COLL " 1,0,0,0,0,0,0,0",
	    s->s.url, s->f[CA_OTHER], NAME);
	rv = run_vset(args, out, sizeof(out));
	assert_true(WIFEXITED(rv) && WEXITSTATUS(rv) == 1);
	assert_non_null(strstr(out, "UNAVAILABLE: "));
}

static void
test_client_auth(void **st)
{
	struct state *s = *st;

	assert_int_equal(try_tls(s, s->m.url, s->f[CA], NULL, NULL, NAME),
	    VS_UNAVAILABLE);
	assert_int_equal(try_tls(s, s->m.url, s->f[CA], s->f[BAD_CRT],
	    s->f[BAD_KEY], NAME), VS_UNAVAILABLE);
	assert_int_equal(try_tls(s, s->m.url, s->f[CA], s->f[CLI_CRT],
	    s->f[CLI_KEY], NAME), VS_OK);
	/* Refused handshakes did not hurt either server. */
	assert_int_equal(try_tls(s, s->s.url, s->f[CA], NULL, NULL, NAME),
	    VS_OK);
	assert_true(tp_proc_alive(&s->m.p));
}

/* The default server name of an IP URL against an IP subjectAltName:
 * mbedTLS cannot match IP addresses (see the top of the file), so this is
 * refused; what users rely on is that verification stays strict and the
 * error says what to do instead. */
static void
test_ip_url(void **st)
{
	struct state *s = *st;
	vs_connect_options o;
	vs_client *cli = NULL;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = CONNECT_MS;
	o.tls_ca_file = s->f[CA];
	assert_int_equal(vs_connect_opts(&cli, s->s.url, &o), VS_UNAVAILABLE);
	fprintf(stderr, "# %s\n", vs_errmsg());
	assert_non_null(strstr(vs_errmsg(), "tls_server_name"));
	assert_null(cli);
	/* and the advice works */
	o.tls_server_name = NAME;
	assert_int_equal(vs_connect_opts(&cli, s->s.url, &o), VS_OK);
	vs_close(cli);
}

static void
test_shutdown(void **st)
{
	struct state *s = *st;

	assert_int_equal(tp_vsetd_term(&s->m, 5000), 0);
	assert_int_equal(tp_vsetd_term(&s->s, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_server_auth),
		cmocka_unit_test(test_client_auth),
		cmocka_unit_test(test_cli),
		cmocka_unit_test(test_ip_url),
		cmocka_unit_test(test_shutdown),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
