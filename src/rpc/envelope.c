/*
 * envelope.c - see envelope.h.  The status message is omitted when the
 * code is OK, so a successful reply is request_id + payload only.
 */
#include <string.h>

#include "envelope.h"
#include "wire_check.h"

/* RequestEnvelope field numbers (proto/vsetd/v1/vsetd.proto) */
#define VSD_ENV_FIELD_DEADLINE 3
#define VSD_ENV_FIELD_ID 4

Vsetd__V1__RequestEnvelope *
vsd_envelope_decode(const uint8_t *buf, size_t len, struct vsd_status *st)
{
	Vsetd__V1__RequestEnvelope *env;

	/* No repeated fields in an envelope: the check bounds unknown fields
	 * and refuses a NUL in the method name. */
	if (vsd_wire_check(&vsetd__v1__request_envelope__descriptor, buf, len,
	    0, "request envelope", st) != VSD_OK)
		return NULL;
	env = vsetd__v1__request_envelope__unpack(NULL, len, buf);
	if (env == NULL) {
		vsd_status_set(st, VSD_INVALID_ARGUMENT, "malformed request "
		    "envelope (%zu bytes): not a vsetd.v1.RequestEnvelope", len);
		return NULL;
	}
	if (env->method == NULL || env->method[0] == '\0') {
		vsd_status_set(st, VSD_INVALID_ARGUMENT,
		    "request envelope names no method");
		vsetd__v1__request_envelope__free_unpacked(env, NULL);
		return NULL;
	}
	return env;
}

/* Varint at buf[*pos..len); -1 if truncated or longer than 10 bytes. */
static int
vsd_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*pos < len && shift < 70) {
		uint8_t b = buf[(*pos)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
		shift += 7;
	}
	return -1;
}

uint64_t
vsd_envelope_peek_id(const uint8_t *buf, size_t len)
{
	uint64_t id;
	uint32_t deadline_ms;

	vsd_envelope_peek(buf, len, &id, &deadline_ms);
	return id;
}

void
vsd_envelope_peek(const uint8_t *buf, size_t len, uint64_t *id_out,
    uint32_t *deadline_out)
{
	uint64_t key, v, id = 0, deadline = 0;
	size_t pos = 0;

	*id_out = 0;
	*deadline_out = 0;

	while (pos < len) {
		if (vsd_varint(buf, len, &pos, &key) != 0)
			return;
		switch (key & 7) {
		case 0:                         /* varint */
			if (vsd_varint(buf, len, &pos, &v) != 0)
				return;
			if ((key >> 3) == VSD_ENV_FIELD_ID)
				id = v;
			else if ((key >> 3) == VSD_ENV_FIELD_DEADLINE)
				deadline = v;
			break;
		case 1:                         /* 64-bit */
			if (len - pos < 8)
				return;
			pos += 8;
			break;
		case 2:                         /* length-delimited */
			if (vsd_varint(buf, len, &pos, &v) != 0 || v > len - pos)
				return;
			pos += (size_t)v;
			break;
		case 5:                         /* 32-bit */
			if (len - pos < 4)
				return;
			pos += 4;
			break;
		default:
			return;
		}
	}
	*id_out = id;
	/* uint32 on the wire: protobuf keeps the low 32 bits */
	*deadline_out = (uint32_t)deadline;
}

static void
vsd_reply_fill(Vsetd__V1__ReplyEnvelope *env, Vsetd__V1__Status *status,
    uint64_t request_id, int code, const char *msg, const uint8_t *payload,
    size_t payload_len)
{
	env->request_id = request_id;
	if (code != VSD_OK) {
		status->code = (Vsetd__V1__Code)code;
		status->message = (char *)(msg != NULL ? msg : "");
		env->status = status;
	}
	env->payload.data = (uint8_t *)payload;
	env->payload.len = payload != NULL ? payload_len : 0;
}

size_t
vsd_envelope_reply_size(uint64_t request_id, int code, const char *msg,
    const uint8_t *payload, size_t payload_len)
{
	Vsetd__V1__ReplyEnvelope env = VSETD__V1__REPLY_ENVELOPE__INIT;
	Vsetd__V1__Status status = VSETD__V1__STATUS__INIT;

	vsd_reply_fill(&env, &status, request_id, code, msg, payload,
	    payload_len);
	return vsetd__v1__reply_envelope__get_packed_size(&env);
}

size_t
vsd_envelope_reply_pack(uint64_t request_id, int code, const char *msg,
    const uint8_t *payload, size_t payload_len, uint8_t *out)
{
	Vsetd__V1__ReplyEnvelope env = VSETD__V1__REPLY_ENVELOPE__INIT;
	Vsetd__V1__Status status = VSETD__V1__STATUS__INIT;

	vsd_reply_fill(&env, &status, request_id, code, msg, payload,
	    payload_len);
	return vsetd__v1__reply_envelope__pack(&env, out);
}
