/*
 * health.h - one circuit breaker per shard, shared by all workers.
 *
 * Why: every worker has its own connection to every shard, so without a
 * shared view a dead or stopped shard would cost each worker, on each
 * request, a fresh connect or a full deadline.  The breaker turns
 * "shard 2 is down" into a flag every worker reads in a few nanoseconds.
 *
 * States:
 *   closed     normal; failures are counted.
 *   open       after VSD_BREAKER_THRESHOLD consecutive failures: calls skip
 *              the shard at once, reported as failed (or timed out, when
 *              timeouts opened it), until the backoff ends.
 *   half-open  after the backoff one call (the first to claim it) probes
 *              the shard; success closes the breaker, failure reopens it
 *              with a doubled backoff (VSD_BACKOFF_MIN_US .. _MAX_US, with
 *              +-20% jitter so several vsetd processes do not probe in step).
 * The maximum backoff bounds how long a restarted shard waits to be used
 * again (about 1 s, so a restart is back in full results within 2 s).
 *
 * All functions are thread-safe (a mutex per shard; held for nanoseconds).
 */
#ifndef VSD_HEALTH_H
#define VSD_HEALTH_H

#include <pthread.h>
#include <stdint.h>

#define VSD_BREAKER_THRESHOLD 3
#define VSD_BACKOFF_MIN_US 50000
#define VSD_BACKOFF_MAX_US 1000000

enum vsd_fail_kind { VSD_FAIL_ERROR, VSD_FAIL_TIMEOUT };

struct vsd_health {
	pthread_mutex_t mu;
	uint32_t consecutive;        /* failures since the last success */
	int64_t open_until_us;       /* 0 = closed */
	int64_t backoff_us;
	int probing;                 /* a half-open probe is in flight */
	int last_kind;               /* enum vsd_fail_kind of the last failure */
	char last_error[128];
	uint32_t rng;
};

void vsd_health_init(struct vsd_health *h, uint32_t seed);
void vsd_health_fini(struct vsd_health *h);

/* May this call use the shard now?  1 = yes (closed, or this call is the
 * probe: then it must report success or failure).  0 = skip: *kind and
 * why (a buffer of whylen) say what to report. */
int vsd_health_admit(struct vsd_health *h, int64_t now_us, int *kind,
    char *why, size_t whylen);
void vsd_health_success(struct vsd_health *h);
void vsd_health_failure(struct vsd_health *h, int64_t now_us, int kind,
    const char *error);
/* For reports: is the breaker open, and how many failures in a row. */
void vsd_health_peek(struct vsd_health *h, int *open, uint32_t *consecutive);

#endif
