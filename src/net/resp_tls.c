/*
 * resp_tls.c - TLS for the Redis-protocol front door, with OpenSSL driven
 * non-blocking from the epoll thread (resp_tls.h).
 *
 * Why OpenSSL here and not nng's TLS (which serves tls+tcp://): the door's
 * connections live on the epoll thread under its bounds (net.c), and nng's
 * TLS only comes wrapped in nng's own streams, threads and callbacks.  An
 * SSL object over the connection's non-blocking socket keeps the door on
 * the same thread, the same read buffer and the same limits; only the
 * read(2) and writev(2) calls change.  Redis's own TLS is OpenSSL too.
 *
 * What a TLS connection costs is bounded: OpenSSL keeps at most one read
 * and one write record per connection (VSD_TLS_CONN_BYTES, counted against
 * --max-buffered-bytes by net.c), the buffers are released while the
 * connection is idle, and there is no session cache or ticket (no
 * resumption: a client reconnecting does a full handshake).  The handshake
 * is timed like an incomplete command (--frame-timeout-ms, net.c).  A peer
 * that speaks plaintext fails the handshake at its first bytes and is
 * closed.
 *
 * OpenSSL's error queue is per thread: it is cleared before every call, so
 * one connection's error is never read as another's.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "log.h"
#include "resp_tls.h"

/* Replies smaller than this are gathered into one record. */
#define VSD_TLS_COALESCE (16 * 1024)

struct vsd_tls {
	SSL_CTX *ctx;
};

struct vsd_tls_conn {
	SSL *ssl;
	int hs_done;
	int want_out;                /* a read or handshake waits to write */
	int want_in;                 /* a write waits to read */
};

/* The last OpenSSL error as text, for a log line. */
static void
vsd_tls_errstr(char *buf, size_t len)
{
	unsigned long e = ERR_peek_last_error();

	if (e == 0)
		snprintf(buf, len, "%s", errno ? strerror(errno) :
		    "connection closed");
	else
		ERR_error_string_n(e, buf, len);
	ERR_clear_error();
}

struct vsd_tls *
vsd_tls_new(const struct vsd_config *cfg)
{
	struct vsd_tls *t = NULL;
	STACK_OF(X509_NAME) *names;
	char err[256];
	int mode;

	if (cfg->tls_cert == NULL || cfg->tls_key == NULL) {
		vsd_err("--resp-listen tls:// needs --tls-cert and --tls-key");
		return NULL;
	}
	if ((t = calloc(1, sizeof(*t))) == NULL)
		goto fail;
	ERR_clear_error();
	if ((t->ctx = SSL_CTX_new(TLS_server_method())) == NULL ||
	    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION) != 1) {
		vsd_tls_errstr(err, sizeof(err));
		vsd_err("TLS setup: %s", err);
		goto fail;
	}
	if (SSL_CTX_use_certificate_chain_file(t->ctx, cfg->tls_cert) != 1) {
		vsd_tls_errstr(err, sizeof(err));
		vsd_err("--tls-cert %s: %s", cfg->tls_cert, err);
		goto fail;
	}
	if (SSL_CTX_use_PrivateKey_file(t->ctx, cfg->tls_key,
	    SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(t->ctx) != 1) {
		vsd_tls_errstr(err, sizeof(err));
		vsd_err("--tls-key %s: %s", cfg->tls_key, err);
		goto fail;
	}
	mode = SSL_VERIFY_NONE;
	if (cfg->tls_ca != NULL) {
		if (SSL_CTX_load_verify_locations(t->ctx, cfg->tls_ca,
		    NULL) != 1 ||
		    (names = SSL_load_client_CA_file(cfg->tls_ca)) == NULL) {
			vsd_tls_errstr(err, sizeof(err));
			vsd_err("--tls-ca %s: %s", cfg->tls_ca, err);
			goto fail;
		}
		SSL_CTX_set_client_CA_list(t->ctx, names);
		/* as nng's OPTIONAL: a certificate is asked for and, if
		 * sent, must verify */
		mode = SSL_VERIFY_PEER;
		if (cfg->tls_verify_clients)
			mode |= SSL_VERIFY_FAIL_IF_NO_PEER_CERT;
	}
	SSL_CTX_set_verify(t->ctx, mode, NULL);
	SSL_CTX_set_mode(t->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE |
	    SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER | SSL_MODE_RELEASE_BUFFERS);
	SSL_CTX_set_options(t->ctx, SSL_OP_IGNORE_UNEXPECTED_EOF |
	    SSL_OP_NO_RENEGOTIATION);
	SSL_CTX_set_session_cache_mode(t->ctx, SSL_SESS_CACHE_OFF);
	SSL_CTX_set_num_tickets(t->ctx, 0);
	return t;
fail:
	vsd_tls_free(t);
	return NULL;
}

void
vsd_tls_free(struct vsd_tls *t)
{
	if (t == NULL)
		return;
	SSL_CTX_free(t->ctx);
	free(t);
}

struct vsd_tls_conn *
vsd_tls_conn_new(struct vsd_tls *t, int fd)
{
	struct vsd_tls_conn *tc;

	if ((tc = calloc(1, sizeof(*tc))) == NULL)
		return NULL;
	ERR_clear_error();
	if ((tc->ssl = SSL_new(t->ctx)) == NULL ||
	    SSL_set_fd(tc->ssl, fd) != 1) {
		ERR_clear_error();
		vsd_tls_conn_free(tc);
		return NULL;
	}
	SSL_set_accept_state(tc->ssl);
	return tc;
}

void
vsd_tls_conn_free(struct vsd_tls_conn *tc)
{
	if (tc == NULL)
		return;
	SSL_free(tc->ssl);              /* the socket is the caller's */
	free(tc);
}

/* Classify a failed call: -1 with errno EAGAIN (and the direction it
 * waits for), 0 for a clean end, or -1 with errno set for a failure. */
static ssize_t
vsd_tls_fail(struct vsd_tls_conn *tc, int rv, int *out)
{
	int e = errno;

	switch (SSL_get_error(tc->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		*out = 0;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_WANT_WRITE:
		*out = 1;
		errno = EAGAIN;
		return -1;
	case SSL_ERROR_ZERO_RETURN:
		return 0;
	case SSL_ERROR_SYSCALL:
		ERR_clear_error();
		if (e == 0)
			return 0;               /* EOF */
		errno = e;
		return -1;
	default:
		ERR_clear_error();
		errno = EPROTO;
		return -1;
	}
}

int
vsd_tls_handshake(struct vsd_tls_conn *tc, char *why, size_t whylen)
{
	int rv;

	if (tc->hs_done)
		return 1;
	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_do_handshake(tc->ssl)) == 1) {
		tc->hs_done = 1;
		tc->want_out = 0;
		return 1;
	}
	switch (SSL_get_error(tc->ssl, rv)) {
	case SSL_ERROR_WANT_READ:
		tc->want_out = 0;
		return 0;
	case SSL_ERROR_WANT_WRITE:
		tc->want_out = 1;
		return 0;
	default:
		vsd_tls_errstr(why, whylen);
		return -1;
	}
}

int
vsd_tls_handshake_done(const struct vsd_tls_conn *tc)
{
	return tc->hs_done;
}

ssize_t
vsd_tls_read(struct vsd_tls_conn *tc, void *buf, size_t n)
{
	int rv, out = 0;
	ssize_t r;

	if (n == 0)
		return 0;
	if (n > INT32_MAX)
		n = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_read(tc->ssl, buf, (int)n)) > 0) {
		tc->want_out = 0;
		return rv;
	}
	r = vsd_tls_fail(tc, rv, &out);
	tc->want_out = r < 0 && errno == EAGAIN && out;
	return r;
}

ssize_t
vsd_tls_writev(struct vsd_tls_conn *tc, const struct iovec *iov, int iovcnt)
{
	uint8_t tmp[VSD_TLS_COALESCE];
	const void *p;
	size_t len = 0, k;
	int i, rv, out = 0;
	ssize_t r;

	while (iovcnt > 0 && iov[0].iov_len == 0) {
		iov++;
		iovcnt--;
	}
	if (iovcnt == 0)
		return 0;
	if (iovcnt == 1 || iov[0].iov_len >= VSD_TLS_COALESCE) {
		/* the same first bytes as a retry after EAGAIN needs */
		p = iov[0].iov_base;
		len = iov[0].iov_len;
	} else {
		/* the same first bytes too, and at least as many */
		for (i = 0; i < iovcnt && len < sizeof(tmp); i++) {
			k = iov[i].iov_len;
			if (k > sizeof(tmp) - len)
				k = sizeof(tmp) - len;
			memcpy(tmp + len, iov[i].iov_base, k);
			len += k;
		}
		p = tmp;
	}
	if (len > INT32_MAX)
		len = INT32_MAX;
	ERR_clear_error();
	errno = 0;
	if ((rv = SSL_write(tc->ssl, p, (int)len)) > 0) {
		tc->want_in = 0;
		return rv;
	}
	r = vsd_tls_fail(tc, rv, &out);
	if (r == 0) {
		errno = EPIPE;          /* the peer closed: nothing was sent */
		r = -1;
	}
	tc->want_in = errno == EAGAIN && !out;
	return r;
}

int
vsd_tls_wants_out(const struct vsd_tls_conn *tc)
{
	return tc->want_out;
}

int
vsd_tls_wants_in(const struct vsd_tls_conn *tc)
{
	return tc->want_in;
}

int
vsd_tls_pending(const struct vsd_tls_conn *tc)
{
	return tc->hs_done && SSL_pending(tc->ssl) > 0;
}
