/*
 * vset_output.c - how vset prints results.
 *
 * Two audiences.  People get short lines on stdout and warnings on stderr.
 * Scripts pass --json and get exactly one JSON object on one line on
 * stdout, whatever happened, so `vset --json ... | jq` never sees a
 * warning mixed in; the key names are documented in `vset --help` and
 * only ever added to.  JSON is built in memory with vs_sb (which escapes
 * ids that are not clean UTF-8) and written in one go.
 */
#include <stdio.h>
#include <string.h>

#include "vs_json.h"
#include "vset.h"

void
vset_print_error(int code)
{
	const char *msg = vs_errmsg();

	fprintf(stderr, "%s: %s\n", vs_code_name(code),
	    msg != NULL && *msg != '\0' ? msg : "no details");
}

static void
json_shards(vs_sb *sb, const vs_shards *s)
{
	vs_sb_printf(sb, "\"shards\":{\"total\":%u,\"ok\":%u,\"failed\":%u,"
	    "\"timed_out\":%u}", s->total, s->ok, s->failed, s->timed_out);
}

/* A vs_ string that may be NULL, as a JSON string. */
static void
json_str(vs_sb *sb, const char *s)
{
	if (s == NULL)
		s = "";
	vs_sb_json_str(sb, s, strlen(s));
}

/* Write sb and a newline to stdout; -1 if building it ran out of memory. */
static int
emit(vs_sb *sb)
{
	if (vs_sb_putc(sb, '\n') != 0) {
		fputs("vset: out of memory\n", stderr);
		return -1;
	}
	fwrite(sb->buf, 1, sb->len, stdout);
	return 0;
}

static const char *
str_or_empty(const char *s)
{
	return s != NULL ? s : "";
}

/* ------------------------------------------------------------ search */

static int
search_json(const vs_search_result *r)
{
	vs_sb sb;
	size_t i;
	int rv;

	vs_sb_init(&sb);
	vs_sb_puts(&sb, "{\"results\":[");
	for (i = 0; i < r->n_hits; i++) {
		vs_sb_puts(&sb, i > 0 ? ",{\"id\":" : "{\"id\":");
		json_str(&sb, r->hits[i].id);
		vs_sb_puts(&sb, ",\"score\":");
		vs_sb_json_double(&sb, r->hits[i].score);
		vs_sb_printf(&sb, ",\"shard\":%u", r->hits[i].shard);
		/* --with-attrs: the attributes as JSON (validated when
		 * stored), or null. */
		if (r->attrs != NULL) {
			vs_sb_puts(&sb, ",\"attrs\":");
			vs_sb_puts(&sb, r->attrs[i] != NULL ? r->attrs[i] :
			    "null");
		}
		vs_sb_putc(&sb, '}');
	}
	vs_sb_printf(&sb, "],\"partial\":%s,", r->partial ? "true" : "false");
	json_shards(&sb, &r->shards);
	vs_sb_puts(&sb, ",\"shard_errors\":[");
	for (i = 0; i < r->n_shard_errors; i++) {
		const vs_shard_error *e = &r->shard_errors[i];

		vs_sb_printf(&sb, "%s{\"shard\":%u,\"code\":\"%s\",\"message\":",
		    i > 0 ? "," : "", e->shard, vs_code_name(e->code));
		json_str(&sb, e->message);
		vs_sb_putc(&sb, '}');
	}
	vs_sb_puts(&sb, "]}");
	rv = emit(&sb);
	vs_sb_free(&sb);
	return rv;
}

static void
search_human(const vs_search_result *r)
{
	const vs_shards *s = &r->shards;
	size_t i;

	for (i = 0; i < r->n_hits; i++)
		printf("%zu %s %.6f%s%s\n", i + 1, str_or_empty(r->hits[i].id),
		    r->hits[i].score, r->attrs != NULL ? " " : "",
		    r->attrs == NULL ? "" : r->attrs[i] != NULL ? r->attrs[i] :
		    "null");
	printf("shards: total=%u ok=%u failed=%u timed_out=%u\n", s->total,
	    s->ok, s->failed, s->timed_out);
}

int
vset_print_search(const vset_global *g, const vs_search_result *r)
{
	size_t i;

	if (r->partial) {
		/* stderr, so it is seen even when stdout goes to a file. */
		fprintf(stderr, "warning: partial result: %u of %u shards did "
		    "not answer\n", r->shards.failed + r->shards.timed_out,
		    r->shards.total);
		for (i = 0; i < r->n_shard_errors; i++)
			fprintf(stderr, "warning: shard %u: %s: %s\n",
			    r->shard_errors[i].shard,
			    vs_code_name(r->shard_errors[i].code),
			    str_or_empty(r->shard_errors[i].message));
	}
	if (g->json)
		return search_json(r);
	search_human(r);
	return 0;
}

/* ------------------------------------------------------------ writes */

static const char *
outcome_name(int outcome)
{
	switch (outcome) {
	case VS_WRITE_ADDED:
		return "added";
	case VS_WRITE_UPDATED:
		return "updated";
	case VS_WRITE_DELETED:
		return "deleted";
	case VS_WRITE_NOT_FOUND:
		return "not_found";
	case VS_WRITE_FAILED:
		return "failed";
	default:
		return "unspecified";
	}
}

static int
write_json(const vs_write_result *r, int deleting)
{
	vs_sb sb;
	size_t i;
	int rv;

	vs_sb_init(&sb);
	if (deleting)
		vs_sb_printf(&sb, "{\"deleted\":%u,\"not_found\":%u,",
		    r->deleted, r->not_found);
	else
		vs_sb_printf(&sb, "{\"added\":%u,\"updated\":%u,", r->added,
		    r->updated);
	vs_sb_printf(&sb, "\"failed\":%u,\"items\":[", r->failed);
	for (i = 0; i < r->n_items; i++) {
		const vs_item_result *it = &r->items[i];

		vs_sb_puts(&sb, i > 0 ? ",{\"id\":" : "{\"id\":");
		json_str(&sb, it->id);
		vs_sb_printf(&sb, ",\"outcome\":\"%s\",\"shard\":%u",
		    outcome_name(it->outcome), it->shard);
		if (it->outcome == VS_WRITE_FAILED) {
			vs_sb_printf(&sb, ",\"code\":\"%s\",\"message\":",
			    vs_code_name(it->code));
			json_str(&sb, it->message);
		}
		vs_sb_putc(&sb, '}');
	}
	vs_sb_puts(&sb, "],");
	json_shards(&sb, &r->shards);
	vs_sb_putc(&sb, '}');
	rv = emit(&sb);
	vs_sb_free(&sb);
	return rv;
}

int
vset_print_write(const vset_global *g, const vs_write_result *r,
    int deleting)
{
	size_t i;

	for (i = 0; i < r->n_items; i++) {
		const vs_item_result *it = &r->items[i];

		if (it->outcome != VS_WRITE_FAILED)
			continue;
		fprintf(stderr, "failed: %s (shard %u): %s: %s\n",
		    str_or_empty(it->id), it->shard, vs_code_name(it->code),
		    str_or_empty(it->message));
	}
	if (g->json)
		return write_json(r, deleting);
	if (deleting)
		printf("deleted %u, not found %u", r->deleted, r->not_found);
	else
		printf("added %u, updated %u", r->added, r->updated);
	if (r->failed > 0)
		printf(", failed %u", r->failed);
	putchar('\n');
	return 0;
}

int
vset_print_sb(vs_sb *sb)
{
	int rv = 0;

	if (sb->oom) {
		fputs("vset: out of memory\n", stderr);
		rv = -1;
	} else {
		fwrite(sb->buf, 1, sb->len, stdout);
	}
	vs_sb_free(sb);
	return rv;
}
