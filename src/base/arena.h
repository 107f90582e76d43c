/*
 * arena.h - a bump allocator for everything one request needs: response
 * messages, their arrays and strings, command argument vectors.
 *
 * Why: a request allocates dozens of small objects that all die together
 * when the reply is packed.  One arena per worker, reset after each request,
 * gives no per-object frees to forget and keeps RSS flat: the arena keeps
 * its first chunk across requests and frees the extra chunks a large
 * request grew.
 *
 * Ownership: the worker owns its arena (vsd_arena_init / _fini); memory
 * from vsd_arena_alloc is owned by the arena and valid until the next
 * vsd_arena_reset.
 */
#ifndef VSD_ARENA_H
#define VSD_ARENA_H

#include <stddef.h>

struct vsd_arena_chunk;

struct vsd_arena {
	struct vsd_arena_chunk *head;   /* current chunk; first is kept */
	size_t chunk_size;
};

void vsd_arena_init(struct vsd_arena *a, size_t chunk_size);
void vsd_arena_fini(struct vsd_arena *a);
void vsd_arena_reset(struct vsd_arena *a);
/* Zeroed, 16-byte aligned; NULL only when malloc fails. */
void *vsd_arena_alloc(struct vsd_arena *a, size_t size);
/* Copy of s[0..len) plus a NUL. */
char *vsd_arena_strndup(struct vsd_arena *a, const char *s, size_t len);

#endif
