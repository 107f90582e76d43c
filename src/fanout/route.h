/*
 * route.h - where data lives: the Redis key of a collection, and the shard
 * that owns an element.
 *
 *   collection C  ->  key "vsetd:C" on every shard
 *   element id X  ->  shard vs_shard_of(X) (src/common/vs_hash.h)
 *
 * The "vsetd:" prefix keeps vsetd's keys apart from anything else in the
 * same Redis databases.  docs/architecture.md documents both rules; they are
 * part of the on-disk contract.
 */
#ifndef VSD_ROUTE_H
#define VSD_ROUTE_H

#include <stddef.h>
#include <stdint.h>

#define VSD_KEY_PREFIX "vsetd:"

/* Write "vsetd:" + collection into buf (size >= strlen + 7); returns len. */
size_t vsd_route_key(char *buf, size_t size, const char *collection);

/* The shard that owns id among nshards. */
uint32_t vsd_route_shard(const char *id, uint32_t nshards);

#endif
