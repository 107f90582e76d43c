/*
 * elemcopy.c - an element's exact copy from VEMB RAW (see elemcopy.h for
 * why and how).
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "elemcopy.h"

#define VSD_RAW_FIELDS_Q8 4
#define VSD_RAW_FIELDS 3
#define VSD_BIN_WORD_BYTES 8
#define VSD_BIN_WORD_BITS 64
/* A unit vector's largest component may exceed 1 by rounding only. */
#define VSD_RANGE_SLACK 1e-5
/* The longest number Redis prints for a norm or range. */
#define VSD_RAW_NUM_MAX 64

static int
vsd_num(const redisReply *r, double *out)
{
	char buf[VSD_RAW_NUM_MAX + 1], *end;

	if (r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_STATUS) {
		if (r->len <= 0 || r->len > VSD_RAW_NUM_MAX)
			return -1;
		memcpy(buf, r->str, (size_t)r->len);
		buf[r->len] = '\0';
		*out = strtod(buf, &end);
		return *end == '\0' && isfinite(*out) ? 0 : -1;
	}
	return -1;
}

int
vsd_raw_parse(const redisReply *r, uint32_t dim, struct vsd_raw_elem *e,
    char *why, size_t whylen)
{
	const redisReply *q, *b;
	size_t want;

	memset(e, 0, sizeof(*e));
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 3) {
		snprintf(why, whylen, "VEMB RAW: not an array of 3 or 4");
		return -1;
	}
	q = r->element[0];
	b = r->element[1];
	if ((q->type != REDIS_REPLY_STRING && q->type != REDIS_REPLY_STATUS) ||
	    b->type != REDIS_REPLY_STRING) {
		snprintf(why, whylen, "VEMB RAW: quantization or bytes not a "
		    "string");
		return -1;
	}
	if (strcmp(q->str, "int8") == 0) {
		e->quant = VSD_RAW_Q8;
		want = dim;
	} else if (strcmp(q->str, "f32") == 0) {
		e->quant = VSD_RAW_NOQUANT;
		want = (size_t)dim * sizeof(float);
	} else if (strcmp(q->str, "bin") == 0) {
		e->quant = VSD_RAW_BIN;
		want = ((size_t)dim + VSD_BIN_WORD_BITS - 1) /
		    VSD_BIN_WORD_BITS * VSD_BIN_WORD_BYTES;
	} else {
		snprintf(why, whylen, "VEMB RAW: unknown quantization "
		    "\"%.20s\"", q->str);
		return -1;
	}
	if (r->elements != (e->quant == VSD_RAW_Q8 ? VSD_RAW_FIELDS_Q8 :
	    VSD_RAW_FIELDS)) {
		snprintf(why, whylen, "VEMB RAW: %zu fields for %s",
		    r->elements, q->str);
		return -1;
	}
	if ((size_t)b->len != want) {
		snprintf(why, whylen, "VEMB RAW: %zu bytes for %s of dimension "
		    "%u (expected %zu)", (size_t)b->len, q->str, dim, want);
		return -1;
	}
	e->bytes = (const unsigned char *)b->str;
	e->nbytes = want;
	if (vsd_num(r->element[2], &e->norm) != 0 || !(e->norm > 0)) {
		snprintf(why, whylen, "VEMB RAW: norm is not a positive number");
		return -1;
	}
	if (e->quant == VSD_RAW_Q8 && (vsd_num(r->element[3], &e->range) != 0 ||
	    !(e->range > 0) || e->range > 1 + VSD_RANGE_SLACK)) {
		snprintf(why, whylen, "VEMB RAW: range is not in (0, 1]");
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ emulation */

/*
 * What Redis 8 does to a VADD's FP32 vector, in the same float operations
 * in the same order (modules/vector-sets/hnsw.c: normalise by the L2 norm
 * summed four components at a time, then Q8 maps the largest magnitude to
 * 127 and rounds): so a candidate copy can be checked here, byte for byte,
 * before it is sent.  x gets the normalised vector; *l2 the norm.
 */
static void
vsd_emul_normalize(const float *in, float *x, uint32_t dim, float *l2)
{
	float sum = 0;
	uint32_t i;

	for (i = 0; i + 3 < dim; i += 4)
		sum += in[i] * in[i] + in[i + 1] * in[i + 1] +
		    in[i + 2] * in[i + 2] + in[i + 3] * in[i + 3];
	for (; i < dim; i++)
		sum += in[i] * in[i];
	*l2 = sqrtf(sum);
	for (i = 0; i < dim; i++)
		x[i] = sum == 0 ? in[i] : in[i] / *l2;
}

/* 1 when in quantizes to q (and *range gets its range). */
static int
vsd_emul_q8(const float *in, float *x, uint32_t dim, const int8_t *q,
    float *range, uint32_t *bad)
{
	float l2, max = 0, scale;
	uint32_t i;

	vsd_emul_normalize(in, x, dim, &l2);
	for (i = 0; i < dim; i++) {
		if (x[i] > max)
			max = x[i];
		if (-x[i] > max)
			max = -x[i];
	}
	*range = max;
	*bad = 0;
	if (max == 0)
		return 0;
	scale = (float)VSD_Q8_MAX / max;
	for (i = 0; i < dim; i++) {
		int8_t got = (int8_t)roundf(x[i] * scale);

		/* remember the mismatch in x: -1 too low, +1 too high */
		x[i] = got < q[i] ? -1 : got > q[i] ? 1 : 0;
		*bad += got != q[i];
	}
	return *bad == 0;
}

/* Magnitude of a non-pinned Q8 component at position lambda in [-1, 1]
 * of its rounding cell (in units of the range). */
static double
vsd_q8_mag(int8_t q, double lambda)
{
	double a = fabs((double)q) / VSD_Q8_MAX, h = 0.5 / VSD_Q8_MAX;
	double m = a + lambda * h;

	if (m < a - h)
		m = a - h;
	if (m < 0)
		m = 0;
	if (m > a + h)
		m = a + h;
	if (m > 1)
		m = 1;
	return m;
}

#define VSD_BISECT_STEPS 60
/* Stay this far inside the rounding cells. */
#define VSD_LAMBDA_MAX 0.999
#define VSD_NUDGE_ROUNDS 16
#define VSD_NUDGE_STEP 0.05

/*
 * Q8: the bytes depend only on v / max|v| and the range only on
 * max|v| / |v|, so: one component with |q| = 127 pinned at magnitude 1,
 * every other component placed at the same relative position lambda of
 * its own rounding cell, lambda found by bisection so that the squared
 * norm is 1 / range^2 (the original vector proves that such a point
 * exists in the cells; the sum grows with lambda).  Then scaled by
 * range * norm, checked by emulation, and components that still round
 * the wrong way are moved toward their cell's centre.
 */
static int
vsd_q8_preimage(const struct vsd_raw_elem *e, uint32_t dim, float *out,
    char *why, size_t whylen)
{
	const int8_t *q = (const int8_t *)e->bytes;
	double target, lo = -1, hi = 1, lam = 0, f, scale;
	uint32_t i, pin = dim, round, bad = 0;
	float range, *x;
	int ok = 0;

	for (i = 0; i < dim; i++) {
		if (q[i] < -VSD_Q8_MAX) {
			snprintf(why, whylen, "Q8 byte %d out of range", q[i]);
			return -1;
		}
		if (pin == dim && (q[i] == VSD_Q8_MAX || q[i] == -VSD_Q8_MAX))
			pin = i;
	}
	if (pin == dim) {
		snprintf(why, whylen, "Q8 element without a component at "
		    "+-%d", VSD_Q8_MAX);
		return -1;
	}
	if ((x = malloc((size_t)dim * sizeof(*x))) == NULL) {
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	target = 1 / (e->range * e->range);
	for (round = 0; round < VSD_BISECT_STEPS; round++) {
		lam = (lo + hi) / 2;
		for (f = 1, i = 0; i < dim; i++)
			if (i != pin)
				f += vsd_q8_mag(q[i], lam) * vsd_q8_mag(q[i], lam);
		if (f < target)
			lo = lam;
		else
			hi = lam;
	}
	if (lam > VSD_LAMBDA_MAX)
		lam = VSD_LAMBDA_MAX;
	if (lam < -VSD_LAMBDA_MAX)
		lam = -VSD_LAMBDA_MAX;
	scale = e->range * e->norm;
	for (i = 0; i < dim; i++) {
		double m = i == pin ? 1 : vsd_q8_mag(q[i], lam);

		out[i] = (float)((q[i] < 0 ? -m : m) * scale);
	}
	for (round = 0; round <= VSD_NUDGE_ROUNDS; round++) {
		if ((ok = vsd_emul_q8(out, x, dim, q, &range, &bad)))
			break;
		for (i = 0; i < dim; i++)
			if (x[i] != 0 && i != pin)
				out[i] -= (float)(x[i] * VSD_NUDGE_STEP /
				    VSD_Q8_MAX * scale);
	}
	/* Nudges and clamping move the norm a little: scale it back, and
	 * keep that only if the bytes still match. */
	if (ok) {
		float l2, *keep = malloc((size_t)dim * sizeof(*keep));

		if (keep != NULL) {
			memcpy(keep, out, (size_t)dim * sizeof(*keep));
			vsd_emul_normalize(keep, x, dim, &l2);
			for (i = 0; l2 > 0 && i < dim; i++)
				out[i] = (float)(keep[i] * (e->norm / l2));
			if (!vsd_emul_q8(out, x, dim, q, &range, &bad))
				memcpy(out, keep, (size_t)dim * sizeof(*keep));
			free(keep);
		}
	}
	free(x);
	if (!ok) {
		snprintf(why, whylen, "no exact Q8 copy found (%u of %u bytes "
		    "differ)", bad, dim);
		return -1;
	}
	return 0;
}

/* NOQUANT scales tried around the norm, each a float step apart. */
#define VSD_F32_SCALES 256
#define VSD_F32_ROUNDS 4

/*
 * NOQUANT: the stored unit vector times a scale, then components whose
 * normalisation comes out an ulp off are stepped by one ulp until the
 * emulation gives back the stored floats.  Dividing by the norm can skip
 * some floats, so scales up to VSD_F32_SCALES float steps around the norm
 * are tried in turn (the copy's norm then differs by at most 3 parts in
 * 10^5).  Failing all, the plain unit vector times the norm: an
 * approximate copy (1), whose floats may differ in their last bit.
 */
static int
vsd_f32_preimage(const struct vsd_raw_elem *e, uint32_t dim, float *out,
    char *why, size_t whylen)
{
	float *v, *x, l2, n = (float)e->norm, scale = n, up = n, down = n;
	uint32_t i, round, bad = 0;
	int attempt;

	v = malloc((size_t)dim * sizeof(*v));
	x = malloc((size_t)dim * sizeof(*x));
	if (v == NULL || x == NULL) {
		free(v);
		free(x);
		snprintf(why, whylen, "out of memory");
		return -1;
	}
	memcpy(v, e->bytes, (size_t)dim * sizeof(*v));
	for (attempt = 0; attempt <= 2 * VSD_F32_SCALES; attempt++) {
		if (attempt > 0 && attempt % 2 == 1)
			scale = up = nextafterf(up, INFINITY);
		else if (attempt > 0)
			scale = down = nextafterf(down, 0);
		for (i = 0; i < dim; i++)
			out[i] = v[i] * scale;
		for (round = 0; round <= VSD_F32_ROUNDS; round++) {
			vsd_emul_normalize(out, x, dim, &l2);
			for (bad = 0, i = 0; i < dim; i++) {
				if (x[i] == v[i])
					continue;
				bad++;
				out[i] = nextafterf(out[i], x[i] < v[i] ?
				    INFINITY : -INFINITY);
			}
			if (bad == 0)
				goto out;
		}
	}
out:
	if (bad != 0) {
		for (i = 0; i < dim; i++)
			out[i] = v[i] * n;
		snprintf(why, whylen, "no exact NOQUANT copy found: %u of %u "
		    "components may differ in their last bit", bad, dim);
	}
	free(v);
	free(x);
	return bad != 0;
}

int
vsd_raw_preimage(const struct vsd_raw_elem *e, uint32_t dim, float *out,
    char *why, size_t whylen)
{
	uint32_t i;
	double c;

	switch (e->quant) {
	case VSD_RAW_Q8:
		return vsd_q8_preimage(e, dim, out, why, whylen);
	case VSD_RAW_NOQUANT:
		return vsd_f32_preimage(e, dim, out, why, whylen);
	case VSD_RAW_BIN:
		c = e->norm / sqrt((double)dim);
		for (i = 0; i < dim; i++) {
			const unsigned char *w = e->bytes +
			    (size_t)(i / VSD_BIN_WORD_BITS) * VSD_BIN_WORD_BYTES;
			uint32_t bit = i % VSD_BIN_WORD_BITS;
			int pos = (w[bit / 8] >> (bit % 8)) & 1;

			out[i] = (float)(pos ? c : -c);
		}
		return 0;
	default:
		snprintf(why, whylen, "unknown quantization %d", e->quant);
		return -1;
	}
}
