/*
 * test_collmeta.c - collection metadata read from a shard is untrusted
 * (issue 12, finding 6): vsd_coll_parse() accepts exactly the hashes vsetd
 * writes (and older ones without a generation), and refuses every field
 * out of range with a reason; generations are well-formed and unique; the
 * SHA-1 naming the fence scripts is right (FIPS 180 test vectors).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "collection.h"
#include "fence_lua.h"

#define MAXF 20

/* A fake HGETALL reply from "k1", "v1", ..., NULL. */
struct fake {
	redisReply top, el[MAXF];
	redisReply *ptr[MAXF];
};

static const redisReply *
hash_of(struct fake *f, const char *const *kv)
{
	size_t n = 0;

	memset(f, 0, sizeof(*f));
	for (; kv[n] != NULL; n++) {
		f->el[n].type = REDIS_REPLY_STRING;
		f->el[n].str = (char *)kv[n];
		f->el[n].len = strlen(kv[n]);
		f->ptr[n] = &f->el[n];
	}
	f->top.type = REDIS_REPLY_ARRAY;
	f->top.elements = n;
	f->top.element = f->ptr;
	return &f->top;
}

#define GOOD "dim", "8", "quant", "noquant", "m", "32", "reduce", "4", \
	"build_ef", "200", "version", "1"

static void
test_parse_good(void **state)
{
	static const char *const withgen[] = { GOOD, "gen",
	    "661948fa278a7-163e2daaab07b83d", NULL };
	static const char *const legacy[] = { GOOD, NULL };
	static const char *const newer[] = { GOOD, "gen", "1-a", "color",
	    "blue", NULL };
	struct vsd_coll_params p;
	struct fake f;
	const char *why = NULL;

	(void)state;
	assert_int_equal(vsd_coll_parse(hash_of(&f, withgen), &p, &why), 1);
	assert_int_equal(p.dim, 8);
	assert_int_equal(p.quant, VSD_QUANT_NOQUANT);
	assert_int_equal(p.m, 32);
	assert_int_equal(p.reduce, 4);
	assert_int_equal(p.build_ef, 200);
	assert_string_equal(p.gen, "661948fa278a7-163e2daaab07b83d");
	/* No gen field: generation "0", what the fence script reports. */
	assert_int_equal(vsd_coll_parse(hash_of(&f, legacy), &p, &why), 1);
	assert_string_equal(p.gen, VSD_GEN_LEGACY);
	/* Unknown fields of newer versions are ignored. */
	assert_int_equal(vsd_coll_parse(hash_of(&f, newer), &p, &why), 1);
	/* An empty hash: no metadata. */
	assert_int_equal(vsd_coll_parse(hash_of(&f, (const char *[]){ NULL }),
	    &p, &why), 0);
}

static void
test_parse_refuses(void **state)
{
	static const char *const bad[][16] = {
		{ "dim", "0", NULL },
		{ "dim", "1048577", NULL },
		{ "dim", "-3", NULL },
		{ "dim", "4x", NULL },
		{ "dim", "", NULL },
		{ "dim", "99999999999", NULL },
		{ "quant", "q8", NULL },                       /* no dim */
		{ "dim", "4", "quant", "fp16", NULL },
		{ "dim", "4", "m", "2", NULL },
		{ "dim", "4", "m", "5000", NULL },
		{ "dim", "4", "reduce", "4", NULL },
		{ "dim", "4", "build_ef", "1000001", NULL },
		{ "dim", "4", "gen", "", NULL },
		{ "dim", "4", "gen", "none", NULL },
		{ "dim", "4", "gen", "ABC", NULL },
		{ "dim", "4", "gen", "a b", NULL },
		{ "dim", "4", "gen",
		  "0123456789012345678901234567890123456789012345678", NULL },
	};
	struct vsd_coll_params p;
	struct fake f;
	const char *why;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		why = NULL;
		if (vsd_coll_parse(hash_of(&f, bad[i]), &p, &why) != -1)
			fail_msg("case %zu accepted", i);
		assert_non_null(why);
	}
	/* Odd element count, non-string values, not an array. */
	hash_of(&f, (const char *[]){ "dim", "4", "m", NULL });
	assert_int_equal(vsd_coll_parse(&f.top, &p, &why), -1);
	hash_of(&f, (const char *[]){ "dim", "4", NULL });
	f.el[1].type = REDIS_REPLY_INTEGER;
	assert_int_equal(vsd_coll_parse(&f.top, &p, &why), -1);
	f.top.type = REDIS_REPLY_STRING;
	assert_int_equal(vsd_coll_parse(&f.top, &p, &why), -1);
	assert_int_equal(vsd_coll_parse(NULL, &p, &why), -1);
}

static void
test_new_gen(void **state)
{
	struct vsd_coll_params a, b;

	(void)state;
	vsd_coll_new_gen(&a);
	vsd_coll_new_gen(&b);
	assert_true(vsd_coll_gen_ok(a.gen, strlen(a.gen)));
	assert_true(vsd_coll_gen_ok(b.gen, strlen(b.gen)));
	assert_string_not_equal(a.gen, b.gen);
	assert_string_not_equal(a.gen, VSD_GEN_LEGACY);
}

static void
test_sha1(void **state)
{
	char hex[41];
	static const char *const l56 =
	    "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq";
	char big[1000];

	(void)state;
	vsd_sha1_hex("", 0, hex);
	assert_string_equal(hex, "da39a3ee5e6b4b0d3255bfef95601890afd80709");
	vsd_sha1_hex("abc", 3, hex);
	assert_string_equal(hex, "a9993e364706816aba3e25717850c26c9cd0d89d");
	vsd_sha1_hex(l56, strlen(l56), hex);
	assert_string_equal(hex, "84983e441c3bd26ebaae4aa1f95129e5e54670f1");
	memset(big, 'a', sizeof(big));
	vsd_sha1_hex(big, sizeof(big), hex);
	assert_string_equal(hex, "291e9a6c66994949b57ba5e650361e98fc36b1ba");
	assert_int_equal(strlen(vsd_script_sha(VSD_SCRIPT_FENCE)), 40);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_good),
		cmocka_unit_test(test_parse_refuses),
		cmocka_unit_test(test_new_gen),
		cmocka_unit_test(test_sha1),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
