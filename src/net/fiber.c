/*
 * fiber.c - fibers on ucontext (design in fiber.h).
 *
 * makecontext() passes only int arguments, so the fiber being started is
 * handed to its trampoline through a thread-local: it is set right before
 * the first switch, on the same thread, and read first thing.
 */
#include <assert.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "fiber.h"

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/common_interface_defs.h>
#define VSD_ASAN_START(save, bottom, size) \
	__sanitizer_start_switch_fiber((save), (bottom), (size))
#define VSD_ASAN_FINISH(save, bottom, size) \
	__sanitizer_finish_switch_fiber((save), (bottom), (size))
#else
#define VSD_ASAN_START(save, bottom, size) \
	do { (void)(save); (void)(bottom); (void)(size); } while (0)
#define VSD_ASAN_FINISH(save, bottom, size) \
	do { (void)(save); (void)(bottom); (void)(size); } while (0)
#endif

static _Thread_local struct vsd_fiber *vsd_fiber_starting;

static size_t
vsd_page_size(void)
{
	long p = sysconf(_SC_PAGESIZE);

	return p > 0 ? (size_t)p : 4096;
}

static void
vsd_fiber_trampoline(void)
{
	struct vsd_fiber *f = vsd_fiber_starting;

	VSD_ASAN_FINISH(NULL, &f->loop_bottom, &f->loop_size);
	f->fn(f->arg);
	f->done = 1;
	f->running = 0;
	/* NULL: this stack is finished, ASan may forget its fake frames */
	VSD_ASAN_START(NULL, f->loop_bottom, f->loop_size);
	/* returning switches to uc_link, the loop */
}

int
vsd_fiber_init(struct vsd_fiber *f, size_t stack_bytes,
    void (*fn)(void *), void *arg)
{
	size_t page = vsd_page_size();

	memset(f, 0, sizeof(*f));
	f->maplen = ((stack_bytes + page - 1) / page + 1) * page;
	f->map = mmap(NULL, f->maplen, PROT_READ | PROT_WRITE,
	    MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (f->map == MAP_FAILED) {
		f->map = NULL;
		return -1;
	}
	/* the lowest page is the guard: the stack grows down into it */
	if (mprotect(f->map, page, PROT_NONE) != 0 ||
	    getcontext(&f->ctx) != 0) {
		vsd_fiber_fini(f);
		return -1;
	}
	f->ctx.uc_stack.ss_sp = (char *)f->map + page;
	f->ctx.uc_stack.ss_size = f->maplen - page;
	f->ctx.uc_link = &f->loop;
	f->fn = fn;
	f->arg = arg;
	makecontext(&f->ctx, vsd_fiber_trampoline, 0);
	return 0;
}

void
vsd_fiber_resume(struct vsd_fiber *f)
{
	void *fake = NULL;

	assert(!f->running && !f->done && f->map != NULL);
	f->running = 1;
	vsd_fiber_starting = f;
	VSD_ASAN_START(&fake, f->ctx.uc_stack.ss_sp, f->ctx.uc_stack.ss_size);
	swapcontext(&f->loop, &f->ctx);
	VSD_ASAN_FINISH(fake, NULL, NULL);
}

void
vsd_fiber_yield(struct vsd_fiber *f)
{
	void *fake = NULL;

	assert(f->running);
	f->running = 0;
	VSD_ASAN_START(&fake, f->loop_bottom, f->loop_size);
	swapcontext(&f->ctx, &f->loop);
	VSD_ASAN_FINISH(fake, &f->loop_bottom, &f->loop_size);
}

void
vsd_fiber_fini(struct vsd_fiber *f)
{
	assert(!f->running);
	if (f->map != NULL)
		munmap(f->map, f->maplen);
	f->map = NULL;
}
