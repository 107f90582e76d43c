/*
 * op_reshard.c - ReshardStart, ReshardStep, ReshardStatus, ReshardAbort:
 * the RPCs of online resharding (issue 10).  All the work is the mover's
 * (fanout/mover.h, which has the design); this file only turns the wire's
 * messages into its arguments and its report into a ReshardResponse.
 * The wire's enums are checked equal to the mover's at build time, so
 * values pass through unchanged.
 */
#include <string.h>

#include "mover.h"
#include "ops.h"
#include "round.h"
#include "topology.h"

_Static_assert((int)VSETD__V1__RESHARD_MOVE__RESHARD_ADD == VSD_MOVE_ADD &&
    (int)VSETD__V1__RESHARD_MOVE__RESHARD_REMOVE == VSD_MOVE_REMOVE &&
    (int)VSETD__V1__RESHARD_MOVE__RESHARD_MOVE_NONE == VSD_MOVE_NONE,
    "ReshardMove and enum vsd_topo_move differ");
_Static_assert((int)VSETD__V1__RESHARD_PHASE__RESHARD_STABLE ==
    VSD_PHASE_STABLE && (int)VSETD__V1__RESHARD_PHASE__RESHARD_DUAL ==
    VSD_PHASE_DUAL && (int)VSETD__V1__RESHARD_PHASE__RESHARD_SWITCHED ==
    VSD_PHASE_SWITCHED, "ReshardPhase and enum vsd_topo_phase differ");

/* An address list of the report as the message's repeated string. */
static char **
vsd_addr_list(struct vsd_call *call, const struct vsd_topo_addr *a,
    uint32_t n)
{
	char **out = vsd_call_alloc(call, (n + 1) * sizeof(*out));
	uint32_t i;

	if (out == NULL)
		return NULL;
	for (i = 0; i < n; i++)
		out[i] = (char *)a[i].s;
	return out;
}

/* call->resp := the ReshardResponse of rep. */
static void
vsd_reshard_reply(struct vsd_call *call, const struct vsd_move_report *rep)
{
	Vsetd__V1__ReshardResponse *r;
	Vsetd__V1__ReshardProgress *p;
	size_t i;

	r = vsd_call_alloc(call, sizeof(*r));
	p = vsd_call_alloc(call, sizeof(*p));
	if (r == NULL || p == NULL)
		return;
	vsetd__v1__reshard_response__init(r);
	vsetd__v1__reshard_progress__init(p);
	r->epoch = rep->epoch;
	r->phase = (Vsetd__V1__ReshardPhase)rep->phase;
	r->move = (Vsetd__V1__ReshardMove)rep->move;
	if ((r->shards = vsd_addr_list(call, rep->shards, rep->nshards)) ==
	    NULL || (r->from = vsd_addr_list(call, rep->from, rep->nfrom)) ==
	    NULL)
		return;
	r->n_shards = rep->nshards;
	r->n_from = rep->nfrom;
	p->to_move = rep->prog.to_move;
	p->copied = rep->prog.copied;
	p->skipped = rep->prog.skipped;
	p->cleaned = rep->prog.cleaned;
	p->sources_total = rep->prog.sources_total;
	p->sources_copied = rep->prog.sources_copied;
	p->sources_cleaned = rep->prog.sources_cleaned;
	r->progress = p;
	r->done = rep->done;
	if ((r->step = vsd_call_strdup(call, rep->step, strlen(rep->step))) ==
	    NULL)
		return;
	r->retry_after_ms = rep->retry_after_ms;
	if (rep->nrouters > 0) {
		r->routers = vsd_call_alloc(call, rep->nrouters *
		    sizeof(*r->routers));
		if (r->routers == NULL)
			return;
		for (i = 0; i < rep->nrouters; i++) {
			Vsetd__V1__ReshardRouter *x = vsd_call_alloc(call,
			    sizeof(*x));

			if (x == NULL)
				return;
			vsetd__v1__reshard_router__init(x);
			x->id = (char *)rep->routers[i].id;
			x->epoch = rep->routers[i].epoch;
			x->seen_ms_ago = rep->routers[i].seen_ms_ago;
			r->routers[i] = x;
		}
		r->n_routers = rep->nrouters;
	}
	call->resp = &r->base;
}

void
vsd_op_reshard_start(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__ReshardStartRequest *req =
	    (const Vsetd__V1__ReshardStartRequest *)m;
	struct vsd_move_report *rep = vsd_call_alloc(call, sizeof(*rep));

	if (rep != NULL && vsd_move_start(call, (int)req->move, req->shard,
	    req->expect_last, rep) == VSD_OK)
		vsd_reshard_reply(call, rep);
}

void
vsd_op_reshard_step(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__ReshardStepRequest *req =
	    (const Vsetd__V1__ReshardStepRequest *)m;
	struct vsd_move_report *rep = vsd_call_alloc(call, sizeof(*rep));

	if (rep != NULL && vsd_move_step(call, req->batch, rep) == VSD_OK)
		vsd_reshard_reply(call, rep);
}

void
vsd_op_reshard_status(struct vsd_call *call, const ProtobufCMessage *m)
{
	struct vsd_move_report *rep = vsd_call_alloc(call, sizeof(*rep));

	(void)m;
	if (rep != NULL && vsd_move_status(call, rep) == VSD_OK)
		vsd_reshard_reply(call, rep);
}

void
vsd_op_reshard_abort(struct vsd_call *call, const ProtobufCMessage *m)
{
	struct vsd_move_report *rep = vsd_call_alloc(call, sizeof(*rep));

	(void)m;
	if (rep != NULL && vsd_move_abort(call, rep) == VSD_OK)
		vsd_reshard_reply(call, rep);
}
