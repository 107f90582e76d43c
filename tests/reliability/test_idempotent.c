/*
 * test_idempotent.c - Insert and Delete are safe to receive twice.
 *
 * nng's REQ resends a request after NNG_OPT_REQ_RESENDTIME or on a
 * reconnect.  The C client disables the timed resend, but other clients
 * (nngcat, other languages) may not, and a caller may retry after a lost
 * reply: so the server must make a duplicate harmless.  The duplicate is
 * simulated exactly: the same serialized request bytes sent twice through
 * vs_call_raw().  Users rely on:
 *   - Insert twice: the first reports WRITE_ADDED, the second WRITE_UPDATED
 *     for every item; the stored vectors (VEMB on the owner shard) are
 *     identical after each, the element count does not change, and a search
 *     finds each id exactly once;
 *   - Delete twice: WRITE_DELETED, then WRITE_NOT_FOUND; the items are gone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "rel_data.h"
#include "rel_rig.h"
#include "vsetd.h"
#include "vsetd.pb-c.h"

#define NSHARDS 2
#define NITEMS 6
#define DIM 8
#define COLL "idem"
#define INSERT "/vsetd.v1.VectorService/Insert"
#define DELETE "/vsetd.v1.VectorService/Delete"

struct state {
	struct rel_rig rig;
	redisContext *rc[NSHARDS];
};

static int
group_setup(void **st)
{
	static const char *const none[] = { NULL };
	struct state *s;
	int i;

	if (rel_rig_new(st, sizeof(*s), "idem", NSHARDS, NULL, NULL, none) != 0)
		return -1;
	s = *st;
	for (i = 0; i < NSHARDS; i++)
		if ((s->rc[i] = tp_redis_connect(&s->rig.shard[i], 2000)) ==
		    NULL)
			return -1;
	if ((s->rig.d = rel_data_new("i", NITEMS, DIM, NSHARDS, 0x1de)) ==
	    NULL)
		return -1;
	return rel_connect(&s->rig.cli, s->rig.v.url, 3000) == VS_OK ? 0 : -1;
}

static int
group_teardown(void **st)
{
	struct state *s = *st;
	int i;

	if (s == NULL)
		return 0;
	for (i = 0; i < NSHARDS; i++)
		if (s->rc[i] != NULL)
			redisFree(s->rc[i]);
	rel_rig_free(s);
	return 0;
}

/* Send req (already packed) to method; the per-item outcomes into out[],
 * the status as return value. */
static int
call_items(struct state *s, const char *method, const uint8_t *req,
    size_t len, int *out)
{
	void *reply = NULL;
	size_t rlen = 0, i, n;
	Vsetd__V1__ItemResult **res;
	Vsetd__V1__InsertResponse *ir = NULL;
	Vsetd__V1__DeleteResponse *dr = NULL;
	int rv;

	rv = vs_call_raw(s->rig.cli, method, req, len, &reply, &rlen);
	if (rv != VS_OK) {
		fprintf(stderr, "# %s: %s %s\n", method, vs_code_name(rv),
		    vs_errmsg());
		free(reply);
		return rv;
	}
	if (strcmp(method, INSERT) == 0) {
		ir = vsetd__v1__insert_response__unpack(NULL, rlen, reply);
		assert_non_null(ir);
		res = ir->results;
		n = ir->n_results;
	} else {
		dr = vsetd__v1__delete_response__unpack(NULL, rlen, reply);
		assert_non_null(dr);
		res = dr->results;
		n = dr->n_results;
	}
	assert_int_equal(n, NITEMS);
	for (i = 0; i < n; i++) {
		assert_string_equal(res[i]->id, s->rig.d->ids[i]);
		out[i] = res[i]->outcome;
	}
	if (ir != NULL)
		vsetd__v1__insert_response__free_unpacked(ir, NULL);
	if (dr != NULL)
		vsetd__v1__delete_response__free_unpacked(dr, NULL);
	free(reply);
	return rv;
}

/* Every item's stored vector into vec (NITEMS x DIM); asserts presence
 * (want 1) or absence (want 0). */
static void
stored(struct state *s, float *vec, int want)
{
	int i;

	for (i = 0; i < NITEMS; i++)
		assert_int_equal(tp_vemb(s->rc[s->rig.d->owner[i]], COLL,
		    s->rig.d->ids[i], vec + (size_t)i * DIM, DIM), want);
}

static long long
total_count(struct state *s)
{
	long long n = 0;
	redisReply *r;
	int i;

	for (i = 0; i < NSHARDS; i++) {
		r = redisCommand(s->rc[i], "VCARD vsetd:%s", COLL);
		assert_non_null(r);
		if (r->type == REDIS_REPLY_INTEGER)
			n += r->integer;
		freeReplyObject(r);
	}
	return n;
}

static void
test_insert_delete_twice(void **st)
{
	struct state *s = *st;
	Vsetd__V1__Item item[NITEMS], *itemp[NITEMS];
	Vsetd__V1__InsertRequest ins = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__DeleteRequest del = VSETD__V1__DELETE_REQUEST__INIT;
	static float first[NITEMS * DIM], second[NITEMS * DIM];
	char *ids[NITEMS];
	uint8_t *buf;
	size_t len, h, j;
	int out[NITEMS], i, seen;
	vs_search_result *res = NULL;
	vs_search_params sp;

	for (i = 0; i < NITEMS; i++) {
		vsetd__v1__item__init(&item[i]);
		item[i].id = s->rig.d->ids[i];
		item[i].n_vector = DIM;
		item[i].vector = s->rig.d->vec + (size_t)i * DIM;
		itemp[i] = &item[i];
		ids[i] = s->rig.d->ids[i];
	}
	ins.collection = COLL;
	ins.n_items = NITEMS;
	ins.items = itemp;
	len = vsetd__v1__insert_request__get_packed_size(&ins);
	assert_non_null(buf = malloc(len));
	vsetd__v1__insert_request__pack(&ins, buf);

	/* The same bytes twice. */
	assert_int_equal(call_items(s, INSERT, buf, len, out), VS_OK);
	for (i = 0; i < NITEMS; i++)
		assert_int_equal(out[i], VSETD__V1__WRITE_OUTCOME__WRITE_ADDED);
	stored(s, first, 1);
	assert_int_equal(total_count(s), NITEMS);
	assert_int_equal(call_items(s, INSERT, buf, len, out), VS_OK);
	for (i = 0; i < NITEMS; i++)
		assert_int_equal(out[i],
		    VSETD__V1__WRITE_OUTCOME__WRITE_UPDATED);
	stored(s, second, 1);
	assert_int_equal(total_count(s), NITEMS);
	assert_memory_equal(first, second, sizeof(first));
	free(buf);

	/* Each id found exactly once. */
	rel_search_params(&sp, s->rig.d, COLL, 0, 2 * NITEMS);
	assert_int_equal(vs_search(s->rig.cli, &sp, &res), VS_OK);
	assert_int_equal(res->n_hits, NITEMS);
	for (i = 0; i < NITEMS; i++) {
		seen = 0;
		for (h = 0; h < res->n_hits; h++)
			seen += strcmp(res->hits[h].id, s->rig.d->ids[i]) == 0;
		assert_int_equal(seen, 1);
	}
	vs_search_result_free(res);

	/* Delete twice. */
	del.collection = COLL;
	del.n_ids = NITEMS;
	del.ids = ids;
	len = vsetd__v1__delete_request__get_packed_size(&del);
	assert_non_null(buf = malloc(len));
	vsetd__v1__delete_request__pack(&del, buf);
	assert_int_equal(call_items(s, DELETE, buf, len, out), VS_OK);
	for (j = 0; j < NITEMS; j++)
		assert_int_equal(out[j],
		    VSETD__V1__WRITE_OUTCOME__WRITE_DELETED);
	assert_int_equal(call_items(s, DELETE, buf, len, out), VS_OK);
	for (j = 0; j < NITEMS; j++)
		assert_int_equal(out[j],
		    VSETD__V1__WRITE_OUTCOME__WRITE_NOT_FOUND);
	free(buf);
	stored(s, first, 0);
	assert_int_equal(total_count(s), 0);
	assert_int_equal(tp_vsetd_term(&s->rig.v, 5000), 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_insert_delete_twice),
	};

	return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
