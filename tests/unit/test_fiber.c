/*
 * test_fiber.c - the fibers the workers run on (src/net/fiber.h): a
 * fiber runs only between resume and yield, resumes where it yielded
 * with its locals intact, several interleave in the order they are
 * resumed, a deep stack fits, and a finished fiber says so.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "fiber.h"

#define STACK (256 * 1024)
#define STEPS 5

struct counter {
	struct vsd_fiber f;
	int id;
	int *log;                    /* shared: who ran, in order */
	int *nlog;
};

static void
count_body(void *arg)
{
	struct counter *c = arg;
	int local = c->id * 100;     /* must survive every yield */
	int i;

	for (i = 0; i < STEPS; i++) {
		c->log[(*c->nlog)++] = local + i;
		vsd_fiber_yield(&c->f);
	}
}

static void
test_resume_yield_order(void **state)
{
	struct counter a, b;
	int log[4 * STEPS], nlog = 0, i;

	(void)state;
	a.id = 1;
	b.id = 2;
	a.log = b.log = log;
	a.nlog = b.nlog = &nlog;
	assert_int_equal(vsd_fiber_init(&a.f, STACK, count_body, &a), 0);
	assert_int_equal(vsd_fiber_init(&b.f, STACK, count_body, &b), 0);
	assert_int_equal(nlog, 0);          /* nothing runs before resume */
	for (i = 0; i < STEPS; i++) {
		vsd_fiber_resume(&a.f);
		assert_int_equal(nlog, 2 * i + 1);
		vsd_fiber_resume(&b.f);
		assert_int_equal(nlog, 2 * i + 2);
	}
	for (i = 0; i < STEPS; i++) {
		assert_int_equal(log[2 * i], 100 + i);
		assert_int_equal(log[2 * i + 1], 200 + i);
	}
	assert_false(a.f.done);
	vsd_fiber_resume(&a.f);             /* leaves its loop and returns */
	assert_true(a.f.done);
	assert_false(b.f.done);
	assert_int_equal(nlog, 2 * STEPS);
	vsd_fiber_fini(&a.f);
	vsd_fiber_fini(&b.f);               /* a suspended one is freed too */
}

struct deep {
	struct vsd_fiber f;
	uint64_t sum;
};

/* About 64 KiB of frames at depth 64, yielding at the bottom. */
static uint64_t
recurse(struct deep *d, int depth)
{
	volatile uint8_t pad[1024];
	uint64_t s;

	memset((void *)pad, depth, sizeof(pad));
	if (depth == 0) {
		vsd_fiber_yield(&d->f);
		return pad[0];
	}
	s = recurse(d, depth - 1);
	return s + pad[sizeof(pad) - 1];
}

static void
deep_body(void *arg)
{
	struct deep *d = arg;

	d->sum = recurse(d, 64);
}

static void
test_deep_stack(void **state)
{
	struct deep d;

	(void)state;
	memset(&d, 0, sizeof(d));
	assert_int_equal(vsd_fiber_init(&d.f, STACK, deep_body, &d), 0);
	vsd_fiber_resume(&d.f);             /* yields 64 frames down */
	assert_false(d.f.done);
	assert_int_equal(d.sum, 0);
	vsd_fiber_resume(&d.f);
	assert_true(d.f.done);
	assert_int_equal(d.sum, 64 * 65 / 2);   /* every frame intact */
	vsd_fiber_fini(&d.f);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_resume_yield_order),
		cmocka_unit_test(test_deep_stack),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
