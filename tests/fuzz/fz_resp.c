/*
 * fz_resp.c - the fuzz_resp target (fz_target.h): bytes a Redis client
 * sends to --resp-listen, through the RESP parser and the net thread's
 * command handling (src/net/resp.c, src/net/resp_cmd.c).
 *
 * Checks what the door relies on: a parse takes between 1 and size bytes
 * or says "need more" or "error" (with Redis's "Protocol error" text);
 * every argument is NUL-terminated at its length; every proper prefix of
 * a command that parsed is "need more", never an error nor a different
 * command (so a command split over reads parses the same); the command
 * handler writes exactly one well-formed reply.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fz_target.h"
#include "resp.h"
#include "resp_cmd.h"

#define FZ_RESP_MAX_BYTES 4096       /* the --max-message-bytes used */
#define FZ_RESP_PREFIX_MAX 512       /* prefixes checked up to this size */

#define FZ_CHECK(cond) do {                                              \
	if (!(cond)) {                                                   \
		fprintf(stderr, "fz_resp: check failed: %s (%s:%d)\n",  \
		    #cond, __FILE__, __LINE__);                           \
		abort();                                                 \
	}                                                                \
} while (0)

/* The end of one RESP reply at p[0..n), or 0 if it is not one. */
static size_t
fz_resp_reply_end(const char *p, size_t n)
{
	const char *nl;
	long long v, k;
	size_t off;

	if (n < 3 || (nl = memchr(p, '\n', n)) == NULL || nl == p ||
	    nl[-1] != '\r')
		return 0;
	off = (size_t)(nl - p) + 1;
	switch (p[0]) {
	case '+': case '-': case ':': case ',': case '#': case '_':
		return off;
	case '$': case '=':
		v = strtoll(p + 1, NULL, 10);
		if (v < 0)
			return off;
		if (off + (size_t)v + 2 > n || p[off + v] != '\r' ||
		    p[off + v + 1] != '\n')
			return 0;
		return off + (size_t)v + 2;
	case '*': case '%':
		v = strtoll(p + 1, NULL, 10) * (p[0] == '%' ? 2 : 1);
		for (k = 0; k < v; k++) {
			size_t e = fz_resp_reply_end(p + off, n - off);

			if (e == 0)
				return 0;
			off += e;
		}
		return off;
	}
	return 0;
}

void
fz_resp_one(const uint8_t *data, size_t size)
{
	struct vsd_config cfg;
	struct vsd_resp_session sess;
	struct vsd_resp_cmd cmd, again;
	struct vsd_resp_buf b;
	char err[160], err2[160];
	size_t off = 0, i, cut;
	long n, m;

	memset(&cfg, 0, sizeof(cfg));
	cfg.nshards = FZ_NSHARDS;
	if (size > 0 && (data[0] & 1))
		cfg.resp_password = "pw";
	vsd_resp_session_init(&sess, &cfg, 1);
	while (off < size) {
		n = vsd_resp_parse(data + off, size - off, FZ_RESP_MAX_BYTES,
		    &cmd, err, sizeof(err));
		if (n == VSD_RESP_NEED)
			break;
		if (n == VSD_RESP_ERROR) {
			FZ_CHECK(strncmp(err, "Protocol error", 14) == 0 ||
			    strncmp(err, "OOM", 3) == 0);
			break;
		}
		FZ_CHECK(n > 0 && (size_t)n <= size - off);
		FZ_CHECK(cmd.argc == 0 || cmd.argv != NULL);
		for (i = 0; i < cmd.argc; i++)
			FZ_CHECK(cmd.argv[i][cmd.argl[i]] == '\0');
		if ((size_t)n <= FZ_RESP_PREFIX_MAX) {
			for (cut = 0; cut < (size_t)n; cut++) {
				m = vsd_resp_parse(data + off, cut,
				    FZ_RESP_MAX_BYTES, &again, err2,
				    sizeof(err2));
				/* an inline line ends at '\n': a prefix
				 * ending there is a shorter, whole command */
				if (m > 0) {
					FZ_CHECK(data[off] != '*');
					vsd_resp_cmd_free(&again);
					continue;
				}
				FZ_CHECK(m == VSD_RESP_NEED);
			}
		}
		if (cmd.argc > 0) {
			memset(&b, 0, sizeof(b));
			if (vsd_resp_local(&sess, &cfg, 0, &cmd, &b) ==
			    VSD_RESP_ANSWERED) {
				FZ_CHECK(!b.oom && b.len > 0);
				FZ_CHECK(fz_resp_reply_end(b.p, b.len) ==
				    b.len);
			} else {
				FZ_CHECK(b.len == 0);
			}
			vsd_resp_buf_free(&b);
		}
		vsd_resp_cmd_free(&cmd);
		off += (size_t)n;
	}
}
