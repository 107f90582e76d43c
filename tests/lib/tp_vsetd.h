/*
 * tp_vsetd.h - a real vsetd for the tests.
 *
 * Design.  A tp_vsetd is $VSETD_BIN with the caller's arguments (plain or
 * tls+tcp:// listener, --shard list or --config file) and environment.
 * Starting it waits, bounded, for its "listening on URL" log line and keeps
 * that URL, so tests listen on port 0 and never race for ports.
 *
 * Ownership.  A tp_vsetd is caller-owned and must not move while running
 * (it holds a tp_proc); its url and p.log are valid as long as it is.
 */
#ifndef TP_VSETD_H
#define TP_VSETD_H

#include "tp_proc.h"

struct tp_vsetd {
	struct tp_proc p;
	char url[128];               /* "tcp://127.0.0.1:PORT" or tls+tcp:// */
};

/* Start $VSETD_BIN with args (NULL-terminated; must include --listen and
 * the shards, or --config) and env (may be NULL), logging to
 * dir/vsetd-<tag>.log (truncated first: a fresh log per process); wait at
 * most 10 s for "listening on URL". */
int tp_vsetd_start(struct tp_vsetd *v, const char *dir, const char *tag,
    const char *const *args, const char *const *env);
/* SIGTERM, wait timeout_ms: 0 if it exited with status 0; -1 otherwise
 * (it is then killed; the reason is logged). */
int tp_vsetd_term(struct tp_vsetd *v, int timeout_ms);

#endif
