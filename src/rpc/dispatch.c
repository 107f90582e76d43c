/*
 * dispatch.c - one request, on a worker: decode the envelope, find the
 * method, decode its payload, run the op, pack the reply envelope.
 *
 * The method is looked up by name in our own table and its input type is
 * taken from the generated service descriptor, never from an index off the
 * wire (protobuf-c only assert()s method indices).  Payloads are decoded
 * with the worker's arena as allocator, so a request's decoded form costs
 * no frees and is gone when the arena resets.
 */
#include <string.h>

#include "dispatch.h"
#include "envelope.h"
#include "log.h"
#include "ops.h"
#include "vs_time.h"
#include "wire_check.h"

#define VSD_SERVICE_PREFIX "/vsetd.v1.VectorService/"

static const struct vsd_method {
	const char *name;            /* as in the .proto */
	vsd_op_fn *fn;
} vsd_methods[] = {
	{ "Insert", vsd_op_insert },
	{ "Delete", vsd_op_delete },
	{ "Search", vsd_op_search },
	{ "BatchSearch", vsd_op_batch_search },
	{ "CreateCollection", vsd_op_create_collection },
	{ "DescribeCollection", vsd_op_describe_collection },
	{ "ListCollections", vsd_op_list_collections },
	{ "DropCollection", vsd_op_drop_collection },
	{ "Get", vsd_op_get },
	{ "GetAttributes", vsd_op_get_attributes },
	{ "SetAttributes", vsd_op_set_attributes },
	{ "Exists", vsd_op_exists },
	{ "Links", vsd_op_links },
	{ "Count", vsd_op_count },
	{ "Info", vsd_op_info },
	{ "RandomMembers", vsd_op_random_members },
	{ "ReshardStart", vsd_op_reshard_start },
	{ "ReshardStep", vsd_op_reshard_step },
	{ "ReshardStatus", vsd_op_reshard_status },
	{ "ReshardAbort", vsd_op_reshard_abort },
};

#define VSD_NMETHODS ((int)(sizeof(vsd_methods) / sizeof(vsd_methods[0])))

int
vsd_method_count(void)
{
	return VSD_NMETHODS < VSD_STATS_OTHER ? VSD_NMETHODS : VSD_STATS_OTHER;
}

const char *
vsd_method_name(int i)
{
	return i >= 0 && i < vsd_method_count() ? vsd_methods[i].name : "other";
}

static void *
vsd_pb_alloc(void *data, size_t size)
{
	return vsd_arena_alloc(data, size);
}

static void
vsd_pb_free(void *data, void *p)
{
	(void)data;             /* the arena frees everything at reset */
	(void)p;
}

static const struct vsd_method *
vsd_find_method(const char *full, const ProtobufCMethodDescriptor **md)
{
	const char *name;
	size_t i;

	if (strncmp(full, VSD_SERVICE_PREFIX, strlen(VSD_SERVICE_PREFIX)) != 0)
		return NULL;
	name = full + strlen(VSD_SERVICE_PREFIX);
	for (i = 0; i < sizeof(vsd_methods) / sizeof(vsd_methods[0]); i++) {
		if (strcmp(name, vsd_methods[i].name) != 0)
			continue;
		*md = protobuf_c_service_descriptor_get_method_by_name(
		    &vsetd__v1__vector_service__descriptor, name);
		return *md != NULL ? &vsd_methods[i] : NULL;
	}
	return NULL;
}

static nng_msg *
vsd_reply_pack(uint64_t id, int code, const char *msg,
    const uint8_t *payload, size_t plen)
{
	nng_msg *m;
	size_t n;

	n = vsd_envelope_reply_size(id, code, msg, payload, plen);
	if (nng_msg_alloc(&m, n) != 0)
		return NULL;
	vsd_envelope_reply_pack(id, code, msg, payload, plen, nng_msg_body(m));
	return m;
}

nng_msg *
vsd_reply_status(uint64_t request_id, int code, const char *msg)
{
	return vsd_reply_pack(request_id, code, msg, NULL, 0);
}

/* The call's deadline: what the caller asked for (capped), else the
 * server's default, counted from when the request arrived.  Shards get a
 * little less, to leave time to merge and send the reply; the request is
 * past its deadline (never started) from that time on. */
static int64_t
vsd_deadline(const struct vsd_config *cfg, uint32_t asked, int64_t recv_us,
    int64_t *end_us)
{
	int64_t ms = asked != 0 ? asked : (uint32_t)cfg->deadline_ms;
	int64_t reserve;

	if (ms > VSD_MAX_DEADLINE_MS)
		ms = VSD_MAX_DEADLINE_MS;
	*end_us = recv_us + ms * 1000;
	reserve = ms * 100;                     /* 10% ... */
	if (reserve > 2000)
		reserve = 2000;                 /* ... at most 2 ms */
	return *end_us - reserve;
}

int64_t
vsd_request_due_us(const struct vsd_config *cfg, uint32_t deadline_ms,
    int64_t recv_us)
{
	int64_t end_us;

	return vsd_deadline(cfg, deadline_ms, recv_us, &end_us);
}

static void
vsd_call_deadline(struct vsd_call *call, uint32_t asked, int64_t recv_us,
    int64_t *end_us)
{
	call->deadline_us = vsd_deadline(call->w->cfg, asked, recv_us,
	    end_us);
}

nng_msg *
vsd_dispatch(struct vsd_lane *w, const nng_msg *req, int64_t recv_us)
{
	return vsd_dispatch_bytes(w, nng_msg_body((nng_msg *)req),
	    nng_msg_len((nng_msg *)req), recv_us);
}

nng_msg *
vsd_dispatch_bytes(struct vsd_lane *w, const uint8_t *req, size_t len,
    int64_t recv_us)
{
	ProtobufCAllocator alloc = { vsd_pb_alloc, vsd_pb_free, &w->arena };
	const ProtobufCMethodDescriptor *md = NULL;
	const struct vsd_method *method = NULL;
	Vsetd__V1__RequestEnvelope *env = NULL;
	ProtobufCMessage *in = NULL;
	struct vsd_call call;
	uint8_t *payload = NULL;
	size_t plen = 0;
	uint64_t id = 0;
	int64_t end_us;
	nng_msg *reply = NULL;

	vsd_call_init(&call, w);

	env = vsd_envelope_decode(req, len, &call.st);
	if (env == NULL) {
		/* still answer to the caller's id when the bytes carry one */
		id = vsd_envelope_peek_id(req, len);
		goto out;
	}
	id = env->request_id;
	if ((method = vsd_find_method(env->method, &md)) == NULL) {
		vsd_status_set(&call.st, VSD_UNIMPLEMENTED,
		    "unknown method \"%.200s\"", env->method);
		goto out;
	}
	vsd_call_deadline(&call, env->deadline_ms, recv_us, &end_us);
	if (vs_now_us() >= call.deadline_us) {
		vsd_status_set(&call.st, VSD_DEADLINE_EXCEEDED, "deadline "
		    "passed while the request waited for a worker (%lld us)",
		    (long long)(vs_now_us() - recv_us));
		goto out;
	}
	if (vsd_wire_check(md->input, env->payload.data, env->payload.len,
	    call.lim->max_batch, "payload", &call.st) != VSD_OK)
		goto out;
	in = protobuf_c_message_unpack(md->input, &alloc, env->payload.len,
	    env->payload.data);
	if (in == NULL) {
		vsd_status_set(&call.st, VSD_INVALID_ARGUMENT, "malformed "
		    "payload: not a %s (%zu bytes)", md->input->name,
		    env->payload.len);
		goto out;
	}
	method->fn(&call, in);

	if (call.resp != NULL) {
		plen = protobuf_c_message_get_packed_size(call.resp);
		payload = vsd_arena_alloc(&w->arena, plen ? plen : 1);
		if (payload == NULL) {
			vsd_status_set(&call.st, VSD_RESOURCE_EXHAUSTED,
			    "out of memory packing the reply");
			plen = 0;
		} else {
			protobuf_c_message_pack(call.resp, payload);
		}
	}
out:
	if (call.st.code != VSD_OK)
		vsd_debug("%s: %s: %s", env != NULL ? env->method : "?",
		    vs_code_name(call.st.code), call.st.msg);
	reply = vsd_reply_pack(id, call.st.code, call.st.msg, payload, plen);
	vsd_call_release(&call);
	vsd_stats_request(&w->stats, method != NULL ?
	    (int)(method - vsd_methods) : VSD_STATS_OTHER, call.st.code,
	    vs_now_us() - recv_us);
	if (env != NULL)
		vsetd__v1__request_envelope__free_unpacked(env, NULL);
	return reply;
}
