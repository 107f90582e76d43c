/*
 * dispatch.h - the RPC layer's entry: a RequestEnvelope in, a
 * ReplyEnvelope out, run on one lane (call.h) of the thread that calls.
 * The transports (net/) own the request bytes and the reply message they
 * get back; nothing here knows sockets or Redis connections.
 */
#ifndef VSD_DISPATCH_H
#define VSD_DISPATCH_H

#include <nng/nng.h>
#include <stddef.h>
#include <stdint.h>

#include "call.h"
#include "config.h"

/* dispatch.c: answer one request; returns the reply message (NULL only if
 * out of memory, then the request is dropped and the client times out). */
nng_msg *vsd_dispatch(struct vsd_lane *w, const nng_msg *req,
    int64_t recv_us);
nng_msg *vsd_dispatch_bytes(struct vsd_lane *w, const uint8_t *req,
    size_t len, int64_t recv_us);
/* When a request received at recv_us asking for deadline_ms (0 = the
 * default) is past its deadline: dispatch answers DEADLINE_EXCEEDED
 * from then on without running it. */
int64_t vsd_request_due_us(const struct vsd_config *cfg, uint32_t deadline_ms,
    int64_t recv_us);
/* Build a reply envelope carrying only a status (rejections). */
nng_msg *vsd_reply_status(uint64_t request_id, int code, const char *msg);

/* The method table, for reports (stats, RESP). */
int vsd_method_count(void);
const char *vsd_method_name(int i);     /* "Search"; "other" for the last */

#endif
