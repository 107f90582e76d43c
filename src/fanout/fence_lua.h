/*
 * fence_lua.h - the scripts of the write fence (fence.h) by name: their
 * text and the SHA-1 that EVALSHA names them by.  No dependencies, so
 * tests can use the exact scripts.  Everything returned is static.
 */
#ifndef VSD_FENCE_LUA_H
#define VSD_FENCE_LUA_H

#include <stddef.h>

enum vsd_script {
	VSD_SCRIPT_FENCE,            /* check generation + epoch, then write */
	VSD_SCRIPT_META_ADOPT,       /* HSET meta unless it exists; HGETALL */
	VSD_SCRIPT_FILTER_CHECK,     /* compile a FILTER on a scratch set */
	/* The mover's (issue 10; why and how: mover.h, move_write.h). */
	VSD_SCRIPT_MOVE_WRITE,       /* a router's write on the new owner */
	VSD_SCRIPT_MOVE_COPY,        /* the mover's copy on the new owner */
	VSD_SCRIPT_MOVE_LIST,        /* list a vector set once per pass */
	VSD_SCRIPT_TOPO_PUT,         /* write the topology record (CAS) */
	VSD_SCRIPT_COUNT
};

/* The script's text and its SHA-1 in hex (40 chars). */
const char *vsd_script_text(int which);
const char *vsd_script_sha(int which);

/* SHA-1 of p[0..n) as 40 lowercase hex digits + NUL into hex[41]. */
void vsd_sha1_hex(const void *p, size_t n, char hex[41]);

#endif
