/* health.c - per-endpoint circuit breaker and waiter list; the rules are
 * in health.h. */
#include <stdio.h>
#include <string.h>

#include "health.h"

void
vsd_health_init(struct vsd_health *h, uint32_t seed)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->backoff_us = VSD_BACKOFF_MIN_US;
	h->undo_backoff_us = VSD_BACKOFF_MIN_US;
	h->rng = seed * 2654435761u + 1;
}

void
vsd_health_fini(struct vsd_health *h)
{
	pthread_mutex_destroy(&h->mu);
}

int
vsd_health_admit(struct vsd_health *h, int64_t now_us, char *why,
    size_t whylen)
{
	int rv = VSD_ADMIT_OK;

	pthread_mutex_lock(&h->mu);
	if (h->open_until_us != 0) {
		if (now_us >= h->open_until_us && !h->probing) {
			h->probing = 1;         /* this call probes */
			rv = VSD_ADMIT_PROBE;
		} else {
			rv = VSD_ADMIT_SKIP;
			snprintf(why, whylen, "circuit open after %u failures "
			    "(last: %s); retrying in %lld ms", h->consecutive,
			    h->last_error,
			    (long long)((h->open_until_us > now_us ?
			    h->open_until_us - now_us : 0) + 999) / 1000);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return rv;
}

void
vsd_health_success(struct vsd_health *h)
{
	pthread_mutex_lock(&h->mu);
	h->undo_consecutive = h->consecutive;
	h->undo_backoff_us = h->backoff_us;
	h->undo_probe = h->probing;
	h->consecutive = 0;
	h->open_until_us = 0;
	h->backoff_us = VSD_BACKOFF_MIN_US;
	h->probing = 0;
	pthread_mutex_unlock(&h->mu);
}

/* Count one failure; h->mu is held. */
static void
vsd_health_fail_locked(struct vsd_health *h, int64_t now_us,
    const char *error)
{
	int64_t jitter;

	h->consecutive++;
	snprintf(h->last_error, sizeof(h->last_error), "%s", error);
	if (h->consecutive >= VSD_BREAKER_THRESHOLD) {
		if (h->open_until_us != 0 && h->probing) {
			/* a failed probe: back off further */
			h->backoff_us *= 2;
			if (h->backoff_us > VSD_BACKOFF_MAX_US)
				h->backoff_us = VSD_BACKOFF_MAX_US;
		}
		/* xorshift32 for +-20% jitter */
		h->rng ^= h->rng << 13;
		h->rng ^= h->rng >> 17;
		h->rng ^= h->rng << 5;
		jitter = (int64_t)(h->rng % 401) - 200;        /* -200..200 */
		h->open_until_us = now_us + h->backoff_us +
		    h->backoff_us * jitter / 1000;
	}
	h->probing = 0;
}

void
vsd_health_failure(struct vsd_health *h, int64_t now_us, const char *error)
{
	pthread_mutex_lock(&h->mu);
	vsd_health_fail_locked(h, now_us, error);
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_bad_reply(struct vsd_health *h, int64_t now_us, const char *error)
{
	pthread_mutex_lock(&h->mu);
	h->consecutive = h->undo_consecutive;
	h->backoff_us = h->undo_backoff_us;
	if (h->undo_probe && h->open_until_us == 0) {
		/* the success closed the breaker on a probe: a failed probe */
		h->open_until_us = now_us;
		h->probing = 1;
	}
	h->undo_consecutive = 0;
	h->undo_probe = 0;
	vsd_health_fail_locked(h, now_us, error);
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_release(struct vsd_health *h)
{
	pthread_mutex_lock(&h->mu);
	h->probing = 0;
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_peek(struct vsd_health *h, int *open, uint32_t *consecutive)
{
	pthread_mutex_lock(&h->mu);
	*open = h->open_until_us != 0;
	*consecutive = h->consecutive;
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_wait_begin(struct vsd_health *h, struct vsd_waiter *w,
    int64_t now_us)
{
	if (w->listed)
		return;
	atomic_store_explicit(&w->progress_us, now_us, memory_order_relaxed);
	pthread_mutex_lock(&h->mu);
	w->order = h->next_order++;
	w->prev = NULL;
	w->next = h->waiters;
	if (h->waiters != NULL)
		h->waiters->prev = w;
	h->waiters = w;
	w->listed = 1;
	atomic_fetch_add_explicit(&h->nwaiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_wait_progress(struct vsd_waiter *w, int64_t now_us)
{
	atomic_store_explicit(&w->progress_us, now_us, memory_order_relaxed);
}

void
vsd_health_wait_end(struct vsd_health *h, struct vsd_waiter *w)
{
	if (!w->listed)
		return;
	pthread_mutex_lock(&h->mu);
	if (w->prev != NULL)
		w->prev->next = w->next;
	else
		h->waiters = w->next;
	if (w->next != NULL)
		w->next->prev = w->prev;
	w->prev = w->next = NULL;
	w->listed = 0;
	atomic_fetch_sub_explicit(&h->nwaiters, 1, memory_order_relaxed);
	pthread_mutex_unlock(&h->mu);
}

/* Is a older than b: silent since earlier, ties by start order. */
static int
vsd_waiter_older(const struct vsd_waiter *a, int64_t pa,
    const struct vsd_waiter *b, int64_t pb)
{
	return pa < pb || (pa == pb && a->order < b->order);
}

int
vsd_health_stalled(struct vsd_health *h, const struct vsd_waiter *me,
    int64_t now_us, int64_t stall_us, int quorum, int *nstalled)
{
	const struct vsd_waiter *w;
	int64_t p, pme = 0;
	int n = 0;

	/* The common case, lock-free: too few waiters to make a quorum. */
	if (atomic_load_explicit(&h->nwaiters, memory_order_relaxed) -
	    (me != NULL) < quorum) {
		*nstalled = 0;
		return 0;
	}
	if (me != NULL)
		pme = atomic_load_explicit(&me->progress_us,
		    memory_order_relaxed);
	pthread_mutex_lock(&h->mu);
	for (w = h->waiters; w != NULL; w = w->next) {
		if (w == me)
			continue;
		p = atomic_load_explicit(&w->progress_us, memory_order_relaxed);
		if (now_us - p <= stall_us)
			continue;
		if (me == NULL || vsd_waiter_older(w, p, me, pme))
			n++;
	}
	pthread_mutex_unlock(&h->mu);
	*nstalled = n;
	return n >= quorum;
}
