/*
 * capabilities.h - what each shard's Redis can do, detected, never assumed.
 *
 * Vector-set options arrived over several Redis releases (VSIM WITHATTRIBS
 * in 8.2; VRANGE in 8.4).  vsetd asks each shard once for its version
 * (INFO server, field redis_version) and keeps the answer in a
 * process-wide table (a static array sized from the config on first use,
 * guarded by a mutex, shared by every worker) for VSD_CAPS_TTL_MS, so a
 * shard that is upgraded in place is noticed.  A shard whose version is
 * unknown (it did not answer) is treated as having none of the optional
 * capabilities: every op that uses one also has a fallback that works on
 * 8.0.
 */
#ifndef VSD_CAPABILITIES_H
#define VSD_CAPABILITIES_H

#include <stdint.h>

#include "call.h"

#define VSD_CAPS_TTL_MS 60000

enum vsd_cap {
	VSD_CAP_EPSILON = 1 << 0,       /* VSIM EPSILON (seen in 8.0.2) */
	VSD_CAP_WITHATTRIBS = 1 << 1,   /* VSIM WITHATTRIBS (8.2) */
};

/*
 * Make sure the capabilities of every shard are known: one INFO server
 * round to the shards not yet known (or stale), bounded by a quarter of
 * the call's remaining time.  Its replies are freed here; call->cmds is
 * left empty.  Never fails: unknown shards just lack every capability.
 */
void vsd_caps_refresh(struct vsd_call *call);

/* The capability bits of shard (0 when unknown). */
unsigned vsd_caps_of(uint32_t shard);

/* Parse "redis_version:X.Y.Z" out of an INFO reply into bits. */
unsigned vsd_caps_from_info(const char *info);

#endif
