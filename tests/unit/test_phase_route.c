/*
 * test_phase_route.c - where reads and writes go in each phase of a move
 * (src/fanout/phase_route.h).  What the no-lost-hit, no-lost-write argument of
 * the phases relies on, checked over many ids and shard counts:
 *   - stable: one owner, the plain jump-hash owner; searches ask all;
 *   - dual: a write reaches both the old and the new owner; the two differ
 *     only for ids that move, and a moving id moves only to the appended
 *     shard (add) or only off the last shard (remove); searches ask the
 *     old layout, point reads the old owner;
 *   - switched: writes go to the new owner only; searches ask every shard
 *     of both layouts; point reads try the new owner, then the old;
 *   - about 1/(n+1) of the ids move when growing from n shards;
 *   - layouts that are not one-shard moves are refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "phase_route.h"
#include "vs_hash.h"

#define NIDS 20000
#define MAX_N 9

static size_t
id_of(int i, char *buf, size_t size)
{
	return (size_t)snprintf(buf, size, "doc:%d", i);
}

static uint32_t
owner(const char *id, size_t len, uint32_t n)
{
	return vs_shard_of(id, len, n);
}

static void
test_stable(void **state)
{
	struct vsd_phase_layout l = { VSD_PHASE_STABLE, 0, 0 };
	uint32_t n, out[VSD_PHASE_MAX_OWNERS];
	char id[32];
	size_t len;
	int i;

	(void)state;
	for (n = 1; n <= MAX_N; n++) {
		l.nold = l.nnew = n;
		assert_int_equal(vsd_phase_search_shards(&l), n);
		for (i = 0; i < NIDS; i += 7) {
			uint32_t from, to;

			len = id_of(i, id, sizeof(id));
			assert_int_equal(vsd_phase_write_shards(&l, id, len,
			    out), 1);
			assert_int_equal(out[0], owner(id, len, n));
			assert_int_equal(vsd_phase_read_shards(&l, id, len,
			    out), 1);
			assert_int_equal(out[0], owner(id, len, n));
			assert_int_equal(vsd_phase_moves(&l, id, len, &from,
			    &to), 0);
		}
	}
}

/* One move nold -> nnew: every phase's table, over NIDS ids. */
static void
check_move(uint32_t nold, uint32_t nnew)
{
	struct vsd_phase_layout dual = { VSD_PHASE_DUAL, nold, nnew };
	struct vsd_phase_layout sw = { VSD_PHASE_SWITCHED, nold, nnew };
	uint32_t out[VSD_PHASE_MAX_OWNERS], k, from, to, o, nw;
	uint32_t extra = nold > nnew ? nold - 1 : nnew - 1;  /* the one shard
	                                                       * in one layout */
	uint32_t all = nold > nnew ? nold : nnew;
	char id[32];
	size_t len;
	int i, moved = 0;

	assert_int_equal(vsd_phase_search_shards(&dual), nold);
	assert_int_equal(vsd_phase_search_shards(&sw), all);
	for (i = 0; i < NIDS; i++) {
		len = id_of(i, id, sizeof(id));
		o = owner(id, len, nold);
		nw = owner(id, len, nnew);

		/* dual: both owners, old first */
		k = vsd_phase_write_shards(&dual, id, len, out);
		assert_int_equal(out[0], o);
		if (o == nw) {
			assert_int_equal(k, 1);
		} else {
			assert_int_equal(k, 2);
			assert_int_equal(out[1], nw);
			/* jump hash moves only to/from the end */
			assert_int_equal(nold < nnew ? nw : o, extra);
			moved++;
		}
		assert_int_equal(vsd_phase_read_shards(&dual, id, len, out), 1);
		assert_int_equal(out[0], o);
		/* every owner a search may need is asked */
		assert_true(o < vsd_phase_search_shards(&dual));

		/* switched: new owner for writes; reads new then old */
		assert_int_equal(vsd_phase_write_shards(&sw, id, len, out), 1);
		assert_int_equal(out[0], nw);
		k = vsd_phase_read_shards(&sw, id, len, out);
		assert_int_equal(out[0], nw);
		if (o != nw) {
			assert_int_equal(k, 2);
			assert_int_equal(out[1], o);
		} else {
			assert_int_equal(k, 1);
		}
		assert_true(o < all && nw < all);

		/* the mover's list */
		k = (uint32_t)vsd_phase_moves(&dual, id, len, &from, &to);
		assert_int_equal(k, o != nw);
		if (k) {
			assert_int_equal(from, o);
			assert_int_equal(to, nw);
		}
	}
	/* about 1/max(nold, nnew) of the ids move: within a third of it */
	assert_true(moved * 3 > NIDS * 2 / (int)all);
	assert_true(moved * 3 < NIDS * 4 / (int)all);
}

static void
test_moves(void **state)
{
	uint32_t n;

	(void)state;
	for (n = 1; n < MAX_N; n++) {
		check_move(n, n + 1);      /* add */
		check_move(n + 1, n);      /* remove */
	}
}

static void
test_bad_layouts(void **state)
{
	static const struct vsd_phase_layout bad[] = {
		{ VSD_PHASE_STABLE, 2, 3 },
		{ VSD_PHASE_STABLE, 0, 0 },
		{ VSD_PHASE_DUAL, 2, 4 },
		{ VSD_PHASE_DUAL, 3, 3 },
		{ VSD_PHASE_SWITCHED, 0, 1 },
		{ VSD_PHASE_SWITCHED, 5, 3 },
		{ 7, 2, 3 },
	};
	uint32_t out[VSD_PHASE_MAX_OWNERS], from, to;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		assert_int_equal(vsd_phase_check(&bad[i]), -1);
		assert_int_equal(vsd_phase_write_shards(&bad[i], "a", 1, out),
		    0);
		assert_int_equal(vsd_phase_read_shards(&bad[i], "a", 1, out),
		    0);
		assert_int_equal(vsd_phase_search_shards(&bad[i]), 0);
		assert_int_equal(vsd_phase_moves(&bad[i], "a", 1, &from, &to),
		    0);
	}
}

static void
test_layout_of_record(void **state)
{
	static const char *const f[] = { "epoch", "shards", "phase", "from",
	    "move" };
	static const char *const v[] = { "4", "a:1,b:2,c:3", "dual", "a:1,b:2",
	    "add" };
	size_t fl[5], vl[5], i;
	struct vsd_topo *t = test_malloc(sizeof(*t));
	struct vsd_phase_layout l;
	char err[200];

	(void)state;
	for (i = 0; i < 5; i++) {
		fl[i] = strlen(f[i]);
		vl[i] = strlen(v[i]);
	}
	assert_int_equal(vsd_topo_parse(f, fl, v, vl, 5, t, err, sizeof(err)),
	    0);
	vsd_phase_layout_of(t, &l);
	assert_int_equal(l.phase, VSD_PHASE_DUAL);
	assert_int_equal(l.nold, 2);
	assert_int_equal(l.nnew, 3);
	assert_int_equal(vsd_phase_check(&l), 0);
	/* stable: nold == nnew */
	{
		static const char *const sv[] = { "5", "a:1,b:2,c:3",
		    "stable" };
		size_t svl[3] = { 1, 11, 6 };

		assert_int_equal(vsd_topo_parse(f, fl, sv, svl, 3, t, err,
		    sizeof(err)), 0);
	}
	vsd_phase_layout_of(t, &l);
	assert_int_equal(l.nold, 3);
	assert_int_equal(l.nnew, 3);
	test_free(t);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_stable),
		cmocka_unit_test(test_moves),
		cmocka_unit_test(test_bad_layouts),
		cmocka_unit_test(test_layout_of_record),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
