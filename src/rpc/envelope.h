/*
 * envelope.h - the framing: RequestEnvelope in, ReplyEnvelope out
 * (proto/vsetd/v1/vsetd.proto, docs/protocol.md).
 *
 * Pure byte-level functions, so the unit tests and the fuzzer can drive
 * them without a socket.  The server caps the deadline a caller may ask for
 * at VSD_MAX_DEADLINE_MS so one call cannot pin a worker for hours.
 */
#ifndef VSD_ENVELOPE_H
#define VSD_ENVELOPE_H

#include <stddef.h>
#include <stdint.h>

#include "status.h"
#include "vsetd.pb-c.h"

#define VSD_MAX_DEADLINE_MS 600000

/* Decode; NULL with st set (INVALID_ARGUMENT) when the bytes are not an
 * envelope or carry no method.  The caller frees the result with
 * vsetd__v1__request_envelope__free_unpacked(env, NULL). */
Vsetd__V1__RequestEnvelope *vsd_envelope_decode(const uint8_t *buf,
    size_t len, struct vsd_status *st);

/* Read request_id (field 4) without decoding anything else; 0 if absent or
 * the bytes are malformed.  For refusals made before a worker decodes. */
uint64_t vsd_envelope_peek_id(const uint8_t *buf, size_t len);
/* Read request_id and deadline_ms (field 3) the same way; both 0 when the
 * bytes are malformed.  For queueing a request before it is decoded: its
 * deadline is known, so it can be answered on time while it waits. */
void vsd_envelope_peek(const uint8_t *buf, size_t len, uint64_t *id,
    uint32_t *deadline_ms);

/* Size and packing of a reply envelope carrying status and payload
 * (payload may be NULL/0).  pack writes exactly _size bytes into out. */
size_t vsd_envelope_reply_size(uint64_t request_id, int code,
    const char *msg, const uint8_t *payload, size_t payload_len);
size_t vsd_envelope_reply_pack(uint64_t request_id, int code,
    const char *msg, const uint8_t *payload, size_t payload_len,
    uint8_t *out);

#endif
