/*
 * op_aggregate.c - calls answered by every shard and summed: Count, Info,
 * RandomMembers.
 *
 *   Count          VCARD key on all; the sum and the per-shard counts
 *   Info           VINFO key on all; the fields per shard, summed sizes
 *   RandomMembers  VCARD key on all, then VRANDMEMBER key n_s on each shard
 *                  with n_s drawn in proportion to the counts (below)
 *
 * A shard that does not answer makes the answer partial (flagged), like a
 * search; none answering is UNAVAILABLE / DEADLINE_EXCEEDED.  Another type
 * at the key (WRONGTYPE) is not the shard failing: FAILED_PRECONDITION.
 *
 * Sampling.  VRANDMEMBER semantics over the union of the shards: count > 0
 * asks for min(count, total) distinct elements, each subset equally likely;
 * count < 0 for exactly -count elements drawn with replacement.  vsetd
 * draws how many come from each shard - without replacement, a
 * multivariate hypergeometric draw (each pick takes shard s with
 * probability remaining_s / remaining); with replacement, each pick takes s
 * with probability count_s / total - then asks each shard for that many
 * (VRANDMEMBER key n_s, or -n_s) and shuffles the union, so the order says
 * nothing about shards.
 *
 * Replies are checked against what was asked (shard_reply.h): counts are
 * integers in [0, 2^48], VINFO is a flat list of (name, value) pairs of
 * valid UTF-8, VRANDMEMBER returns at most the ids asked, each a valid
 * id.  A shard that breaks that is counted failed ("protocol error: ...")
 * and against its circuit breaker; its part of the answer is dropped.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "dual.h"
#include "ops.h"
#include "round.h"
#include "shard_reply.h"
#include "validate.h"
#include "vs_time.h"

/* VINFO answers a dozen fields; room for future ones. */
#define VSD_INFO_MAX_FIELDS 256

/* One command "CMD key" on every shard; NULL with st set on failure. */
static struct vsd_cmd *
vsd_agg_round(struct vsd_call *call, const char *collection, const char *cmd,
    int64_t deadline_us)
{
	uint32_t s, n = vsd_read_shards(call);
	struct vsd_cmd *cmds;
	struct vsd_argv a;
	const char *key;
	size_t keylen;

	if (vsd_check_collection(collection, &call->st) != VSD_OK)
		return NULL;
	key = vsd_call_key(call, collection, &keylen);
	cmds = vsd_call_alloc(call, n * sizeof(*cmds));
	if (key == NULL || cmds == NULL ||
	    vsd_argv_key(call, &a, cmd, key, keylen) != 0) {
		vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED,
		    "out of memory");
		return NULL;
	}
	for (s = 0; s < n; s++)
		vsd_argv_to_cmd(&a, &cmds[s], s);
	vsd_round_run(call, cmds, n, VSD_RUN_READ, deadline_us);
	return cmds;
}

/* Shard s's reply, or NULL after marking the shard failed (error reply,
 * wrong type) so the summary counts it. */
static const redisReply *
vsd_agg_reply(struct vsd_call *call, const struct vsd_cmd *c, int type,
    int nil_ok)
{
	struct vsd_shard_result *res = &call->w->res[c->shard];
	const redisReply *r = c->reply;

	if (r == NULL)
		return NULL;
	if (r->type == type || (nil_ok && r->type == REDIS_REPLY_NIL))
		return r;
	if (r->type != REDIS_REPLY_ERROR) {
		vsd_reply_protocol_error(call, c->shard, "%.*s reply of type "
		    "%d", (int)c->argvlen[0], c->argv[0], r->type);
		return NULL;
	}
	/* Another type at the key (WRONGTYPE) is not the shard failing:
	 * FAILED_PRECONDITION for the call, as Search and Get answer. */
	if (call->st.code == VSD_OK &&
	    vsd_redis_error_code(r->str) == VSD_FAILED_PRECONDITION) {
		vsd_status_set(&call->st, VSD_FAILED_PRECONDITION,
		    "shard %u: %s", c->shard, r->str);
		return NULL;
	}
	res->state = VSD_SHARD_FAILED;
	snprintf(res->error, sizeof(res->error), "%s", r->str);
	return NULL;
}

/* The summary of the round, or NULL (st set) when no shard answered. */
static Vsetd__V1__ShardSummary *
vsd_agg_summary(struct vsd_call *call, const char *what)
{
	Vsetd__V1__ShardSummary *sum;

	if (call->st.code != VSD_OK)     /* vsd_agg_reply: WRONGTYPE */
		return NULL;
	sum = vsd_round_summary(call);

	if (sum != NULL && sum->ok == 0) {
		vsd_round_no_answer(call, what);
		return NULL;
	}
	return sum;
}

void
vsd_op_count(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__CountRequest *req = (const Vsetd__V1__CountRequest *)m;
	uint32_t s, n = vsd_read_shards(call);
	Vsetd__V1__CountResponse *resp;
	struct vsd_cmd *cmds;
	char why[160];

	if ((cmds = vsd_agg_round(call, req->collection, "VCARD",
	    call->deadline_us)) == NULL)
		return;
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (resp == NULL)
		goto oom;
	vsetd__v1__count_response__init(resp);
	if ((resp->shard_counts = vsd_call_alloc(call, n * sizeof(uint64_t))) ==
	    NULL)
		goto oom;
	resp->n_shard_counts = n;
	for (s = 0; s < n; s++) {
		const redisReply *r = vsd_agg_reply(call, &cmds[s],
		    REDIS_REPLY_INTEGER, 0);

		if (r == NULL)
			continue;
		if (vsd_reply_count(r, &resp->shard_counts[s], why,
		    sizeof(why)) != 0) {
			vsd_reply_protocol_error(call, s, "VCARD: %s", why);
			continue;
		}
		resp->count += resp->shard_counts[s];
	}
	if ((resp->shards = vsd_agg_summary(call, "Count")) == NULL)
		return;
	resp->partial = resp->shards->ok < resp->shards->total;
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}

/* One (name, value) pair of a VINFO reply into f: 0, -1 out of memory,
 * 1 a protocol error (why set). */
static int
vsd_info_field(struct vsd_call *call, const redisReply *k,
    const redisReply *v, Vsetd__V1__InfoField *f, char *why, size_t whylen)
{
	char *buf;

	vsetd__v1__info_field__init(f);
	/* RESP2 sends VINFO's names as simple strings (STATUS). */
	if (vsd_reply_check_text(k, "a VINFO name", why, whylen) != 0)
		return 1;
	f->name = k->str;
	if (v->type == REDIS_REPLY_INTEGER) {
		if ((buf = vsd_call_alloc(call, 24)) == NULL)
			return -1;
		snprintf(buf, 24, "%lld", v->integer);
		f->value = buf;
		return 0;
	}
	if (vsd_reply_check_text(v, "a VINFO value", why, whylen) != 0)
		return 1;
	f->value = v->str;
	return 0;
}

/* A VINFO count ("size", "attributes-count"): digits, at most 2^48. */
static int
vsd_info_count(const char *value, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (value[0] < '0' || value[0] > '9')
		return -1;
	v = strtoull(value, &end, 10);
	if (*end != '\0' || v > (unsigned long long)VSD_REPLY_MAX_COUNT)
		return -1;
	*out = v;
	return 0;
}

void
vsd_op_info(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__InfoRequest *req = (const Vsetd__V1__InfoRequest *)m;
	uint32_t s, n = vsd_read_shards(call);
	Vsetd__V1__InfoResponse *resp;
	Vsetd__V1__ShardInfo *si;
	struct vsd_cmd *cmds;
	uint64_t size, attrs;
	char why[160];
	size_t i;

	if ((cmds = vsd_agg_round(call, req->collection, "VINFO",
	    call->deadline_us)) == NULL)
		return;
	resp = vsd_call_alloc(call, sizeof(*resp));
	si = vsd_call_alloc(call, n * sizeof(*si));
	if (resp == NULL || si == NULL)
		goto oom;
	vsetd__v1__info_response__init(resp);
	if ((resp->shard_info = vsd_call_alloc(call, n *
	    sizeof(*resp->shard_info))) == NULL)
		goto oom;
	for (s = 0; s < n; s++) {
		const redisReply *r = vsd_agg_reply(call, &cmds[s],
		    REDIS_REPLY_ARRAY, 1);

		if (r == NULL)
			continue;
		if (r->type == REDIS_REPLY_ARRAY && (r->elements % 2 != 0 ||
		    r->elements > 2 * VSD_INFO_MAX_FIELDS)) {
			vsd_reply_protocol_error(call, s, "VINFO reply has %zu "
			    "elements", r->elements);
			continue;
		}
		vsetd__v1__shard_info__init(&si[s]);
		si[s].shard = s;
		if (r->type == REDIS_REPLY_NIL || r->elements < 2) {
			resp->shard_info[resp->n_shard_info++] = &si[s];
			continue;
		}
		si[s].fields = vsd_call_alloc(call, r->elements / 2 *
		    sizeof(*si[s].fields));
		if (si[s].fields == NULL)
			goto oom;
		size = attrs = 0;
		for (i = 0; i + 1 < r->elements; i += 2) {
			Vsetd__V1__InfoField *f = vsd_call_alloc(call,
			    sizeof(*f));
			uint64_t *sum = NULL;
			int rv;

			if (f == NULL)
				goto oom;
			rv = vsd_info_field(call, r->element[i],
			    r->element[i + 1], f, why, sizeof(why));
			if (rv < 0)
				goto oom;
			if (strcmp(f->name, "size") == 0)
				sum = &size;
			else if (strcmp(f->name, "attributes-count") == 0)
				sum = &attrs;
			if (rv == 0 && sum != NULL &&
			    vsd_info_count(f->value, sum) != 0) {
				snprintf(why, sizeof(why), "VINFO %s is \"%.32s\"",
				    f->name, f->value);
				rv = 1;
			}
			if (rv > 0)
				break;
			si[s].fields[si[s].n_fields++] = f;
		}
		if (i + 1 < r->elements) {
			vsd_reply_protocol_error(call, s, "%s", why);
			continue;
		}
		si[s].exists = 1;
		resp->shard_info[resp->n_shard_info++] = &si[s];
		resp->size += size;
		resp->attributes_count += attrs;
	}
	if ((resp->shards = vsd_agg_summary(call, "Info")) == NULL)
		return;
	resp->partial = resp->shards->ok < resp->shards->total;
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}

/* ------------------------------------------------------------ random */

/* A per-thread splitmix64, seeded from the clock and the thread: sampling
 * needs to be unpredictable enough, not cryptographic. */
static uint64_t
vsd_rand(void)
{
	static _Thread_local uint64_t state;
	uint64_t z;

	if (state == 0)
		state = (uint64_t)vs_now_us() ^ ((uint64_t)pthread_self() << 1) ^
		    0x9e3779b97f4a7c15ULL;
	z = (state += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* Uniform in [0, n), n > 0. */
static uint64_t
vsd_rand_below(uint64_t n)
{
	return vsd_rand() % n;      /* bias < n / 2^64: negligible here */
}

/* How many of want picks come from each shard (see the top comment). */
static void
vsd_random_split(const uint64_t *counts, uint32_t n, uint64_t want,
    int distinct, uint64_t *take)
{
	uint64_t total = 0, left, x, i;
	uint32_t s;

	for (s = 0; s < n; s++) {
		take[s] = 0;
		total += counts[s];
	}
	left = total;
	for (i = 0; i < want && left > 0; i++) {
		x = vsd_rand_below(left);
		for (s = 0; s < n; s++) {
			uint64_t avail = distinct ? counts[s] - take[s] :
			    counts[s];

			if (x < avail)
				break;
			x -= avail;
		}
		take[s]++;
		if (distinct)
			left--;
	}
}

/* Keep the first of equal strings in ids[0..n): the new count.  Quadratic,
 * but n is at most --max-batch and this runs only during a move. */
static size_t
vsd_drop_repeats(char **ids, size_t n)
{
	size_t i, j, m = 0;

	for (i = 0; i < n; i++) {
		for (j = 0; j < m && strcmp(ids[j], ids[i]) != 0; j++)
			;
		if (j == m)
			ids[m++] = ids[i];
	}
	return m;
}

void
vsd_op_random_members(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__RandomMembersRequest *req =
	    (const Vsetd__V1__RandomMembersRequest *)m;
	uint32_t s, n = vsd_read_shards(call);
	Vsetd__V1__RandomMembersResponse *resp;
	int64_t count = req->count != 0 ? req->count : 1;
	uint64_t want, *counts, *take, total = 0;
	int distinct = count > 0;
	struct vsd_cmd *cmds, *pick;
	const char *key;
	size_t keylen, npick = 0, i, j;
	uint8_t *answered;
	char why[160];

	want = count > 0 ? (uint64_t)count : (uint64_t)0 - (uint64_t)count;
	if (want > call->lim->max_batch) {
		vsd_status_set(&call->st, VSD_INVALID_ARGUMENT, "count is "
		    "%lld; at most %u elements per call (--max-batch)",
		    (long long)req->count, call->lim->max_batch);
		return;
	}
	if ((cmds = vsd_agg_round(call, req->collection, "VCARD",
	    vsd_round_half_deadline(call))) == NULL)
		return;
	counts = vsd_call_alloc(call, n * sizeof(*counts));
	take = vsd_call_alloc(call, n * sizeof(*take));
	answered = vsd_call_alloc(call, n);
	pick = vsd_call_alloc(call, n * sizeof(*pick));
	resp = vsd_call_alloc(call, sizeof(*resp));
	key = vsd_call_key(call, req->collection, &keylen);
	if (counts == NULL || take == NULL || answered == NULL ||
	    pick == NULL || resp == NULL || key == NULL)
		goto oom;
	for (s = 0; s < n; s++) {
		const redisReply *r = vsd_agg_reply(call, &cmds[s],
		    REDIS_REPLY_INTEGER, 0);

		if (r == NULL)
			continue;
		if (vsd_reply_count(r, &counts[s], why, sizeof(why)) != 0) {
			vsd_reply_protocol_error(call, s, "VCARD: %s", why);
			counts[s] = 0;
			continue;
		}
		answered[s] = 1;
		total += counts[s];
	}
	vsetd__v1__random_members_response__init(resp);
	if ((resp->shards = vsd_agg_summary(call, "RandomMembers")) == NULL)
		return;
	resp->partial = resp->shards->ok < resp->shards->total;
	vsd_random_split(counts, n, want, distinct, take);
	for (s = 0; s < n; s++) {
		struct vsd_argv a;
		int64_t ask;

		if (!answered[s] || take[s] == 0)
			continue;
		ask = distinct ? (int64_t)take[s] : -(int64_t)take[s];
		if (vsd_argv_init(call, &a, 3) != 0)
			goto oom;
		vsd_argv_str(&a, "VRANDMEMBER");
		vsd_argv_add(&a, key, keylen);
		if (vsd_argv_dbl(call, &a, (double)ask) != 0)
			goto oom;
		vsd_argv_to_cmd(&a, &pick[npick++], s);
	}
	if (npick == 0 || total == 0) {
		call->resp = &resp->base;
		return;
	}
	vsd_round_run(call, pick, npick, VSD_RUN_READ, call->deadline_us);
	resp->ids = vsd_call_alloc(call, want * sizeof(*resp->ids));
	if (resp->ids == NULL)
		goto oom;
	for (i = 0; i < npick; i++) {
		const redisReply *r = vsd_agg_reply(call, &pick[i],
		    REDIS_REPLY_ARRAY, 0);

		if (r == NULL) {
			resp->partial = 1;
			continue;
		}
		/* At most the ids asked, every one an id; else none of them. */
		if (r->elements > take[pick[i].shard])
			snprintf(why, sizeof(why), "VRANDMEMBER returned %zu "
			    "ids for %llu", r->elements,
			    (unsigned long long)take[pick[i].shard]);
		for (j = 0; r->elements <= take[pick[i].shard] &&
		    j < r->elements; j++)
			if (vsd_reply_check_id(r->element[j], call->lim, why,
			    sizeof(why)) != 0)
				break;
		if (r->elements > take[pick[i].shard] || j < r->elements) {
			vsd_reply_protocol_error(call, pick[i].shard,
			    "VRANDMEMBER: %s", why);
			resp->partial = 1;
			continue;
		}
		for (j = 0; j < r->elements && resp->n_ids < want; j++)
			resp->ids[resp->n_ids++] = r->element[j]->str;
	}
	if (call->st.code != VSD_OK)     /* vsd_agg_reply: WRONGTYPE */
		return;
	/* SWITCHED reads both layouts: a moved id not yet deleted from its
	 * old owner may come from two shards (dual.h). */
	if (distinct && call->view.l.phase == VSD_PHASE_SWITCHED)
		resp->n_ids = vsd_drop_repeats(resp->ids, resp->n_ids);
	/* Fisher-Yates: the order must not reveal the shards. */
	for (i = resp->n_ids; i > 1; i--) {
		char *t;

		j = (size_t)vsd_rand_below(i);
		t = resp->ids[i - 1];
		resp->ids[i - 1] = resp->ids[j];
		resp->ids[j] = t;
	}
	/* resp->shards stays the VCARD round's: it covers every shard. */
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
