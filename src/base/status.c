/*
 * status.c - see status.h.
 *
 * Every status message reaches the client as a proto3 `string`, which
 * must be valid UTF-8: protobuf libraries (Python's among them) refuse a
 * whole reply whose string is not.  Messages quote client and shard bytes
 * (method names, ids, Redis errors) and are cut to fit, so vsd_status_set
 * passes every message through vsd_utf8_escape: each byte that is not
 * part of a valid UTF-8 sequence becomes the four characters \xNN, and a
 * cut never splits a character.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "status.h"

#define VSD_ESC_LEN 4                   /* \xNN */

size_t
vsd_utf8_seq(const unsigned char *s, size_t n)
{
	size_t len, i;
	unsigned cp;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf) {
		len = 2;
		cp = s[0] & 0x1f;
	} else if (s[0] >= 0xe0 && s[0] <= 0xef) {
		len = 3;
		cp = s[0] & 0x0f;
	} else if (s[0] >= 0xf0 && s[0] <= 0xf4) {
		len = 4;
		cp = s[0] & 0x07;
	} else {
		return 0;
	}
	if (n < len)
		return 0;
	for (i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = (cp << 6) | (s[i] & 0x3f);
	}
	if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		return 0;
	return len;
}

size_t
vsd_utf8_escape(char *out, size_t outsz, const char *in, size_t inlen)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *s = (const unsigned char *)in;
	size_t o = 0, i = 0, k;

	if (outsz == 0)
		return 0;
	while (i < inlen) {
		if ((k = vsd_utf8_seq(s + i, inlen - i)) != 0) {
			if (o + k >= outsz)
				break;
			memcpy(out + o, s + i, k);
			o += k;
			i += k;
			continue;
		}
		if (o + VSD_ESC_LEN >= outsz)
			break;
		out[o++] = '\\';
		out[o++] = 'x';
		out[o++] = hex[s[i] >> 4];
		out[o++] = hex[s[i] & 0xf];
		i++;
	}
	out[o] = '\0';
	return o;
}

int
vsd_status_set(struct vsd_status *st, int code, const char *fmt, ...)
{
	char raw[sizeof(st->msg)];
	va_list ap;
	int n;

	st->code = code;
	va_start(ap, fmt);
	n = vsnprintf(raw, sizeof(raw), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(raw))
		n = (int)sizeof(raw) - 1;
	vsd_utf8_escape(st->msg, sizeof(st->msg), raw, (size_t)n);
	return code;
}
