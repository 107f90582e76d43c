/* route.c - see route.h. */
#include <stdio.h>
#include <string.h>

#include "route.h"
#include "vs_hash.h"

size_t
vsd_route_key(char *buf, size_t size, const char *collection)
{
	int n = snprintf(buf, size, VSD_KEY_PREFIX "%s", collection);

	return n < 0 ? 0 : ((size_t)n < size ? (size_t)n : size - 1);
}

uint32_t
vsd_route_shard(const char *id, uint32_t nshards)
{
	return vs_shard_of(id, strlen(id), nshards);
}
