/*
 * vs_hist.h - a mergeable, serializable latency histogram.
 *
 * Design.  Log-linear buckets, as in HdrHistogram: values below 256 us get
 * one bucket each (exact); above that, every power-of-two range
 * [2^e, 2^(e+1)) is split into 128 equal sub-buckets.  A bucket is then at
 * most 1/128 of its lowest value wide, and a percentile reported as the
 * bucket's midpoint is within 1/256 (0.4%) of the true recorded value,
 * from 1 us up to 2^26 us (67 s).  Larger values are clamped into the top
 * bucket for the percentiles, but min, max, sum and count stay exact.
 *
 * Why fixed buckets rather than a sample or a sketch: two histograms with
 * the same layout merge by adding counts, which makes the merge exact and
 * associative (agents' results merge into the coordinator's, per-thread
 * histograms into a server's, in any order), and recording is one index
 * computation and an increment.
 *
 * The struct is plain data (about 20 KiB) so it can be embedded, kept per
 * thread, or put on the stack; nothing here allocates, locks or does I/O.
 * Not thread-safe: give each thread its own and merge.
 *
 * Wire format (vs_hist_encode): the bytes 'V' 'H' 0x01, then unsigned
 * LEB128 varints: count, sum, min, max, the number of non-empty buckets,
 * then for each non-empty bucket in index order (index gap since the last
 * one, minus one; its count).  Byte order independent; a run of a few
 * hundred distinct latencies encodes in well under 1 KiB.
 */
#ifndef VS_HIST_H
#define VS_HIST_H

#include <stddef.h>
#include <stdint.h>

#define VS_HIST_SUB_BITS 7                        /* 128 sub-buckets */
#define VS_HIST_EXACT (1u << (VS_HIST_SUB_BITS + 1))  /* 0..255 exact */
#define VS_HIST_MAX_EXP 25                        /* top range [2^25, 2^26) */
#define VS_HIST_NBUCKETS (VS_HIST_EXACT + \
	(VS_HIST_MAX_EXP - VS_HIST_SUB_BITS) * (1u << VS_HIST_SUB_BITS))
/* The largest value with a bucket of its own, in us (about 67 s). */
#define VS_HIST_TRACKABLE_MAX ((UINT64_C(1) << (VS_HIST_MAX_EXP + 1)) - 1)

typedef struct vs_hist {
	uint64_t count;                      /* values recorded */
	uint64_t sum;                        /* their sum (saturates) */
	uint64_t min;                        /* UINT64_MAX while empty */
	uint64_t max;
	uint64_t buckets[VS_HIST_NBUCKETS];
} vs_hist;

/* Empty h. */
void vs_hist_reset(vs_hist *h);

/* Record one value (microseconds), or n equal values. */
void vs_hist_record(vs_hist *h, uint64_t us);
void vs_hist_record_n(vs_hist *h, uint64_t us, uint64_t n);

/* dst += src.  Equal to having recorded src's values into dst. */
void vs_hist_merge(vs_hist *dst, const vs_hist *src);

uint64_t vs_hist_count(const vs_hist *h);
uint64_t vs_hist_min(const vs_hist *h);  /* 0 when empty */
uint64_t vs_hist_max(const vs_hist *h);  /* 0 when empty */
double vs_hist_mean(const vs_hist *h);   /* 0 when empty */

/* The value at percentile p (0..100) in us: the smallest recorded value
 * that at least p% of the values do not exceed, to within 0.4%.  p <= 0
 * gives min, p >= 100 gives max; 0 when empty. */
double vs_hist_percentile(const vs_hist *h, double p);

/* Bucket layout, for tests and exporters (e.g. Prometheus buckets):
 * the bucket of a value, and the lowest and highest value of a bucket. */
size_t vs_hist_bucket_of(uint64_t us);
uint64_t vs_hist_bucket_low(size_t idx);
uint64_t vs_hist_bucket_high(size_t idx);

/* Exact size of h's encoding in bytes. */
size_t vs_hist_encoded_size(const vs_hist *h);
/* Write h's encoding into buf[0..cap).  Returns the bytes written, or 0 if
 * cap is smaller than vs_hist_encoded_size(h). */
size_t vs_hist_encode(const vs_hist *h, uint8_t *buf, size_t cap);
/* Read an encoding into *h (overwritten).  Returns 0, or -1 if buf is not
 * a well-formed encoding (then *h is left empty). */
int vs_hist_decode(vs_hist *h, const uint8_t *buf, size_t len);

#endif
