/*
 * vb_dataset.h - the vectors vset-bench loads and searches with.
 *
 * A dataset is a spec string, the same on every agent, so that each agent
 * can rebuild it locally (agents may be on other hosts):
 *   fashion-mnist[:DIR]     Debian's dataset-fashion-mnist: train images
 *                           are the data, t10k images the queries (784-d)
 *   synthetic:N:DIM[:SEED]  seeded clusters of Gaussians; queries come from
 *                           the same clusters with another stream
 *   FILE.npy | FILE.fvecs   float32 rows (npy: also float64 and uint8);
 *                           queries are the rows after the first `limit`,
 *                           or, when the file has no more, the first rows
 * Row i of the data is element id "i<i>" (see vb_dataset_id).
 *
 * Ownership: vb_dataset_open fills *ds with malloc'd arrays that
 * vb_dataset_free releases.
 */
#ifndef VB_DATASET_H
#define VB_DATASET_H

#include <stddef.h>
#include <stdint.h>

typedef struct vb_dataset {
	size_t n;            /* data rows (after limit) */
	size_t dim;
	float *data;         /* n * dim */
	size_t nq;           /* query rows */
	float *queries;      /* nq * dim */
	uint64_t checksum;   /* of spec, sizes and every float: cache key */
} vb_dataset;

/* limit: at most this many data rows (0 = all).  nq: queries wanted (the
 * dataset may have fewer: ds->nq says).  On failure returns -1 with a
 * message in err. */
int vb_dataset_open(vb_dataset *ds, const char *spec, size_t limit,
    size_t nq, char *err, size_t errlen);
void vb_dataset_free(vb_dataset *ds);

/* Element id of data row i ("i<i>") into buf; and back: the row of an id,
 * or -1 if it is not one of ours. */
void vb_dataset_id(size_t row, char *buf, size_t len);
long vb_dataset_row(const char *id);

#endif
