/*
 * health.h - per shard endpoint, shared by all workers: a circuit breaker,
 * and who is waiting on the endpoint right now.
 *
 * Why: every worker has its own connection to every shard, so without a
 * shared view a dead or stopped shard would cost each worker, on each
 * request, a fresh connect or a full timeout.  The breaker turns
 * "shard 2 is down" into a flag every worker reads in a few nanoseconds.
 *
 * What counts against a shard: only what the shard itself did.  A refused
 * or lost connection, a protocol error, an AUTH refusal, or no bytes from
 * it for --shard-timeout-ms while replies were pending (shards.c).  A
 * caller's deadline that ends first says nothing about the shard: that
 * call drops its connection (a late reply must never be read as the answer
 * to a later command) and reports neither success nor failure
 * (vsd_health_release()).  Otherwise one caller's 1 ms deadlines would
 * open every healthy shard's breaker for everyone.
 *
 * Breaker states:
 *   closed     normal; failures are counted.
 *   open       after VSD_BREAKER_THRESHOLD consecutive failures: calls skip
 *              the endpoint at once, reported as failed (UNAVAILABLE,
 *              "circuit open ..."), until the backoff ends.
 *   half-open  after the backoff one call (the first to claim it) probes
 *              the endpoint; success closes the breaker, failure reopens it
 *              with a doubled backoff (VSD_BACKOFF_MIN_US .. _MAX_US, with
 *              +-20% jitter so several vsetd processes do not probe in
 *              step); a probe that ends without a verdict (the caller's
 *              deadline) lets the next call probe.
 * The maximum backoff bounds how long a restarted shard waits to be used
 * again (about 1 s, so a restart is back in full results within 2 s).
 *
 * Waiters (the held-workers bound): every connection that waits for
 * replies from the endpoint is on its list with the time of its last
 * progress (bytes moved either way).  A waiter silent for longer than the
 * stall threshold (--shard-stall-ms, default 250 ms) is stalled.  Once `quorum` waiters (half the workers,
 * rounded up) are stalled, the endpoint is "not answering": new rounds
 * skip it at once, and a waiter younger than the `quorum` oldest stalled
 * ones gives up (vsd_health_stalled()).  So a frozen shard holds at most
 * half of the workers, each for at most --shard-timeout-ms, and never
 * every worker for a caller's long deadline.  A healthy shard answers in
 * milliseconds and keeps every waiter's progress fresh, so it never
 * reaches the rule.
 *
 * All functions are thread-safe (a mutex per endpoint, held for a few
 * instructions or a walk of at most --workers waiters).  The waiter
 * structures belong to the callers (one per worker connection) and must
 * stay on the list only between vsd_health_wait_begin() and
 * vsd_health_wait_end().
 */
#ifndef VSD_HEALTH_H
#define VSD_HEALTH_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#define VSD_BREAKER_THRESHOLD 3
#define VSD_BACKOFF_MIN_US 50000
#define VSD_BACKOFF_MAX_US 1000000

/* One connection waiting on the endpoint (owned by the worker). */
struct vsd_waiter {
	_Atomic int64_t progress_us;  /* last bytes moved, or the start */
	int64_t order;               /* start order, ties of progress_us */
	struct vsd_waiter *prev, *next;
	int listed;
};

struct vsd_health {
	pthread_mutex_t mu;
	uint32_t consecutive;        /* failures since the last success */
	/* What the last success reset, so that a reply found bad after
	 * its bytes arrived (vsd_health_bad_reply) counts as a failure in
	 * the same streak instead of starting a new one. */
	uint32_t undo_consecutive;
	int64_t undo_backoff_us;
	int undo_probe;
	int64_t open_until_us;       /* 0 = closed */
	int64_t backoff_us;
	int probing;                 /* a half-open probe is in flight */
	char last_error[128];
	uint32_t rng;
	struct vsd_waiter *waiters;  /* connections waiting on it now */
	atomic_int nwaiters;         /* their number (read without mu) */
	int64_t next_order;
};

/* What vsd_health_admit() decided. */
enum {
	VSD_ADMIT_SKIP = 0,          /* breaker open: skip, *why says so */
	VSD_ADMIT_OK = 1,            /* closed: use the endpoint */
	VSD_ADMIT_PROBE = 2,         /* half-open: this call probes; it must
	                              * report success, failure or release */
};

void vsd_health_init(struct vsd_health *h, uint32_t seed);
void vsd_health_fini(struct vsd_health *h);

/* May this call use the endpoint now?  VSD_ADMIT_*.  On VSD_ADMIT_SKIP,
 * why (a buffer of whylen) says why, to report the shard failed. */
int vsd_health_admit(struct vsd_health *h, int64_t now_us, char *why,
    size_t whylen);
void vsd_health_success(struct vsd_health *h);
/* The endpoint itself failed (see above for what counts). */
void vsd_health_failure(struct vsd_health *h, int64_t now_us,
    const char *error);
/* The endpoint's last reply, already counted a success when its bytes
 * arrived, turned out malformed (a protocol error found by an op): undo
 * that success and count a failure, so a shard that keeps answering well
 * framed garbage opens its breaker like one that keeps failing. */
void vsd_health_bad_reply(struct vsd_health *h, int64_t now_us,
    const char *error);
/* A probe ended with no verdict (the caller's deadline, the stall rule):
 * let another call probe.  No-op when no probe is in flight. */
void vsd_health_release(struct vsd_health *h);
/* For reports: is the breaker open, and how many failures in a row. */
void vsd_health_peek(struct vsd_health *h, int *open, uint32_t *consecutive);

/* Waiters.  begin: w goes on h's list with progress now_us; progress:
 * bytes moved (lock-free); end: off the list (no-op when not on it). */
void vsd_health_wait_begin(struct vsd_health *h, struct vsd_waiter *w,
    int64_t now_us);
void vsd_health_wait_progress(struct vsd_waiter *w, int64_t now_us);
void vsd_health_wait_end(struct vsd_health *h, struct vsd_waiter *w);

/* The stall rule.  me = NULL: may a new round use the endpoint?  me = a
 * listed waiter: must it give up?  Counts the stalled waiters (silent for
 * more than stall_us) other than me that are older than me (all of them
 * for NULL); returns 1 when there are at least quorum, with the count in
 * *nstalled.  0 otherwise. */
int vsd_health_stalled(struct vsd_health *h, const struct vsd_waiter *me,
    int64_t now_us, int64_t stall_us, int quorum, int *nstalled);

#endif
