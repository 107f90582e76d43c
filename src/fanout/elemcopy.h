/*
 * elemcopy.h - an exact copy of a stored vector-set element, for the
 * mover of online resharding (issue 10, topology.h).
 *
 * Why.  Moving an element means VADD on its new owner of something read
 * on the old one.  Reading it with plain VEMB gives the de-quantized
 * floats; re-adding those quantizes them again from a different maximum,
 * so a Q8 element's stored range and bytes change: scores moved by up to
 * 7e-4 and 26 of 50 exact top-10 lists changed order (issue 10).  VADD
 * cannot take the stored form back either.  So the copy is rebuilt from
 * `VEMB key id RAW`, which answers
 *
 *   1) the quantization: "int8" (Q8), "f32" (NOQUANT) or "bin" (BIN)
 *   2) the stored bytes: dim int8 / dim float32 / the sign bits packed in
 *      64-bit words (bit i set = component i positive), in the shard's
 *      byte order (vsetd and its shards are assumed little-endian, as
 *      the FP32 blobs vsetd sends already are)
 *   3) the L2 norm the vector had before Redis normalised it
 *   4) Q8 only: the range, the largest |component| of the normalised
 *      vector (the stored q[i] is round(v[i] * 127 / range))
 *
 * and a vector is computed whose normalisation quantizes to the same
 * bytes, checked beforehand by emulating Redis's float operations
 * (normalisation and Q8 rounding, in their order):
 *   - f32: the stored unit vector times the norm (or a scale a few float
 *     steps from it), with single components stepped by one ulp where
 *     Redis's normalisation would not give the stored float back;
 *   - bin: +-norm/sqrt(dim) by the sign bits (only signs are stored);
 *   - int8: the unit-norm preimage of the bytes: the components with
 *     |q| = 127 at +-range, the others at q*range/127 scaled by one common
 *     factor so the whole has norm 1 (its largest component is then range,
 *     so Redis picks the same range, and each component stays inside its
 *     rounding cell), times the norm.
 * tests/integration/test_elemcopy.c checks against real Redis that the
 * copy stores identical bytes.
 *
 * A REDUCE collection stores the projected vector: it cannot be copied
 * element by element (the mover refuses it, FAILED_PRECONDITION).
 *
 * Ownership: struct vsd_raw_elem points into the reply (valid while it
 * is); out vectors are the caller's (dim floats).  Pure functions.
 */
#ifndef VSD_ELEMCOPY_H
#define VSD_ELEMCOPY_H

#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

enum vsd_raw_quant {
	VSD_RAW_Q8 = 1,
	VSD_RAW_NOQUANT,
	VSD_RAW_BIN,
};

/* Q8's largest stored magnitude. */
#define VSD_Q8_MAX 127

struct vsd_raw_elem {
	int quant;                   /* enum vsd_raw_quant */
	const unsigned char *bytes;  /* into the reply */
	size_t nbytes;
	double norm;
	double range;                /* Q8 only, else 0 */
};

/*
 * Check and take apart a VEMB ... RAW reply for an element of dimension
 * dim.  0, or -1 with why set (wrong shape, sizes that do not match dim,
 * a norm or range that is not a finite positive number...).
 */
int vsd_raw_parse(const redisReply *r, uint32_t dim, struct vsd_raw_elem *e,
    char *why, size_t whylen);

/*
 * out[0..dim) := the vector to VADD (FP32) so that the new element
 * stores e's bytes (see above).  0: exact (identical bytes; Q8's range
 * and the norm within float rounding; a NOQUANT norm within 3e-5
 * relative).  1: approximate, why says how (a NOQUANT element for which
 * no exact preimage was found: floats may differ in their last bit, the
 * norm is exact).  -1 with why set when the stored form is inconsistent
 * (e.g. no component at the range) or out of memory.
 */
int vsd_raw_preimage(const struct vsd_raw_elem *e, uint32_t dim, float *out,
    char *why, size_t whylen);

#endif
