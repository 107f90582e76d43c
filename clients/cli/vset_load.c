/*
 * vset_load.c - `vset load`: bulk import of a .npy, .fvecs or CSV file.
 *
 * The file is streamed: one batch of B rows (default 500) is read into a
 * buffer, sent as one Insert (vs_insert), and the buffer is reused, so a
 * 60,000 x 784 file never sits in memory (only B rows of it do).
 *
 * Errors come in three kinds, told apart by when they can happen:
 *   - the command line, or a file that is wrong from its header on (bad
 *     .npy header, truncated binary file, no numeric CSV columns): exit 2
 *     before anything is sent, because the file is opened and its first
 *     row read before connecting;
 *   - a batch the server does not take (a shard down, a bad id): its
 *     failed ids are listed on stderr, loading goes on, exit 1 at the end;
 *   - a row that turns out malformed mid-way (wrong field count, not a
 *     number, NaN): the good rows before it are sent, then loading stops
 *     with a message naming the line (CSV) or row (binary), the summary
 *     says what was loaded, exit 1.
 * Rows that Redis would reject anyway (NaN, empty or overlong ids, attrs
 * that are not a JSON object) are caught here, because the server refuses
 * a whole batch for one bad item.
 *
 * Row numbers count data rows from 0 (not the CSV header, not blank
 * lines); they are the default ids.  Line numbers count file lines from 1,
 * as editors do.
 *
 * Ownership: struct load_src owns its FILE and buffers (src_close frees
 * them); struct load_batch owns the id and attribute copies of the rows it
 * holds until the next batch (batch_clear).  Strings from argv are
 * borrowed.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "vs_json.h"
#include "vs_time.h"
#include "vset.h"

#define LOAD_DEFAULT_BATCH 500
#define LOAD_MAX_BATCH 100000
/* The server's limit on id length: checked here so that one long id does
 * not fail a whole batch. */
#define LOAD_MAX_ID 1024
/* Longest row number written as an id (UINT64_MAX has 20 digits). */
#define LOAD_ROW_DIGITS 20
/* One CSV record (a quoted field may span lines): bounds memory on a file
 * with an unterminated quote. */
#define LOAD_MAX_RECORD (64u << 20)
/* A .npy header is a short Python dict; numpy itself caps it far lower. */
#define LOAD_MAX_NPY_HEADER (1u << 20)
#define LOAD_MAX_DIM (1u << 24)
/* How many failed ids the summary lists, and how many failing batches
 * get their own line on stderr, so a dead shard cannot flood a terminal. */
#define LOAD_SHOW_IDS 10
#define LOAD_SHOW_BATCHES 10
#define LOAD_PROGRESS_US 100000
#define LOAD_BAR_WIDTH 30

enum {
	OPT_HELP = VSET_OPT_LONG,
	OPT_BATCH,
	OPT_ID_COLUMN,
	OPT_ID_PREFIX,
	OPT_SKIP_HEADER,
	OPT_ATTRS_COLUMN,
	OPT_LIMIT,
	OPT_FORMAT,
};

enum load_fmt {
	FMT_NONE,
	FMT_NPY,
	FMT_FVECS,
	FMT_CSV,
};

struct load_field {
	char *s;                     /* into load_src.rec, NUL-terminated */
	size_t len;
};

/* A CSV column given as an index (counting from 0) or a header name. */
struct load_col {
	const char *spec;            /* NULL: not given */
	long idx;                    /* -1 until resolved */
};

struct load_src {
	enum load_fmt fmt;
	const char *path;
	FILE *f;
	uint64_t file_size;          /* 0 for a file that is not regular */
	size_t dim;
	uint64_t total_rows;         /* .npy/.fvecs: rows in the file */
	uint64_t row;                /* data rows returned so far */
	int big_endian;              /* the file's floats */
	/* CSV */
	char *line;
	size_t line_cap;
	char *rec;                   /* the current record, split in place */
	size_t rec_len, rec_cap;
	struct load_field *fld;
	size_t nfld, fld_cap;
	uint64_t lineno;             /* lines read so far */
	uint64_t rec_line;           /* first line of the current record */
	uint64_t first_line;         /* first line of the first data record */
	struct load_col id_col, attrs_col;
	size_t ncols;
	int pending;                 /* the current record is an unread row */
	int eof;
};

struct load_batch {
	size_t cap, n;
	float *vecs;                 /* cap * dim */
	char **ids;                  /* n, malloc'd */
	char **attrs;                /* n, malloc'd or NULL */
	vs_item *items;
	uint64_t first_row;
};

struct load_stats {
	uint64_t rows, added, updated, failed;
	char *failed_ids[LOAD_SHOW_IDS];  /* malloc'd */
	size_t n_failed_ids;
	unsigned failing_batches;
	int64_t start_us, last_draw_us;
	int bar_shown;
};

/* ------------------------------------------------------------ helpers */

static int
load_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int
load_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
	return -1;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static uint32_t
get_le32(const unsigned char *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
	    (uint32_t)p[3] << 24;
}

/* Put n floats that were stored with the given byte order into host
 * order. */
static void
fix_byte_order(float *v, size_t n, int big_endian)
{
	int host_big = __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__;
	uint32_t u;
	size_t i;

	if (big_endian == host_big)
		return;
	for (i = 0; i < n; i++) {
		memcpy(&u, &v[i], sizeof(u));
		u = __builtin_bswap32(u);
		memcpy(&v[i], &u, sizeof(u));
	}
}

/* Index of the first non-finite component, or n. */
static size_t
first_nonfinite(const float *v, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		if (!isfinite(v[i]))
			break;
	return i;
}

/* s[0..len) (NUL-terminated at len) as a finite float; blanks around it
 * are allowed.  NULL, or why it is not one. */
static const char *
parse_float(const char *s, size_t len, float *out)
{
	size_t b = 0, e = len;
	char *end;
	float f;

	while (b < e && is_blank(s[b]))
		b++;
	while (e > b && is_blank(s[e - 1]))
		e--;
	if (b == e)
		return "is empty";
	errno = 0;
	f = strtof(s + b, &end);
	if (end == s + b || (size_t)(end - s) != e)
		return "is not a number";
	if (!isfinite(f))
		return errno == ERANGE ? "is too large for a 32-bit float" :
		    "is not finite";
	*out = f;
	return NULL;
}

static int
all_digits(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++)
		if (!isdigit((unsigned char)*s))
			return 0;
	return 1;
}

/* ------------------------------------------------------------ .npy */

/* The value after 'key': in a .npy header dict, or NULL. */
static const char *
npy_value(const char *hdr, const char *key)
{
	const char *p = strstr(hdr, key);

	if (p == NULL)
		return NULL;
	p += strlen(key);
	while (is_blank(*p))
		p++;
	if (*p != ':')
		return NULL;
	p++;
	while (is_blank(*p))
		p++;
	return p;
}

static int
npy_parse_header(struct load_src *s, const char *hdr, uint64_t *rows,
    char *err, size_t errlen)
{
	const char *p;
	uint64_t shape[3];
	size_t ndim = 0, n;
	char descr[16], q;
	char *end;

	if ((p = npy_value(hdr, "'descr'")) == NULL || (*p != '\'' &&
	    *p != '"'))
		return load_err(err, errlen, "no 'descr' in the .npy header");
	q = *p++;
	for (n = 0; p[n] != q && p[n] != '\0' && n < sizeof(descr) - 1; n++)
		descr[n] = p[n];
	descr[n] = '\0';
	if (strcmp(descr, "<f4") == 0 || strcmp(descr, "=f4") == 0)
		s->big_endian = 0;
	else if (strcmp(descr, ">f4") == 0)
		s->big_endian = 1;
	else
		return load_err(err, errlen, "the array's dtype is '%s', not "
		    "float32 (save it with arr.astype(numpy.float32))", descr);
	if ((p = npy_value(hdr, "'fortran_order'")) == NULL)
		return load_err(err, errlen, "no 'fortran_order' in the .npy "
		    "header");
	if (strncmp(p, "True", 4) == 0)
		return load_err(err, errlen, "the array is in Fortran order "
		    "(save it with numpy.ascontiguousarray(arr))");
	if ((p = npy_value(hdr, "'shape'")) == NULL || *p != '(')
		return load_err(err, errlen, "no 'shape' in the .npy header");
	for (p++;;) {
		while (is_blank(*p))
			p++;
		if (*p == ')')
			break;
		if (!isdigit((unsigned char)*p) || ndim == 3)
			return load_err(err, errlen, "the array's shape is not "
			    "(rows, dim)");
		errno = 0;
		shape[ndim++] = strtoull(p, &end, 10);
		if (errno != 0)
			return load_err(err, errlen, "the array's shape is too "
			    "large");
		p = end;
		while (is_blank(*p))
			p++;
		if (*p == ',')
			p++;
	}
	if (ndim != 2)
		return load_err(err, errlen, "the array has %zu dimension%s; "
		    "vset load needs a 2-D array (rows, dim)", ndim,
		    ndim == 1 ? "" : "s");
	if (shape[1] == 0 || shape[1] > LOAD_MAX_DIM)
		return load_err(err, errlen, "the vectors' dimension is %" PRIu64
		    "; it must be 1 to %u", shape[1], LOAD_MAX_DIM);
	s->dim = (size_t)shape[1];
	*rows = shape[0];
	return 0;
}

static int
npy_open(struct load_src *s, char *err, size_t errlen)
{
	unsigned char pre[12];
	size_t pre_len = 10;
	uint64_t rows = 0, need;
	uint32_t hlen;
	char *hdr = NULL;
	int rv = -1;

	if (fread(pre, 1, 10, s->f) != 10 || memcmp(pre, "\x93NUMPY", 6) != 0) {
		load_err(err, errlen, "not a .npy file (no \\x93NUMPY magic)");
		goto out;
	}
	if (pre[6] == 1) {
		hlen = (uint32_t)pre[8] | (uint32_t)pre[9] << 8;
	} else if (pre[6] == 2 || pre[6] == 3) {
		if (fread(pre + 10, 1, 2, s->f) != 2) {
			load_err(err, errlen, "truncated .npy header");
			goto out;
		}
		pre_len = 12;
		hlen = get_le32(pre + 8);
	} else {
		load_err(err, errlen, ".npy format version %u.%u is not "
		    "supported", pre[6], pre[7]);
		goto out;
	}
	if (hlen > LOAD_MAX_NPY_HEADER) {
		load_err(err, errlen, "the .npy header is too long (%u bytes)",
		    hlen);
		goto out;
	}
	if ((hdr = malloc((size_t)hlen + 1)) == NULL) {
		load_err(err, errlen, "out of memory");
		goto out;
	}
	if (fread(hdr, 1, hlen, s->f) != hlen) {
		load_err(err, errlen, "truncated .npy header");
		goto out;
	}
	hdr[hlen] = '\0';
	if (npy_parse_header(s, hdr, &rows, err, errlen) != 0)
		goto out;
	/* Check the size now, so a truncated file is refused before anything
	 * is sent rather than half loaded. */
	if (rows > (UINT64_MAX - pre_len - hlen) / 4 / s->dim) {
		load_err(err, errlen, "the array's shape is too large");
		goto out;
	}
	need = pre_len + hlen + rows * s->dim * 4;
	if (s->file_size != need) {
		load_err(err, errlen, "the header says %" PRIu64 " x %zu float32 "
		    "(%" PRIu64 " bytes in all) but the file has %" PRIu64
		    " bytes%s", rows, s->dim, need, s->file_size,
		    s->file_size < need ? ": truncated" : "");
		goto out;
	}
	s->total_rows = rows;
	rv = 0;
out:
	free(hdr);
	return rv;
}

/* ------------------------------------------------------------ .fvecs */

static int
fvecs_open(struct load_src *s, char *err, size_t errlen)
{
	unsigned char b[4];
	uint64_t rec;
	int32_t d;

	s->big_endian = 0;
	if (s->file_size == 0) {
		s->dim = 0;
		s->total_rows = 0;
		return 0;
	}
	if (fread(b, 1, 4, s->f) != 4)
		return load_err(err, errlen, "truncated: shorter than one "
		    ".fvecs record");
	d = (int32_t)get_le32(b);
	if (d <= 0 || (uint32_t)d > LOAD_MAX_DIM)
		return load_err(err, errlen, "the first record's dimension is "
		    "%" PRId32 "; it must be 1 to %u (is this an .fvecs file?)",
		    d, LOAD_MAX_DIM);
	s->dim = (size_t)d;
	rec = 4 + 4 * (uint64_t)d;
	if (s->file_size % rec != 0)
		return load_err(err, errlen, "its size (%" PRIu64 " bytes) is "
		    "not a whole number of records of dimension %zu (%" PRIu64
		    " bytes each): truncated, or of mixed dimensions",
		    s->file_size, s->dim, rec);
	s->total_rows = s->file_size / rec;
	if (fseeko(s->f, 0, SEEK_SET) != 0)
		return load_err(err, errlen, "%s", strerror(errno));
	return 0;
}

/* ------------------------------------------------------------ CSV */

static int
grow(void **p, size_t *cap, size_t need, size_t size)
{
	size_t n = *cap != 0 ? *cap : 16;
	void *q;

	if (need <= *cap)
		return 0;
	while (n < need)
		n *= 2;
	if ((q = realloc(*p, n * size)) == NULL)
		return -1;
	*p = q;
	*cap = n;
	return 0;
}

/* Split s->rec (NUL-terminated, rec_len bytes) into fields in place:
 * RFC 4180, with blanks allowed around a quoted field. */
static int
csv_split(struct load_src *s, char *err, size_t errlen)
{
	char *p = s->rec, *end = s->rec + s->rec_len, *q, *w;
	struct load_field *f;

	s->nfld = 0;
	for (;;) {
		if (grow((void **)&s->fld, &s->fld_cap, s->nfld + 1,
		    sizeof(*s->fld)) != 0)
			return load_err(err, errlen, "out of memory");
		f = &s->fld[s->nfld++];
		for (q = p; q < end && is_blank(*q); q++)
			;
		if (q < end && *q == '"') {
			f->s = w = p = q + 1;
			for (;;) {
				if (p >= end)
					return load_err(err, errlen, "line %"
					    PRIu64 ": field %zu: unterminated "
					    "quoted field", s->rec_line,
					    s->nfld);
				if (*p == '"' && p + 1 < end && p[1] == '"') {
					*w++ = '"';
					p += 2;
				} else if (*p == '"') {
					p++;
					break;
				} else {
					*w++ = *p++;
				}
			}
			f->len = (size_t)(w - f->s);
			while (p < end && is_blank(*p))
				p++;
			if (p < end && *p != ',')
				return load_err(err, errlen, "line %" PRIu64
				    ": field %zu: text after the closing "
				    "quote", s->rec_line, s->nfld);
		} else {
			f->s = p;
			while (p < end && *p != ',')
				p++;
			f->len = (size_t)(p - f->s);
		}
		/* The separator (or the end) was consumed: terminating the
		 * field in place loses nothing. */
		if (p >= end) {
			f->s[f->len] = '\0';
			break;
		}
		f->s[f->len] = '\0';
		p++;
	}
	return 0;
}

/* Read the next non-blank record (a quoted field may span lines) and
 * split it.  1 read, 0 end of file, -1 error. */
static int
csv_read(struct load_src *s, char *err, size_t errlen)
{
	ssize_t n;
	size_t i, k;
	int inq;

	for (;;) {
		s->rec_len = 0;
		inq = 0;
		for (;;) {
			errno = 0;
			if ((n = getline(&s->line, &s->line_cap, s->f)) < 0) {
				if (ferror(s->f))
					return load_err(err, errlen, "reading "
					    "after line %" PRIu64 ": %s",
					    s->lineno, strerror(errno));
				if (inq)
					return load_err(err, errlen, "line %"
					    PRIu64 ": unterminated quoted "
					    "field at the end of the file",
					    s->rec_line);
				if (s->rec_len == 0)
					return 0;
				break;
			}
			s->lineno++;
			if (s->rec_len == 0)
				s->rec_line = s->lineno;
			if (memchr(s->line, '\0', (size_t)n) != NULL)
				return load_err(err, errlen, "line %" PRIu64
				    ": contains a NUL byte (is this a CSV "
				    "file?)", s->lineno);
			/* "" inside quotes toggles twice: no net change. */
			for (i = 0; i < (size_t)n; i++)
				if (s->line[i] == '"')
					inq = !inq;
			if (s->rec_len + (size_t)n > LOAD_MAX_RECORD)
				return load_err(err, errlen, "line %" PRIu64
				    ": record longer than %u bytes",
				    s->rec_line, LOAD_MAX_RECORD);
			if (grow((void **)&s->rec, &s->rec_cap,
			    s->rec_len + (size_t)n + 1, 1) != 0)
				return load_err(err, errlen, "out of memory");
			memcpy(s->rec + s->rec_len, s->line, (size_t)n);
			s->rec_len += (size_t)n;
			if (!inq)
				break;
		}
		while (s->rec_len > 0 && (s->rec[s->rec_len - 1] == '\n' ||
		    s->rec[s->rec_len - 1] == '\r'))
			s->rec_len--;
		s->rec[s->rec_len] = '\0';
		for (k = 0; k < s->rec_len && (is_blank(s->rec[k]) ||
		    s->rec[k] == '\r'); k++)
			;
		if (k < s->rec_len)
			break;
		/* A blank line: not a row. */
	}
	return csv_split(s, err, errlen) == 0 ? 1 : -1;
}

/* Resolve a column given by index or by header name (hdr NULL: there is
 * no header). */
static int
csv_resolve(struct load_src *s, struct load_col *c, const char *opt,
    int have_header, char *err, size_t errlen)
{
	unsigned long v;
	size_t i;

	if (c->spec == NULL)
		return 0;
	if (all_digits(c->spec)) {
		if (vset_parse_uint(c->spec, 0, (unsigned long)s->nfld - 1, &v)
		    != 0)
			return load_err(err, errlen, "%s %s: line %" PRIu64
			    " has only %zu columns (counting from 0)", opt,
			    c->spec, s->rec_line, s->nfld);
		c->idx = (long)v;
		return 0;
	}
	if (!have_header)
		return load_err(err, errlen, "%s %s names a column, but the "
		    "file has no header row", opt, c->spec);
	for (i = 0; i < s->nfld; i++)
		if (strcmp(s->fld[i].s, c->spec) == 0) {
			c->idx = (long)i;
			return 0;
		}
	return load_err(err, errlen, "%s: the header (line %" PRIu64 ") has no "
	    "column named '%s'", opt, s->rec_line, c->spec);
}

/* 1 if every vector column of the current record is a number. */
static int
csv_numeric(const struct load_src *s)
{
	float f;
	size_t i;

	for (i = 0; i < s->nfld; i++) {
		if ((long)i == s->id_col.idx || (long)i == s->attrs_col.idx)
			continue;
		if (parse_float(s->fld[i].s, s->fld[i].len, &f) != NULL)
			return 0;
	}
	return 1;
}

/* The current record as a row: vector into vec, *id the id column's text
 * (NULL when ids are row numbers), *attrs the attributes' text (NULL for
 * none); both valid until the next record is read. */
static int
csv_check(struct load_src *s, float *vec, const char **id, const char **attrs,
    char *err, size_t errlen)
{
	const struct load_field *f;
	const char *why;
	size_t i, j = 0;

	if (s->nfld != s->ncols)
		return load_err(err, errlen, "line %" PRIu64 ": %zu fields, "
		    "but line %" PRIu64 " has %zu", s->rec_line, s->nfld,
		    s->first_line, s->ncols);
	for (i = 0; i < s->nfld; i++) {
		f = &s->fld[i];
		if ((long)i == s->id_col.idx) {
			if (f->len == 0)
				return load_err(err, errlen, "line %" PRIu64
				    ": the id (column %zu) is empty",
				    s->rec_line, i);
			*id = f->s;
		} else if ((long)i == s->attrs_col.idx) {
			if (f->len > 0 && !vs_json_is_object(f->s, f->len))
				return load_err(err, errlen, "line %" PRIu64
				    ": the attributes (column %zu) are not a "
				    "JSON object", s->rec_line, i);
			*attrs = f->len > 0 ? f->s : NULL;
		} else {
			if ((why = parse_float(f->s, f->len, &vec[j])) != NULL)
				return load_err(err, errlen, "line %" PRIu64
				    ", column %zu: \"%.*s\" %s", s->rec_line,
				    i, (int)(f->len > 40 ? 40 : f->len), f->s,
				    why);
			j++;
		}
	}
	return 1;
}

/* The next row, as csv_check.  1 read, 0 end, -1 error. */
static int
csv_row(struct load_src *s, float *vec, const char **id, const char **attrs,
    char *err, size_t errlen)
{
	int rv;

	if (s->eof)
		return 0;
	if (!s->pending) {
		if ((rv = csv_read(s, err, errlen)) <= 0) {
			s->eof = rv == 0;
			return rv;
		}
	}
	s->pending = 0;
	return csv_check(s, vec, id, attrs, err, errlen);
}

static int
csv_open(struct load_src *s, int skip_header, char *err, size_t errlen)
{
	const char *id, *attrs;
	int rv, header, names;
	float *vec;
	size_t extra;

	if ((rv = csv_read(s, err, errlen)) < 0)
		return -1;
	if (rv == 0) {
		s->eof = 1;
		return 0;
	}
	names = (s->id_col.spec != NULL && !all_digits(s->id_col.spec)) ||
	    (s->attrs_col.spec != NULL && !all_digits(s->attrs_col.spec));
	/* Numeric column indexes first: the header test skips them. */
	if (!names) {
		if (csv_resolve(s, &s->id_col, "--id-column", 0, err,
		    errlen) != 0 || csv_resolve(s, &s->attrs_col,
		    "--attrs-column", 0, err, errlen) != 0)
			return -1;
	}
	/* A header is a first row whose vector columns are not all numbers
	 * (or one the user declared). */
	header = skip_header || names || !csv_numeric(s);
	if (header && (csv_resolve(s, &s->id_col, "--id-column", 1, err,
	    errlen) != 0 || csv_resolve(s, &s->attrs_col, "--attrs-column", 1,
	    err, errlen) != 0))
		return -1;
	if (s->id_col.idx >= 0 && s->id_col.idx == s->attrs_col.idx)
		return load_err(err, errlen, "--id-column and --attrs-column "
		    "name the same column");
	s->ncols = s->nfld;
	extra = (s->id_col.idx >= 0) + (s->attrs_col.idx >= 0);
	if (s->ncols <= extra)
		return load_err(err, errlen, "line %" PRIu64 " has %zu "
		    "column%s and none is left for the vector", s->rec_line,
		    s->ncols, s->ncols == 1 ? "" : "s");
	s->dim = s->ncols - extra;
	if (header) {
		if ((rv = csv_read(s, err, errlen)) < 0)
			return -1;
		s->eof = rv == 0;
	}
	s->pending = !s->eof;
	s->first_line = s->rec_line;
	if (!s->pending)
		return 0;
	/* Check the first row now too: a file none of whose rows can load
	 * is refused before anything is sent. */
	if ((vec = malloc(s->dim * sizeof(*vec))) == NULL)
		return load_err(err, errlen, "out of memory");
	rv = csv_check(s, vec, &id, &attrs, err, errlen);
	free(vec);
	return rv < 0 ? -1 : 0;
}

/* ------------------------------------------------------------ sources */

static enum load_fmt
fmt_parse(const char *name)
{
	if (strcasecmp(name, "npy") == 0)
		return FMT_NPY;
	if (strcasecmp(name, "fvecs") == 0)
		return FMT_FVECS;
	if (strcasecmp(name, "csv") == 0)
		return FMT_CSV;
	return FMT_NONE;
}

static enum load_fmt
fmt_of_path(const char *path)
{
	const char *dot = strrchr(path, '.');

	return dot != NULL && strchr(dot, '/') == NULL ? fmt_parse(dot + 1) :
	    FMT_NONE;
}

static void
src_close(struct load_src *s)
{
	if (s->f != NULL)
		fclose(s->f);
	free(s->line);
	free(s->rec);
	free(s->fld);
}

/* Open the file and read what fixes the dimension (header, first record)
 * so that its errors come before anything is sent. */
static int
src_open(struct load_src *s, int skip_header, char *err, size_t errlen)
{
	struct stat st;

	if ((s->f = fopen(s->path, "rb")) == NULL)
		return load_err(err, errlen, "%s", strerror(errno));
	if (fstat(fileno(s->f), &st) != 0)
		return load_err(err, errlen, "%s", strerror(errno));
	if (S_ISDIR(st.st_mode))
		return load_err(err, errlen, "is a directory");
	s->file_size = S_ISREG(st.st_mode) ? (uint64_t)st.st_size : 0;
	if (s->fmt != FMT_CSV && !S_ISREG(st.st_mode))
		return load_err(err, errlen, "a .%s file must be a regular "
		    "file", s->fmt == FMT_NPY ? "npy" : "fvecs");
	/* Rows are read in small pieces: a large buffer keeps that cheap. */
	setvbuf(s->f, NULL, _IOFBF, 1 << 20);
	switch (s->fmt) {
	case FMT_NPY:
		return npy_open(s, err, errlen);
	case FMT_FVECS:
		return fvecs_open(s, err, errlen);
	default:
		return csv_open(s, skip_header, err, errlen);
	}
}

/* One row into vec (dim floats).  1 read, 0 end, -1 error in err. */
static int
src_next(struct load_src *s, float *vec, const char **id,
    const char **attrs, char *err, size_t errlen)
{
	unsigned char b[4];
	size_t bad;
	int rv;

	*id = NULL;
	*attrs = NULL;
	if (s->fmt == FMT_CSV) {
		if ((rv = csv_row(s, vec, id, attrs, err, errlen)) == 1)
			s->row++;
		return rv;
	}
	if (s->row == s->total_rows)
		return 0;
	if (s->fmt == FMT_FVECS) {
		if (fread(b, 1, 4, s->f) != 4)
			goto short_read;
		if (get_le32(b) != (uint32_t)s->dim)
			return load_err(err, errlen, "row %" PRIu64 ": "
			    "dimension %" PRId32 ", but the first row has %zu",
			    s->row, (int32_t)get_le32(b), s->dim);
	}
	if (fread(vec, sizeof(*vec), s->dim, s->f) != s->dim)
		goto short_read;
	fix_byte_order(vec, s->dim, s->big_endian);
	if ((bad = first_nonfinite(vec, s->dim)) < s->dim)
		return load_err(err, errlen, "row %" PRIu64 ", component %zu: "
		    "not a finite number (NaN or infinity)", s->row, bad);
	s->row++;
	return 1;
short_read:
	/* The size was checked at open: the file changed, or broke. */
	return load_err(err, errlen, "row %" PRIu64 ": %s", s->row,
	    ferror(s->f) ? strerror(errno) : "unexpected end of file");
}

/* How far through the file we are, 0..1 (for the progress bar). */
static double
src_fraction(struct load_src *s, uint64_t limit)
{
	uint64_t total = s->total_rows;
	double byte_frac = 0, row_frac = 0;
	off_t pos;

	if (s->fmt != FMT_CSV) {
		if (limit != 0 && limit < total)
			total = limit;
		return total == 0 ? 1 : (double)s->row / (double)total;
	}
	if (s->file_size > 0 && (pos = ftello(s->f)) >= 0)
		byte_frac = (double)pos / (double)s->file_size;
	if (limit != 0)
		row_frac = (double)s->row / (double)limit;
	return byte_frac > row_frac ? byte_frac : row_frac;
}

/* ------------------------------------------------------------ batches */

static void
batch_clear(struct load_batch *b)
{
	size_t i;

	for (i = 0; i < b->n; i++) {
		free(b->ids[i]);
		free(b->attrs[i]);
		b->ids[i] = NULL;
		b->attrs[i] = NULL;
	}
	b->n = 0;
}

static void
batch_free(struct load_batch *b)
{
	batch_clear(b);
	free(b->vecs);
	free(b->ids);
	free(b->attrs);
	free(b->items);
}

static int
batch_init(struct load_batch *b, size_t cap, size_t dim)
{
	memset(b, 0, sizeof(*b));
	b->cap = cap;
	b->vecs = calloc(cap, dim * sizeof(*b->vecs));
	b->ids = calloc(cap, sizeof(*b->ids));
	b->attrs = calloc(cap, sizeof(*b->attrs));
	b->items = calloc(cap, sizeof(*b->items));
	return b->vecs != NULL && b->ids != NULL && b->attrs != NULL &&
	    b->items != NULL ? 0 : -1;
}

/* The id of a row: prefix + the id column's text, or prefix + the row
 * number.  malloc'd into *out. */
static int
make_id(const char *prefix, const char *col, uint64_t row, char **out,
    char *err, size_t errlen)
{
	char num[LOAD_ROW_DIGITS + 1];
	size_t plen = strlen(prefix), clen;

	if (col == NULL) {
		snprintf(num, sizeof(num), "%" PRIu64, row);
		col = num;
	}
	clen = strlen(col);
	if (plen + clen > LOAD_MAX_ID)
		return load_err(err, errlen, "row %" PRIu64 ": the id is %zu "
		    "bytes long; the limit is %d", row, plen + clen,
		    LOAD_MAX_ID);
	if ((*out = malloc(plen + clen + 1)) == NULL)
		return load_err(err, errlen, "out of memory");
	memcpy(*out, prefix, plen);
	memcpy(*out + plen, col, clen + 1);
	return 0;
}

/* ------------------------------------------------------------ progress */

static void
progress_clear(struct load_stats *st)
{
	if (st->bar_shown) {
		fputs("\r\033[K", stderr);
		st->bar_shown = 0;
	}
}

static void
progress_draw(struct load_stats *st, struct load_src *s, uint64_t limit,
    int force)
{
	char bar[LOAD_BAR_WIDTH + 1];
	int64_t now = vs_now_us();
	double frac, secs;
	uint64_t total;
	int fill;

	if (!force && now - st->last_draw_us < LOAD_PROGRESS_US)
		return;
	st->last_draw_us = now;
	frac = src_fraction(s, limit);
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * LOAD_BAR_WIDTH);
	memset(bar, '#', (size_t)fill);
	memset(bar + fill, '.', (size_t)(LOAD_BAR_WIDTH - fill));
	bar[LOAD_BAR_WIDTH] = '\0';
	secs = (double)(now - st->start_us) / 1e6;
	fprintf(stderr, "\r%3d%% [%s] %" PRIu64, (int)(frac * 100), bar,
	    st->rows);
	total = s->total_rows;
	if (limit != 0 && (s->fmt == FMT_CSV || limit < total))
		total = limit;
	if (s->fmt != FMT_CSV || limit != 0)
		fprintf(stderr, "/%" PRIu64, total);
	fprintf(stderr, " rows, %.0f rows/s, %" PRIu64 " failed\033[K",
	    secs > 0 ? (double)st->rows / secs : 0.0, st->failed);
	fflush(stderr);
	st->bar_shown = 1;
}

/* ------------------------------------------------------------ sending */

static void
note_failed_id(struct load_stats *st, const char *id)
{
	st->failed++;
	if (st->n_failed_ids < LOAD_SHOW_IDS && id != NULL)
		st->failed_ids[st->n_failed_ids++] = strdup(id);
}

/* Send one batch and account for it; failures are reported, not fatal. */
static void
send_batch(vs_client *c, const char *coll, struct load_batch *b,
    struct load_stats *st)
{
	vs_write_result *res = NULL;
	const char *first = NULL;
	size_t i, nfail = 0, shown;
	int code, icode = VS_OK;
	const char *imsg = NULL;

	code = vs_insert(c, coll, b->items, b->n, &res);
	st->rows += b->n;
	if (res != NULL) {
		st->added += res->added;
		st->updated += res->updated;
		for (i = 0; i < res->n_items; i++) {
			if (res->items[i].outcome != VS_WRITE_FAILED)
				continue;
			if (nfail++ == 0) {
				first = res->items[i].id;
				icode = res->items[i].code;
				imsg = res->items[i].message;
			}
			note_failed_id(st, res->items[i].id);
		}
		/* Items the reply did not mention were not written. */
		for (i = res->n_items; i < b->n; i++, nfail++)
			note_failed_id(st, b->ids[i]);
	} else {
		for (i = 0; i < b->n; i++)
			note_failed_id(st, b->ids[i]);
		nfail = b->n;
	}
	if (nfail == 0 && code == VS_OK)
		goto out;
	if (++st->failing_batches > LOAD_SHOW_BATCHES) {
		if (st->failing_batches == LOAD_SHOW_BATCHES + 1) {
			progress_clear(st);
			fputs("vset: (further failing batches are not listed)\n",
			    stderr);
		}
		goto out;
	}
	progress_clear(st);
	fprintf(stderr, "vset: rows %" PRIu64 "-%" PRIu64 ": %zu of %zu not "
	    "loaded", b->first_row, b->first_row + b->n - 1, nfail, b->n);
	if (code != VS_OK)
		fprintf(stderr, ": %s: %s", vs_code_name(code),
		    *vs_errmsg() != '\0' ? vs_errmsg() : "no details");
	else if (first != NULL)
		fprintf(stderr, ": %s: %s", vs_code_name(icode),
		    imsg != NULL ? imsg : "no details");
	fputc('\n', stderr);
	fputs("vset:   failed ids:", stderr);
	for (i = 0, shown = 0; i < b->n && shown < LOAD_SHOW_IDS; i++) {
		const char *id = res != NULL && i < res->n_items ?
		    res->items[i].id : b->ids[i];

		if (res != NULL && i < res->n_items &&
		    res->items[i].outcome != VS_WRITE_FAILED)
			continue;
		fprintf(stderr, " %s", id != NULL ? id : "?");
		shown++;
	}
	fputs(nfail > shown ? " ...\n" : "\n", stderr);
out:
	vs_write_result_free(res);
}

/* ------------------------------------------------------------ summary */

static int
print_summary(const vset_global *g, const struct load_stats *st,
    const char *error)
{
	double secs = (double)(vs_now_us() - st->start_us) / 1e6;
	double rate = secs > 0 ? (double)st->rows / secs : 0;
	vs_sb sb;
	size_t i;

	vs_sb_init(&sb);
	if (g->json) {
		vs_sb_printf(&sb, "{\"rows\":%" PRIu64 ",\"added\":%" PRIu64
		    ",\"updated\":%" PRIu64 ",\"failed\":%" PRIu64
		    ",\"seconds\":", st->rows, st->added, st->updated,
		    st->failed);
		vs_sb_json_double(&sb, secs);
		vs_sb_puts(&sb, ",\"rows_per_s\":");
		vs_sb_json_double(&sb, rate);
		vs_sb_puts(&sb, ",\"failed_ids\":[");
		for (i = 0; i < st->n_failed_ids; i++) {
			if (i > 0)
				vs_sb_putc(&sb, ',');
			vs_sb_json_str(&sb, st->failed_ids[i],
			    strlen(st->failed_ids[i]));
		}
		vs_sb_puts(&sb, "],\"error\":");
		if (error != NULL)
			vs_sb_json_str(&sb, error, strlen(error));
		else
			vs_sb_puts(&sb, "null");
		vs_sb_puts(&sb, "}\n");
	} else {
		vs_sb_printf(&sb, "rows %" PRIu64 ": added %" PRIu64 ", updated %"
		    PRIu64 ", failed %" PRIu64 " in %.2f s (%.0f rows/s)\n",
		    st->rows, st->added, st->updated, st->failed, secs, rate);
	}
	return vset_print_sb(&sb);
}

/* ------------------------------------------------------------ command */

static const char load_help[] =
"Usage: vset [GLOBAL OPTIONS] load COLLECTION FILE [--batch B] [--limit ROWS]\n"
"           [--format npy|fvecs|csv] [--id-column N|NAME] [--id-prefix P]\n"
"           [--attrs-column N|NAME] [--skip-header]\n"
"\n"
"Bulk import: insert every row of FILE, B rows per Insert call.  The file\n"
"is read as it is sent, never whole into memory.  Formats, by extension\n"
"unless --format says otherwise:\n"
"  .npy    a 2-D float32 array (rows, dim), C order, as numpy.save writes\n"
"  .fvecs  records of a little-endian int32 dimension and that many\n"
"          float32s, all of the same dimension\n"
"  .csv    one row per line, comma-separated, RFC 4180 quoting; every\n"
"          column except the id and attributes columns is a component\n"
"Ids are the row numbers 0, 1, 2, ... (data rows, counting from 0)\n"
"unless --id-column names a CSV column.  A missing collection is created\n"
"with the first vector's dimension, as insert does.\n"
"\n"
"Options:\n"
"  --batch B      rows per Insert call, 1 to 100000 (default 500); the\n"
"                 server caps it (10000 unless configured otherwise)\n"
"  --limit ROWS   load at most the first ROWS rows\n"
"  --format F     npy, fvecs or csv, whatever the file is called\n"
"  --id-column C  CSV: take ids from column C, an index counting from 0\n"
"                 or a header name\n"
"  --id-prefix P  put P before every id (row numbers or column ids)\n"
"  --attrs-column C  CSV: a column holding each row's JSON attributes\n"
"                 (an object, or empty for none)\n"
"  --skip-header  CSV: the first row is a header (without it, a first row\n"
"                 whose vector columns are not all numbers is one)\n"
"  -h, --help     show this help\n"
"\n"
"--timeout-ms is the deadline of each batch.  On a terminal, progress is\n"
"drawn on stderr.  A batch the server does not take is reported on stderr\n"
"(its failed ids) and loading goes on.  A malformed row stops the load:\n"
"the rows before it are sent, and the message names its line (CSV) or\n"
"row (.npy, .fvecs).\n"
"\n"
"Prints 'rows N: added N, updated N, failed N in S s (R rows/s)', or with\n"
"--json:\n"
"  {\"rows\":N,\"added\":N,\"updated\":N,\"failed\":N,\"seconds\":X,\n"
"  \"rows_per_s\":X,\"failed_ids\":[..first 10],\"error\":null|\"..\"}\n"
"\n"
"Exit status: 0 every row loaded, 1 some rows failed or the file was\n"
"malformed mid-way (what was loaded is reported), 2 usage error or a file\n"
"that cannot be loaded at all (nothing was sent).\n";

int
vset_cmd_load(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "id-column", required_argument, NULL, OPT_ID_COLUMN },
		{ "id-prefix", required_argument, NULL, OPT_ID_PREFIX },
		{ "skip-header", no_argument, NULL, OPT_SKIP_HEADER },
		{ "attrs-column", required_argument, NULL, OPT_ATTRS_COLUMN },
		{ "limit", required_argument, NULL, OPT_LIMIT },
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pos[2], *arg = NULL, *prefix = "", *id, *attrs;
	const char *stop_msg = NULL;
	vs_collection_info *info = NULL;
	struct load_batch b;
	struct load_stats st;
	struct load_src s;
	vs_client *c = NULL;
	unsigned long n, batch = LOAD_DEFAULT_BATCH, limit = 0;
	size_t npos = 0;
	char err[512];
	vset_argp p;
	int rv = VSET_EXIT_USAGE, opt, skip_header = 0, r, code, bar;

	memset(&s, 0, sizeof(s));
	memset(&b, 0, sizeof(b));
	memset(&st, 0, sizeof(st));
	s.id_col.idx = -1;
	s.attrs_col.idx = -1;
	vset_argp_init(&p, "load", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			goto out;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&p, arg, pos, &npos, 2) != 0)
				goto out;
			break;
		case OPT_BATCH:
		case OPT_LIMIT:
			if (vset_parse_uint(arg, 1, opt == OPT_BATCH ?
			    LOAD_MAX_BATCH : ULONG_MAX, &n) != 0) {
				vset_usage_error("load", "%s needs a whole "
				    "number from 1%s, not '%s'",
				    opt == OPT_BATCH ? "--batch" : "--limit",
				    opt == OPT_BATCH ? " to 100000" : "", arg);
				goto out;
			}
			if (opt == OPT_BATCH)
				batch = n;
			else
				limit = n;
			break;
		case OPT_FORMAT:
			if ((s.fmt = fmt_parse(arg)) == FMT_NONE) {
				vset_usage_error("load", "--format must be npy, "
				    "fvecs or csv, not '%s'", arg);
				goto out;
			}
			break;
		case OPT_ID_COLUMN:
		case OPT_ATTRS_COLUMN:
			if (*arg == '\0') {
				vset_usage_error("load", "%s needs a column "
				    "index or name", opt == OPT_ID_COLUMN ?
				    "--id-column" : "--attrs-column");
				goto out;
			}
			if (opt == OPT_ID_COLUMN)
				s.id_col.spec = arg;
			else
				s.attrs_col.spec = arg;
			break;
		case OPT_ID_PREFIX:
			prefix = arg;
			break;
		case OPT_SKIP_HEADER:
			skip_header = 1;
			break;
		case 'h':
		case OPT_HELP:
			fputs(load_help, stdout);
			rv = VSET_EXIT_OK;
			goto out;
		}
	}
	if (npos < 2) {
		vset_usage_error("load", "missing %s",
		    npos == 0 ? "COLLECTION and FILE" : "FILE");
		goto out;
	}
	if (*pos[0] == '\0') {
		vset_usage_error("load", "COLLECTION is empty");
		goto out;
	}
	s.path = pos[1];
	if (s.fmt == FMT_NONE && (s.fmt = fmt_of_path(s.path)) == FMT_NONE) {
		vset_usage_error("load", "cannot tell the format of '%s' from "
		    "its name: use --format npy|fvecs|csv", s.path);
		goto out;
	}
	if (s.fmt != FMT_CSV && (s.id_col.spec != NULL ||
	    s.attrs_col.spec != NULL || skip_header)) {
		vset_usage_error("load", "--id-column, --attrs-column and "
		    "--skip-header apply to CSV files only");
		goto out;
	}
	if (strlen(prefix) + LOAD_ROW_DIGITS > LOAD_MAX_ID) {
		vset_usage_error("load", "--id-prefix is too long (ids are at "
		    "most %d bytes)", LOAD_MAX_ID);
		goto out;
	}
	if (src_open(&s, skip_header, err, sizeof(err)) != 0) {
		fprintf(stderr, "vset: %s: %s\n", s.path, err);
		goto out;
	}

	rv = VSET_EXIT_ERROR;
	st.start_us = vs_now_us();
	bar = isatty(STDERR_FILENO);
	if (s.dim == 0 || (s.fmt != FMT_CSV && s.total_rows == 0) || s.eof)
		goto summary;           /* no rows: nothing to send */
	if (batch_init(&b, batch, s.dim) != 0) {
		fputs("vset: out of memory\n", stderr);
		goto out;
	}
	if ((code = vset_connect(g, &c)) != VS_OK)
		goto out;
	/*
	 * A file of the wrong dimension would fail every batch in turn: ask
	 * once up front.  NOT_FOUND is fine (the first batch creates the
	 * collection), and so is a server too old to describe.
	 */
	code = vs_describe_collection(c, pos[0], &info);
	if (code == VS_OK && info->params.dim != s.dim) {
		fprintf(stderr, "vset: %s has vectors of dimension %zu but "
		    "collection \"%s\" has dimension %u: nothing was loaded\n",
		    s.path, s.dim, pos[0], info->params.dim);
		goto out;
	}
	if (code != VS_OK && code != VS_NOT_FOUND && code != VS_UNIMPLEMENTED) {
		vset_print_error(code);
		goto out;
	}
	st.start_us = vs_now_us();
	for (;;) {
		b.first_row = s.row;
		while (b.n < b.cap && (limit == 0 || s.row < limit)) {
			r = src_next(&s, b.vecs + b.n * s.dim, &id, &attrs, err,
			    sizeof(err));
			if (r == 0)
				break;
			if (r < 0 || make_id(prefix, id, s.row - 1,
			    &b.ids[b.n], err, sizeof(err)) != 0) {
				stop_msg = err;
				break;
			}
			if (attrs != NULL &&
			    (b.attrs[b.n] = strdup(attrs)) == NULL) {
				stop_msg = "out of memory";
				break;
			}
			b.items[b.n].id = b.ids[b.n];
			b.items[b.n].vector = b.vecs + b.n * s.dim;
			b.items[b.n].dim = s.dim;
			b.items[b.n].attrs_json = b.attrs[b.n];
			b.n++;
		}
		if (b.n == 0)
			break;
		send_batch(c, pos[0], &b, &st);
		if (bar)
			progress_draw(&st, &s, limit, 0);
		/* A short batch means the end, the limit or a bad row. */
		if (b.n < b.cap || stop_msg != NULL) {
			batch_clear(&b);
			break;
		}
		batch_clear(&b);
	}
	if (bar)
		progress_draw(&st, &s, limit, 1);
summary:
	if (st.bar_shown) {
		fputc('\n', stderr);
		st.bar_shown = 0;
	}
	if (stop_msg != NULL)
		fprintf(stderr, "vset: %s: %s; stopped after %" PRIu64 " rows\n",
		    s.path, stop_msg, st.rows);
	if (print_summary(g, &st, stop_msg) != 0)
		goto out;
	rv = st.failed == 0 && stop_msg == NULL ? VSET_EXIT_OK :
	    VSET_EXIT_ERROR;
out:
	for (r = 0; r < (int)st.n_failed_ids; r++)
		free(st.failed_ids[r]);
	vs_collection_info_free(info);
	vs_close(c);
	batch_free(&b);
	src_close(&s);
	return rv;
}
