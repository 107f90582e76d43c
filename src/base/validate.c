/*
 * validate.c - request validation.  Everything a shard would refuse, or
 * that could make shards disagree, is refused here first with a message that
 * names the field: a client debugging a batch of 10,000 items needs the
 * index of the bad one, not Redis's generic error.
 */
#include <math.h>
#include <string.h>

#include "validate.h"

int
vsd_check_collection(const char *name, struct vsd_status *st)
{
	size_t i, n = strlen(name);

	if (n == 0)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "collection name is empty");
	if (n > VSD_MAX_COLLECTION_BYTES)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "collection name is %zu bytes; the limit is %d", n,
		    VSD_MAX_COLLECTION_BYTES);
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		    c == ':' || c == '-'))
			return vsd_status_set(st, VSD_INVALID_ARGUMENT,
			    "collection name has byte 0x%02x at offset %zu; "
			    "allowed are A-Z a-z 0-9 _ . : -", c, i);
	}
	return VSD_OK;
}

int
vsd_check_id(const char *id, const struct vsd_limits *lim, const char *what,
    struct vsd_status *st)
{
	const unsigned char *s = (const unsigned char *)id;
	size_t i, n = strlen(id), step;

	if (n == 0)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s is empty", what);
	if (n > lim->max_id_bytes)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s is %zu bytes; the limit is %u", what, n,
		    lim->max_id_bytes);
	for (i = 0; i < n; i += step) {
		if ((step = vsd_utf8_seq(s + i, n - i)) == 0)
			return vsd_status_set(st, VSD_INVALID_ARGUMENT,
			    "%s is not valid UTF-8 at byte %zu", what, i);
	}
	return VSD_OK;
}

int
vsd_check_vector(const float *v, size_t n, size_t want_dim,
    const struct vsd_limits *lim, const char *what, struct vsd_status *st)
{
	size_t i;

	if (n == 0)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s is empty", what);
	if (n > lim->max_dim)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s has dimension %zu; the limit is %u", what, n,
		    lim->max_dim);
	if (want_dim != 0 && n != want_dim)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s has dimension %zu but the first has %zu: mixed "
		    "dimensions in one request", what, n, want_dim);
	for (i = 0; i < n; i++) {
		if (isnan(v[i]))
			return vsd_status_set(st, VSD_INVALID_ARGUMENT,
			    "%s[%zu] is NaN", what, i);
		if (isinf(v[i]))
			return vsd_status_set(st, VSD_INVALID_ARGUMENT,
			    "%s[%zu] is Inf", what, i);
	}
	return VSD_OK;
}

int
vsd_check_k(uint32_t k, const struct vsd_limits *lim, struct vsd_status *st)
{
	if (k > lim->max_k)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "k is %u; the limit is %u (--max-k)", k, lim->max_k);
	return VSD_OK;
}

int
vsd_check_batch(size_t n, const struct vsd_limits *lim, const char *what,
    struct vsd_status *st)
{
	if (n == 0)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s is empty", what);
	if (n > lim->max_batch)
		return vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "%s has %zu entries; the limit is %u (--max-batch)", what,
		    n, lim->max_batch);
	return VSD_OK;
}
