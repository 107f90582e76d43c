/*
 * vb_report.c - formatting the merged results (see vb_report.h for the
 * JSON keys).  JSON is written with vs_sb (src/common/vs_json.h) so that
 * strings from the command line are always escaped.
 */
#include <inttypes.h>
#include <string.h>

#include "vb_report.h"
#include "vs_json.h"
#include "vs_status.h"

static uint64_t
errors_of(const vb_result *t)
{
	return t->requests - t->codes[0];
}

static double
ms(double us)
{
	return us / 1000.0;
}

static double
recall_of(const vb_result *t)
{
	return t->recall_total ? (double)t->recall_hits /
	    (double)t->recall_total : -1.0;
}

void
vb_report_text(FILE *f, const vb_report *r)
{
	const Vsetbench__V1__Plan *p = r->plan;
	const vb_result *t = &r->total;
	size_t i;

	fprintf(f, "target   %s (%s), collection %s\n",
	    r->direct ? "direct" : "vsetd",
	    r->direct ? "client-side fan-out" : p->server_url, p->collection);
	fprintf(f, "dataset  %s: %zu rows x %zu\n", p->dataset, r->rows,
	    r->dim);
	if (r->have_load)
		fprintf(f, "load     %" PRIu64 " items in %.2f s = %.0f items/s"
		    " (%" PRIu64 " failed, %" PRIu64 " requests)\n",
		    r->load.items, r->load.seconds, r->load.seconds > 0 ?
		    (double)r->load.items / r->load.seconds : 0.0,
		    r->load.failed, r->load.requests);
	if (!r->have_run)
		return;
	fprintf(f, "load gen %zu agent(s) x %u %s, k %u, ef %u\n", r->nagents,
	    p->concurrency, p->rate > 0 ? "workers (open loop)" :
	    "callers (closed loop)", p->k, p->ef);
	if (p->rate > 0)
		fprintf(f, "rate     %.1f req/s scheduled, %" PRIu64
		    " sends late by > 1 ms\n", r->total_rate, t->late);
	fprintf(f, "requests %" PRIu64 " in %.2f s = %.1f req/s\n",
	    t->requests, (double)t->elapsed_us / 1e6, r->qps);
	fprintf(f, "latency  p50 %.3f  p90 %.3f  p99 %.3f  p99.9 %.3f  "
	    "max %.3f  mean %.3f ms\n",
	    ms(vs_hist_percentile(&t->hist, 50)),
	    ms(vs_hist_percentile(&t->hist, 90)),
	    ms(vs_hist_percentile(&t->hist, 99)),
	    ms(vs_hist_percentile(&t->hist, 99.9)),
	    ms((double)vs_hist_max(&t->hist)), ms(vs_hist_mean(&t->hist)));
	fprintf(f, "ops      search %" PRIu64 ", insert %" PRIu64
	    ", delete %" PRIu64 ", get %" PRIu64 " (%" PRIu64
	    " items written/deleted)\n", t->searches, t->inserts, t->deletes,
	    t->gets, t->items);
	fprintf(f, "errors   %" PRIu64, errors_of(t));
	for (i = 1; i < VB_NCODES; i++)
		if (t->codes[i] != 0)
			fprintf(f, "  %s %" PRIu64, vs_code_name((int)i),
			    t->codes[i]);
	fprintf(f, "\npartial  %" PRIu64 " (%.4f of searches)\n", t->partial,
	    t->searches ? (double)t->partial / (double)t->searches : 0.0);
	if (r->recall_asked) {
		if (recall_of(t) >= 0)
			fprintf(f, "recall   %.4f @%u over %" PRIu64
			    " searches\n", recall_of(t), p->k,
			    t->recall_total / (p->k ? p->k : 1));
		else
			fprintf(f, "recall   n/a (no search had ground "
			    "truth)\n");
	}
	if (r->have_vsetd_cpu && t->requests)
		fprintf(f, "vsetd    %.3f s CPU = %.1f us/request, RSS %ld -> "
		    "%ld KiB\n", r->vsetd_cpu_s,
		    r->vsetd_cpu_s * 1e6 / (double)t->requests,
		    r->vsetd_rss_before_kb, r->vsetd_rss_after_kb);
	if (r->have_vsetd_cpu && t->requests && r->vsetd_switches >= 0)
		fprintf(f, "vsetd    %lld context switches = %.1f/request\n",
		    r->vsetd_switches,
		    (double)r->vsetd_switches / (double)t->requests);
	if (t->requests)
		fprintf(f, "agents   %.3f s CPU = %.1f us/request\n", t->cpu_s,
		    t->cpu_s * 1e6 / (double)t->requests);
	if (r->have_shard_cpu && t->requests)
		fprintf(f, "shards   %.3f s CPU = %.1f us/request\n",
		    r->shards_cpu_s, r->shards_cpu_s * 1e6 /
		    (double)t->requests);
	for (i = 0; i < r->nagents; i++) {
		const vb_agent_summary *a = &r->agents[i];

		fprintf(f, "agent    %016" PRIx64 " %s pid %u: %" PRIu64
		    " requests in %.2f s\n", a->id, a->host, a->pid,
		    a->requests, (double)a->elapsed_us / 1e6);
	}
}

static void
kv_num(vs_sb *sb, const char *key, double v)
{
	vs_sb_printf(sb, ",\"%s\":", key);
	vs_sb_json_double(sb, v);
}

static void
kv_u64(vs_sb *sb, const char *key, uint64_t v)
{
	vs_sb_printf(sb, ",\"%s\":%" PRIu64, key, v);
}

static void
kv_str(vs_sb *sb, const char *key, const char *v)
{
	vs_sb_printf(sb, ",\"%s\":", key);
	vs_sb_json_str(sb, v, strlen(v));
}

static void
codes_obj(vs_sb *sb, const char *key, const vb_result *t, size_t from)
{
	size_t i;
	int first = 1;

	vs_sb_printf(sb, ",\"%s\":{", key);
	for (i = from; i < VB_NCODES; i++) {
		if (t->codes[i] == 0)
			continue;
		vs_sb_printf(sb, "%s\"%s\":%" PRIu64, first ? "" : ",",
		    vs_code_name((int)i), t->codes[i]);
		first = 0;
	}
	vs_sb_putc(sb, '}');
}

static void
json_obj(vs_sb *sb, const vb_report *r)
{
	const Vsetbench__V1__Plan *p = r->plan;
	const vb_result *t = &r->total;
	size_t i;

	vs_sb_printf(sb, "{\"mode\":\"%s\"", r->direct ? "direct" : "vsetd");
	kv_str(sb, "target", r->direct ? "" : p->server_url);
	kv_str(sb, "collection", p->collection);
	kv_str(sb, "dataset", p->dataset);
	kv_u64(sb, "rows", r->rows);
	kv_u64(sb, "dim", r->dim);
	vs_sb_printf(sb, ",\"shards\":%zu", p->n_shards);
	if (r->have_load) {
		vs_sb_puts(sb, ",\"load\":{");
		vs_sb_printf(sb, "\"items\":%" PRIu64, r->load.items);
		kv_u64(sb, "failed", r->load.failed);
		kv_u64(sb, "requests", r->load.requests);
		kv_num(sb, "seconds", r->load.seconds);
		kv_num(sb, "items_per_s", r->load.seconds > 0 ?
		    (double)r->load.items / r->load.seconds : 0.0);
		vs_sb_putc(sb, '}');
	}
	if (r->have_run) {
		kv_u64(sb, "agents", r->nagents);
		kv_u64(sb, "k", p->k);
		kv_u64(sb, "ef", p->ef);
		kv_u64(sb, "concurrency", p->concurrency);
		kv_num(sb, "rate", r->total_rate);
		kv_u64(sb, "requests", t->requests);
		kv_u64(sb, "hist_count", vs_hist_count(&t->hist));
		kv_num(sb, "duration_s", (double)t->elapsed_us / 1e6);
		kv_num(sb, "qps", r->qps);
		kv_num(sb, "p50_ms", ms(vs_hist_percentile(&t->hist, 50)));
		kv_num(sb, "p90_ms", ms(vs_hist_percentile(&t->hist, 90)));
		kv_num(sb, "p99_ms", ms(vs_hist_percentile(&t->hist, 99)));
		kv_num(sb, "p999_ms", ms(vs_hist_percentile(&t->hist,
		    99.9)));
		kv_num(sb, "max_ms", ms((double)vs_hist_max(&t->hist)));
		kv_num(sb, "mean_ms", ms(vs_hist_mean(&t->hist)));
		kv_u64(sb, "errors", errors_of(t));
		codes_obj(sb, "errors_by_code", t, 1);
		codes_obj(sb, "codes", t, 0);
		kv_u64(sb, "partial", t->partial);
		kv_num(sb, "partial_ratio", t->searches ?
		    (double)t->partial / (double)t->searches : 0.0);
		vs_sb_printf(sb, ",\"ops\":{\"search\":%" PRIu64
		    ",\"insert\":%" PRIu64 ",\"delete\":%" PRIu64
		    ",\"get\":%" PRIu64 ",\"items\":%" PRIu64 "}",
		    t->searches, t->inserts, t->deletes, t->gets, t->items);
		kv_u64(sb, "late", t->late);
		kv_num(sb, "agents_cpu_us_per_req", t->requests ?
		    t->cpu_s * 1e6 / (double)t->requests : 0.0);
		if (r->recall_asked) {
			if (recall_of(t) >= 0)
				kv_num(sb, "recall", recall_of(t));
			else
				vs_sb_puts(sb, ",\"recall\":null");
			kv_u64(sb, "recall_searches",
			    t->recall_total / (p->k ? p->k : 1));
		}
		if (r->have_vsetd_cpu || r->have_shard_cpu) {
			vs_sb_puts(sb, ",\"cpu\":{\"requests\":");
			vs_sb_printf(sb, "%" PRIu64, t->requests);
			if (r->have_vsetd_cpu) {
				kv_num(sb, "vsetd_s", r->vsetd_cpu_s);
				kv_num(sb, "vsetd_us_per_req", t->requests ?
				    r->vsetd_cpu_s * 1e6 /
				    (double)t->requests : 0.0);
				kv_u64(sb, "vsetd_rss_kb_before",
				    (uint64_t)r->vsetd_rss_before_kb);
				kv_u64(sb, "vsetd_rss_kb_after",
				    (uint64_t)r->vsetd_rss_after_kb);
				if (r->vsetd_switches >= 0) {
					kv_u64(sb, "vsetd_switches",
					    (uint64_t)r->vsetd_switches);
					kv_num(sb, "vsetd_switches_per_req",
					    t->requests ? (double)
					    r->vsetd_switches /
					    (double)t->requests : 0.0);
				}
			}
			if (r->have_shard_cpu) {
				kv_num(sb, "shards_s", r->shards_cpu_s);
				kv_num(sb, "shards_us_per_req", t->requests ?
				    r->shards_cpu_s * 1e6 /
				    (double)t->requests : 0.0);
			}
			vs_sb_putc(sb, '}');
		}
		vs_sb_puts(sb, ",\"per_agent\":[");
		for (i = 0; i < r->nagents; i++) {
			const vb_agent_summary *a = &r->agents[i];
			double el = (double)a->elapsed_us / 1e6;

			vs_sb_printf(sb, "%s{\"agent\":\"%016" PRIx64 "\"",
			    i ? "," : "", a->id);
			kv_str(sb, "host", a->host);
			kv_u64(sb, "pid", a->pid);
			kv_u64(sb, "requests", a->requests);
			kv_u64(sb, "hist_count", a->hist_count);
			kv_num(sb, "elapsed_s", el);
			kv_num(sb, "qps", el > 0 ?
			    (double)a->requests / el : 0.0);
			vs_sb_putc(sb, '}');
		}
		vs_sb_putc(sb, ']');
	}
	vs_sb_putc(sb, '}');
}

static int
emit(FILE *f, vs_sb *sb)
{
	int rv = -1;

	vs_sb_putc(sb, '\n');
	if (!sb->oom) {
		fputs(sb->buf, f);
		fflush(f);
		rv = 0;
	}
	vs_sb_free(sb);
	return rv;
}

int
vb_report_json(FILE *f, const vb_report *r)
{
	vs_sb sb;

	vs_sb_init(&sb);
	json_obj(&sb, r);
	return emit(f, &sb);
}

/* The ratios --compare reports: vsetd's value over direct's. */
static const struct {
	const char *name;
	double pct;                  /* < 0: not a percentile (see below) */
} ratio_keys[] = {
	{ "p50", 50 }, { "p90", 90 }, { "p99", 99 }, { "p999", 99.9 },
	{ "max", -1 }, { "mean", -2 }, { "qps", -3 },
};

static double
ratio_val(const vb_report *r, double pct)
{
	if (pct >= 0)
		return vs_hist_percentile(&r->total.hist, pct);
	if (pct == -1)
		return (double)vs_hist_max(&r->total.hist);
	if (pct == -2)
		return vs_hist_mean(&r->total.hist);
	return r->qps;
}

int
vb_report_compare_json(FILE *f, const vb_report *v, const vb_report *d)
{
	vs_sb sb;
	size_t i;
	double a, b;

	vs_sb_init(&sb);
	vs_sb_puts(&sb, "{\"mode\":\"compare\",\"vsetd\":");
	json_obj(&sb, v);
	vs_sb_puts(&sb, ",\"direct\":");
	json_obj(&sb, d);
	vs_sb_puts(&sb, ",\"ratio\":{");
	for (i = 0; i < sizeof(ratio_keys) / sizeof(ratio_keys[0]); i++) {
		a = ratio_val(v, ratio_keys[i].pct);
		b = ratio_val(d, ratio_keys[i].pct);
		vs_sb_printf(&sb, "%s\"%s\":", i ? "," : "", ratio_keys[i].name);
		if (b > 0)
			vs_sb_json_double(&sb, a / b);
		else
			vs_sb_puts(&sb, "null");
	}
	vs_sb_puts(&sb, "}}");
	return emit(f, &sb);
}

void
vb_report_compare_text(FILE *f, const vb_report *v, const vb_report *d)
{
	size_t i;
	double b;

	fprintf(f, "== through vsetd\n");
	vb_report_text(f, v);
	fprintf(f, "== direct to the shards\n");
	vb_report_text(f, d);
	fprintf(f, "== vsetd / direct\n        ");
	for (i = 0; i < sizeof(ratio_keys) / sizeof(ratio_keys[0]); i++) {
		b = ratio_val(d, ratio_keys[i].pct);
		if (b > 0)
			fprintf(f, " %s %.3f", ratio_keys[i].name,
			    ratio_val(v, ratio_keys[i].pct) / b);
		else
			fprintf(f, " %s n/a", ratio_keys[i].name);
	}
	fputc('\n', f);
}
