/*
 * installed_client.c - a program built against the *installed*
 * libvsetd-client, with nothing but `pkg-config --cflags --libs
 * vsetd-client`: proof that an installed vsetd.h + library + .pc suffice.
 *
 * usage: installed_client URL COLLECTION
 * Inserts three 3-dim vectors, searches for the first, and checks what a
 * user relies on: all written, the exact match first with score ~1, best
 * first order, every shard answered.  Prints one line per hit; exit 0 when
 * all checks pass, 1 otherwise (with the reason on stderr).
 */
#include <stdio.h>
#include <string.h>

#include <vsetd.h>

#define CHECK(cond, ...) do { \
	if (!(cond)) { \
		fprintf(stderr, "installed_client: " __VA_ARGS__); \
		fputc('\n', stderr); \
		goto out; \
	} \
} while (0)

int
main(int argc, char **argv)
{
	static const float va[] = { 1.0f, 0.0f, 0.0f };
	static const float vb[] = { 0.0f, 1.0f, 0.0f };
	static const float vc[] = { 0.9f, 0.1f, 0.0f };
	vs_item items[] = {
		{ "a", va, 3, NULL },
		{ "b", vb, 3, "{\"tag\":\"b\"}" },
		{ "c", vc, 3, NULL },
	};
	vs_search_params sp = { 0 };
	vs_write_result *wr = NULL;
	vs_search_result *sr = NULL;
	vs_client *c = NULL;
	size_t i;
	int rv, status = 1;

	if (argc != 3) {
		fprintf(stderr, "usage: installed_client URL COLLECTION\n");
		return 2;
	}
	if ((rv = vs_connect(&c, argv[1], 5000)) != VS_OK)
		CHECK(0, "connect: %s: %s", vs_code_name(rv), vs_errmsg());
	if ((rv = vs_insert(c, argv[2], items, 3, &wr)) != VS_OK)
		CHECK(0, "insert: %s: %s", vs_code_name(rv), vs_errmsg());
	CHECK(wr->n_items == 3 && wr->added + wr->updated == 3 &&
	    wr->failed == 0, "insert: %zu items, %u added, %u updated, "
	    "%u failed", wr->n_items, wr->added, wr->updated, wr->failed);

	sp.collection = argv[2];
	sp.vector = va;
	sp.dim = 3;
	sp.k = 3;
	if ((rv = vs_search(c, &sp, &sr)) != VS_OK)
		CHECK(0, "search: %s: %s", vs_code_name(rv), vs_errmsg());
	for (i = 0; i < sr->n_hits; i++)
		printf("%zu %s %.6f %u\n", i + 1, sr->hits[i].id,
		    sr->hits[i].score, sr->hits[i].shard);
	CHECK(sr->n_hits == 3, "search: %zu hits, want 3", sr->n_hits);
	CHECK(strcmp(sr->hits[0].id, "a") == 0 && sr->hits[0].score > 0.99,
	    "search: first hit %s (%f), want a (~1)", sr->hits[0].id,
	    sr->hits[0].score);
	for (i = 1; i < sr->n_hits; i++)
		CHECK(sr->hits[i - 1].score >= sr->hits[i].score,
		    "search: hit %zu scores above hit %zu", i + 1, i);
	CHECK(!sr->partial && sr->shards.ok == sr->shards.total &&
	    sr->shards.total > 0, "search: partial=%d ok=%u total=%u",
	    sr->partial, sr->shards.ok, sr->shards.total);
	status = 0;
out:
	vs_search_result_free(sr);
	vs_write_result_free(wr);
	if (c != NULL)
		vs_close(c);
	return status;
}
