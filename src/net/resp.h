/*
 * resp.h - the Redis protocol (RESP2/RESP3) on the wire: a strict, bounded
 * request parser and a reply encoder.  Pure code, no threads, no I/O, so
 * it is unit-tested on its own (tests/unit/test_resp.c).
 *
 * Who frees what: vsd_resp_parse() fills a struct vsd_resp_cmd whose one
 * allocation (mem) the caller frees with vsd_resp_cmd_free().  A struct
 * vsd_resp_buf grows with malloc; its owner frees p (vsd_resp_buf_free).
 */
#ifndef VSD_RESP_H
#define VSD_RESP_H

#include <stddef.h>
#include <stdint.h>

/* Redis's own bounds on a request: multibulk count and inline length. */
#define VSD_RESP_MAX_ARGS (1024 * 1024)
#define VSD_RESP_MAX_INLINE (64 * 1024)

/* One command: argc arguments, each NUL-terminated (a copy, so inline
 * arguments can be unescaped); argl[i] is the length without the NUL. */
struct vsd_resp_cmd {
	size_t argc;
	char **argv;
	size_t *argl;
	void *mem;                   /* the one allocation */
	size_t memlen;               /* its size (for memory accounting) */
};

enum { VSD_RESP_NEED = 0, VSD_RESP_ERROR = -1 };

/* Parse one command from buf[0..len).  Returns the bytes it took (> 0)
 * with *cmd filled (argc may be 0 for an empty inline line, which Redis
 * ignores); VSD_RESP_NEED if the command is not complete yet;
 * VSD_RESP_ERROR with err set to Redis's text ("Protocol error: ...")
 * when the bytes can never be a command, or when the command would be
 * larger than max_bytes.  Strict: lengths are decimal digits only, every
 * bulk string ends in CRLF. */
long vsd_resp_parse(const uint8_t *buf, size_t len, size_t max_bytes,
    struct vsd_resp_cmd *cmd, char *err, size_t errlen);
void vsd_resp_cmd_free(struct vsd_resp_cmd *cmd);

/* A reply being built.  proto is 2 or 3: the RESP3-only types (map,
 * double, boolean, null, verbatim) are written as Redis writes them to a
 * RESP2 client (flat array, bulk string, integer 1/0, $-1).  A failed
 * allocation sets oom and makes every later call a no-op. */
struct vsd_resp_buf {
	char *p;
	size_t len, cap;
	int proto;
	int oom;
};

void vsd_resp_buf_free(struct vsd_resp_buf *b);
void vsd_resp_raw(struct vsd_resp_buf *b, const void *s, size_t n);
void vsd_resp_simple(struct vsd_resp_buf *b, const char *s);
/* "-<text>\r\n"; CR and LF in text become spaces (as Redis does). */
void vsd_resp_error(struct vsd_resp_buf *b, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void vsd_resp_int(struct vsd_resp_buf *b, long long v);
void vsd_resp_bulk(struct vsd_resp_buf *b, const void *s, size_t n);
void vsd_resp_str(struct vsd_resp_buf *b, const char *s);
void vsd_resp_null(struct vsd_resp_buf *b);
void vsd_resp_array(struct vsd_resp_buf *b, size_t n);
void vsd_resp_map(struct vsd_resp_buf *b, size_t npairs);
void vsd_resp_bool(struct vsd_resp_buf *b, int v);
/* The shortest decimal that reads back as v (what Redis 8 sends). */
void vsd_resp_double(struct vsd_resp_buf *b, double v);
/* Text as RESP3 verbatim ("=N\r\ntxt:...") or a RESP2 bulk string. */
void vsd_resp_verbatim(struct vsd_resp_buf *b, const char *s, size_t n);
/* Format v as vsd_resp_double does, into out (at least 32 bytes). */
size_t vsd_resp_fmt_double(char *out, size_t outsz, double v);

#endif
