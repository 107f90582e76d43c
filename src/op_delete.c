/*
 * op_delete.c - Delete: each id on the shard that owns it.
 *
 *   VREM vsetd:<collection> <id>
 *
 * VREM takes one element, so a batch is one pipelined VREM per id.
 */
#include <string.h>

#include "ops.h"
#include "route.h"
#include "validate.h"

void
vsd_op_delete(struct vsd_call *call, const ProtobufCMessage *m)
{
	const Vsetd__V1__DeleteRequest *req = (const Vsetd__V1__DeleteRequest *)m;
	Vsetd__V1__DeleteResponse *resp;
	uint32_t counts[5] = { 0 };
	uint32_t nshards = call->srv->cfg->nshards;
	const char *key;
	char what[32];
	size_t keylen, i, n = req->n_ids;

	if (vsd_check_collection(req->collection, &call->st) != VSD_OK ||
	    vsd_check_batch(n, call->lim, "ids", &call->st) != VSD_OK)
		return;
	for (i = 0; i < n; i++) {
		snprintf(what, sizeof(what), "ids[%zu]", i);
		if (vsd_check_id(req->ids[i], call->lim, what, &call->st) != VSD_OK)
			return;
	}
	key = vsd_call_key(call, req->collection, &keylen);
	call->cmds = vsd_call_alloc(call, n * sizeof(*call->cmds));
	resp = vsd_call_alloc(call, sizeof(*resp));
	if (key == NULL || call->cmds == NULL || resp == NULL)
		goto oom;
	call->ncmds = n;
	for (i = 0; i < n; i++) {
		struct vsd_cmd *c = &call->cmds[i];
		const char **argv = vsd_call_alloc(call, 3 * sizeof(*argv));
		size_t *len = vsd_call_alloc(call, 3 * sizeof(*len));

		if (argv == NULL || len == NULL)
			goto oom;
		argv[0] = "VREM";      len[0] = 4;
		argv[1] = key;         len[1] = keylen;
		argv[2] = req->ids[i]; len[2] = strlen(req->ids[i]);
		c->argc = 3;
		c->argv = argv;
		c->argvlen = len;
		c->shard = vsd_route_shard(req->ids[i], nshards);
	}
	vsd_links_run(call->w->links, call->cmds, n, VSD_RUN_WRITE,
	    call->deadline_us,
	    call->w->res);

	vsetd__v1__delete_response__init(resp);
	resp->shards = vsd_call_alloc(call, sizeof(*resp->shards));
	if (resp->shards == NULL)
		goto oom;
	if (vsd_call_shards(call, resp->shards, &resp->shard_errors,
	    &resp->n_shard_errors) != 0)
		goto oom;
	vsd_call_write_results(call, req->ids, n, 1, &resp->results, counts);
	if (resp->results == NULL)
		return;
	resp->n_results = n;
	resp->deleted = counts[VSETD__V1__WRITE_OUTCOME__WRITE_DELETED - 1];
	resp->not_found = counts[VSETD__V1__WRITE_OUTCOME__WRITE_NOT_FOUND - 1];
	resp->failed = counts[VSETD__V1__WRITE_OUTCOME__WRITE_FAILED - 1];
	call->resp = &resp->base;
	return;
oom:
	vsd_status_set(&call->st, VSD_RESOURCE_EXHAUSTED, "out of memory");
}
