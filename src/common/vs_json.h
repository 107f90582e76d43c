/*
 * vs_json.h - strict JSON validation and a small JSON writer.
 *
 * vsetd never interprets JSON: attributes are opaque text handed to Redis
 * (VADD ... SETATTR).  But Redis stores whatever it is given and only fails
 * later, when a FILTER reads it, so the server and the tools check the text
 * up front with a strict RFC 8259 validator and write their own JSON (the
 * CLI's --json output, the bench's reports) with the builder below.
 *
 * Validator.  Accepts exactly one JSON value with optional whitespace
 * (space, tab, CR, LF) around it.  Stricter than RFC 8259 where the RFC
 * leaves room for interoperability trouble (as I-JSON, RFC 7493, does):
 * strings must be valid UTF-8 (no overlong forms, no encoded surrogates,
 * nothing above U+10FFFF) and \u escapes must not leave a surrogate
 * unpaired.  No byte order mark.  It never recurses: nesting is tracked in
 * a fixed bit stack, so the input cannot exhaust the C stack whatever
 * max_depth is.
 *
 * Builder.  vs_sb is a growable byte buffer.  The caller owns the vs_sb
 * itself (usually on the stack); buf is malloc'd by the builder, kept
 * NUL-terminated, and freed by vs_sb_free() (or taken over by the caller,
 * who then frees it with free() and must not call vs_sb_free()).  An
 * allocation failure sets oom and turns every later append into a no-op, so
 * a writer can append freely and check oom (or any return value) once at
 * the end.
 *
 * Pure: no I/O, no global state; safe from any thread.  Number formatting
 * uses the C library's printf/strtod, so the process must keep LC_NUMERIC at
 * "C" (the default unless it calls setlocale).
 */
#ifndef VS_JSON_H
#define VS_JSON_H

#include <stdarg.h>
#include <stddef.h>

/* The deepest nesting the validator can track; a larger max_depth is
 * treated as this. */
#define VS_JSON_DEPTH_LIMIT 4096

/*
 * Validate s[0..len) as one JSON value.  Depth counts open containers:
 * a scalar is depth 0, "[]" depth 1, "[{}]" depth 2; max_depth 0 allows
 * scalars only (negative is treated as 0).  s need not be NUL-terminated and
 * a NUL byte anywhere is an error.
 *
 * Returns 0 if valid.  Otherwise -1, with *why (when why is not NULL) set
 * to a static message ("unterminated string", "nesting deeper than the
 * depth limit", ...) and *where (when not NULL) to the byte offset of the
 * offending byte (len when the input ended early).
 */
int vs_json_validate(const char *s, size_t len, int max_depth,
    const char **why, size_t *where);

/* 1 if s[0..len) is valid JSON (depth up to VS_JSON_DEPTH_LIMIT) and its
 * top-level value is an object, else 0. */
int vs_json_is_object(const char *s, size_t len);

typedef struct vs_sb {
	char *buf;      /* NUL-terminated once anything was appended, else NULL */
	size_t len;     /* bytes in buf, without the NUL */
	size_t cap;     /* bytes allocated */
	int oom;        /* set by the first failed allocation; sticky */
} vs_sb;

/* Start empty (no allocation). */
void vs_sb_init(vs_sb *sb);
/* Free buf and return to the empty state; the vs_sb itself is the caller's. */
void vs_sb_free(vs_sb *sb);

/* Appenders: 0 on success, -1 if out of memory (now or earlier). */
int vs_sb_putc(vs_sb *sb, char c);
int vs_sb_puts(vs_sb *sb, const char *s);
int vs_sb_putn(vs_sb *sb, const char *s, size_t n);
int vs_sb_printf(vs_sb *sb, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int vs_sb_vprintf(vs_sb *sb, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));

/*
 * Append s[0..len) as a quoted JSON string.  '"' and '\\' are escaped,
 * control characters (< 0x20) are written as \u00XX, valid UTF-8 is copied
 * as is, and each byte that is not part of a valid UTF-8 sequence becomes
 * U+FFFD, so the output is always valid JSON whatever the input.  s may be
 * NULL when len is 0.
 */
int vs_sb_json_str(vs_sb *sb, const char *s, size_t len);

/* Append d as a JSON number using the fewest significant digits (15..17)
 * that read back as the same double; NaN and infinities become null, which
 * JSON has instead. */
int vs_sb_json_double(vs_sb *sb, double d);

#endif
