/*
 * validate.h - checks on what a client sent, before any shard is touched.
 *
 * Pure functions: each returns VSD_OK, or a code with st->msg naming the
 * field and the problem ("items[3].vector[7] is NaN").  They never keep
 * pointers.
 */
#ifndef VSD_VALIDATE_H
#define VSD_VALIDATE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define VSD_MAX_COLLECTION_BYTES 200

struct vsd_limits {
	uint32_t max_batch;
	uint32_t max_k;
	uint32_t max_dim;
	uint32_t max_id_bytes;
};

/* 1..200 bytes of [A-Za-z0-9_.:-]. */
int vsd_check_collection(const char *name, struct vsd_status *st);
/* 1..max_id_bytes bytes, valid UTF-8 (protobuf strings must be), no NUL.
 * what names the field in the message, e.g. "items[3].id". */
int vsd_check_id(const char *id, const struct vsd_limits *lim,
    const char *what, struct vsd_status *st);
/* 1..max_dim components, all finite.  want_dim != 0 also requires that
 * dimension (mixed dimensions in one batch). */
int vsd_check_vector(const float *v, size_t n, size_t want_dim,
    const struct vsd_limits *lim, const char *what, struct vsd_status *st);
/* k == 0 means the default (10); beyond max_k is refused. */
int vsd_check_k(uint32_t k, const struct vsd_limits *lim,
    struct vsd_status *st);
/* 1..max_batch entries. */
int vsd_check_batch(size_t n, const struct vsd_limits *lim,
    const char *what, struct vsd_status *st);

#endif
