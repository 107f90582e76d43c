/* health.c - per-shard circuit breaker; the state machine is in health.h. */
#include <stdio.h>
#include <string.h>

#include "health.h"

void
vsd_health_init(struct vsd_health *h, uint32_t seed)
{
	memset(h, 0, sizeof(*h));
	pthread_mutex_init(&h->mu, NULL);
	h->backoff_us = VSD_BACKOFF_MIN_US;
	h->rng = seed * 2654435761u + 1;
}

void
vsd_health_fini(struct vsd_health *h)
{
	pthread_mutex_destroy(&h->mu);
}

int
vsd_health_admit(struct vsd_health *h, int64_t now_us, int *kind, char *why,
    size_t whylen)
{
	int ok = 1;

	pthread_mutex_lock(&h->mu);
	if (h->open_until_us != 0) {
		if (now_us >= h->open_until_us && !h->probing) {
			h->probing = 1;         /* this call probes */
		} else {
			ok = 0;
			*kind = h->last_kind;
			snprintf(why, whylen, "circuit open after %u failures "
			    "(last: %s); retrying in %lld ms", h->consecutive,
			    h->last_error,
			    (long long)((h->open_until_us > now_us ?
			    h->open_until_us - now_us : 0) + 999) / 1000);
		}
	}
	pthread_mutex_unlock(&h->mu);
	return ok;
}

void
vsd_health_success(struct vsd_health *h)
{
	pthread_mutex_lock(&h->mu);
	h->consecutive = 0;
	h->open_until_us = 0;
	h->backoff_us = VSD_BACKOFF_MIN_US;
	h->probing = 0;
	pthread_mutex_unlock(&h->mu);
}

void
vsd_health_failure(struct vsd_health *h, int64_t now_us, int kind,
    const char *error)
{
	int64_t jitter;

	pthread_mutex_lock(&h->mu);
	h->consecutive++;
	h->last_kind = kind;
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
