/*
 * shard_reply.h - a shard's reply is untrusted input: bounds while it is
 * parsed, and shape checks before an op uses it.
 *
 * Why: a shard is another process on the network.  A bug, a proxy or a
 * hostile server in its place can send anything: more hits than asked
 * (vsetd once sized an array by what it asked and appended what came), an
 * array header announcing 2^31 elements (hiredis 0.14 callocs that much and
 * walks it to free it: ~10 s of CPU), an endless bulk string, NaN scores.
 * None of that may crash vsetd, stall a worker past the deadline, grow
 * memory without bound, or reach a client as data.  A shard that sends it
 * is counted `failed` with a message starting "protocol error:" and
 * reported to its circuit breaker, like a shard that closed the
 * connection: a search is answered partial, a routed read or write
 * UNAVAILABLE.
 *
 * Two layers:
 *
 * 1. While parsing (hiredis's reader, before any op sees the reply), for
 *    every connection vsd_reply_limits_apply() installs reply-object
 *    functions that refuse
 *      - an array of more than vsd_reply_max_elements() elements (the
 *        largest reply vsetd ever asks for: a VEMB of --max-dim
 *        components, a VRANDMEMBER of --max-batch ids, 3 x --max-k VSIM
 *        entries), refused from the header, before anything is allocated;
 *      - arrays nested deeper than VSD_REPLY_MAX_DEPTH (VLINKS, the
 *        deepest reply vsetd reads, is an array of arrays);
 *      - one reply whose objects add up to more than
 *        vsd_reply_max_bytes() (4 x --max-message-bytes: a reply that big
 *        could not become an answer anyway);
 *    and vsd_reply_buffer_check(), after every read, refuses a reader
 *    holding more than vsd_reply_max_buffer() unparsed bytes (a huge $N
 *    bulk header, an endless line).  Each refusal fails the connection with
 *    "protocol error: <what>" (vsd_reply_error_text()).
 *
 * 2. After the round, the ops check each reply against what they asked
 *    (type, count <= what was asked, ids that are valid ids, finite scores
 *    in range, dimensions), with the helpers below, and report a violation
 *    with vsd_reply_protocol_error() (call.h).
 *
 * Ownership: nothing here allocates for the caller except the reply
 * objects, which are ordinary hiredis replies (freeReplyObject() frees
 * them).  The limits read the config, which must outlive every context.
 */
#ifndef VSD_SHARD_REPLY_H
#define VSD_SHARD_REPLY_H

#include <hiredis/hiredis.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "merge.h"
#include "validate.h"

/* Arrays nested deeper than this are refused (VLINKS: array of arrays). */
#define VSD_REPLY_MAX_DEPTH 2
/* The smallest element cap, whatever the limits (INFO, HGETALL...). */
#define VSD_REPLY_MIN_ELEMENTS 1024
/* Per-reply object budget: this many times --max-message-bytes. */
#define VSD_REPLY_BYTES_FACTOR 4
/* Unparsed bytes a reader may hold beyond --max-message-bytes: one
 * socket read (hiredis reads 16 KiB) plus what it keeps parsed. */
#define VSD_REPLY_BUFFER_SLACK (64 * 1024)
/* Accounting cost of one reply object (the struct and malloc overhead). */
#define VSD_REPLY_OBJECT_COST 64
/* Scores are in [0, 1]; a shard may round a little past either end. */
#define VSD_SCORE_SLACK 1e-3

/* ------------------------------------------------ layer 1: the reader */

size_t vsd_reply_max_elements(const struct vsd_config *cfg);
size_t vsd_reply_max_bytes(const struct vsd_config *cfg);
size_t vsd_reply_max_buffer(const struct vsd_config *cfg);

/* Install the limits on reader r (any reader: a context's or one of the
 * fuzzer's).  cfg must outlive r. */
void vsd_reply_reader_limit(redisReader *r, const struct vsd_config *cfg);
/* Same, on a context's reader: call right after connecting. */
void vsd_reply_limits_apply(redisContext *c, const struct vsd_config *cfg);
/* After a successful redisBufferRead(): 0, or -1 with msg ("protocol
 * error: ...") when the reader holds more unparsed bytes than allowed;
 * the connection must then be dropped. */
int vsd_reply_buffer_check(const redisContext *c, const struct vsd_config *cfg,
    char *msg, size_t msglen);
/* After redisGetReplyFromReader() (or redisReaderGetReply()) failed:
 * "protocol error: <why>" into msg, naming the limit when one of ours
 * refused the reply, else hiredis's errstr (errstr). */
void vsd_reply_error_text(const char *errstr, char *msg, size_t msglen);

/* ------------------------------------------------ layer 2: the shapes */

/* A reply string that must be an element id: a string of 1..max_id_bytes
 * bytes, no NUL, valid UTF-8.  0, or -1 with why. */
int vsd_reply_check_id(const redisReply *r, const struct vsd_limits *lim,
    char *why, size_t whylen);
/* A string for a protobuf string field (attributes, INFO values): valid
 * UTF-8, no NUL.  0 or -1 with why. */
int vsd_reply_check_text(const redisReply *r, const char *what, char *why,
    size_t whylen);
/* A number sent as a string (or integer): the whole string must parse and
 * be finite.  0 or -1 with why. */
int vsd_reply_double(const redisReply *r, const char *what, double *out,
    char *why, size_t whylen);
/* A similarity score: a number in [-VSD_SCORE_SLACK, 1 + VSD_SCORE_SLACK]. */
int vsd_reply_score(const redisReply *r, double *out, char *why,
    size_t whylen);

/* What a VSIM reply may hold, from what was asked. */
struct vsd_vsim_shape {
	size_t stride;               /* 2 (id, score) or 3 (+ attributes) */
	uint32_t count;              /* the COUNT sent */
	const struct vsd_limits *lim;
};

/* Check one shard's VSIM WITHSCORES reply r (an array, not an error reply)
 * and, when hits is not NULL, append its hits to hits[*nhits..]: at most
 * shape->count, so hits needs room for that many.  Hit ids point into r.
 * 0, or -1 with why (nothing appended). */
int vsd_vsim_parse(const redisReply *r, const struct vsd_vsim_shape *shape,
    uint32_t shard, struct vsd_hit *hits, size_t *nhits, char *why,
    size_t whylen);

/* A VEMB reply (not nil, not an error): an array of 1..max_dim finite
 * numbers; want_dim != 0 also requires that many.  Writes them to out
 * (room for r->elements) when out is not NULL.  0, or -1 with why. */
int vsd_vemb_parse(const redisReply *r, const struct vsd_limits *lim,
    size_t want_dim, float *out, char *why, size_t whylen);

/* A count (VCARD): an integer in [0, VSD_REPLY_MAX_COUNT]. */
#define VSD_REPLY_MAX_COUNT (INT64_C(1) << 48)
int vsd_reply_count(const redisReply *r, uint64_t *out, char *why,
    size_t whylen);

#endif
