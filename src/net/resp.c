/*
 * resp.c - RESP2/RESP3 request parsing and reply encoding (resp.h).
 *
 * Why our own parser rather than hiredis's reader: hiredis parses replies
 * (any type, nested), not requests, and it buffers without a bound of
 * ours.  A request is only ever an array of bulk strings or an inline
 * line, so the parser is small, and it can refuse early: a declared length
 * that would take the command past --max-message-bytes is an error before
 * a byte of it is buffered.  The texts of the errors are Redis's, so
 * clients see what they would see from Redis.
 *
 * The parse is two passes over bytes that are already complete: the first
 * checks and measures, the second copies the arguments into one
 * allocation (NUL-terminated, so numbers parse with strtod/strtoll).
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp.h"

#define VSD_RESP_MAX_BULK (512LL * 1024 * 1024)  /* proto-max-bulk-len */
#define VSD_RESP_NUM_MAX 20          /* digits of a length line */
#define VSD_RESP_BUF_MIN 256
#define VSD_RESP_DBL_MAX_DIGITS 17   /* round-trips every double */

/* ------------------------------------------------------------ parsing */

static int
vsd_resp_fail(char *err, size_t errlen, const char *msg)
{
	snprintf(err, errlen, "%s", msg);
	return VSD_RESP_ERROR;
}

/* A length line at buf[*off] after its type byte: digits (a leading '-'
 * allowed) then CRLF.  1 = done (*v set), 0 = need more, -1 = bad. */
static int
vsd_resp_num(const uint8_t *buf, size_t len, size_t *off, long long *v)
{
	size_t i = *off, start = *off;
	int neg = 0;
	long long n = 0;

	if (i < len && buf[i] == '-') {
		neg = 1;
		i++;
	}
	for (; i < len && isdigit(buf[i]); i++) {
		if (i - start > VSD_RESP_NUM_MAX)
			return -1;
		n = n * 10 + (buf[i] - '0');
	}
	if (i + 1 >= len)
		return i - start > VSD_RESP_NUM_MAX ? -1 : 0;
	if (buf[i] != '\r' || buf[i + 1] != '\n' || i == start + (size_t)neg)
		return -1;
	*v = neg ? -n : n;
	*off = i + 2;
	return 1;
}

static int
vsd_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

/* Split an inline line as Redis's sdssplitargs does: spaces separate,
 * "..." with \n \r \t \b \a \\ \" \xHH escapes, '...' with \' only.
 * With out == NULL only counts; returns argc, or -1 (unbalanced quotes).
 * *bytes gets the argument bytes (without NULs). */
static long
vsd_resp_split(const uint8_t *p, size_t n, char **argv, size_t *argl,
    char *out, size_t *bytes)
{
	size_t i = 0, total = 0;
	long argc = 0;

	for (;;) {
		char *start = out;
		size_t alen = 0;
		int inq = 0, insq = 0, done = 0;

		while (i < n && isspace(p[i]))
			i++;
		if (i >= n)
			break;
#define VSD_PUT(ch) do { if (out != NULL) *out++ = (char)(ch); alen++; } while (0)
		while (!done) {
			if (inq) {
				if (i >= n)
					return -1;
				if (p[i] == '\\' && i + 3 < n && p[i + 1] == 'x' &&
				    vsd_hexval(p[i + 2]) >= 0 &&
				    vsd_hexval(p[i + 3]) >= 0) {
					VSD_PUT(vsd_hexval(p[i + 2]) * 16 +
					    vsd_hexval(p[i + 3]));
					i += 3;
				} else if (p[i] == '\\' && i + 1 < n) {
					int c = p[++i];

					VSD_PUT(c == 'n' ? '\n' : c == 'r' ? '\r' :
					    c == 't' ? '\t' : c == 'b' ? '\b' :
					    c == 'a' ? '\a' : c);
				} else if (p[i] == '"') {
					if (i + 1 < n && !isspace(p[i + 1]))
						return -1;
					done = 1;
				} else {
					VSD_PUT(p[i]);
				}
			} else if (insq) {
				if (i >= n)
					return -1;
				if (p[i] == '\\' && i + 1 < n && p[i + 1] == '\'') {
					i++;
					VSD_PUT('\'');
				} else if (p[i] == '\'') {
					if (i + 1 < n && !isspace(p[i + 1]))
						return -1;
					done = 1;
				} else {
					VSD_PUT(p[i]);
				}
			} else if (i >= n || isspace(p[i])) {
				done = 1;
				continue;
			} else if (p[i] == '"') {
				inq = 1;
			} else if (p[i] == '\'') {
				insq = 1;
			} else {
				VSD_PUT(p[i]);
			}
			if (i < n)
				i++;
		}
#undef VSD_PUT
		if (out != NULL) {
			*out++ = '\0';
			argv[argc] = start;
			argl[argc] = alen;
		}
		total += alen;
		argc++;
	}
	*bytes = total;
	return argc;
}

static int
vsd_resp_alloc(struct vsd_resp_cmd *cmd, size_t argc, size_t bytes)
{
	size_t sz = argc * (sizeof(char *) + sizeof(size_t)) + bytes + argc + 1;

	if ((cmd->mem = malloc(sz)) == NULL)
		return -1;
	cmd->memlen = sz;
	cmd->argc = argc;
	cmd->argv = cmd->mem;
	cmd->argl = (size_t *)(cmd->argv + argc);
	return 0;
}

static long
vsd_resp_inline(const uint8_t *buf, size_t len, size_t max_bytes,
    struct vsd_resp_cmd *cmd, char *err, size_t errlen)
{
	const uint8_t *nl = memchr(buf, '\n', len);
	size_t n, bytes;
	long argc;

	if (nl == NULL) {
		if (len > VSD_RESP_MAX_INLINE || len > max_bytes)
			return vsd_resp_fail(err, errlen,
			    "Protocol error: too big inline request");
		return VSD_RESP_NEED;
	}
	n = (size_t)(nl - buf);
	if (n > VSD_RESP_MAX_INLINE || n > max_bytes)
		return vsd_resp_fail(err, errlen,
		    "Protocol error: too big inline request");
	if (n > 0 && buf[n - 1] == '\r')
		n--;
	if ((argc = vsd_resp_split(buf, n, NULL, NULL, NULL, &bytes)) < 0)
		return vsd_resp_fail(err, errlen,
		    "Protocol error: unbalanced quotes in request");
	if (vsd_resp_alloc(cmd, (size_t)argc, bytes) != 0)
		return vsd_resp_fail(err, errlen, "OOM out of memory");
	vsd_resp_split(buf, n, cmd->argv, cmd->argl,
	    (char *)(cmd->argl + argc), &bytes);
	return (long)(nl - buf) + 1;
}

long
vsd_resp_parse(const uint8_t *buf, size_t len, size_t max_bytes,
    struct vsd_resp_cmd *cmd, char *err, size_t errlen)
{
	size_t off = 1, bytes = 0, i, first;
	long long count, bl;
	char *out;
	int rv;

	memset(cmd, 0, sizeof(*cmd));
	if (len == 0)
		return VSD_RESP_NEED;
	if (buf[0] != '*')
		return vsd_resp_inline(buf, len, max_bytes, cmd, err, errlen);
	if ((rv = vsd_resp_num(buf, len, &off, &count)) == 0)
		return VSD_RESP_NEED;
	if (rv < 0 || count > VSD_RESP_MAX_ARGS)
		return vsd_resp_fail(err, errlen,
		    "Protocol error: invalid multibulk length");
	if (count <= 0)
		return (long)off;       /* Redis ignores *0 and *-1 */
	first = off;
	/* pass 1: check and measure */
	for (i = 0; i < (size_t)count; i++) {
		if (off >= len)
			return VSD_RESP_NEED;
		if (buf[off] != '$') {
			snprintf(err, errlen, "Protocol error: expected '$', "
			    "got '%c'", buf[off]);
			return VSD_RESP_ERROR;
		}
		off++;
		if ((rv = vsd_resp_num(buf, len, &off, &bl)) == 0)
			return off > max_bytes ? vsd_resp_fail(err, errlen,
			    "Protocol error: request too large") :
			    VSD_RESP_NEED;
		if (rv < 0 || bl < 0 || bl > VSD_RESP_MAX_BULK)
			return vsd_resp_fail(err, errlen,
			    "Protocol error: invalid bulk length");
		if (off + (size_t)bl + 2 > max_bytes)
			return vsd_resp_fail(err, errlen, "Protocol error: "
			    "request larger than the server's "
			    "--max-message-bytes");
		if (off + (size_t)bl + 2 > len)
			return VSD_RESP_NEED;
		if (buf[off + bl] != '\r' || buf[off + bl + 1] != '\n')
			return vsd_resp_fail(err, errlen,
			    "Protocol error: bulk string not ended by CRLF");
		off += (size_t)bl + 2;
		bytes += (size_t)bl;
	}
	if (vsd_resp_alloc(cmd, (size_t)count, bytes) != 0)
		return vsd_resp_fail(err, errlen, "OOM out of memory");
	/* pass 2: copy */
	out = (char *)(cmd->argl + count);
	off = first;
	for (i = 0; i < (size_t)count; i++) {
		off++;
		vsd_resp_num(buf, len, &off, &bl);
		memcpy(out, buf + off, (size_t)bl);
		cmd->argv[i] = out;
		cmd->argl[i] = (size_t)bl;
		out[bl] = '\0';
		out += bl + 1;
		off += (size_t)bl + 2;
	}
	return (long)off;
}

void
vsd_resp_cmd_free(struct vsd_resp_cmd *cmd)
{
	free(cmd->mem);
	memset(cmd, 0, sizeof(*cmd));
}

/* ------------------------------------------------------------ encoding */

void
vsd_resp_buf_free(struct vsd_resp_buf *b)
{
	free(b->p);
	b->p = NULL;
	b->len = b->cap = 0;
}

void
vsd_resp_raw(struct vsd_resp_buf *b, const void *s, size_t n)
{
	size_t ncap;
	char *np;

	if (b->oom)
		return;
	if (b->len + n > b->cap) {
		ncap = b->cap ? b->cap : VSD_RESP_BUF_MIN;
		while (ncap < b->len + n)
			ncap *= 2;
		if ((np = realloc(b->p, ncap)) == NULL) {
			b->oom = 1;
			return;
		}
		b->p = np;
		b->cap = ncap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static void
vsd_resp_line(struct vsd_resp_buf *b, char type, long long v)
{
	char tmp[32];
	int n = snprintf(tmp, sizeof(tmp), "%c%lld\r\n", type, v);

	vsd_resp_raw(b, tmp, (size_t)n);
}

void
vsd_resp_simple(struct vsd_resp_buf *b, const char *s)
{
	vsd_resp_raw(b, "+", 1);
	vsd_resp_raw(b, s, strlen(s));
	vsd_resp_raw(b, "\r\n", 2);
}

void
vsd_resp_error(struct vsd_resp_buf *b, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	int n, i;

	va_start(ap, fmt);
	n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	for (i = 0; i < n; i++)
		if (msg[i] == '\r' || msg[i] == '\n')
			msg[i] = ' ';
	vsd_resp_raw(b, "-", 1);
	vsd_resp_raw(b, msg, (size_t)n);
	vsd_resp_raw(b, "\r\n", 2);
}

void
vsd_resp_int(struct vsd_resp_buf *b, long long v)
{
	vsd_resp_line(b, ':', v);
}

void
vsd_resp_bulk(struct vsd_resp_buf *b, const void *s, size_t n)
{
	vsd_resp_line(b, '$', (long long)n);
	vsd_resp_raw(b, s, n);
	vsd_resp_raw(b, "\r\n", 2);
}

void
vsd_resp_str(struct vsd_resp_buf *b, const char *s)
{
	vsd_resp_bulk(b, s, strlen(s));
}

void
vsd_resp_null(struct vsd_resp_buf *b)
{
	if (b->proto >= 3)
		vsd_resp_raw(b, "_\r\n", 3);
	else
		vsd_resp_raw(b, "$-1\r\n", 5);
}

void
vsd_resp_array(struct vsd_resp_buf *b, size_t n)
{
	vsd_resp_line(b, '*', (long long)n);
}

void
vsd_resp_map(struct vsd_resp_buf *b, size_t npairs)
{
	if (b->proto >= 3)
		vsd_resp_line(b, '%', (long long)npairs);
	else
		vsd_resp_line(b, '*', (long long)(2 * npairs));
}

void
vsd_resp_bool(struct vsd_resp_buf *b, int v)
{
	if (b->proto >= 3)
		vsd_resp_raw(b, v ? "#t\r\n" : "#f\r\n", 4);
	else
		vsd_resp_int(b, v ? 1 : 0);
}

size_t
vsd_resp_fmt_double(char *out, size_t outsz, double v)
{
	int prec, n = 0;

	if (v != v)
		return (size_t)snprintf(out, outsz, "nan");
	if (v > 1e308 * 10)
		return (size_t)snprintf(out, outsz, "inf");
	if (v < -1e308 * 10)
		return (size_t)snprintf(out, outsz, "-inf");
	for (prec = 1; prec <= VSD_RESP_DBL_MAX_DIGITS; prec++) {
		n = snprintf(out, outsz, "%.*g", prec, v);
		if (strtod(out, NULL) == v)
			break;
	}
	return (size_t)n;
}

void
vsd_resp_double(struct vsd_resp_buf *b, double v)
{
	char tmp[64];
	size_t n = vsd_resp_fmt_double(tmp, sizeof(tmp), v);

	if (b->proto >= 3) {
		vsd_resp_raw(b, ",", 1);
		vsd_resp_raw(b, tmp, n);
		vsd_resp_raw(b, "\r\n", 2);
	} else {
		vsd_resp_bulk(b, tmp, n);
	}
}

void
vsd_resp_verbatim(struct vsd_resp_buf *b, const char *s, size_t n)
{
	if (b->proto >= 3) {
		vsd_resp_line(b, '=', (long long)(n + 4));
		vsd_resp_raw(b, "txt:", 4);
		vsd_resp_raw(b, s, n);
		vsd_resp_raw(b, "\r\n", 2);
	} else {
		vsd_resp_bulk(b, s, n);
	}
}
