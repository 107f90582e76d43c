/*
 * resp_tls.h - TLS for the Redis-protocol front door (--resp-listen
 * tls://HOST:PORT), with OpenSSL, non-blocking, on the epoll thread.
 *
 * Ownership: vsd_tls_new() returns the server's context, freed by
 * vsd_tls_free() after every connection made from it is freed.  Each
 * connection's state comes from vsd_tls_conn_new() and is freed by
 * vsd_tls_conn_free(); neither closes the socket (the caller owns it).
 * Every function but vsd_tls_new/_free runs on the net thread only.
 */
#ifndef VSD_RESP_TLS_H
#define VSD_RESP_TLS_H

#include <stddef.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "config.h"

/* What one TLS connection may hold that --max-buffered-bytes counts: the
 * record buffers OpenSSL keeps per connection (a read and a write record
 * of up to 16 KiB plus framing) and its own state, rounded up. */
#define VSD_TLS_CONN_BYTES (48 * 1024)

struct vsd_tls;
struct vsd_tls_conn;

/* The server context from --tls-cert, --tls-key, --tls-ca and
 * --tls-verify-clients (the same meaning as for tls+tcp:// listeners).
 * NULL, with the problem logged, if a file cannot be used. */
struct vsd_tls *vsd_tls_new(const struct vsd_config *cfg);
void vsd_tls_free(struct vsd_tls *t);

/* A server-side TLS session on the connected socket fd; NULL if out of
 * memory. */
struct vsd_tls_conn *vsd_tls_conn_new(struct vsd_tls *t, int fd);
void vsd_tls_conn_free(struct vsd_tls_conn *tc);

/* Go on with the handshake: 1 = done, 0 = needs the socket again (see
 * vsd_tls_wants_out), -1 = failed, with the reason in why. */
int vsd_tls_handshake(struct vsd_tls_conn *tc, char *why, size_t whylen);
int vsd_tls_handshake_done(const struct vsd_tls_conn *tc);

/* read(2) and writev(2) through TLS: the same returns (0 = the peer
 * closed, -1 with errno EAGAIN = try when the socket is ready, other
 * errno = the connection failed).  A write may take fewer bytes than
 * given; a write that returned EAGAIN must be retried with the same bytes
 * first (net.c resends from its first unsent byte, which is that). */
ssize_t vsd_tls_read(struct vsd_tls_conn *tc, void *buf, size_t n);
ssize_t vsd_tls_writev(struct vsd_tls_conn *tc, const struct iovec *iov,
    int iovcnt);

/* The last operation waits for the socket to become writable (a read or
 * handshake that must send first), or readable (a write that must read
 * first): the epoll thread watches for that too. */
int vsd_tls_wants_out(const struct vsd_tls_conn *tc);
int vsd_tls_wants_in(const struct vsd_tls_conn *tc);
/* Decrypted bytes are held that no socket event will announce. */
int vsd_tls_pending(const struct vsd_tls_conn *tc);

#endif
