/*
 * test_elemcopy.c - the mover's exact element copy (issue 10,
 * src/fanout/elemcopy.h), against one real Redis 8.
 *
 * What the mover relies on: an element rebuilt from VEMB RAW and added to
 * another set with the same quantization stores the same bytes (Q8: the
 * same int8 codes, and a range within float rounding), the same norm, and
 * so answers every VSIM with the same scores.  Checked for Q8, NOQUANT and
 * BIN over seeded random vectors of several dimensions, including vectors
 * with several components at the maximum and with tiny components.  Also
 * checks that the reply parser refuses replies of the wrong shape.
 * Prints how many Q8 elements a copy through plain VEMB would have
 * changed (the reason for all this), for the notes.
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

#include "elemcopy.h"
#include "tp_redis.h"

#define NVEC 200
#define MAX_DIM 300
/* Relative difference allowed for Q8's range (it scales every score):
 * recomputed by Redis in float from the copy. */
#define REL_TOL 1e-6
/* ... and for the norm, which only scales what VEMB/Get return: a
 * NOQUANT copy may need a scale up to 256 float steps off the norm. */
#define NORM_TOL 3e-5
/* Scores of a VSIM against source and copy. */
#define SCORE_TOL 1e-6
#define QUERIES 5

struct fx {
	struct tp_redis r;
	char dir[PATH_MAX];
	redisContext *c;
};

static uint64_t rng = 0x9e3779b97f4a7c15ULL;

static double
rnd(void)
{
	uint64_t z = (rng += 0x9e3779b97f4a7c15ULL);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	z ^= z >> 31;
	return (double)(z >> 11) / (double)(1ULL << 53) * 2 - 1;
}

static int
group_setup(void **state)
{
	struct fx *t = calloc(1, sizeof(*t));

	if (t == NULL || tp_tmpdir(t->dir, sizeof(t->dir), "elemcopy") != 0 ||
	    tp_redis_start(&t->r, 0, t->dir, NULL, NULL) != 0 ||
	    (t->c = tp_redis_connect(&t->r, 5000)) == NULL)
		return -1;
	*state = t;
	return 0;
}

static int
group_teardown(void **state)
{
	struct fx *t = *state;

	redisFree(t->c);
	tp_proc_kill(&t->r.p);
	tp_rmtree(t->dir);
	free(t);
	return 0;
}

static void
vadd(struct fx *t, const char *key, const char *id, const float *v,
    uint32_t dim, const char *quant)
{
	redisReply *r = redisCommand(t->c, "VADD %s FP32 %b %s %s", key, v,
	    (size_t)dim * sizeof(float), id, quant);

	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fail_msg("VADD %s %s: %s", key, id, r ? r->str : t->c->errstr);
	freeReplyObject(r);
}

/* Source vector i: several shapes, so ties at the maximum and tiny
 * components occur. */
static void
make_vec(int i, uint32_t dim, float *v)
{
	uint32_t j;
	double scale = i % 3 == 0 ? 1e-3 : i % 3 == 1 ? 1 : 250;

	for (j = 0; j < dim; j++)
		v[j] = (float)(rnd() * scale);
	if (i % 5 == 0 && dim > 2) {         /* ties at the maximum */
		v[0] = (float)scale;
		v[dim - 1] = (float)-scale;
	}
	if (i % 7 == 0)
		v[dim / 2] = (float)(scale * 1e-6);
}

static double
num(const redisReply *r)
{
	return strtod(r->str, NULL);
}

/* VSIM of QUERIES random vectors on two one-element sets: the same
 * score every time. */
static int
same_scores(struct fx *t, const char *ka, const char *kb, uint32_t dim)
{
	float q[MAX_DIM];
	int n, ok = 1;
	uint32_t j;

	for (n = 0; n < QUERIES && ok; n++) {
		redisReply *ra, *rb;

		for (j = 0; j < dim; j++)
			q[j] = (float)rnd();
		ra = redisCommand(t->c, "VSIM %s FP32 %b WITHSCORES", ka, q,
		    (size_t)dim * sizeof(float));
		rb = redisCommand(t->c, "VSIM %s FP32 %b WITHSCORES", kb, q,
		    (size_t)dim * sizeof(float));
		assert_non_null(ra);
		assert_non_null(rb);
		if (ra->type != REDIS_REPLY_ARRAY || ra->elements != 2 ||
		    rb->type != REDIS_REPLY_ARRAY || rb->elements != 2 ||
		    fabs(num(ra->element[1]) - num(rb->element[1])) >
		    SCORE_TOL)
			ok = 0;
		freeReplyObject(ra);
		freeReplyObject(rb);
	}
	return ok;
}

static void
copy_all(struct fx *t, const char *quant, uint32_t dim)
{
	char why[200], src[64], dst[64], id[32];
	float v[MAX_DIM], c[MAX_DIM];
	int i, rv, plain_changed = 0, approx = 0;

	snprintf(src, sizeof(src), "src:%s:%u", quant, dim);
	snprintf(dst, sizeof(dst), "dst:%s:%u", quant, dim);
	for (i = 0; i < NVEC; i++) {
		struct vsd_raw_elem e, e2;
		redisReply *r1, *r2;

		snprintf(id, sizeof(id), "e%d", i);
		make_vec(i, dim, v);
		vadd(t, src, id, v, dim, quant);
		r1 = redisCommand(t->c, "VEMB %s %s RAW", src, id);
		if (vsd_raw_parse(r1, dim, &e, why, sizeof(why)) != 0)
			fail_msg("%s dim %u %s: %s", quant, dim, id, why);
		if ((rv = vsd_raw_preimage(&e, dim, c, why, sizeof(why))) < 0 ||
		    (rv == 1 && strcmp(quant, "NOQUANT") != 0))
			fail_msg("%s dim %u %s: %s", quant, dim, id, why);
		vadd(t, dst, id, c, dim, quant);
		r2 = redisCommand(t->c, "VEMB %s %s RAW", dst, id);
		assert_int_equal(vsd_raw_parse(r2, dim, &e2, why, sizeof(why)),
		    0);
		assert_int_equal(e2.quant, e.quant);
		if (rv == 1) {
			/* approximate: last bits only */
			float a, b2;
			uint32_t j;

			approx++;
			for (j = 0; j < dim; j++) {
				memcpy(&a, e.bytes + 4 * j, 4);
				memcpy(&b2, e2.bytes + 4 * j, 4);
				assert_true(fabsf(a - b2) <= 2 * (fabsf(nextafterf(
				    a, INFINITY) - a)));
			}
		} else if (memcmp(e.bytes, e2.bytes, e.nbytes) != 0) {
			size_t b;

			for (b = 0; b < e.nbytes && b < 16; b++)
				printf("# byte %zu: %02x %02x\n", b, e.bytes[b],
				    e2.bytes[b]);
			printf("# norm %.17g %.17g range %.17g %.17g\n",
			    e.norm, e2.norm, e.range, e2.range);
			for (b = 0; b < dim && b < 4; b++)
				printf("# v %.9g c %.9g\n", v[b], c[b]);
			fail_msg("%s dim %u %s: the copy stores other bytes",
			    quant, dim, id);
		}
		if (fabs(e2.norm - e.norm) > NORM_TOL * e.norm)
			fail_msg("%s dim %u %s: norm %.17g became %.17g", quant,
			    dim, id, e.norm, e2.norm);
		if (fabs(e2.range - e.range) > REL_TOL * (e.range + 1e-30)) {
			size_t b;

			for (b = 0; b < e.nbytes && b < 8; b++)
				printf("# q[%zu] = %d\n", b,
				    (int)(int8_t)e.bytes[b]);
			printf("# norm %.17g range %.17g\n", e.norm, e.range);
		}
		if (fabs(e2.range - e.range) > REL_TOL * (e.range + 1e-30))
			fail_msg("%s dim %u %s: range %.17g became %.17g",
			    quant, dim, id, e.range, e2.range);
		freeReplyObject(r1);
		freeReplyObject(r2);

		/* the naive copy, through plain VEMB, for the record */
		if (strcmp(quant, "Q8") == 0) {
			redisReply *p = redisCommand(t->c, "VEMB %s %s", src,
			    id), *r3;
			struct vsd_raw_elem e3;
			uint32_t j;

			assert_int_equal(p->type, REDIS_REPLY_ARRAY);
			for (j = 0; j < dim; j++)
				c[j] = (float)num(p->element[j]);
			freeReplyObject(p);
			vadd(t, "naive", id, c, dim, quant);
			r3 = redisCommand(t->c, "VEMB naive %s RAW", id);
			r1 = redisCommand(t->c, "VEMB %s %s RAW", src, id);
			assert_int_equal(vsd_raw_parse(r3, dim, &e3, why,
			    sizeof(why)), 0);
			assert_int_equal(vsd_raw_parse(r1, dim, &e, why,
			    sizeof(why)), 0);
			if (memcmp(e.bytes, e3.bytes, e.nbytes) != 0 ||
			    e3.range != e.range)
				plain_changed++;
			freeReplyObject(r3);
			freeReplyObject(r1);
			freeReplyObject(redisCommand(t->c, "DEL naive"));
		}
	}
	if (strcmp(quant, "Q8") == 0)
		printf("# %s dim %u: %d of %d elements copied through plain "
		    "VEMB changed their stored bytes or range; 0 via RAW\n",
		    quant, dim, plain_changed, NVEC);
	if (strcmp(quant, "NOQUANT") == 0)
		printf("# %s dim %u: %d of %d copies approximate (last bits), "
		    "the others byte-identical\n", quant, dim, approx, NVEC);
}

/* One-element sets for score comparison. */
static void
scores_match(struct fx *t, const char *quant, uint32_t dim)
{
	char why[200], a[64], b[64];
	float v[MAX_DIM], c[MAX_DIM];
	int i;

	snprintf(a, sizeof(a), "sa:%s:%u", quant, dim);
	snprintf(b, sizeof(b), "sb:%s:%u", quant, dim);
	for (i = 0; i < NVEC / 10; i++) {
		char ka[80], kb[80];
		struct vsd_raw_elem e;
		redisReply *r;

		snprintf(ka, sizeof(ka), "%s:one", a);
		snprintf(kb, sizeof(kb), "%s:one", b);
		freeReplyObject(redisCommand(t->c, "DEL %s %s", ka, kb));
		make_vec(i, dim, v);
		vadd(t, ka, "x", v, dim, quant);
		r = redisCommand(t->c, "VEMB %s x RAW", ka);
		assert_int_equal(vsd_raw_parse(r, dim, &e, why, sizeof(why)), 0);
		assert_true(vsd_raw_preimage(&e, dim, c, why, sizeof(why)) >= 0);
		freeReplyObject(r);
		vadd(t, kb, "x", c, dim, quant);
		if (!same_scores(t, ka, kb, dim))
			fail_msg("%s dim %u vector %d: scores differ", quant,
			    dim, i);
	}
}

static void
test_q8(void **state)
{
	static const uint32_t dims[] = { 1, 3, 32, 128, 300 };
	size_t i;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		copy_all(*state, "Q8", dims[i]);
		scores_match(*state, "Q8", dims[i]);
	}
}

static void
test_noquant(void **state)
{
	static const uint32_t dims[] = { 1, 3, 32, 300 };
	size_t i;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		copy_all(*state, "NOQUANT", dims[i]);
		scores_match(*state, "NOQUANT", dims[i]);
	}
}

static void
test_bin(void **state)
{
	static const uint32_t dims[] = { 1, 3, 64, 65, 300 };
	size_t i;

	for (i = 0; i < sizeof(dims) / sizeof(dims[0]); i++) {
		copy_all(*state, "BIN", dims[i]);
		scores_match(*state, "BIN", dims[i]);
	}
}

static void
test_parse_refuses(void **state)
{
	struct fx *t = *state;
	struct vsd_raw_elem e;
	char why[200];
	float v[4] = { 1, 2, 3, 4 };
	redisReply *r;

	vadd(t, "p", "a", v, 4, "Q8");
	r = redisCommand(t->c, "VEMB p a RAW");
	assert_int_equal(vsd_raw_parse(r, 4, &e, why, sizeof(why)), 0);
	/* the wrong dimension */
	assert_int_equal(vsd_raw_parse(r, 5, &e, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "bytes"));
	freeReplyObject(r);
	/* a missing element, a plain VEMB, an error */
	r = redisCommand(t->c, "VEMB p zz RAW");
	assert_int_equal(vsd_raw_parse(r, 4, &e, why, sizeof(why)), -1);
	freeReplyObject(r);
	r = redisCommand(t->c, "VEMB p a");
	assert_int_equal(vsd_raw_parse(r, 4, &e, why, sizeof(why)), -1);
	freeReplyObject(r);
	r = redisCommand(t->c, "VEMB nokey a RAW");
	assert_int_equal(vsd_raw_parse(r, 4, &e, why, sizeof(why)), -1);
	freeReplyObject(r);
	assert_int_equal(vsd_raw_parse(NULL, 4, &e, why, sizeof(why)), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_q8),
		cmocka_unit_test(test_noquant),
		cmocka_unit_test(test_bin),
		cmocka_unit_test(test_parse_refuses),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
