/*
 * vs_reshard.c - the vs_reshard_* calls: drive and watch an online move
 * (ReshardStart/Step/Status/Abort of proto/vsetd/v1/vsetd.proto).
 *
 * Why so thin: the server keeps all of a move's progress in Redis and
 * every call is idempotent, so the library holds no state between calls
 * and needs no retry logic of its own; a driver (vset reshard, or the
 * caller's own loop) decides how to pace and retry steps.  All four RPCs
 * answer the same ReshardResponse, copied here into one vs_reshard_state
 * the caller owns (vsetd.h).  Arguments the server would refuse anyway
 * for their content (an address that is not host:port) are left to it, so
 * the rules live in one place; only what would make the request ambiguous
 * (a shard with REMOVE, an unknown move) is refused here.
 */
#include <stdlib.h>
#include <string.h>

#include "vs_internal.h"
#include "vsetd.pb-c.h"

const char *
vs_reshard_move_name(int move)
{
	switch (move) {
	case VS_RESHARD_NONE:
		return "none";
	case VS_RESHARD_ADD:
		return "add";
	case VS_RESHARD_REMOVE:
		return "remove";
	default:
		return "unknown";
	}
}

const char *
vs_reshard_phase_name(int phase)
{
	switch (phase) {
	case VS_RESHARD_STABLE:
		return "stable";
	case VS_RESHARD_DUAL:
		return "dual";
	case VS_RESHARD_SWITCHED:
		return "switched";
	default:
		return "unknown";
	}
}

static void
vs_strv_free(char **v, size_t n)
{
	size_t i;

	if (v == NULL)
		return;
	for (i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

void
vs_reshard_state_free(vs_reshard_state *s)
{
	size_t i;

	if (s == NULL)
		return;
	vs_strv_free(s->shards, s->n_shards);
	vs_strv_free(s->from, s->n_from);
	for (i = 0; i < s->n_routers; i++)
		free(s->routers[i].id);
	free(s->routers);
	free(s->step);
	free(s);
}

/* *dst = a copy of src[0..n), *dn = how many were copied (so a partial copy
 * frees cleanly); -1 if out of memory. */
static int
vs_strv_copy(char ***dst, size_t *dn, char *const *src, size_t n)
{
	size_t i;

	*dst = NULL;
	*dn = 0;
	if (n == 0)
		return 0;
	if ((*dst = calloc(n, sizeof(**dst))) == NULL)
		return -1;
	for (i = 0; i < n; i++) {
		if (((*dst)[i] = strdup(src[i] != NULL ? src[i] : "")) == NULL)
			return -1;
		*dn = i + 1;
	}
	return 0;
}

/* A vs_reshard_state copied from m; NULL if out of memory. */
static vs_reshard_state *
vs_reshard_copy(const Vsetd__V1__ReshardResponse *m)
{
	vs_reshard_state *s;
	size_t i;

	if ((s = calloc(1, sizeof(*s))) == NULL)
		return NULL;
	s->epoch = m->epoch;
	s->phase = (int)m->phase;
	s->move = (int)m->move;
	s->done = m->done != 0;
	s->retry_after_ms = m->retry_after_ms;
	if (m->progress != NULL) {
		s->progress.to_move = m->progress->to_move;
		s->progress.copied = m->progress->copied;
		s->progress.skipped = m->progress->skipped;
		s->progress.cleaned = m->progress->cleaned;
		s->progress.sources_total = m->progress->sources_total;
		s->progress.sources_copied = m->progress->sources_copied;
		s->progress.sources_cleaned = m->progress->sources_cleaned;
	}
	if ((s->step = strdup(m->step != NULL ? m->step : "")) == NULL)
		goto oom;
	if (vs_strv_copy(&s->shards, &s->n_shards, m->shards, m->n_shards) != 0 ||
	    vs_strv_copy(&s->from, &s->n_from, m->from, m->n_from) != 0)
		goto oom;
	if (m->n_routers > 0 &&
	    (s->routers = calloc(m->n_routers, sizeof(*s->routers))) == NULL)
		goto oom;
	for (i = 0; i < m->n_routers; i++) {
		const Vsetd__V1__ReshardRouter *r = m->routers[i];

		if ((s->routers[i].id = strdup(r->id != NULL ? r->id : "")) ==
		    NULL)
			goto oom;
		s->n_routers = i + 1;
		s->routers[i].epoch = r->epoch;
		s->routers[i].seen_ms_ago = r->seen_ms_ago;
	}
	return s;
oom:
	vs_reshard_state_free(s);
	return NULL;
}

/* One Reshard* call: the reply copied into *out, or the error. */
static int
vs_reshard_call(vs_client *c, const char *method, const ProtobufCMessage *req,
    vs_reshard_state **out)
{
	Vsetd__V1__ReshardResponse *resp;
	int code = VS_OK;

	*out = NULL;
	resp = (Vsetd__V1__ReshardResponse *)vs_rpc(c, method, req,
	    &vsetd__v1__reshard_response__descriptor);
	if (resp == NULL)
		return vs_errcode();
	if ((*out = vs_reshard_copy(resp)) == NULL) {
		vs_set_error(VS_RESOURCE_EXHAUSTED, "out of memory copying reply");
		code = VS_RESOURCE_EXHAUSTED;
	}
	protobuf_c_message_free_unpacked(&resp->base, NULL);
	return code;
}

int
vs_reshard_start(vs_client *c, int move, const char *shard,
    const char *expect_last, vs_reshard_state **out)
{
	Vsetd__V1__ReshardStartRequest req =
	    VSETD__V1__RESHARD_START_REQUEST__INIT;

	*out = NULL;
	switch (move) {
	case VS_RESHARD_ADD:
		if (shard == NULL || *shard == '\0') {
			vs_set_error(VS_INVALID_ARGUMENT, "reshard add needs the "
			    "new shard's address (host:port)");
			return VS_INVALID_ARGUMENT;
		}
		if (expect_last != NULL && *expect_last != '\0') {
			vs_set_error(VS_INVALID_ARGUMENT, "expect_last applies "
			    "to a remove, not to an add");
			return VS_INVALID_ARGUMENT;
		}
		req.move = VSETD__V1__RESHARD_MOVE__RESHARD_ADD;
		req.shard = (char *)shard;
		break;
	case VS_RESHARD_REMOVE:
		if (shard != NULL && *shard != '\0') {
			vs_set_error(VS_INVALID_ARGUMENT, "reshard remove takes "
			    "no shard: it always removes the last one (pass "
			    "its address as expect_last to check it)");
			return VS_INVALID_ARGUMENT;
		}
		req.move = VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE;
		if (expect_last != NULL)
			req.expect_last = (char *)expect_last;
		break;
	default:
		vs_set_error(VS_INVALID_ARGUMENT, "unknown move %d (VS_RESHARD_ADD "
		    "or VS_RESHARD_REMOVE)", move);
		return VS_INVALID_ARGUMENT;
	}
	return vs_reshard_call(c, "ReshardStart", &req.base, out);
}

int
vs_reshard_step(vs_client *c, uint32_t batch, vs_reshard_state **out)
{
	Vsetd__V1__ReshardStepRequest req = VSETD__V1__RESHARD_STEP_REQUEST__INIT;

	req.batch = batch;
	return vs_reshard_call(c, "ReshardStep", &req.base, out);
}

int
vs_reshard_status(vs_client *c, vs_reshard_state **out)
{
	Vsetd__V1__ReshardStatusRequest req =
	    VSETD__V1__RESHARD_STATUS_REQUEST__INIT;

	return vs_reshard_call(c, "ReshardStatus", &req.base, out);
}

int
vs_reshard_abort(vs_client *c, vs_reshard_state **out)
{
	Vsetd__V1__ReshardAbortRequest req =
	    VSETD__V1__RESHARD_ABORT_REQUEST__INIT;

	return vs_reshard_call(c, "ReshardAbort", &req.base, out);
}
