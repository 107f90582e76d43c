/*
 * fiber.h - a stack of its own for one request, switched to and from on
 * the event loop's thread.
 *
 * Why fibers: the ops (ops/) are written as straight-line code that runs
 * shard rounds one after another (metadata, then VSIM, then perhaps a
 * reload and a retry).  On the event loop a round must not block the
 * thread, and turning every op into a state machine would rewrite them
 * all.  Instead each worker runs on a fiber: when its round would wait
 * (shard/shards.h, vsd_links_set_wait), the fiber yields to the loop, and
 * the loop resumes it when a socket it waits on is ready or its time is
 * up.  A switch is a swapcontext(), well under a microsecond, against the
 * tens of microseconds of a thread wake-up on a small VM.
 *
 * Only the thread that created a fiber may resume it, and only a running
 * fiber may yield.  The stack is an anonymous mapping with a guard page
 * below it, so an overflow faults instead of corrupting the heap.  Under
 * AddressSanitizer every switch is announced to it
 * (__sanitizer_start_switch_fiber), as its documentation asks.
 *
 * Ownership: the fiber struct is the caller's (embedded in a worker);
 * vsd_fiber_init maps the stack, vsd_fiber_fini unmaps it.  A fiber that
 * is suspended when it is freed never runs again: whatever its stack
 * still refers to must be owned elsewhere.
 */
#ifndef VSD_FIBER_H
#define VSD_FIBER_H

#include <stddef.h>
#include <ucontext.h>

struct vsd_fiber {
	ucontext_t ctx;              /* the fiber's, while suspended */
	ucontext_t loop;             /* the loop's, while the fiber runs */
	void *map;                   /* guard page + stack */
	size_t maplen;
	void (*fn)(void *);
	void *arg;
	int running;                 /* between resume and yield/return */
	int done;                    /* fn returned */
	const void *loop_bottom;     /* the loop's stack (ASan) */
	size_t loop_size;
};

/* Map a stack of at least stack_bytes and prepare fn(arg) to run on it
 * at the first vsd_fiber_resume.  0, or -1 (out of memory). */
int vsd_fiber_init(struct vsd_fiber *f, size_t stack_bytes,
    void (*fn)(void *), void *arg);
/* Run the fiber until it yields or fn returns. */
void vsd_fiber_resume(struct vsd_fiber *f);
/* From inside the fiber: back to where it was resumed. */
void vsd_fiber_yield(struct vsd_fiber *f);
void vsd_fiber_fini(struct vsd_fiber *f);

#endif
