/*
 * vs_hist.c - log-linear latency histogram (see vs_hist.h for the layout
 * and the wire format).
 *
 * Index arithmetic: a value v >= 256 has its top bit at e = floor(log2 v)
 * (8..25); its 7 bits below the top bit pick the sub-bucket.  So bucket
 * index = 256 + (e - 8) * 128 + ((v >> (e - 7)) - 128), and a bucket of
 * range e is 2^(e-7) wide: 1/128 of 2^e.
 */
#include <string.h>

#include "vs_hist.h"

#define SUB_COUNT (1u << VS_HIST_SUB_BITS)
#define FIRST_EXP (VS_HIST_SUB_BITS + 1)

static const uint8_t vs_hist_magic[3] = { 'V', 'H', 0x01 };

void
vs_hist_reset(vs_hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

size_t
vs_hist_bucket_of(uint64_t us)
{
	unsigned e;

	if (us < VS_HIST_EXACT)
		return (size_t)us;
	if (us > VS_HIST_TRACKABLE_MAX)
		us = VS_HIST_TRACKABLE_MAX;
	e = 63u - (unsigned)__builtin_clzll(us);
	return VS_HIST_EXACT + (size_t)(e - FIRST_EXP) * SUB_COUNT +
	    (size_t)((us >> (e - VS_HIST_SUB_BITS)) - SUB_COUNT);
}

uint64_t
vs_hist_bucket_low(size_t idx)
{
	size_t o, s;

	if (idx < VS_HIST_EXACT)
		return idx;
	o = (idx - VS_HIST_EXACT) / SUB_COUNT;
	s = (idx - VS_HIST_EXACT) % SUB_COUNT;
	return (uint64_t)(SUB_COUNT + s) << (o + 1);
}

uint64_t
vs_hist_bucket_high(size_t idx)
{
	size_t o;

	if (idx < VS_HIST_EXACT)
		return idx;
	o = (idx - VS_HIST_EXACT) / SUB_COUNT;
	return vs_hist_bucket_low(idx) + (UINT64_C(1) << (o + 1)) - 1;
}

static uint64_t
sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

void
vs_hist_record_n(vs_hist *h, uint64_t us, uint64_t n)
{
	if (n == 0)
		return;
	h->buckets[vs_hist_bucket_of(us)] += n;
	h->count += n;
	/* us * n without overflow: the sum only feeds the mean. */
	if (n > 1 && us > UINT64_MAX / n)
		h->sum = UINT64_MAX;
	else
		h->sum = sat_add(h->sum, us * n);
	if (us < h->min)
		h->min = us;
	if (us > h->max)
		h->max = us;
}

void
vs_hist_record(vs_hist *h, uint64_t us)
{
	vs_hist_record_n(h, us, 1);
}

void
vs_hist_merge(vs_hist *dst, const vs_hist *src)
{
	size_t i;

	if (src->count == 0)
		return;
	for (i = 0; i < VS_HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum = sat_add(dst->sum, src->sum);
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

uint64_t
vs_hist_count(const vs_hist *h)
{
	return h->count;
}

uint64_t
vs_hist_min(const vs_hist *h)
{
	return h->count == 0 ? 0 : h->min;
}

uint64_t
vs_hist_max(const vs_hist *h)
{
	return h->max;
}

double
vs_hist_mean(const vs_hist *h)
{
	return h->count == 0 ? 0.0 : (double)h->sum / (double)h->count;
}

double
vs_hist_percentile(const vs_hist *h, double p)
{
	uint64_t rank, seen = 0;
	double v;
	size_t i;

	if (h->count == 0)
		return 0.0;
	if (p <= 0.0)
		return (double)h->min;
	if (p >= 100.0)
		return (double)h->max;
	/* The rank-th smallest value, 1-based, rank = ceil(p% of count). */
	rank = (uint64_t)((p / 100.0) * (double)h->count);
	if ((double)rank < (p / 100.0) * (double)h->count)
		rank++;
	if (rank == 0)
		rank = 1;
	for (i = 0; i < VS_HIST_NBUCKETS; i++) {
		seen += h->buckets[i];
		if (seen >= rank)
			break;
	}
	if (i == VS_HIST_NBUCKETS)       /* unreachable for a consistent h */
		return (double)h->max;
	/* The midpoint halves the worst-case error; the exact extremes are
	 * better answers when they fall inside the bucket. */
	v = ((double)vs_hist_bucket_low(i) + (double)vs_hist_bucket_high(i)) /
	    2.0;
	if (v < (double)h->min)
		v = (double)h->min;
	if (v > (double)h->max)
		v = (double)h->max;
	return v;
}

/* ------------------------------------------------------------ encoding */

static size_t
varint_size(uint64_t v)
{
	size_t n = 1;

	while (v >= 0x80) {
		v >>= 7;
		n++;
	}
	return n;
}

static uint8_t *
varint_put(uint8_t *p, uint64_t v)
{
	while (v >= 0x80) {
		*p++ = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	*p++ = (uint8_t)v;
	return p;
}

/* Read a varint from [*pp, end).  -1 on truncation or more than 64 bits. */
static int
varint_get(const uint8_t **pp, const uint8_t *end, uint64_t *out)
{
	const uint8_t *p = *pp;
	uint64_t v = 0;
	unsigned shift = 0;

	for (;;) {
		if (p == end || shift > 63)
			return -1;
		if (shift == 63 && (*p & 0x7e) != 0)
			return -1;
		v |= (uint64_t)(*p & 0x7f) << shift;
		if ((*p++ & 0x80) == 0)
			break;
		shift += 7;
	}
	*pp = p;
	*out = v;
	return 0;
}

size_t
vs_hist_encoded_size(const vs_hist *h)
{
	size_t n, i, nnz = 0, last = (size_t)-1;

	n = sizeof(vs_hist_magic) + varint_size(h->count) +
	    varint_size(h->sum) + varint_size(vs_hist_min(h)) +
	    varint_size(h->max);
	for (i = 0; i < VS_HIST_NBUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		n += varint_size(i - last - 1) + varint_size(h->buckets[i]);
		last = i;
		nnz++;
	}
	return n + varint_size(nnz);
}

size_t
vs_hist_encode(const vs_hist *h, uint8_t *buf, size_t cap)
{
	size_t i, nnz = 0, last = (size_t)-1;
	uint8_t *p = buf;

	if (cap < vs_hist_encoded_size(h))
		return 0;
	for (i = 0; i < VS_HIST_NBUCKETS; i++)
		if (h->buckets[i] != 0)
			nnz++;
	memcpy(p, vs_hist_magic, sizeof(vs_hist_magic));
	p += sizeof(vs_hist_magic);
	p = varint_put(p, h->count);
	p = varint_put(p, h->sum);
	p = varint_put(p, vs_hist_min(h));
	p = varint_put(p, h->max);
	p = varint_put(p, nnz);
	for (i = 0; i < VS_HIST_NBUCKETS; i++) {
		if (h->buckets[i] == 0)
			continue;
		p = varint_put(p, i - last - 1);
		p = varint_put(p, h->buckets[i]);
		last = i;
	}
	return (size_t)(p - buf);
}

int
vs_hist_decode(vs_hist *h, const uint8_t *buf, size_t len)
{
	const uint8_t *p = buf, *end = buf + len;
	uint64_t count, sum, min, max, nnz, gap, n, total = 0, k;
	size_t idx = (size_t)-1;
	int rv = -1;

	vs_hist_reset(h);
	if (len < sizeof(vs_hist_magic) ||
	    memcmp(p, vs_hist_magic, sizeof(vs_hist_magic)) != 0)
		goto out;
	p += sizeof(vs_hist_magic);
	if (varint_get(&p, end, &count) != 0 ||
	    varint_get(&p, end, &sum) != 0 ||
	    varint_get(&p, end, &min) != 0 ||
	    varint_get(&p, end, &max) != 0 ||
	    varint_get(&p, end, &nnz) != 0)
		goto out;
	if (nnz > VS_HIST_NBUCKETS)
		goto out;
	for (k = 0; k < nnz; k++) {
		if (varint_get(&p, end, &gap) != 0 ||
		    varint_get(&p, end, &n) != 0)
			goto out;
		/* Each step moves forward by gap+1 and stays in range. */
		if (gap >= VS_HIST_NBUCKETS || idx + 1 + gap >= VS_HIST_NBUCKETS)
			goto out;
		idx = idx + 1 + (size_t)gap;
		if (n == 0 || n > UINT64_MAX - total)
			goto out;
		h->buckets[idx] = n;
		total += n;
	}
	/* The header must agree with the buckets it describes. */
	if (p != end || total != count)
		goto out;
	if (count > 0 && (min > max ||
	    h->buckets[vs_hist_bucket_of(min)] == 0 ||
	    h->buckets[vs_hist_bucket_of(max)] == 0))
		goto out;
	if (count == 0 && (min != 0 || max != 0 || sum != 0))
		goto out;
	h->count = count;
	h->sum = sum;
	h->min = count > 0 ? min : UINT64_MAX;
	h->max = max;
	rv = 0;
out:
	if (rv != 0)
		vs_hist_reset(h);
	return rv;
}
