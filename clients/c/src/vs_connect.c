/*
 * vs_connect.c - opening a client: for tcp://, the thin transport of
 * vs_sp.c (no nng); otherwise a REQ socket, dialer, optional TLS.
 *
 * The dial is synchronous so that a server that is not there is reported
 * by vs_connect itself, not by a silent background reconnect loop and a
 * timeout on the first call.  After that nng redials on its own (50 ms
 * growing to 1 s) if the connection drops; the thin transport dials
 * again on the next call.
 */
#include <arpa/inet.h>
#include <nng/nng.h>
#include <nng/protocol/reqrep0/req.h>
#include <nng/supplemental/tls/tls.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vs_file.h"
#include "vs_internal.h"

#define VS_DEFAULT_TIMEOUT_MS 5000

/* Host part of "tls+tcp://host:port" (or "wss://host:port/path") into
 * buf. */
static void
vs_url_host(const char *url, char *buf, size_t len)
{
	const char *p = strstr(url, "://"), *end;

	buf[0] = '\0';
	if (p == NULL)
		return;
	p += 3;
	if (*p == '[') {
		p++;
		end = strchr(p, ']');
	} else {
		end = strrchr(p, ':');
	}
	if (end == NULL || (size_t)(end - p) >= len)
		return;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
}

/* Certificate and key from two PEM files. */
static int
vs_tls_own_cert_files(nng_tls_config *tls, const char *certf,
    const char *keyf)
{
	char *cert = vs_read_file(certf), *key = vs_read_file(keyf);
	int rv = NNG_ENOENT;

	if (cert != NULL && key != NULL)
		rv = nng_tls_config_own_cert(tls, cert, key, NULL);
	free(cert);
	free(key);
	return rv;
}

/* Does the URL's host part spell an IPv4 or IPv6 address? */
static int
vs_url_is_ip(const char *url)
{
	unsigned char buf[sizeof(struct in6_addr)];
	char host[256];

	vs_url_host(url, host, sizeof(host));
	return inet_pton(AF_INET, host, buf) == 1 ||
	    inet_pton(AF_INET6, host, buf) == 1;
}

/* Is the URL's transport TLS: tls+tcp://, or wss:// (WebSocket over
 * TLS)?  Both take the same TLS configuration on their dialer; without it
 * nng's wss:// dialer verifies against no CA and every handshake fails. */
static int
vs_url_is_tls(const char *url)
{
	return strncmp(url, "tls+", 4) == 0 || strncmp(url, "wss://", 6) == 0;
}

static int
vs_dialer_tls(struct vs_client *c, const char *url,
    const vs_connect_options *o)
{
	nng_tls_config *tls = NULL;
	char host[256];
	int rv;

	if (o->tls_ca_file == NULL) {
		vs_set_error(VS_INVALID_ARGUMENT, "%s needs a CA file to verify "
		    "the server (tls_ca_file)", url);
		return VS_INVALID_ARGUMENT;
	}
	if ((rv = nng_tls_config_alloc(&tls, NNG_TLS_MODE_CLIENT)) != 0)
		goto fail;
	if ((rv = nng_tls_config_ca_file(tls, o->tls_ca_file)) != 0) {
		vs_set_error(VS_INVALID_ARGUMENT, "CA file %s: %s",
		    o->tls_ca_file, nng_strerror(rv));
		nng_tls_config_free(tls);
		return VS_INVALID_ARGUMENT;
	}
	if (o->tls_cert_file != NULL) {
		/* nng wants certificate and key in one file, or in memory */
		if (o->tls_key_file == NULL ||
		    strcmp(o->tls_key_file, o->tls_cert_file) == 0)
			rv = nng_tls_config_cert_key_file(tls, o->tls_cert_file,
			    NULL);
		else
			rv = vs_tls_own_cert_files(tls, o->tls_cert_file,
			    o->tls_key_file);
		if (rv != 0) {
			vs_set_error(VS_INVALID_ARGUMENT, "client certificate "
			    "%s: %s", o->tls_cert_file, nng_strerror(rv));
			nng_tls_config_free(tls);
			return VS_INVALID_ARGUMENT;
		}
	}
	if (o->tls_server_name != NULL)
		snprintf(host, sizeof(host), "%s", o->tls_server_name);
	else
		vs_url_host(url, host, sizeof(host));
	if ((rv = nng_tls_config_server_name(tls, host)) != 0 ||
	    (rv = nng_tls_config_auth_mode(tls,
	    NNG_TLS_AUTH_MODE_REQUIRED)) != 0 ||
	    (rv = nng_dialer_set_ptr(c->dialer, NNG_OPT_TLS_CONFIG, tls)) != 0)
		goto fail;
	nng_tls_config_free(tls);      /* the dialer holds its own */
	return VS_OK;
fail:
	if (tls != NULL)
		nng_tls_config_free(tls);
	vs_set_error(VS_INTERNAL, "TLS setup: %s", nng_strerror(rv));
	return VS_INTERNAL;
}

/* "tcp://host:port" (host may be a bracketed IPv6 address) into the
 * client's sp_host and sp_port: 0, or -1 when url is something else. */
static int
vs_sp_url(struct vs_client *c, const char *url)
{
	static const char prefix[] = "tcp://";
	const char *h = url + sizeof(prefix) - 1, *colon, *end;
	const char *env = getenv("VS_TRANSPORT");
	size_t hl;

	if (strncmp(url, prefix, sizeof(prefix) - 1) != 0 ||
	    (env != NULL && strcmp(env, "nng") == 0))
		return -1;
	if (*h == '[') {
		if ((end = strchr(h, ']')) == NULL || end[1] != ':')
			return -1;
		h++;
		colon = end + 1;
	} else {
		if ((colon = strrchr(h, ':')) == NULL)
			return -1;
		end = colon;
	}
	hl = (size_t)(end - h);
	if (hl == 0 || hl >= sizeof(c->sp_host) ||
	    strlen(colon + 1) == 0 || strlen(colon + 1) >= sizeof(c->sp_port) ||
	    strspn(colon + 1, "0123456789") != strlen(colon + 1))
		return -1;
	memcpy(c->sp_host, h, hl);
	c->sp_host[hl] = '\0';
	snprintf(c->sp_port, sizeof(c->sp_port), "%s", colon + 1);
	return 0;
}

int
vs_connect_opts(vs_client **out, const char *url,
    const vs_connect_options *o)
{
	vs_connect_options none;
	struct vs_client *c;
	int rv, code;

	*out = NULL;
	if (o == NULL) {
		memset(&none, 0, sizeof(none));
		o = &none;
	}
	if (url == NULL || *url == '\0') {
		vs_set_error(VS_INVALID_ARGUMENT, "empty server URL");
		return VS_INVALID_ARGUMENT;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory");
		return VS_RESOURCE_EXHAUSTED;
	}
	c->timeout_ms = o->timeout_ms > 0 ? o->timeout_ms : VS_DEFAULT_TIMEOUT_MS;
	pthread_mutex_init(&c->mu, NULL);
	vs_transport_init(c);
	snprintf(c->url, sizeof(c->url), "%s", url);
	if (vs_sp_url(c, url) == 0) {
		c->sp = 1;
		if ((code = vs_sp_connect(c)) != VS_OK) {
			vs_sp_free(c);
			pthread_mutex_destroy(&c->mu);
			free(c);
			return code;
		}
		vs_clear_error();
		*out = c;
		return VS_OK;
	}
	if ((rv = nng_req0_open(&c->sock)) != 0) {
		vs_set_error(VS_INTERNAL, "opening REQ socket: %s",
		    nng_strerror(rv));
		free(c);
		return VS_INTERNAL;
	}
	/* Send each request once: a resend after 60 s would only add load
	 * (writes are idempotent either way; see docs/protocol.md). */
	nng_socket_set_ms(c->sock, NNG_OPT_REQ_RESENDTIME,
	    NNG_DURATION_INFINITE);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMINT, 50);
	nng_socket_set_ms(c->sock, NNG_OPT_RECONNMAXT, 1000);
	if ((rv = nng_dialer_create(&c->dialer, c->sock, url)) != 0) {
		vs_set_error(rv == NNG_EADDRINVAL || rv == NNG_ENOTSUP ?
		    VS_INVALID_ARGUMENT : VS_UNAVAILABLE,
		    "bad server URL \"%s\": %s", url, nng_strerror(rv));
		goto fail;
	}
	if (vs_url_is_tls(url) && vs_dialer_tls(c, url, o) != VS_OK)
		goto fail;
	if ((rv = nng_dialer_start(c->dialer, 0)) != 0) {
		/* mbedTLS (nng's TLS engine on Debian 12) matches the expected
		 * name against DNS names and the CN only, never against IP
		 * addresses: say so rather than leave just "Cryptographic
		 * error". */
		vs_set_error(VS_UNAVAILABLE, "cannot connect to %s: %s%s", url,
		    nng_strerror(rv), vs_url_is_tls(url) &&
		    o->tls_server_name == NULL && vs_url_is_ip(url) ?
		    " (the URL names an IP address, which the TLS library "
		    "cannot match against the certificate: set "
		    "tls_server_name to a DNS name the certificate carries, "
		    "e.g. localhost)" : "");
		goto fail;
	}
	vs_clear_error();
	*out = c;
	return VS_OK;
fail:
	code = vs_errcode();
	nng_close(c->sock);
	pthread_mutex_destroy(&c->mu);
	free(c);
	return code;
}
