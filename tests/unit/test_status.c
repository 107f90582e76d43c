/*
 * test_status.c - every status message is valid UTF-8 (GitHub issue 12,
 * finding 9): a proto3 string that is not makes protobuf libraries refuse
 * the whole reply.  vsd_status_set escapes the bytes a message quotes
 * (\xNN) and never cuts a character in two.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "status.h"

/* An independent check: is s valid UTF-8 (RFC 3629)? */
static int
valid_utf8(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0, n = strlen(str), len, k;
	unsigned cp;

	while (i < n) {
		if (s[i] < 0x80) {
			i++;
			continue;
		}
		if ((s[i] & 0xe0) == 0xc0) {
			len = 2;
			cp = s[i] & 0x1f;
		} else if ((s[i] & 0xf0) == 0xe0) {
			len = 3;
			cp = s[i] & 0x0f;
		} else if ((s[i] & 0xf8) == 0xf0) {
			len = 4;
			cp = s[i] & 0x07;
		} else {
			return 0;
		}
		if (i + len > n)
			return 0;
		for (k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return 0;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if ((len == 2 && cp < 0x80) || (len == 3 && cp < 0x800) ||
		    (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += len;
	}
	return 1;
}

static void
test_invalid_bytes_are_escaped(void **state)
{
	struct vsd_status st;

	(void)state;
	vsd_status_set(&st, VSD_UNIMPLEMENTED, "unknown method \"%s\"",
	    "/x/\xff\xfe" "A\xc3");
	assert_int_equal(st.code, VSD_UNIMPLEMENTED);
	assert_string_equal(st.msg, "unknown method \"/x/\\xff\\xfeA\\xc3\"");
	assert_true(valid_utf8(st.msg));
}

static void
test_valid_utf8_is_kept(void **state)
{
	struct vsd_status st;

	(void)state;
	vsd_status_set(&st, VSD_NOT_FOUND, "no \"%s\"", "caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80");
	assert_string_equal(st.msg, "no \"caf\xc3\xa9 \xe2\x82\xac "
	    "\xf0\x9f\x98\x80\"");
}

static void
test_overlong_and_surrogates_are_escaped(void **state)
{
	struct vsd_status st;

	(void)state;
	/* overlong '/', a UTF-16 surrogate, past U+10FFFF */
	vsd_status_set(&st, VSD_INVALID_ARGUMENT, "%s",
	    "\xc0\xaf|\xed\xa0\x80|\xf4\x90\x80\x80");
	assert_true(valid_utf8(st.msg));
	assert_string_equal(st.msg, "\\xc0\\xaf|\\xed\\xa0\\x80|"
	    "\\xf4\\x90\\x80\\x80");
}

static void
test_cut_never_splits_a_character(void **state)
{
	struct vsd_status st;
	char big[1000];
	size_t i;

	(void)state;
	/* 2-byte characters, and an odd prefix so the cut falls mid-way */
	big[0] = 'x';
	for (i = 1; i + 2 < sizeof(big); i += 2) {
		big[i] = '\xc3';
		big[i + 1] = '\xa9';
	}
	big[i] = '\0';
	vsd_status_set(&st, VSD_INVALID_ARGUMENT, "%s", big);
	assert_true(valid_utf8(st.msg));
	assert_true(strlen(st.msg) >= sizeof(st.msg) - 3);
	/* and a cut in the raw message (%.Ns) of a 3-byte character */
	vsd_status_set(&st, VSD_INVALID_ARGUMENT, "id \"%.4s\"",
	    "ab\xe2\x82\xac");
	assert_true(valid_utf8(st.msg));
	assert_string_equal(st.msg, "id \"ab\\xe2\\x82\"");
}

static void
test_every_byte_value(void **state)
{
	struct vsd_status st;
	char in[3];
	int a, b;

	(void)state;
	for (a = 1; a < 256; a++) {
		for (b = 1; b < 256; b++) {
			in[0] = (char)a;
			in[1] = (char)b;
			in[2] = '\0';
			vsd_status_set(&st, VSD_INTERNAL, "%s", in);
			assert_true(valid_utf8(st.msg));
		}
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_invalid_bytes_are_escaped),
		cmocka_unit_test(test_valid_utf8_is_kept),
		cmocka_unit_test(test_overlong_and_surrogates_are_escaped),
		cmocka_unit_test(test_cut_never_splits_a_character),
		cmocka_unit_test(test_every_byte_value),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
