/*
 * shard_reply.c - bounds and shape checks on shard replies (shard_reply.h).
 *
 * The reader layer replaces hiredis's reply-object functions with ours
 * rather than wrapping them, because bounding a whole reply needs a place
 * to count its bytes while it is being built: the root object of each
 * reply is allocated with a small trailer (struct vsd_reply_root) holding
 * that count, and children find their root through the reader's task
 * stack.  The objects are otherwise exactly hiredis's (malloc'd redisReply
 * structs, NUL-terminated strings, calloc'd element vectors), so
 * freeReplyObject() frees them and nothing else in vsetd changes.
 *
 * A refused object makes the create function return NULL, which hiredis
 * 0.14 reports as "Out of memory" (it has no other way): the reason is
 * kept in a thread-local string that vsd_reply_error_text() substitutes.
 * A reader only ever runs on one thread, and the error surfaces from the
 * same redisReaderGetReply() call that refused, so the reason cannot be
 * attributed to another connection.
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "shard_reply.h"
#include "vs_time.h"

/* The root of a reply being built: the reply, then its running cost.
 * r must stay first: freeReplyObject() frees the root by its address. */
struct vsd_reply_root {
	redisReply r;
	size_t used;
};

static _Thread_local char vsd_reply_why[128];

size_t
vsd_reply_max_elements(const struct vsd_config *cfg)
{
	size_t n = VSD_REPLY_MIN_ELEMENTS;

	if (cfg->max_dim > n)
		n = cfg->max_dim;
	if (cfg->max_batch > n)
		n = cfg->max_batch;
	if ((size_t)cfg->max_k * 3 > n)
		n = (size_t)cfg->max_k * 3;
	return n;
}

size_t
vsd_reply_max_bytes(const struct vsd_config *cfg)
{
	return cfg->max_message_bytes * VSD_REPLY_BYTES_FACTOR;
}

size_t
vsd_reply_max_buffer(const struct vsd_config *cfg)
{
	return cfg->max_message_bytes + VSD_REPLY_BUFFER_SLACK;
}

static void *
vsd_reply_refuse(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void *
vsd_reply_refuse(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(vsd_reply_why, sizeof(vsd_reply_why), fmt, ap);
	va_end(ap);
	return NULL;
}

/* Account cost bytes to task's reply; allocate the object (with the root
 * trailer when task is the root).  NULL when refused or out of memory. */
static redisReply *
vsd_reply_new(const redisReadTask *task, int type, size_t cost)
{
	const struct vsd_config *cfg = task->privdata;
	size_t max = vsd_reply_max_bytes(cfg);
	const redisReadTask *t = task;
	struct vsd_reply_root *root;
	redisReply *r;

	if (task->parent == NULL) {
		if (cost > max)
			return vsd_reply_refuse("a reply of more than %zu bytes",
			    max);
		if ((root = calloc(1, sizeof(*root))) == NULL)
			return vsd_reply_refuse("out of memory");
		root->used = cost;
		r = &root->r;
	} else {
		while (t->parent != NULL)
			t = t->parent;
		root = t->obj;
		if (cost > max || root->used > max - cost)
			return vsd_reply_refuse("a reply of more than %zu bytes",
			    max);
		if ((r = calloc(1, sizeof(*r))) == NULL)
			return vsd_reply_refuse("out of memory");
		root->used += cost;
	}
	r->type = type;
	return r;
}

static void
vsd_reply_link(const redisReadTask *task, redisReply *r)
{
	if (task->parent != NULL) {
		redisReply *parent = task->parent->obj;

		parent->element[task->idx] = r;
	}
}

static void *
vsd_reply_create_string(const redisReadTask *task, char *str, size_t len)
{
	redisReply *r = vsd_reply_new(task, task->type,
	    VSD_REPLY_OBJECT_COST + len);

	if (r == NULL)
		return NULL;
	if ((r->str = malloc(len + 1)) == NULL) {
		free(r);
		return vsd_reply_refuse("out of memory");
	}
	memcpy(r->str, str, len);
	r->str[len] = '\0';
	r->len = len;
	vsd_reply_link(task, r);
	return r;
}

static void *
vsd_reply_create_array(const redisReadTask *task, int elements)
{
	const struct vsd_config *cfg = task->privdata;
	size_t max = vsd_reply_max_elements(cfg), depth = 0;
	const redisReadTask *t;
	redisReply *r;

	for (t = task; t->parent != NULL; t = t->parent)
		depth++;
	if (depth >= VSD_REPLY_MAX_DEPTH)
		return vsd_reply_refuse("arrays nested more than %d deep",
		    VSD_REPLY_MAX_DEPTH);
	if (elements < 0 || (size_t)elements > max)
		return vsd_reply_refuse("an array of %d elements (the limit "
		    "is %zu)", elements, max);
	r = vsd_reply_new(task, REDIS_REPLY_ARRAY, VSD_REPLY_OBJECT_COST +
	    (size_t)elements * sizeof(redisReply *));
	if (r == NULL)
		return NULL;
	if (elements > 0 &&
	    (r->element = calloc((size_t)elements, sizeof(*r->element))) ==
	    NULL) {
		free(r);
		return vsd_reply_refuse("out of memory");
	}
	r->elements = (size_t)elements;
	vsd_reply_link(task, r);
	return r;
}

static void *
vsd_reply_create_integer(const redisReadTask *task, long long value)
{
	redisReply *r = vsd_reply_new(task, REDIS_REPLY_INTEGER,
	    VSD_REPLY_OBJECT_COST);

	if (r == NULL)
		return NULL;
	r->integer = value;
	vsd_reply_link(task, r);
	return r;
}

static void *
vsd_reply_create_nil(const redisReadTask *task)
{
	redisReply *r = vsd_reply_new(task, REDIS_REPLY_NIL,
	    VSD_REPLY_OBJECT_COST);

	if (r == NULL)
		return NULL;
	vsd_reply_link(task, r);
	return r;
}

static redisReplyObjectFunctions vsd_reply_fns = {
	vsd_reply_create_string,
	vsd_reply_create_array,
	vsd_reply_create_integer,
	vsd_reply_create_nil,
	freeReplyObject,
};

void
vsd_reply_reader_limit(redisReader *r, const struct vsd_config *cfg)
{
	r->fn = &vsd_reply_fns;
	r->privdata = (void *)cfg;
}

void
vsd_reply_limits_apply(redisContext *c, const struct vsd_config *cfg)
{
	if (c != NULL && c->reader != NULL)
		vsd_reply_reader_limit(c->reader, cfg);
}

int
vsd_reply_buffer_check(const redisContext *c, const struct vsd_config *cfg,
    char *msg, size_t msglen)
{
	size_t max = vsd_reply_max_buffer(cfg);

	if (c->reader == NULL || c->reader->len <= max)
		return 0;
	snprintf(msg, msglen, "protocol error: more than %zu bytes of one "
	    "reply item unparsed (a bulk string or line over the limit)", max);
	return -1;
}

void
vsd_reply_error_text(const char *errstr, char *msg, size_t msglen)
{
	if (vsd_reply_why[0] != '\0') {
		snprintf(msg, msglen, "protocol error: %s", vsd_reply_why);
		vsd_reply_why[0] = '\0';
	} else {
		snprintf(msg, msglen, "protocol error: %s", errstr);
	}
}

/* ------------------------------------------------ layer 2: the shapes */

static const char *
vsd_reply_type_name(const redisReply *r)
{
	switch (r->type) {
	case REDIS_REPLY_STRING: return "a string";
	case REDIS_REPLY_ARRAY: return "an array";
	case REDIS_REPLY_INTEGER: return "an integer";
	case REDIS_REPLY_NIL: return "nil";
	case REDIS_REPLY_STATUS: return "a status";
	case REDIS_REPLY_ERROR: return "an error";
	default: return "an unknown type";
	}
}

static int
vsd_reply_is_str(const redisReply *r)
{
	return r != NULL && (r->type == REDIS_REPLY_STRING ||
	    r->type == REDIS_REPLY_STATUS);
}

int
vsd_reply_check_id(const redisReply *r, const struct vsd_limits *lim,
    char *why, size_t whylen)
{
	struct vsd_status st;

	if (r == NULL || r->type != REDIS_REPLY_STRING) {
		snprintf(why, whylen, "an id is %s, not a string",
		    r != NULL ? vsd_reply_type_name(r) : "missing");
		return -1;
	}
	if (strlen(r->str) != r->len) {
		snprintf(why, whylen, "an id contains a NUL byte");
		return -1;
	}
	if (vsd_check_id(r->str, lim, "an id", &st) != VSD_OK) {
		snprintf(why, whylen, "%s", st.msg);
		return -1;
	}
	return 0;
}

int
vsd_reply_check_text(const redisReply *r, const char *what, char *why,
    size_t whylen)
{
	/* vsd_check_id checks UTF-8; only its length limit is unwanted. */
	const struct vsd_limits any = { .max_id_bytes = UINT32_MAX };
	struct vsd_status st;

	if (!vsd_reply_is_str(r)) {
		snprintf(why, whylen, "%s is %s, not a string", what,
		    r != NULL ? vsd_reply_type_name(r) : "missing");
		return -1;
	}
	if (strlen(r->str) != r->len) {
		snprintf(why, whylen, "%s contains a NUL byte", what);
		return -1;
	}
	if (r->len > 0 && vsd_check_id(r->str, &any, what, &st) != VSD_OK) {
		snprintf(why, whylen, "%s", st.msg);
		return -1;
	}
	return 0;
}

int
vsd_reply_double(const redisReply *r, const char *what, double *out,
    char *why, size_t whylen)
{
	char *end;
	double v;

	if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
		*out = (double)r->integer;
		return 0;
	}
	if (!vsd_reply_is_str(r)) {
		snprintf(why, whylen, "%s is %s, not a number", what,
		    r != NULL ? vsd_reply_type_name(r) : "missing");
		return -1;
	}
	v = r->len > 0 ? strtod(r->str, &end) : 0;
	if (r->len == 0 || end != r->str + r->len) {
		snprintf(why, whylen, "%s \"%.32s\" is not a number", what,
		    r->str);
		return -1;
	}
	if (!isfinite(v)) {
		snprintf(why, whylen, "%s is %g", what, v);
		return -1;
	}
	*out = v;
	return 0;
}

int
vsd_reply_score(const redisReply *r, double *out, char *why, size_t whylen)
{
	if (vsd_reply_double(r, "a score", out, why, whylen) != 0)
		return -1;
	if (*out < -VSD_SCORE_SLACK || *out > 1 + VSD_SCORE_SLACK) {
		snprintf(why, whylen, "a score is %g, outside [0, 1]", *out);
		return -1;
	}
	return 0;
}

int
vsd_vsim_parse(const redisReply *r, const struct vsd_vsim_shape *shape,
    uint32_t shard, struct vsd_hit *hits, size_t *nhits, char *why,
    size_t whylen)
{
	size_t i, n;
	double score;

	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		snprintf(why, whylen, "VSIM reply is %s, not an array",
		    r != NULL ? vsd_reply_type_name(r) : "missing");
		return -1;
	}
	if (r->elements % shape->stride != 0) {
		snprintf(why, whylen, "VSIM reply has %zu elements, not a "
		    "multiple of %zu", r->elements, shape->stride);
		return -1;
	}
	n = r->elements / shape->stride;
	if (n > shape->count) {
		snprintf(why, whylen, "VSIM reply has %zu hits for COUNT %u", n,
		    shape->count);
		return -1;
	}
	/* Check everything first: a bad shard contributes nothing. */
	for (i = 0; i < r->elements; i += shape->stride) {
		if (vsd_reply_check_id(r->element[i], shape->lim, why,
		    whylen) != 0 ||
		    vsd_reply_score(r->element[i + 1], &score, why,
		    whylen) != 0)
			return -1;
		if (shape->stride == 3 &&
		    r->element[i + 2]->type != REDIS_REPLY_NIL &&
		    vsd_reply_check_text(r->element[i + 2], "attributes", why,
		    whylen) != 0)
			return -1;
	}
	if (hits == NULL)
		return 0;
	for (i = 0; i < r->elements; i += shape->stride) {
		struct vsd_hit *h = &hits[(*nhits)++];

		h->id = r->element[i]->str;
		h->id_len = r->element[i]->len;
		(void)vsd_reply_score(r->element[i + 1], &h->score, why,
		    whylen);
		h->shard = shard;
	}
	return 0;
}

int
vsd_vemb_parse(const redisReply *r, const struct vsd_limits *lim,
    size_t want_dim, float *out, char *why, size_t whylen)
{
	size_t i;
	double v;

	if (r->type != REDIS_REPLY_ARRAY) {
		snprintf(why, whylen, "VEMB reply is %s, not an array",
		    vsd_reply_type_name(r));
		return -1;
	}
	if (r->elements == 0 || r->elements > lim->max_dim ||
	    (want_dim != 0 && r->elements != want_dim)) {
		snprintf(why, whylen, "VEMB reply has %zu components (expected "
		    "%zu, at most %u)", r->elements, want_dim, lim->max_dim);
		return -1;
	}
	for (i = 0; i < r->elements; i++) {
		if (vsd_reply_double(r->element[i], "a vector component", &v,
		    why, whylen) != 0)
			return -1;
		if (fabs(v) > FLT_MAX) {
			snprintf(why, whylen, "a vector component is %g, "
			    "beyond float", v);
			return -1;
		}
		if (out != NULL)
			out[i] = (float)v;
	}
	return 0;
}

int
vsd_reply_count(const redisReply *r, uint64_t *out, char *why, size_t whylen)
{
	if (r->type != REDIS_REPLY_INTEGER) {
		snprintf(why, whylen, "a count is %s, not an integer",
		    vsd_reply_type_name(r));
		return -1;
	}
	if (r->integer < 0 || r->integer > VSD_REPLY_MAX_COUNT) {
		snprintf(why, whylen, "a count is %lld", r->integer);
		return -1;
	}
	*out = (uint64_t)r->integer;
	return 0;
}
