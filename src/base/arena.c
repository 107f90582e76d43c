/* arena.c - see arena.h for why. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"

struct vsd_arena_chunk {
	struct vsd_arena_chunk *next;   /* older chunk */
	size_t size, used;
	_Alignas(16) unsigned char data[];
};

static struct vsd_arena_chunk *
vsd_chunk_new(size_t size, struct vsd_arena_chunk *next)
{
	struct vsd_arena_chunk *c;

	if ((c = malloc(sizeof(*c) + size)) == NULL)
		return NULL;
	c->next = next;
	c->size = size;
	c->used = 0;
	return c;
}

void
vsd_arena_init(struct vsd_arena *a, size_t chunk_size)
{
	a->head = NULL;
	a->chunk_size = chunk_size;
}

void
vsd_arena_fini(struct vsd_arena *a)
{
	struct vsd_arena_chunk *c, *next;

	for (c = a->head; c != NULL; c = next) {
		next = c->next;
		free(c);
	}
	a->head = NULL;
}

void
vsd_arena_reset(struct vsd_arena *a)
{
	struct vsd_arena_chunk *c = a->head, *next;

	if (c == NULL)
		return;
	/* Keep only the oldest (first, standard-size) chunk. */
	while (c->next != NULL) {
		next = c->next;
		free(c);
		c = next;
	}
	c->used = 0;
	a->head = c;
}

void *
vsd_arena_alloc(struct vsd_arena *a, size_t size)
{
	struct vsd_arena_chunk *c = a->head;
	size_t need = (size + 15) & ~(size_t)15;
	void *p;

	if (c == NULL || c->size - c->used < need) {
		size_t sz = need > a->chunk_size ? need : a->chunk_size;

		if ((c = vsd_chunk_new(sz, a->head)) == NULL)
			return NULL;
		a->head = c;
	}
	p = c->data + c->used;
	c->used += need;
	memset(p, 0, size);
	return p;
}

char *
vsd_arena_strndup(struct vsd_arena *a, const char *s, size_t len)
{
	char *p;

	if ((p = vsd_arena_alloc(a, len + 1)) == NULL)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}
