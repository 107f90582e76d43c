/*
 * collection.h - a collection's fixed parameters (dimension, quantization,
 * M, REDUCE, build EF): where they are stored, how they are read, checked
 * and cached.
 *
 * Storage: the hash "vsetd:@meta:<collection>" on EVERY shard, fields
 * dim, quant ("q8" | "noquant" | "bin"), m, reduce, build_ef, version.
 * '@' cannot occur in a collection name, so this key never collides with a
 * collection's own key "vsetd:<collection>".  Every shard holds a copy so
 * any shard that answers can tell a vsetd (after a restart, or another
 * vsetd on the same shards) what the collection is; writes repair a shard
 * whose copy is missing.
 *
 * Cache: a small process-wide table (mutex) of parameters read or written
 * in the last VSD_COLL_CACHE_MS, so inserts do not pay a metadata round
 * each.  A stale entry (another vsetd dropped and re-created the
 * collection differently within that window) cannot corrupt data: Redis
 * refuses a VADD whose dimension, quantization or M differs from the key's.
 *
 * Ownership: no pointers are kept; names are copied into the cache.
 */
#ifndef VSD_COLLECTION_H
#define VSD_COLLECTION_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "ops.h"

#ifndef VSD_ALREADY_EXISTS
#define VSD_ALREADY_EXISTS 6
#endif

#define VSD_META_PREFIX "vsetd:@meta:"
#define VSD_COLL_CACHE_MS 1000
#define VSD_DEFAULT_M 16
#define VSD_MIN_M 4
#define VSD_MAX_M 4096
#define VSD_MAX_EF 1000000

struct vsd_coll_params {
	uint32_t dim;
	int quant;                   /* Vsetd__V1__Quantization, never 0 */
	uint32_t m;
	uint32_t reduce;
	uint32_t build_ef;
};

/* "vsetd:@meta:<collection>" in the arena. */
const char *vsd_meta_key(struct vsd_call *call, const char *collection,
    size_t *len);

/* Fill defaults (Q8, M 16) and check a CreateCollection request's
 * parameters; VSD_OK or INVALID_ARGUMENT naming the field. */
int vsd_coll_params_from_msg(const Vsetd__V1__CollectionParams *m,
    const struct vsd_limits *lim, struct vsd_coll_params *p,
    struct vsd_status *st);
void vsd_coll_params_to_msg(const struct vsd_coll_params *p,
    Vsetd__V1__CollectionParams *m);
int vsd_coll_params_equal(const struct vsd_coll_params *a,
    const struct vsd_coll_params *b);

/* Parse an HGETALL reply of the metadata hash: 1 found, 0 empty hash,
 * -1 malformed. */
int vsd_coll_parse(const redisReply *r, struct vsd_coll_params *p);

/* cmd := HSET <metakey> dim .. quant .. m .. reduce .. build_ef .. version 1
 * on shard; -1 if out of memory. */
int vsd_coll_hset_cmd(struct vsd_call *call, struct vsd_cmd *cmd,
    uint32_t shard, const char *metakey, size_t metalen,
    const struct vsd_coll_params *p);

/* "Q8", "NOQUANT", "BIN": the VADD option; "q8"...: the stored form. */
const char *vsd_quant_vadd(int quant);
const char *vsd_quant_name(int quant);

/*
 * The collection's parameters: from the cache (when use_cache), else one HGETALL round on
 * every shard (half the remaining time).  *found = 0 when no shard that
 * answered has them.  missing (nshards entries, may be NULL) gets 1 for
 * each shard that answered without them (to be repaired).  Returns VSD_OK,
 * or a code with call->st set when no shard answered.
 */
int vsd_coll_load(struct vsd_call *call, const char *collection,
    int use_cache, struct vsd_coll_params *p, int *found, uint8_t *missing);

/* 1 and *p if collection's parameters were cached in the last
 * VSD_COLL_CACHE_MS, else 0. */
int vsd_coll_cache_get(const char *collection, struct vsd_coll_params *p);
void vsd_coll_cache_put(const char *collection,
    const struct vsd_coll_params *p);
void vsd_coll_cache_drop(const char *collection);

#endif
