/*
 * status.h - the outcome of one call inside the server: a gRPC code (enum
 * vs_code numbers) and a message for the caller.  Lives inside the call; no
 * allocation.
 */
#ifndef VSD_STATUS_H
#define VSD_STATUS_H

#include <stddef.h>

#include "vs_status.h"

enum {
	VSD_OK = 0, VSD_CANCELLED = 1, VSD_INVALID_ARGUMENT = 3,
	VSD_DEADLINE_EXCEEDED = 4, VSD_NOT_FOUND = 5,
	VSD_RESOURCE_EXHAUSTED = 8, VSD_FAILED_PRECONDITION = 9,
	VSD_UNIMPLEMENTED = 12, VSD_INTERNAL = 13, VSD_UNAVAILABLE = 14,
};

struct vsd_status {
	int code;
	char msg[384];
};

/* Set code and message; returns code, for `return vsd_status_set(...)`.
 * The message is made valid UTF-8 (vsd_utf8_escape), so callers may quote
 * any client or shard bytes with %s. */
int vsd_status_set(struct vsd_status *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Length of the valid UTF-8 sequence at s[0..n) (n >= 1), or 0 if it is
 * not one (overlong forms, surrogates and code points past U+10FFFF are
 * not).  The one UTF-8 check of the server. */
size_t vsd_utf8_seq(const unsigned char *s, size_t n);

/* Copy in[0..inlen) to out (NUL-terminated, at most outsz bytes with the
 * NUL) as valid UTF-8: a byte that does not belong to a valid sequence
 * becomes the four characters \xNN; the copy stops before a character
 * that would not fit.  Returns the length written. */
size_t vsd_utf8_escape(char *out, size_t outsz, const char *in,
    size_t inlen);

#endif
