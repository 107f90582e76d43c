/*
 * vb_dataset.c - dataset readers and the synthetic generator.
 *
 * Every reader produces float32 rows in memory; nothing is normalised here
 * (Redis normalises on VADD, and the ground truth uses cosine, which does
 * not care).  Files are read with stdio/zlib and validated against their
 * own headers, so a truncated download fails loudly instead of loading
 * zeros.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <zlib.h>

#include "vb_dataset.h"

#define FMNIST_DIR "/usr/share/datasets/fashion-mnist"

static void
seterr(char *err, size_t len, const char *fmt, const char *arg)
{
	snprintf(err, len, fmt, arg);
}

static int
has_suffix(const char *s, const char *suf)
{
	size_t a = strlen(s), b = strlen(suf);

	return a >= b && strcmp(s + a - b, suf) == 0;
}

void
vb_dataset_id(size_t row, char *buf, size_t len)
{
	snprintf(buf, len, "i%zu", row);
}

long
vb_dataset_row(const char *id)
{
	char *end;
	long v;

	if (id[0] != 'i' || id[1] < '0' || id[1] > '9')
		return -1;
	errno = 0;
	v = strtol(id + 1, &end, 10);
	if (*end != '\0' || errno != 0)
		return -1;
	return v;
}

/* ------------------------------------------------------------ checksum */

static uint64_t
mix(uint64_t h, const void *p, size_t len)
{
	const uint8_t *b = p;
	size_t i;

	for (i = 0; i < len; i++)
		h = (h ^ b[i]) * UINT64_C(0x100000001b3);
	return h;
}

/* Word-at-a-time for the bulk data: byte-wise FNV over 188 MB would take
 * a noticeable fraction of a second on every agent. */
static uint64_t
mix_floats(uint64_t h, const float *f, size_t n)
{
	uint32_t w;
	size_t i;

	for (i = 0; i < n; i++) {
		memcpy(&w, &f[i], sizeof(w));
		h = (h ^ w) * UINT64_C(0x100000001b3);
		h ^= h >> 29;
	}
	return h;
}

static void
checksum(vb_dataset *ds, const char *spec)
{
	uint64_t h = UINT64_C(0xcbf29ce484222325);
	uint64_t sz[3] = { ds->n, ds->dim, ds->nq };

	h = mix(h, spec, strlen(spec));
	h = mix(h, sz, sizeof(sz));
	h = mix_floats(h, ds->data, ds->n * ds->dim);
	h = mix_floats(h, ds->queries, ds->nq * ds->dim);
	ds->checksum = h;
}

/* ------------------------------------------------------------ idx3.gz */

static uint32_t
be32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | (uint32_t)b[1] << 16 |
	    (uint32_t)b[2] << 8 | b[3];
}

/* Read up to `want` images (0 = all) of an IDX3 ubyte file into *out. */
static int
read_idx3_gz(const char *path, size_t want, float **out, size_t *n,
    size_t *dim, char *err, size_t errlen)
{
	uint8_t hdr[16], *row = NULL;
	float *v = NULL;
	size_t i, j, count, d;
	gzFile f;
	int rv = -1;

	if ((f = gzopen(path, "rb")) == NULL) {
		seterr(err, errlen, "cannot open %s (install the Debian "
		    "package dataset-fashion-mnist)", path);
		return -1;
	}
	if (gzread(f, hdr, sizeof(hdr)) != (int)sizeof(hdr) ||
	    be32(hdr) != 0x803) {
		seterr(err, errlen, "%s: not an IDX3 ubyte file", path);
		goto out;
	}
	count = be32(hdr + 4);
	d = (size_t)be32(hdr + 8) * be32(hdr + 12);
	if (d == 0 || d > 1u << 20) {
		seterr(err, errlen, "%s: bad image size", path);
		goto out;
	}
	if (want != 0 && want < count)
		count = want;
	row = malloc(d);
	v = malloc(count * d * sizeof(float) + 1);
	if (row == NULL || v == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		goto out;
	}
	for (i = 0; i < count; i++) {
		if (gzread(f, row, (unsigned)d) != (int)d) {
			seterr(err, errlen, "%s: truncated", path);
			goto out;
		}
		for (j = 0; j < d; j++)
			v[i * d + j] = (float)row[j];
	}
	*out = v;
	v = NULL;
	*n = count;
	*dim = d;
	rv = 0;
out:
	free(row);
	free(v);
	gzclose(f);
	return rv;
}

static int
open_fmnist(vb_dataset *ds, const char *dir, size_t limit, size_t nq,
    char *err, size_t errlen)
{
	char path[4096];
	size_t qdim;

	snprintf(path, sizeof(path), "%s/train-images-idx3-ubyte.gz", dir);
	if (read_idx3_gz(path, limit, &ds->data, &ds->n, &ds->dim, err,
	    errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), "%s/t10k-images-idx3-ubyte.gz", dir);
	if (read_idx3_gz(path, nq, &ds->queries, &ds->nq, &qdim, err,
	    errlen) != 0)
		return -1;
	if (qdim != ds->dim) {
		seterr(err, errlen, "%s: train and test dimensions differ",
		    dir);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ synthetic */

static uint64_t
splitmix(uint64_t *s)
{
	uint64_t z = (*s += UINT64_C(0x9e3779b97f4a7c15));

	z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
	z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
	return z ^ (z >> 31);
}

static double
gauss(uint64_t *s)
{
	double u1 = ((double)(splitmix(s) >> 11) + 1.0) / 9007199254740993.0;
	double u2 = (double)(splitmix(s) >> 11) / 9007199254740992.0;

	return sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
}

/* Points scattered around a few dozen random centres: a structure HNSW
 * can exploit (so recall means something), unlike uniform noise. */
static void
gen_clustered(float *out, size_t rows, size_t dim, const float *centres,
    size_t ncent, uint64_t *s)
{
	size_t i, j, c;

	for (i = 0; i < rows; i++) {
		c = splitmix(s) % ncent;
		for (j = 0; j < dim; j++)
			out[i * dim + j] = centres[c * dim + j] +
			    (float)(0.35 * gauss(s));
	}
}

static int
open_synthetic(vb_dataset *ds, const char *spec, size_t limit, size_t nq,
    char *err, size_t errlen)
{
	unsigned long long n = 0, dim = 0, seed = 1;
	float *centres = NULL;
	size_t ncent, i;
	uint64_t s;
	int got, rv = -1;

	got = sscanf(spec, "synthetic:%llu:%llu:%llu", &n, &dim, &seed);
	if (got < 2 || n == 0 || dim == 0 || dim > 32768 || n > 100000000) {
		seterr(err, errlen, "bad dataset '%s' (want synthetic:N:DIM"
		    "[:SEED])", spec);
		return -1;
	}
	ds->n = limit != 0 && limit < n ? limit : (size_t)n;
	ds->dim = (size_t)dim;
	ds->nq = nq;
	ncent = 32;
	centres = malloc(ncent * ds->dim * sizeof(float));
	ds->data = malloc(ds->n * ds->dim * sizeof(float) + 1);
	ds->queries = malloc(ds->nq * ds->dim * sizeof(float) + 1);
	if (centres == NULL || ds->data == NULL || ds->queries == NULL) {
		seterr(err, errlen, "%s: out of memory", spec);
		goto out;
	}
	s = seed;
	for (i = 0; i < ncent * ds->dim; i++)
		centres[i] = (float)gauss(&s);
	/* Rows come from one stream so --limit keeps a prefix of the same
	 * dataset; queries from another so they are not data rows. */
	s = seed * UINT64_C(0x9e3779b97f4a7c15) + 1;
	gen_clustered(ds->data, ds->n, ds->dim, centres, ncent, &s);
	s = seed ^ UINT64_C(0x5bd1e9955bd1e995);
	gen_clustered(ds->queries, ds->nq, ds->dim, centres, ncent, &s);
	rv = 0;
out:
	free(centres);
	return rv;
}

/* ------------------------------------------------------------ files */

/* Converts `count` rows starting at `first` from the file's element type. */
enum elt { ELT_F32, ELT_F64, ELT_U8 };

static int
read_rows(FILE *f, long base, size_t stride, enum elt t, size_t dim,
    size_t first, size_t count, float *out)
{
	size_t i, j, rowbytes;
	uint8_t *row;
	double d;
	int rv = -1;

	rowbytes = dim * (t == ELT_F64 ? 8 : t == ELT_F32 ? 4 : 1);
	if ((row = malloc(rowbytes)) == NULL)
		return -1;
	for (i = 0; i < count; i++) {
		/* Rows are `stride` apart: fvecs puts a dimension word
		 * between them. */
		if (fseek(f, base + (long)((first + i) * stride),
		    SEEK_SET) != 0 || fread(row, 1, rowbytes, f) != rowbytes)
			goto out;
		for (j = 0; j < dim; j++) {
			switch (t) {
			case ELT_F32:
				memcpy(&out[i * dim + j], row + 4 * j, 4);
				break;
			case ELT_F64:
				memcpy(&d, row + 8 * j, 8);
				out[i * dim + j] = (float)d;
				break;
			case ELT_U8:
				out[i * dim + j] = (float)row[j];
				break;
			}
		}
	}
	rv = 0;
out:
	free(row);
	return rv;
}

/* Fill data (first `limit` rows) and queries (the rows after, or the
 * first rows when there are none after) from a file of `total` rows. */
static int
split_rows(vb_dataset *ds, FILE *f, long base, size_t stride, enum elt t,
    size_t total, size_t limit, size_t nq, const char *path, char *err,
    size_t errlen)
{
	size_t qfirst;

	ds->n = limit != 0 && limit < total ? limit : total;
	qfirst = ds->n < total ? ds->n : 0;
	ds->nq = nq < total - qfirst ? nq : total - qfirst;
	ds->data = malloc(ds->n * ds->dim * sizeof(float) + 1);
	ds->queries = malloc(ds->nq * ds->dim * sizeof(float) + 1);
	if (ds->data == NULL || ds->queries == NULL) {
		seterr(err, errlen, "%s: out of memory", path);
		return -1;
	}
	if (read_rows(f, base, stride, t, ds->dim, 0, ds->n,
	    ds->data) != 0 ||
	    read_rows(f, base, stride, t, ds->dim, qfirst, ds->nq,
	    ds->queries) != 0) {
		seterr(err, errlen, "%s: truncated or unreadable", path);
		return -1;
	}
	return 0;
}

static int
open_fvecs(vb_dataset *ds, const char *path, size_t limit, size_t nq,
    char *err, size_t errlen)
{
	uint8_t b[4];
	int32_t dim;
	long size;
	size_t rowbytes;
	FILE *f;
	int rv = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		seterr(err, errlen, "cannot open %s", path);
		return -1;
	}
	if (fread(b, 1, 4, f) != 4 || fseek(f, 0, SEEK_END) != 0 ||
	    (size = ftell(f)) < 0) {
		seterr(err, errlen, "%s: unreadable", path);
		goto out;
	}
	dim = (int32_t)((uint32_t)b[0] | (uint32_t)b[1] << 8 |
	    (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24);
	if (dim <= 0 || dim > 32768) {
		seterr(err, errlen, "%s: bad dimension in first record", path);
		goto out;
	}
	ds->dim = (size_t)dim;
	rowbytes = 4 + 4 * ds->dim;
	if ((size_t)size % rowbytes != 0 || size == 0) {
		seterr(err, errlen, "%s: size is not a whole number of "
		    "records (mixed dimensions?)", path);
		goto out;
	}
	/* Base 4 skips the first record's dimension word; the stride
	 * skips the others. */
	rv = split_rows(ds, f, 4, rowbytes, ELT_F32, (size_t)size / rowbytes,
	    limit, nq, path, err, errlen);
out:
	fclose(f);
	return rv;
}

static int
open_npy(vb_dataset *ds, const char *path, size_t limit, size_t nq,
    char *err, size_t errlen)
{
	uint8_t pre[12];
	char *hdr = NULL, *p;
	size_t hlen, base, esize, rows, cols;
	enum elt t;
	FILE *f;
	int rv = -1;

	if ((f = fopen(path, "rb")) == NULL) {
		seterr(err, errlen, "cannot open %s", path);
		return -1;
	}
	if (fread(pre, 1, 10, f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
		seterr(err, errlen, "%s: not an .npy file", path);
		goto out;
	}
	if (pre[6] == 1) {
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8;
		base = 10;
	} else {
		if (fread(pre + 10, 1, 2, f) != 2) {
			seterr(err, errlen, "%s: truncated header", path);
			goto out;
		}
		hlen = (size_t)pre[8] | (size_t)pre[9] << 8 |
		    (size_t)pre[10] << 16 | (size_t)pre[11] << 24;
		base = 12;
	}
	if (hlen > 1 << 20 || (hdr = calloc(1, hlen + 1)) == NULL ||
	    fread(hdr, 1, hlen, f) != hlen) {
		seterr(err, errlen, "%s: bad header", path);
		goto out;
	}
	if (strstr(hdr, "'<f4'") != NULL) {
		t = ELT_F32;
		esize = 4;
	} else if (strstr(hdr, "'<f8'") != NULL) {
		t = ELT_F64;
		esize = 8;
	} else if (strstr(hdr, "'|u1'") != NULL) {
		t = ELT_U8;
		esize = 1;
	} else {
		seterr(err, errlen, "%s: dtype must be <f4, <f8 or |u1", path);
		goto out;
	}
	if (strstr(hdr, "'fortran_order': False") == NULL) {
		seterr(err, errlen, "%s: only C-order arrays", path);
		goto out;
	}
	if ((p = strstr(hdr, "'shape': (")) == NULL ||
	    sscanf(p, "'shape': (%zu, %zu)", &rows, &cols) != 2 ||
	    rows == 0 || cols == 0 || cols > 32768) {
		seterr(err, errlen, "%s: need a 2-d shape (rows, dim)", path);
		goto out;
	}
	ds->dim = cols;
	rv = split_rows(ds, f, (long)(base + hlen), cols * esize, t, rows,
	    limit, nq, path, err, errlen);
out:
	free(hdr);
	fclose(f);
	return rv;
}

/* ------------------------------------------------------------ dispatch */

int
vb_dataset_open(vb_dataset *ds, const char *spec, size_t limit, size_t nq,
    char *err, size_t errlen)
{
	int rv;

	memset(ds, 0, sizeof(*ds));
	if (strcmp(spec, "fashion-mnist") == 0)
		rv = open_fmnist(ds, FMNIST_DIR, limit, nq, err, errlen);
	else if (strncmp(spec, "fashion-mnist:", 14) == 0)
		rv = open_fmnist(ds, spec + 14, limit, nq, err, errlen);
	else if (strncmp(spec, "synthetic:", 10) == 0)
		rv = open_synthetic(ds, spec, limit, nq, err, errlen);
	else if (has_suffix(spec, ".npy"))
		rv = open_npy(ds, spec, limit, nq, err, errlen);
	else if (has_suffix(spec, ".fvecs"))
		rv = open_fvecs(ds, spec, limit, nq, err, errlen);
	else {
		seterr(err, errlen, "unknown dataset '%s' (fashion-mnist, "
		    "synthetic:N:DIM[:SEED], FILE.npy or FILE.fvecs)", spec);
		rv = -1;
	}
	if (rv != 0) {
		vb_dataset_free(ds);
		return -1;
	}
	checksum(ds, spec);
	return 0;
}

void
vb_dataset_free(vb_dataset *ds)
{
	free(ds->data);
	free(ds->queries);
	memset(ds, 0, sizeof(*ds));
}
