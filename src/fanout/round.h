/*
 * round.h - building Redis commands in the call's arena, and running
 * several rounds of them in one call.
 *
 * Ops with more than one round (metadata, then data; VCARD, then
 * VRANDMEMBER; the merged top K, then VGETATTR) must free one round's
 * replies before the next replaces call->cmds: vsd_round_run() does that,
 * so dispatch frees only the last round.  Whatever an op keeps from an
 * earlier round it copies into the arena first.
 *
 * Ownership: everything is in call->w->arena; replies belong to the call
 * (call->cmds) until the next vsd_round_run() or the end of dispatch.
 */
#ifndef VSD_ROUND_H
#define VSD_ROUND_H

#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "shards.h"

/*
 * An argument vector under construction (capacity fixed at init).
 *
 * Overflow (finding: a command silently lost its last arguments, so a
 * different Redis command would have been sent).  Capacities are counts
 * in the code, so an overflow is a bug, never a property of the input;
 * still, it must neither corrupt memory, nor send a truncated command, nor
 * take the whole server down with an abort.  So an overflowing append is
 * recorded (a->overflow, and the call's status INTERNAL naming the
 * command), vsd_argv_to_cmd() poisons the command (argc -1), and
 * vsd_round_run() sends nothing from a round that holds a poisoned
 * command: every shard of it is reported failed with that internal error,
 * so the call answers like one whose shards failed and its message names
 * the bug.  This is checked in one place (the round) rather than at every
 * append, so no call site can forget it.
 */
struct vsd_argv {
	const char **argv;
	size_t *len;
	int argc, cap;
	int overflow;                /* an append did not fit */
	struct vsd_call *call;       /* whose status an overflow sets */
};

/* 0, or -1 when out of memory. */
int vsd_argv_init(struct vsd_call *call, struct vsd_argv *a, int cap);
/* a := CMD KEY, the common two-word command: 0, or -1 when out of memory.
 * Neither string is copied. */
int vsd_argv_key(struct vsd_call *call, struct vsd_argv *a, const char *cmd,
    const char *key, size_t keylen);
/* Append bytes p[0..n) (not copied: p must outlive the round).  Past the
 * capacity: nothing appended, a->overflow set (see above). */
void vsd_argv_add(struct vsd_argv *a, const void *p, size_t n);
/* Append a NUL-terminated string (not copied). */
void vsd_argv_str(struct vsd_argv *a, const char *s);
/* Append an unsigned number, formatted into the arena; -1 if out of
 * memory. */
int vsd_argv_u64(struct vsd_call *call, struct vsd_argv *a, uint64_t v);
/* Append a double ("%.17g"), formatted into the arena. */
int vsd_argv_dbl(struct vsd_call *call, struct vsd_argv *a, double v);
/* Point cmd at a's argument vector, for shard.  An overflowed a gives a
 * poisoned command (argc -1) that vsd_round_run() refuses to send. */
void vsd_argv_to_cmd(const struct vsd_argv *a, struct vsd_cmd *cmd,
    uint32_t shard);

/* Free the previous round's replies, make cmds[0..n) the call's commands
 * and run them (until deadline_us: pass call->deadline_us or less).  kind
 * is VSD_RUN_READ (replicas may answer) or VSD_RUN_WRITE (shards.h).
 * When a command is poisoned (overflow) nothing is sent: every shard with
 * a command is reported failed, and no reply is set. */
void vsd_round_run(struct vsd_call *call, struct vsd_cmd *cmds, size_t n,
    int kind, int64_t deadline_us);

/* A deadline for a preliminary round (metadata, counts): half of what is
 * left, so a stopped shard cannot eat the budget of the round that
 * matters. */
int64_t vsd_round_half_deadline(const struct vsd_call *call);

/* After a round: the status for "no shard answered" (UNAVAILABLE when one
 * failed, else DEADLINE_EXCEEDED) with what names the operation. */
int vsd_round_no_answer(struct vsd_call *call, const char *what);

/* Copy a reply string into the arena (NULL if out of memory). */
char *vsd_call_strdup(struct vsd_call *call, const char *s, size_t n);

/* A status for a shard's reply to a routed command: NULL reply = the
 * shard's state; an error reply = vsd_redis_error_code().  Returns the
 * code set, or VSD_OK when r is a normal reply. */
int vsd_reply_check(struct vsd_call *call, uint32_t shard,
    const redisReply *r);

#endif
