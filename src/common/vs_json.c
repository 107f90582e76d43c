/*
 * vs_json.c - strict JSON validator and JSON string builder (see vs_json.h).
 *
 * The validator is a loop over one explicit state rather than a recursive
 * descent: the only thing recursion would remember is whether each open
 * container is an array or an object, and one bit per level in a fixed
 * array remembers that without any C stack growth or allocation.
 */
#include "vs_json.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ------------------------------------------------------------ UTF-8 */

/*
 * Length of the valid UTF-8 sequence starting at p (n bytes available), or
 * 0 if p does not start one.  Follows RFC 3629's table: no overlong forms
 * (C0, C1, E0 80..9F, F0 80..8F), no surrogates (ED A0..BF), nothing above
 * U+10FFFF (F4 90.., F5..FF).
 */
static size_t
utf8_seq_len(const unsigned char *p, size_t n)
{
	unsigned char c = p[0];
	unsigned char lo = 0x80, hi = 0xbf;
	size_t need, i;

	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf) {
		need = 2;
	} else if (c >= 0xe0 && c <= 0xef) {
		need = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c >= 0xf0 && c <= 0xf4) {
		need = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if (n < need)
		return 0;
	/* Only the second byte has a narrowed range; the rest are 80..BF. */
	if (p[1] < lo || p[1] > hi)
		return 0;
	for (i = 2; i < need; i++)
		if (p[i] < 0x80 || p[i] > 0xbf)
			return 0;
	return need;
}

/* ------------------------------------------------------------ validator */

/* Validator state.  stack holds one bit per open container, 1 = object,
 * 0 = array, innermost at bit depth-1. */
typedef struct jv {
	const unsigned char *s;
	size_t len;
	size_t pos;
	const char *why;
	int depth;
	int max_depth;
	unsigned char stack[VS_JSON_DEPTH_LIMIT / 8];
} jv;

static int
jv_fail(jv *v, const char *why)
{
	v->why = why;
	return -1;
}

static void
jv_skip_ws(jv *v)
{
	while (v->pos < v->len) {
		unsigned char c = v->s[v->pos];

		if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
			break;
		v->pos++;
	}
}

static int
hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Read the four hex digits of a \u escape at pos (just past "\u"). */
static int
jv_hex4(jv *v, unsigned *out)
{
	unsigned u = 0;
	size_t i;

	for (i = 0; i < 4; i++) {
		int h;

		if (v->pos >= v->len)
			return jv_fail(v, "unterminated string");
		h = hex_val(v->s[v->pos]);
		if (h < 0)
			return jv_fail(v, "invalid \\u escape: expected 4 hex digits");
		u = (u << 4) | (unsigned)h;
		v->pos++;
	}
	*out = u;
	return 0;
}

/* A string; pos is at the opening quote, and ends just past the closing
 * one. */
static int
jv_string(jv *v)
{
	v->pos++;
	for (;;) {
		unsigned char c;
		size_t n;

		if (v->pos >= v->len)
			return jv_fail(v, "unterminated string");
		c = v->s[v->pos];
		if (c == '"') {
			v->pos++;
			return 0;
		}
		if (c < 0x20)
			return jv_fail(v, "control character in string");
		if (c == '\\') {
			unsigned u, lo;
			size_t esc = v->pos;

			v->pos++;
			if (v->pos >= v->len)
				return jv_fail(v, "unterminated string");
			c = v->s[v->pos];
			if (c != '\0' && strchr("\"\\/bfnrt", c) != NULL) {
				v->pos++;
				continue;
			}
			if (c != 'u') {
				v->pos = esc;
				return jv_fail(v, "invalid escape in string");
			}
			v->pos++;
			if (jv_hex4(v, &u) != 0)
				return -1;
			if (u >= 0xdc00 && u <= 0xdfff) {
				v->pos = esc;
				return jv_fail(v, "unpaired low surrogate in \\u escape");
			}
			if (u < 0xd800 || u > 0xdbff)
				continue;
			/* A high surrogate must be followed by \u and a low one. */
			if (v->pos + 1 >= v->len || v->s[v->pos] != '\\' ||
			    v->s[v->pos + 1] != 'u') {
				v->pos = esc;
				return jv_fail(v, "unpaired high surrogate in \\u escape");
			}
			v->pos += 2;
			if (jv_hex4(v, &lo) != 0)
				return -1;
			if (lo < 0xdc00 || lo > 0xdfff) {
				v->pos = esc;
				return jv_fail(v, "unpaired high surrogate in \\u escape");
			}
			continue;
		}
		n = utf8_seq_len(v->s + v->pos, v->len - v->pos);
		if (n == 0)
			return jv_fail(v, "invalid UTF-8 in string");
		v->pos += n;
	}
}

static int
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? */
static int
jv_number(jv *v)
{
	const unsigned char *s = v->s;

	if (v->pos < v->len && s[v->pos] == '-')
		v->pos++;
	if (v->pos >= v->len || !is_digit(s[v->pos]))
		return jv_fail(v, "invalid number: expected a digit");
	if (s[v->pos] == '0') {
		v->pos++;
		/* "01" is not JSON: a leading zero stands alone. */
		if (v->pos < v->len && is_digit(s[v->pos]))
			return jv_fail(v, "invalid number: leading zero");
	} else {
		while (v->pos < v->len && is_digit(s[v->pos]))
			v->pos++;
	}
	if (v->pos < v->len && s[v->pos] == '.') {
		v->pos++;
		if (v->pos >= v->len || !is_digit(s[v->pos]))
			return jv_fail(v, "invalid number: expected a digit after '.'");
		while (v->pos < v->len && is_digit(s[v->pos]))
			v->pos++;
	}
	if (v->pos < v->len && (s[v->pos] == 'e' || s[v->pos] == 'E')) {
		v->pos++;
		if (v->pos < v->len && (s[v->pos] == '+' || s[v->pos] == '-'))
			v->pos++;
		if (v->pos >= v->len || !is_digit(s[v->pos]))
			return jv_fail(v, "invalid number: expected an exponent digit");
		while (v->pos < v->len && is_digit(s[v->pos]))
			v->pos++;
	}
	return 0;
}

static int
jv_literal(jv *v, const char *word)
{
	size_t n = strlen(word);

	if (v->len - v->pos < n || memcmp(v->s + v->pos, word, n) != 0)
		return jv_fail(v, "invalid literal");
	v->pos += n;
	return 0;
}

/*
 * The validator's states.  VALUE: a value must start at pos.  AFTER: a value
 * just ended; what may follow depends on the innermost open container.
 * KEY: past '{' or ',' inside an object, a member name must follow.
 */
enum jv_state { JV_VALUE, JV_AFTER, JV_KEY, JV_DONE };

static int
jv_top_is_object(const jv *v)
{
	int d = v->depth - 1;

	return (v->stack[d / 8] >> (d % 8)) & 1;
}

/* '{' or '[' at pos: push it, or close it at once if it is empty. */
static int
jv_open(jv *v, enum jv_state *next)
{
	unsigned char c = v->s[v->pos];
	int d = v->depth;

	if (d >= v->max_depth)
		return jv_fail(v, "nesting deeper than the depth limit");
	if (c == '{')
		v->stack[d / 8] |= (unsigned char)(1u << (d % 8));
	else
		v->stack[d / 8] &= (unsigned char)~(1u << (d % 8));
	v->depth++;
	v->pos++;
	jv_skip_ws(v);
	if (v->pos < v->len && v->s[v->pos] == (c == '{' ? '}' : ']')) {
		v->pos++;
		v->depth--;
		*next = JV_AFTER;
		return 0;
	}
	*next = c == '{' ? JV_KEY : JV_VALUE;
	return 0;
}

static int
jv_step_value(jv *v, enum jv_state *next)
{
	unsigned char c;
	int rv;

	jv_skip_ws(v);
	if (v->pos >= v->len)
		return jv_fail(v, v->len == 0 ? "empty document" :
		    "unexpected end of input: expected a value");
	c = v->s[v->pos];
	if (c == '{' || c == '[')
		return jv_open(v, next);
	if (c == '"')
		rv = jv_string(v);
	else if (c == '-' || is_digit(c))
		rv = jv_number(v);
	else if (c == 't')
		rv = jv_literal(v, "true");
	else if (c == 'f')
		rv = jv_literal(v, "false");
	else if (c == 'n')
		rv = jv_literal(v, "null");
	else
		rv = jv_fail(v, "unexpected character: expected a value");
	*next = JV_AFTER;
	return rv;
}

static int
jv_step_after(jv *v, enum jv_state *next)
{
	int obj;
	unsigned char c;

	jv_skip_ws(v);
	if (v->depth == 0) {
		if (v->pos != v->len)
			return jv_fail(v, "trailing characters after the value");
		*next = JV_DONE;
		return 0;
	}
	if (v->pos >= v->len)
		return jv_fail(v,
		    "unexpected end of input: unclosed array or object");
	obj = jv_top_is_object(v);
	c = v->s[v->pos];
	if (c == (obj ? '}' : ']')) {
		v->pos++;
		v->depth--;
		*next = JV_AFTER;
		return 0;
	}
	if (c != ',')
		return jv_fail(v, obj ? "expected ',' or '}' in object" :
		    "expected ',' or ']' in array");
	v->pos++;
	jv_skip_ws(v);
	*next = obj ? JV_KEY : JV_VALUE;
	return 0;
}

static int
jv_step_key(jv *v, enum jv_state *next)
{
	int rv;

	if (v->pos >= v->len)
		return jv_fail(v,
		    "unexpected end of input: expected a member name");
	if (v->s[v->pos] != '"')
		return jv_fail(v, "expected a string as member name");
	if ((rv = jv_string(v)) != 0)
		return rv;
	jv_skip_ws(v);
	if (v->pos >= v->len || v->s[v->pos] != ':')
		return jv_fail(v, "expected ':' after member name");
	v->pos++;
	*next = JV_VALUE;
	return 0;
}

int
vs_json_validate(const char *s, size_t len, int max_depth, const char **why,
    size_t *where)
{
	jv v;
	enum jv_state state = JV_VALUE;
	int rv = 0;

	memset(&v, 0, sizeof(v));
	v.s = (const unsigned char *)s;
	v.len = len;
	v.max_depth = max_depth < 0 ? 0 : max_depth;
	if (v.max_depth > VS_JSON_DEPTH_LIMIT)
		v.max_depth = VS_JSON_DEPTH_LIMIT;
	if (s == NULL && len > 0) {
		rv = jv_fail(&v, "no input");
		goto out;
	}
	while (state != JV_DONE && rv == 0) {
		switch (state) {
		case JV_VALUE:
			rv = jv_step_value(&v, &state);
			break;
		case JV_AFTER:
			rv = jv_step_after(&v, &state);
			break;
		case JV_KEY:
			rv = jv_step_key(&v, &state);
			break;
		case JV_DONE:
			break;
		}
	}
out:
	if (rv != 0) {
		if (why != NULL)
			*why = v.why;
		if (where != NULL)
			*where = v.pos;
	}
	return rv;
}

int
vs_json_is_object(const char *s, size_t len)
{
	size_t i = 0;

	if (vs_json_validate(s, len, VS_JSON_DEPTH_LIMIT, NULL, NULL) != 0)
		return 0;
	/* Valid, so the first non-whitespace byte names the value's type. */
	while (i < len && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' ||
	    s[i] == '\r'))
		i++;
	return s[i] == '{';
}

/* ------------------------------------------------------------ builder */

void
vs_sb_init(vs_sb *sb)
{
	sb->buf = NULL;
	sb->len = 0;
	sb->cap = 0;
	sb->oom = 0;
}

void
vs_sb_free(vs_sb *sb)
{
	free(sb->buf);
	vs_sb_init(sb);
}

/* Make room for n more bytes plus the NUL. */
static int
sb_reserve(vs_sb *sb, size_t n)
{
	size_t want, cap;
	char *nb;

	if (sb->oom)
		return -1;
	if (n > SIZE_MAX - sb->len - 1)
		goto fail;
	want = sb->len + n + 1;
	if (want <= sb->cap)
		return 0;
	cap = sb->cap != 0 ? sb->cap : 64;
	while (cap < want)
		cap = cap > SIZE_MAX / 2 ? want : cap * 2;
	nb = realloc(sb->buf, cap);
	if (nb == NULL)
		goto fail;
	sb->buf = nb;
	sb->cap = cap;
	return 0;
fail:
	sb->oom = 1;
	return -1;
}

int
vs_sb_putn(vs_sb *sb, const char *s, size_t n)
{
	if (sb_reserve(sb, n) != 0)
		return -1;
	if (n > 0)
		memcpy(sb->buf + sb->len, s, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
	return 0;
}

int
vs_sb_putc(vs_sb *sb, char c)
{
	return vs_sb_putn(sb, &c, 1);
}

int
vs_sb_puts(vs_sb *sb, const char *s)
{
	return vs_sb_putn(sb, s, strlen(s));
}

int
vs_sb_vprintf(vs_sb *sb, const char *fmt, va_list ap)
{
	va_list ap2;
	int n;

	if (sb_reserve(sb, 0) != 0)
		return -1;
	/* First try in the space we have; retry once with the exact size. */
	va_copy(ap2, ap);
	n = vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap2);
	va_end(ap2);
	if (n < 0) {
		sb->buf[sb->len] = '\0';
		return -1;
	}
	if ((size_t)n >= sb->cap - sb->len) {
		if (sb_reserve(sb, (size_t)n) != 0) {
			sb->buf[sb->len] = '\0';
			return -1;
		}
		va_copy(ap2, ap);
		vsnprintf(sb->buf + sb->len, sb->cap - sb->len, fmt, ap2);
		va_end(ap2);
	}
	sb->len += (size_t)n;
	return 0;
}

int
vs_sb_printf(vs_sb *sb, const char *fmt, ...)
{
	va_list ap;
	int rv;

	va_start(ap, fmt);
	rv = vs_sb_vprintf(sb, fmt, ap);
	va_end(ap);
	return rv;
}

int
vs_sb_json_str(vs_sb *sb, const char *s, size_t len)
{
	static const char hex[] = "0123456789abcdef";
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0, run = 0;

	vs_sb_putc(sb, '"');
	/* Copy runs of bytes that need no rewriting in one go; stop at each
	 * byte that does, flush the run, and write its replacement. */
	while (i < len) {
		unsigned char c = p[i];
		size_t n = utf8_seq_len(p + i, len - i);

		if (n > 1 || (n == 1 && c >= 0x20 && c != '"' && c != '\\')) {
			i += n;
			continue;
		}
		vs_sb_putn(sb, s + run, i - run);
		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };

			vs_sb_putn(sb, esc, sizeof(esc));
		} else if (c < 0x20) {
			char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4],
			    hex[c & 0xf] };

			vs_sb_putn(sb, esc, sizeof(esc));
		} else {
			vs_sb_puts(sb, "\xef\xbf\xbd");     /* U+FFFD */
		}
		i++;
		run = i;
	}
	vs_sb_putn(sb, s + run, i - run);
	return vs_sb_putc(sb, '"');
}

int
vs_sb_json_double(vs_sb *sb, double d)
{
	char tmp[40];
	int prec;

	if (!isfinite(d))
		return vs_sb_puts(sb, "null");
	/* 17 significant digits always read back exactly; fewer usually do
	 * and read better (0.97, not 0.96999999999999997). */
	for (prec = 15; prec < 17; prec++) {
		snprintf(tmp, sizeof(tmp), "%.*g", prec, d);
		if (strtod(tmp, NULL) == d)
			break;
	}
	if (prec == 17)
		snprintf(tmp, sizeof(tmp), "%.17g", d);
	/* %g never prints a bare "." or a leading "+", and its exponent form
	 * ("1e+20", "1e-05") is valid JSON, so tmp needs no rewriting. */
	return vs_sb_puts(sb, tmp);
}
