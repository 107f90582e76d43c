/*
 * beacon.h - a router's heartbeat, and how an idle router follows a move
 * (issue 10; mover.h, topology.h).
 *
 * Why.  An operator watching a move (ReshardStatus, `vset reshard
 * status`) wants to know which routers serve the deployment and which
 * epoch each routes by: a router left behind is the first suspect when
 * writes fail.  And a router that serves no write would learn of a new
 * epoch only when the fence refuses it; following the record by itself
 * makes it route by the new phase before its first call.
 *
 * What.  Once a second (VSD_BEACON_PERIOD_MS) a thread of its own, on a
 * blocking hiredis connection of its own to shard 0's primary (connect
 * and command timeouts, the shards' AUTH):
 *   HSET vsetd:@routers <host>/<pid>/<listen URL> "<epoch> <unix ms>"
 *   HGETALL vsetd:@topology
 * and when the record's epoch is above the one the router routes by, it
 * adopts it (vsd_view_adopt).  Shard 0 is in every layout, and the mover
 * writes each new record there first.  ReshardStatus lists the routers
 * heard from in the last VSD_ROUTER_LIVE_MS and forgets those silent for
 * VSD_ROUTER_FORGET_MS (mover.h).  Any failure drops the connection; the
 * next beat reconnects.  A sentinel:// shard 0 has no fixed address: no
 * beacon then (logged).
 *
 * Ownership: vsd_beacon_start() copies what it needs from its arguments
 * except cfg, which must outlive the beacon; vsd_beacon_stop() joins the
 * thread (promptly: it waits on a condition variable, and every command
 * is bounded by VSD_BEACON_TIMEOUT_MS) and frees everything.
 */
#ifndef VSD_BEACON_H
#define VSD_BEACON_H

#include "config.h"

#define VSD_BEACON_PERIOD_MS 1000
#define VSD_BEACON_TIMEOUT_MS 500

struct vsd_beacon;

/* Start the beacon of a router listening on listen.  0 (also when there
 * is no beacon: *out NULL), or -1 when the thread could not start. */
int vsd_beacon_start(const struct vsd_config *cfg, const char *listen,
    struct vsd_beacon **out);
/* Stop and free (NULL: nothing). */
void vsd_beacon_stop(struct vsd_beacon *b);

#endif
