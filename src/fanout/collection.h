/*
 * collection.h - a collection's fixed parameters (dimension, quantization,
 * M, REDUCE, build EF): where they are stored, how they are read, checked
 * and cached.
 *
 * Storage: the hash "vsetd:@meta:<collection>" on EVERY shard, fields
 * dim, quant ("q8" | "noquant" | "bin"), m, reduce, build_ef, version,
 * gen.
 * '@' cannot occur in a collection name, so this key never collides with a
 * collection's own key "vsetd:<collection>".  Every shard holds a copy so
 * any shard that answers can tell a vsetd (after a restart, or another
 * vsetd on the same shards) what the collection is; writes repair a shard
 * whose copy is missing.
 *
 * Generation.  `gen` names one life of the collection: a new value is
 * made whenever the collection is created (CreateCollection, or an Insert
 * into a missing collection), so a drop + re-create changes it.  It is
 * "<microseconds since the epoch, hex>-<64 random bits, hex>": unique
 * without coordination.  Every data write carries the generation the
 * router believes in and the shard refuses it when its hash says
 * otherwise (fence.h).  A hash without `gen` (written before generations
 * existed) is generation "0" for ever: the fence accepts writes that
 * expect "0" there, so such collections keep working unchanged, and a
 * drop + re-create gives them a real generation.
 *
 * Agreement.  Two routers may create the same collection at once, each
 * with its own new generation; every shard must end with the same one.
 * Shard 0 is the authority: the creator first runs the "write unless it
 * exists, answer what is there" script (fence.h, VSD_SCRIPT_META_ADOPT)
 * on shard 0 alone, adopts whatever it answers, and only then writes that
 * to the other shards with the same script.  The loser of the race thus
 * copies the winner's generation.  (A derived generation, e.g. a hash of
 * the parameters, would make a drop + re-create with the same parameters
 * indistinguishable from the old collection; a majority vote needs every
 * shard in the creation.)  So creating a collection needs shard 0; when
 * shards disagree on reading, shard 0's copy wins too.
 *
 * Cache: a small process-wide table (mutex) of parameters read or written
 * in the last VSD_COLL_CACHE_MS, so inserts do not pay a metadata round
 * each.  A stale entry (another vsetd dropped and re-created the
 * collection within that window) cannot corrupt data: its generation is
 * old, so the shard refuses the write and the router reloads (fence.h).
 *
 * Untrusted input: a shard's hash is parsed strictly (known fields in
 * range, a well-formed generation); a shard with a bad one counts as
 * failed with a protocol error, its copy is not used.
 *
 * Ownership: no pointers are kept; names are copied into the cache.
 */
#ifndef VSD_COLLECTION_H
#define VSD_COLLECTION_H

#include <hiredis/hiredis.h>
#include <stdint.h>

#include "call.h"

#ifndef VSD_ALREADY_EXISTS
#define VSD_ALREADY_EXISTS 6
#endif

#define VSD_META_PREFIX "vsetd:@meta:"
#define VSD_COLL_CACHE_MS 1000
#define VSD_DEFAULT_M 16
#define VSD_MIN_M 4
#define VSD_MAX_M 4096
#define VSD_MAX_EF 1000000
/* The largest dimension a stored hash may claim (--max-dim's own limit). */
#define VSD_META_MAX_DIM (1u << 20)
/* A generation as text, with its NUL. */
#define VSD_GEN_MAX 48
/* Generations the fence script reports for a hash without `gen` and for
 * no hash; never made by vsd_coll_new_gen(). */
#define VSD_GEN_LEGACY "0"
#define VSD_GEN_NONE "none"
/* vsd_coll_load() flags */
#define VSD_LOAD_CACHE 1             /* answer from the cache if fresh */
#define VSD_LOAD_TYPE 2              /* also TYPE key: another type is
                                        FAILED_PRECONDITION */

/* A quantization: the same numbers as the wire's Quantization (ops check
 * it at build time), so this layer needs no protobuf. */
enum vsd_quant {
	VSD_QUANT_Q8 = 1,
	VSD_QUANT_NOQUANT = 2,
	VSD_QUANT_BIN = 3
};

struct vsd_coll_params {
	uint32_t dim;
	int quant;                   /* enum vsd_quant, never 0 */
	uint32_t m;
	uint32_t reduce;
	uint32_t build_ef;
	char gen[VSD_GEN_MAX];       /* not compared by _equal() */
};

/* "vsetd:@meta:<collection>" in the arena. */
const char *vsd_meta_key(struct vsd_call *call, const char *collection,
    size_t *len);

int vsd_coll_params_equal(const struct vsd_coll_params *a,
    const struct vsd_coll_params *b);

/* Parse an HGETALL reply of the metadata hash: 1 found, 0 empty hash,
 * -1 malformed (*why, static, says what). */
int vsd_coll_parse(const redisReply *r, struct vsd_coll_params *p,
    const char **why);

/* A fresh generation into p->gen. */
void vsd_coll_new_gen(struct vsd_coll_params *p);

/* 1 when g is a well-formed stored generation. */
int vsd_coll_gen_ok(const char *g, size_t len);

/* cmd := the adopt script (fence.h) writing p (with p->gen) to metakey on
 * shard unless a hash is there; its reply is the hash as HGETALL gives
 * it.  -1 if out of memory. */
int vsd_coll_adopt_cmd(struct vsd_call *call, struct vsd_cmd *cmd,
    uint32_t shard, const char *metakey, size_t metalen,
    const struct vsd_coll_params *p);

/* cmd := HMGET <metakey> gen dim (the generation check of a search). */
int vsd_coll_gen_cmd(struct vsd_call *call, struct vsd_cmd *cmd,
    uint32_t shard, const char *metakey, size_t metalen);
/* The generation in an HMGET gen dim reply: the value, VSD_GEN_LEGACY
 * (hash without gen), VSD_GEN_NONE (no hash), or NULL when malformed. */
const char *vsd_coll_gen_of(const redisReply *r);

/* "Q8", "NOQUANT", "BIN": the VADD option; "q8"...: the stored form. */
const char *vsd_quant_vadd(int quant);
const char *vsd_quant_name(int quant);

/*
 * The collection's parameters: from the cache (flags VSD_LOAD_CACHE),
 * else one HGETALL round on every shard (half the remaining time); shard
 * 0's copy wins when shards disagree, else the first one.  *found = 0
 * when no shard that answered has them.  missing (nshards entries, may be
 * NULL) gets 1 for each shard that answered without them (to be
 * repaired); a shard with a malformed hash is marked failed (protocol
 * error) and counts as not answering.  With VSD_LOAD_TYPE the round also
 * asks TYPE of the data key and answers FAILED_PRECONDITION when a shard
 * holds something other than a vector set there.  Returns VSD_OK, or a
 * code with call->st set.
 */
int vsd_coll_load(struct vsd_call *call, const char *collection,
    int flags, struct vsd_coll_params *p, int *found, uint8_t *missing);

/* 1 and *p if collection's parameters were cached in the last
 * VSD_COLL_CACHE_MS, else 0. */
int vsd_coll_cache_get(const char *collection, struct vsd_coll_params *p);
void vsd_coll_cache_put(const char *collection,
    const struct vsd_coll_params *p);
void vsd_coll_cache_drop(const char *collection);

#endif
