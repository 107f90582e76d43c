/*
 * test_json.c - vs_json: the strict validator and the JSON writer.
 *
 * What users rely on: every RFC 8259 document is accepted and everything
 * else is rejected with the offset of the first offending byte; nesting is
 * cut off exactly at the limit; whatever bytes the writer is given, it
 * produces valid JSON that decodes back to the same text (or to U+FFFD for
 * bytes that are not UTF-8), and numbers read back as the same double.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "vs_json.h"

#define DEPTH 32

/* A document given with its length, so it may hold NUL bytes. */
#define DOC(lit) lit, sizeof(lit) - 1

static void
assert_valid(const char *s, size_t len, int max_depth)
{
	const char *why = NULL;
	size_t where = 0;

	if (vs_json_validate(s, len, max_depth, &why, &where) != 0)
		fail_msg("rejected %.*s: %s at %zu", (int)len, s, why, where);
}

static void
assert_invalid(const char *s, size_t len, int max_depth, size_t at,
    const char *why_part)
{
	const char *why = NULL;
	size_t where = (size_t)-1;

	if (vs_json_validate(s, len, max_depth, &why, &where) == 0)
		fail_msg("accepted invalid document %.*s", (int)len, s);
	assert_non_null(why);
	if (where != at || strstr(why, why_part) == NULL)
		fail_msg("%.*s: got \"%s\" at %zu, want \"%s\" at %zu",
		    (int)len, s, why, where, why_part, at);
}

static void
test_valid_documents(void **state)
{
	static const char *docs[] = {
		"0", "-0", "1e5", "-1.5E-3", "1E+2", "0.0", "-0.5e-0",
		"123456789012345678901234567890", "\"\"", "true", "false",
		"null", " {} ", "[]", "\t\n\r [ 1 , 2 ] \n",
		"{\"a\":[1,2,{\"b\":null}],\"c\":\"d\",\"\":{}}",
		"\"\\\" \\\\ \\/ \\b \\f \\n \\r \\t\"",
		"\"\\u00e9\\uD83D\\uDE00\\uffff\"",
		/* é, €, U+1F600, U+10FFFF, U+FFFF: the edges of each length */
		"\"h\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80 \xf4\x8f\xbf\xbf\"",
		"\"\xef\xbf\xbf \xc2\x80 \xe0\xa0\x80 \xf0\x90\x80\x80\"",
		"\"\x7f\"",
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(docs) / sizeof(docs[0]); i++)
		assert_valid(docs[i], strlen(docs[i]), DEPTH);
}

static void
test_truncated_and_trailing(void **state)
{
	(void)state;
	assert_invalid(DOC(""), DEPTH, 0, "empty");
	assert_invalid(DOC("   "), DEPTH, 3, "end of input");
	assert_invalid(DOC("[1,2"), DEPTH, 4, "end of input");
	assert_invalid(DOC("{\"a\":"), DEPTH, 5, "end of input");
	assert_invalid(DOC("{\"a\""), DEPTH, 4, "':'");
	assert_invalid(DOC("{"), DEPTH, 1, "end of input");
	assert_invalid(DOC("\"abc"), DEPTH, 4, "unterminated string");
	assert_invalid(DOC("\"abc\\"), DEPTH, 5, "unterminated string");
	assert_invalid(DOC("\"\\u12"), DEPTH, 5, "unterminated string");
	assert_invalid(DOC("tru"), DEPTH, 0, "literal");
	assert_invalid(DOC("{\"a\":1} x"), DEPTH, 8, "trailing");
	assert_invalid(DOC("[1]]"), DEPTH, 3, "trailing");
	assert_invalid(DOC("1 2"), DEPTH, 2, "trailing");
	assert_invalid(DOC("{}\0"), DEPTH, 2, "trailing");
}

static void
test_bad_structure(void **state)
{
	(void)state;
	assert_invalid(DOC("[1,]"), DEPTH, 3, "expected a value");
	assert_invalid(DOC("[,1]"), DEPTH, 1, "expected a value");
	assert_invalid(DOC("{\"a\":1,}"), DEPTH, 7, "member name");
	assert_invalid(DOC("{a:1}"), DEPTH, 1, "member name");
	assert_invalid(DOC("{\"a\" 1}"), DEPTH, 5, "':'");
	assert_invalid(DOC("[1 2]"), DEPTH, 3, "expected ',' or ']'");
	assert_invalid(DOC("{\"a\":1 \"b\":2}"), DEPTH, 7, "expected ',' or '}'");
	assert_invalid(DOC("[[1}]"), DEPTH, 3, "expected ',' or ']'");
	assert_invalid(DOC("{\"a\":[1]]"), DEPTH, 8, "expected ',' or '}'");
	assert_invalid(DOC("True"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("nul"), DEPTH, 0, "literal");
	assert_invalid(DOC("'a'"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("\xef\xbb\xbf{}"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("[\x0c]"), DEPTH, 1, "unexpected character");
}

static void
test_numbers(void **state)
{
	(void)state;
	assert_invalid(DOC("01"), DEPTH, 1, "leading zero");
	assert_invalid(DOC("-01"), DEPTH, 2, "leading zero");
	assert_invalid(DOC("-"), DEPTH, 1, "digit");
	assert_invalid(DOC("-a"), DEPTH, 1, "digit");
	assert_invalid(DOC("1."), DEPTH, 2, "digit after '.'");
	assert_invalid(DOC("1.e3"), DEPTH, 2, "digit after '.'");
	assert_invalid(DOC(".5"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("+1"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("1e"), DEPTH, 2, "exponent");
	assert_invalid(DOC("1e+"), DEPTH, 3, "exponent");
	assert_invalid(DOC("0x10"), DEPTH, 1, "trailing");
	assert_invalid(DOC("[1.5.2]"), DEPTH, 4, "expected ',' or ']'");
	assert_invalid(DOC("NaN"), DEPTH, 0, "unexpected character");
	assert_invalid(DOC("-Infinity"), DEPTH, 1, "digit");
}

static void
test_bad_escapes(void **state)
{
	(void)state;
	assert_invalid(DOC("\"\\x\""), DEPTH, 1, "invalid escape");
	assert_invalid(DOC("\"\\U0041\""), DEPTH, 1, "invalid escape");
	assert_invalid(DOC("\"\\'\""), DEPTH, 1, "invalid escape");
	assert_invalid(DOC("\"\\u12g4\""), DEPTH, 5, "hex");
	assert_invalid(DOC("\"\\u004\""), DEPTH, 6, "hex");
	/* Surrogates: only as a high/low pair. */
	assert_invalid(DOC("\"\\ud800\""), DEPTH, 1, "unpaired high");
	assert_invalid(DOC("\"\\ud800x\""), DEPTH, 1, "unpaired high");
	assert_invalid(DOC("\"\\ud800\\u0041\""), DEPTH, 1, "unpaired high");
	assert_invalid(DOC("\"\\ud800\\ud800\""), DEPTH, 1, "unpaired high");
	assert_invalid(DOC("\"\\udc00\""), DEPTH, 1, "unpaired low");
	assert_invalid(DOC("\"ab\\uDFFF\\uD800\""), DEPTH, 3, "unpaired low");
	/* Raw control characters, including NUL, must be escaped. */
	assert_invalid(DOC("\"a\nb\""), DEPTH, 2, "control character");
	assert_invalid(DOC("\"a\0b\""), DEPTH, 2, "control character");
	assert_invalid(DOC("\"\x1f\""), DEPTH, 1, "control character");
}

static void
test_bad_utf8(void **state)
{
	(void)state;
	assert_invalid(DOC("\"\xc3\""), DEPTH, 1, "UTF-8");      /* cut short */
	assert_invalid(DOC("\"\xc3"), DEPTH, 1, "UTF-8");        /* at the end */
	assert_invalid(DOC("\"\xe2\x82\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\x80\""), DEPTH, 1, "UTF-8");      /* lone tail */
	assert_invalid(DOC("\"ok\xff\""), DEPTH, 3, "UTF-8");
	assert_invalid(DOC("\"\xc0\xaf\""), DEPTH, 1, "UTF-8");  /* overlong / */
	assert_invalid(DOC("\"\xc1\xbf\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\xe0\x9f\xbf\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\xf0\x8f\xbf\xbf\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\xed\xa0\x80\""), DEPTH, 1, "UTF-8"); /* D800 */
	assert_invalid(DOC("\"\xed\xbf\xbf\""), DEPTH, 1, "UTF-8"); /* DFFF */
	assert_invalid(DOC("\"\xf4\x90\x80\x80\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\xf5\x80\x80\x80\""), DEPTH, 1, "UTF-8");
	assert_invalid(DOC("\"\xe2\x28\xa1\""), DEPTH, 1, "UTF-8");
	/* Outside strings only ASCII structure is allowed. */
	assert_invalid(DOC("[\xc3\xa9]"), DEPTH, 1, "unexpected character");
}

/* n nested containers, alternating array and object when mixed is set:
 * [{"k":[{"k":...0...}]}]  Returns a malloc'd string. */
static char *
nested(int n, int mixed, size_t *len)
{
	size_t cap = (size_t)n * 8 + 3, o = 0;
	char *s = malloc(cap);
	int i;

	assert_non_null(s);
	for (i = 0; i < n; i++) {
		if (mixed && i % 2 == 1) {
			memcpy(s + o, "{\"k\":", 5);
			o += 5;
		} else {
			s[o++] = '[';
		}
	}
	s[o++] = '0';       /* the innermost value; an object needs one */
	for (i = n - 1; i >= 0; i--)
		s[o++] = mixed && i % 2 == 1 ? '}' : ']';
	s[o] = '\0';
	*len = o;
	return s;
}

static void
test_depth_limit(void **state)
{
	const char *why = NULL;
	size_t len, where = 0;
	char *s;
	int mixed;

	(void)state;
	for (mixed = 0; mixed <= 1; mixed++) {
		/* Exactly at the limit: accepted. */
		s = nested(DEPTH, mixed, &len);
		assert_valid(s, len, DEPTH);
		free(s);
		/* One past: rejected where the extra container opens. */
		s = nested(DEPTH + 1, mixed, &len);
		assert_int_equal(vs_json_validate(s, len, DEPTH, &why, &where),
		    -1);
		assert_non_null(strstr(why, "nesting"));
		assert_int_equal(s[where], mixed && DEPTH % 2 == 1 ? '{' : '[');
		free(s);
	}
	/* max_depth 0: scalars only. */
	assert_valid(DOC("\"x\""), 0);
	assert_invalid(DOC("[]"), 0, 0, "nesting");
	assert_invalid(DOC("{}"), -5, 0, "nesting");
	/* A hostile depth fails cleanly at the hard ceiling. */
	s = nested(VS_JSON_DEPTH_LIMIT * 4, 0, &len);
	assert_invalid(s, len, 1 << 30, VS_JSON_DEPTH_LIMIT, "nesting");
	free(s);
	s = nested(VS_JSON_DEPTH_LIMIT, 1, &len);
	assert_valid(s, len, 1 << 30);
	free(s);
}

/* Closers are checked against the right opener at every depth, including
 * across the bytes of the validator's bit stack. */
static void
test_mismatched_closers(void **state)
{
	size_t len, i;
	char *s;

	(void)state;
	s = nested(20, 1, &len);
	assert_valid(s, len, DEPTH);
	/* Swap each closer for the wrong kind, one at a time. */
	for (i = len - 20; i < len; i++) {
		char good = s[i];

		s[i] = good == ']' ? '}' : ']';
		assert_int_equal(vs_json_validate(s, len, DEPTH, NULL, NULL), -1);
		s[i] = good;
	}
	free(s);
}

static void
test_is_object(void **state)
{
	(void)state;
	assert_int_equal(vs_json_is_object(DOC("{}")), 1);
	assert_int_equal(vs_json_is_object(DOC(" \n{\"a\":[1]} ")), 1);
	assert_int_equal(vs_json_is_object(DOC("[]")), 0);
	assert_int_equal(vs_json_is_object(DOC("\"{}\"")), 0);
	assert_int_equal(vs_json_is_object(DOC("1")), 0);
	assert_int_equal(vs_json_is_object(DOC("{")), 0);
	assert_int_equal(vs_json_is_object(DOC("{} {}")), 0);
	assert_int_equal(vs_json_is_object(DOC("")), 0);
	assert_int_equal(vs_json_is_object(NULL, 0), 0);
}

/* ------------------------------------------------------------ writer */

static void
put_utf8(unsigned cp, char *out, size_t *o)
{
	if (cp < 0x80) {
		out[(*o)++] = (char)cp;
	} else if (cp < 0x800) {
		out[(*o)++] = (char)(0xc0 | (cp >> 6));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else if (cp < 0x10000) {
		out[(*o)++] = (char)(0xe0 | (cp >> 12));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	} else {
		out[(*o)++] = (char)(0xf0 | (cp >> 18));
		out[(*o)++] = (char)(0x80 | ((cp >> 12) & 0x3f));
		out[(*o)++] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[(*o)++] = (char)(0x80 | (cp & 0x3f));
	}
}

/* Decode a JSON string literal that the validator accepted (the test's
 * own reference decoder).  Returns a malloc'd buffer and its length. */
static char *
decode_json_str(const char *s, size_t len, size_t *out_len)
{
	char *out = malloc(len + 1);
	size_t i = 1, o = 0;

	assert_non_null(out);
	assert_true(len >= 2 && s[0] == '"' && s[len - 1] == '"');
	while (i < len - 1) {
		unsigned cp;

		if (s[i] != '\\') {
			out[o++] = s[i++];
			continue;
		}
		switch (s[i + 1]) {
		case 'b': out[o++] = '\b'; break;
		case 'f': out[o++] = '\f'; break;
		case 'n': out[o++] = '\n'; break;
		case 'r': out[o++] = '\r'; break;
		case 't': out[o++] = '\t'; break;
		case 'u':
			cp = (unsigned)strtoul((char[5]){ s[i + 2], s[i + 3],
			    s[i + 4], s[i + 5], 0 }, NULL, 16);
			if (cp >= 0xd800 && cp <= 0xdbff) {
				unsigned lo = (unsigned)strtoul((char[5]){
				    s[i + 8], s[i + 9], s[i + 10], s[i + 11], 0 },
				    NULL, 16);

				cp = 0x10000 + ((cp - 0xd800) << 10) +
				    (lo - 0xdc00);
				i += 6;
			}
			put_utf8(cp, out, &o);
			i += 4;
			break;
		default: out[o++] = s[i + 1]; break;
		}
		i += 2;
	}
	*out_len = o;
	return out;
}

/* Write s[0..len) with vs_sb_json_str, check the output is one valid JSON
 * string, and return its decoding (malloc'd). */
static char *
write_and_decode(const char *s, size_t len, size_t *dec_len)
{
	const char *why = NULL;
	size_t where = 0;
	vs_sb sb;
	char *dec;

	vs_sb_init(&sb);
	assert_int_equal(vs_sb_json_str(&sb, s, len), 0);
	assert_int_equal(sb.oom, 0);
	assert_int_equal(strlen(sb.buf), sb.len);
	if (vs_json_validate(sb.buf, sb.len, 0, &why, &where) != 0)
		fail_msg("writer produced invalid JSON %s: %s at %zu", sb.buf,
		    why, where);
	dec = decode_json_str(sb.buf, sb.len, dec_len);
	vs_sb_free(&sb);
	return dec;
}

static void
test_escape_specials(void **state)
{
	vs_sb sb;

	(void)state;
	vs_sb_init(&sb);
	assert_int_equal(vs_sb_json_str(&sb, DOC("a\"b\\c\n\x01\x1f\x7f/")),
	    0);
	assert_string_equal(sb.buf, "\"a\\\"b\\\\c\\u000a\\u0001\\u001f\x7f/\"");
	vs_sb_free(&sb);
	assert_null(sb.buf);
	assert_int_equal(vs_sb_json_str(&sb, NULL, 0), 0);
	assert_string_equal(sb.buf, "\"\"");
	vs_sb_free(&sb);
}

/* Every byte string that is valid UTF-8 survives a write and a decode. */
static void
test_escape_round_trip(void **state)
{
	static const char *pieces[] = {
		"a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\x01", "\x1f",
		"\x7f", "\xc3\xa9", "\xe2\x82\xac", "\xf0\x9f\x98\x80",
		"\xf4\x8f\xbf\xbf", "\xef\xbf\xbd", "\\u0041", "\0",
	};
	const size_t npieces = sizeof(pieces) / sizeof(pieces[0]);
	uint32_t rng = 12345;
	char in[256];
	int round;

	(void)state;
	for (round = 0; round < 2000; round++) {
		size_t len = 0, dec_len, n, k;
		char *dec;

		n = round % 40;
		for (k = 0; k < n; k++) {
			const char *p;
			size_t pl;

			rng = rng * 1103515245u + 12345u;
			p = pieces[(rng >> 16) % npieces];
			pl = p[0] == '\0' ? 1 : strlen(p);
			memcpy(in + len, p, pl);
			len += pl;
		}
		dec = write_and_decode(in, len, &dec_len);
		assert_int_equal(dec_len, len);
		assert_memory_equal(dec, in, len);
		free(dec);
	}
	/* And every single byte below 0x80, the ones that get escaped. */
	for (round = 0; round < 0x80; round++) {
		char c = (char)round;
		size_t dec_len;
		char *dec = write_and_decode(&c, 1, &dec_len);

		assert_int_equal(dec_len, 1);
		assert_int_equal(dec[0], c);
		free(dec);
	}
}

/* Bytes that are not UTF-8 come out as U+FFFD, one per byte, and the
 * valid text around them is kept. */
static void
test_escape_invalid_utf8(void **state)
{
	static const struct {
		const char *in;
		size_t len;
		const char *want;
	} cases[] = {
		{ DOC("a\xff" "b"), "a\xef\xbf\xbd" "b" },
		{ DOC("\xc3"), "\xef\xbf\xbd" },
		{ DOC("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd" },
		{ DOC("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd" },
		{ DOC("\xe2\x82" "x\xc3\xa9"), "\xef\xbf\xbd\xef\xbf\xbd" "x\xc3\xa9" },
	};
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t dec_len;
		char *dec = write_and_decode(cases[i].in, cases[i].len,
		    &dec_len);

		assert_int_equal(dec_len, strlen(cases[i].want));
		assert_memory_equal(dec, cases[i].want, dec_len);
		free(dec);
	}
}

static void
test_double(void **state)
{
	static const double vals[] = {
		0.0, -0.0, 1.0, 0.97, 0.1 + 0.2, 1.0 / 3.0, -2.5e-8, 1e300,
		-1e-300, 5e-324, 1.7976931348623157e308, 0.9700000286102295,
		123456789.0, 1e21,
	};
	size_t i;
	vs_sb sb;

	(void)state;
	for (i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
		double back;

		vs_sb_init(&sb);
		assert_int_equal(vs_sb_json_double(&sb, vals[i]), 0);
		assert_valid(sb.buf, sb.len, 0);
		back = strtod(sb.buf, NULL);
		if (back != vals[i] || signbit(back) != signbit(vals[i]))
			fail_msg("%.17g written as %s", vals[i], sb.buf);
		vs_sb_free(&sb);
	}
	/* Fewest digits: what a person typed comes back as typed. */
	vs_sb_init(&sb);
	vs_sb_json_double(&sb, 0.97);
	assert_string_equal(sb.buf, "0.97");
	vs_sb_free(&sb);
	/* JSON has no NaN or infinity. */
	vs_sb_init(&sb);
	vs_sb_json_double(&sb, NAN);
	vs_sb_putc(&sb, ',');
	vs_sb_json_double(&sb, INFINITY);
	vs_sb_putc(&sb, ',');
	vs_sb_json_double(&sb, -INFINITY);
	assert_string_equal(sb.buf, "null,null,null");
	vs_sb_free(&sb);
}

static void
test_builder_growth(void **state)
{
	char big[3000];
	vs_sb sb;
	size_t i;

	(void)state;
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	vs_sb_init(&sb);
	for (i = 0; i < 100; i++)
		assert_int_equal(vs_sb_putc(&sb, (char)('a' + i % 26)), 0);
	assert_int_equal(vs_sb_printf(&sb, "[%s|%d]", big, 42), 0);
	assert_int_equal(vs_sb_puts(&sb, "end"), 0);
	assert_int_equal(sb.len, 100 + 1 + 2999 + 4 + 3);
	assert_int_equal(strlen(sb.buf), sb.len);
	assert_true(sb.cap > sb.len);
	assert_int_equal(sb.buf[26], 'a');
	assert_memory_equal(sb.buf + 100, "[xxx", 4);
	assert_string_equal(sb.buf + 100 + 1 + 2999, "|42]end");
	assert_int_equal(sb.oom, 0);
	vs_sb_free(&sb);
	assert_null(sb.buf);
	assert_int_equal(sb.len, 0);
	assert_int_equal(sb.cap, 0);
}

/* The writer's pieces assemble into a document the validator accepts. */
static void
test_builder_document(void **state)
{
	vs_sb sb;

	(void)state;
	vs_sb_init(&sb);
	vs_sb_puts(&sb, "{\"results\":[{\"id\":");
	vs_sb_json_str(&sb, DOC("x\"\xff\n"));
	vs_sb_puts(&sb, ",\"score\":");
	vs_sb_json_double(&sb, NAN);
	vs_sb_printf(&sb, "}],\"n\":%d}", 1);
	assert_int_equal(sb.oom, 0);
	assert_int_equal(vs_json_is_object(sb.buf, sb.len), 1);
	vs_sb_free(&sb);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_valid_documents),
		cmocka_unit_test(test_truncated_and_trailing),
		cmocka_unit_test(test_bad_structure),
		cmocka_unit_test(test_numbers),
		cmocka_unit_test(test_bad_escapes),
		cmocka_unit_test(test_bad_utf8),
		cmocka_unit_test(test_depth_limit),
		cmocka_unit_test(test_mismatched_closers),
		cmocka_unit_test(test_is_object),
		cmocka_unit_test(test_escape_specials),
		cmocka_unit_test(test_escape_round_trip),
		cmocka_unit_test(test_escape_invalid_utf8),
		cmocka_unit_test(test_double),
		cmocka_unit_test(test_builder_growth),
		cmocka_unit_test(test_builder_document),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
