/*
 * resp_cmd.h - the Redis commands of the front door (--resp-listen):
 * connection commands answered on the net thread, data commands turned
 * into vsetd ops on a worker (resp_cmd.c explains the split).
 *
 * Who frees what: replies are written into a caller's vsd_resp_buf
 * (resp.h) or returned as an nng_msg the caller then owns.
 */
#ifndef VSD_RESP_CMD_H
#define VSD_RESP_CMD_H

#include <nng/nng.h>
#include <stdint.h>

#include "config.h"
#include "resp.h"

/* What Redis reports as its version (HELLO, INFO): the Redis whose
 * command syntax and reply shapes the door follows. */
#define VSD_RESP_REDIS_VERSION "8.0.2"

/* One RESP connection's state, owned by the net thread. */
struct vsd_resp_session {
	int proto;                   /* 2 or 3 (HELLO) */
	int authed;                  /* AUTH passed, or none is needed */
	int quit;                    /* close once every reply is out */
	uint64_t id;                 /* CLIENT ID */
};

void vsd_resp_session_init(struct vsd_resp_session *s,
    const struct vsd_config *cfg, uint64_t id);

enum { VSD_RESP_WORKER = 0, VSD_RESP_ANSWERED = 1 };

/* On the net thread, in command order: answer what needs no shard
 * (PING, HELLO, AUTH, ..., errors of arity, unknown commands, NOAUTH)
 * into b (b->proto is set from the session afterwards) and return
 * VSD_RESP_ANSWERED; VSD_RESP_WORKER means the command goes to a worker
 * (vsd_resp_run) with the session's protocol at this point. */
int vsd_resp_local(struct vsd_resp_session *s, const struct vsd_config *cfg,
    int64_t started_us, const struct vsd_resp_cmd *cmd,
    struct vsd_resp_buf *b);

struct vsd_worker;
struct vsd_job;

/* On a worker: run a data command (job->rcmd, job->proto) through the
 * ops and return the RESP reply (NULL only if out of memory). */
nng_msg *vsd_resp_run(struct vsd_worker *w, const struct vsd_job *job);

/* A reply buffer as an nng message (NULL if out of memory); frees b. */
nng_msg *vsd_resp_msg(struct vsd_resp_buf *b);

#endif
