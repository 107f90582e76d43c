/*
 * vset_reshard.c - `vset reshard add|remove|status|abort`: drive and watch
 * an online move (issue 10; docs/operations.md, "Growing and shrinking").
 *
 * Why a driver loop in the client.  The server does one bounded,
 * idempotent step per ReshardStep call and keeps every bit of progress in
 * Redis, so whoever drives the move may die at any moment (kill -9, a lost
 * laptop) without harm: running the same command again calls
 * ReshardStart, which answers the move already under way, and stepping
 * goes on.  This file is therefore only pacing and reporting:
 *   - each step is its own RPC with the call deadline (--timeout-ms);
 *     UNAVAILABLE and DEADLINE_EXCEEDED are retried a bounded number of
 *     times with backoff (the step is idempotent), anything else stops;
 *   - between steps it waits what the server asks (retry_after_ms, e.g.
 *     while routers catch up) and what --rate needs;
 *   - Ctrl-C (or SIGTERM) only raises a flag: the step in flight finishes,
 *     then the command stops and says how to resume or abort.  A second
 *     Ctrl-C kills at once, which is just as safe;
 *   - progress: a bar redrawn in place on a terminal, one line per phase
 *     change (and at most every VSET_RS_LOG_EVERY_S) otherwise, and with
 *     --json nothing but one final report object on stdout.
 *
 * Ownership: every vs_reshard_state comes from libvsetd-client and is
 * freed here with vs_reshard_state_free(); the driver keeps only the
 * latest one.  Strings from argv are borrowed for the whole run.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "vs_json.h"
#include "vset.h"

/* A step answering UNAVAILABLE or DEADLINE_EXCEEDED is tried again this
 * many times, waiting VSET_RS_BACKOFF_MS, doubled each time up to
 * VSET_RS_BACKOFF_MAX_MS (0.25+0.5+1+2+4 s: a router restart fits). */
#define VSET_RS_RETRIES 5
#define VSET_RS_BACKOFF_MS 250
#define VSET_RS_BACKOFF_MAX_MS 4000
/* Largest --batch accepted here; the server caps it by its --max-batch. */
#define VSET_RS_MAX_BATCH 1000000UL
/* Largest --rate, elements per second. */
#define VSET_RS_MAX_RATE 1000000000UL
/* Without a terminal: a progress line at most this often (and on every
 * phase change). */
#define VSET_RS_LOG_EVERY_S 5.0
/* The rate shown is measured over the last this many seconds of steps. */
#define VSET_RS_RATE_WINDOW_S 5.0
#define VSET_RS_SAMPLES 64
/* Redraw the terminal bar at most this often. */
#define VSET_RS_BAR_EVERY_S 0.2
#define VSET_RS_BAR_WIDTH 24
/* Sleeps are cut into slices this long so that Ctrl-C is seen promptly
 * (the signal may be taken by one of nng's threads). */
#define VSET_RS_SLICE_MS 100
#define VSET_RS_MAX_ADDRS 16
/* The bar's estimate counts at most this many collections. */
#define VSET_RS_MAX_EST_COLLS 1000
#define VSET_RS_ADDR_MAX 300         /* host (DNS name or [IPv6]) and port */
#define VSET_RS_PORT_MAX 65535UL
#define MS_PER_S 1000.0
#define NS_PER_MS 1000000L
#define SECS_PER_MIN 60
#define SECS_PER_HOUR 3600

enum {
	OPT_HELP = VSET_OPT_LONG,
	OPT_BATCH,
	OPT_RATE,
	OPT_EXPECT,
	OPT_JSON,
	OPT_TIMEOUT,
};

enum rs_cmd { RS_ADD, RS_REMOVE, RS_STATUS, RS_ABORT };

static volatile sig_atomic_t rs_stop_signal;

/* Installed with SA_RESETHAND: a second Ctrl-C kills at once, which is
 * safe, since all progress is in Redis. */
static void
rs_on_signal(int sig)
{
	rs_stop_signal = sig;
}

/* The state of one run of the driver. */
struct rs_run {
	enum rs_cmd cmd;
	const char *cmdline;         /* "vset reshard add ..." for hints */
	const char *target;          /* add: the new primary */
	char removed[VSET_RS_ADDR_MAX + 1];  /* remove: the last shard */
	int json;
	int tty;                     /* stdout is a terminal: draw a bar */
	unsigned long batch;         /* 0 = server's default */
	unsigned long rate;          /* 0 = unlimited */
	int resumed;
	double t0;                   /* monotonic start of this run */
	uint64_t moved0;             /* copied+skipped when this run began */
	int have_moved0;
	/* progress reporting */
	int bar_shown;               /* the bar is on the current line */
	double last_draw, last_line;
	int last_phase;
	double sample_t[VSET_RS_SAMPLES];
	uint64_t sample_work[VSET_RS_SAMPLES];
	size_t n_samples, next_sample;
	vs_reshard_state *st;        /* the latest answer (owned) */
	/* Elements expected to move, from the collections' counts at the
	 * start (0: unknown).  The server's to_move grows page by page as
	 * the sources are listed, so without this the bar would always be
	 * full while copying. */
	uint64_t estimate;
	int err_code;                /* why it stopped early (VS_OK: it did not) */
	char err_msg[512];
};

/* ------------------------------------------------------------ time */

static double
rs_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Sleep ms, in slices, until a stop signal: 0, or -1 when stopped. */
static int
rs_sleep_ms(double ms)
{
	double end = rs_now() + ms / MS_PER_S, left;
	struct timespec ts;

	while (!rs_stop_signal && (left = end - rs_now()) > 0) {
		if (left * MS_PER_S > VSET_RS_SLICE_MS)
			left = VSET_RS_SLICE_MS / MS_PER_S;
		ts.tv_sec = (time_t)left;
		ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
		nanosleep(&ts, NULL);
	}
	return rs_stop_signal ? -1 : 0;
}

/* "1:02:03" / "2:03" / "--:--" into buf. */
static const char *
rs_hms(double s, char *buf, size_t len)
{
	long t;

	if (!(s >= 0) || s > (double)LONG_MAX / 2) {
		snprintf(buf, len, "--:--");
		return buf;
	}
	t = (long)(s + 0.5);
	if (t >= SECS_PER_HOUR)
		snprintf(buf, len, "%ld:%02ld:%02ld", t / SECS_PER_HOUR,
		    t % SECS_PER_HOUR / SECS_PER_MIN, t % SECS_PER_MIN);
	else
		snprintf(buf, len, "%ld:%02ld", t / SECS_PER_MIN,
		    t % SECS_PER_MIN);
	return buf;
}

/* ------------------------------------------------------------ addresses */

/*
 * host:port, host a DNS name / IPv4 address or an [IPv6] address, port
 * 1..65535: what the server takes in ReshardStart.shard and --shard.  0,
 * or -1 with the reason in err.
 */
static int
rs_check_addr(const char *a, size_t n, char *err, size_t errlen)
{
	const char *colon, *end = a + n;
	char port[8];
	unsigned long p;
	size_t i, plen;

	if (n == 0) {
		snprintf(err, errlen, "an address is empty");
		return -1;
	}
	if (n > VSET_RS_ADDR_MAX) {
		snprintf(err, errlen, "address '%.40s...' is too long", a);
		return -1;
	}
	if (a[0] == '[') {
		const char *rb = memchr(a, ']', n);

		if (rb == NULL || rb == a + 1 || rb + 1 >= end || rb[1] != ':') {
			snprintf(err, errlen, "address '%.*s' is not [IPv6]:PORT",
			    (int)n, a);
			return -1;
		}
		for (i = 1; a + i < rb; i++)
			if (!(a[i] == ':' || a[i] == '.' ||
			    (a[i] >= '0' && a[i] <= '9') ||
			    (a[i] >= 'a' && a[i] <= 'f') ||
			    (a[i] >= 'A' && a[i] <= 'F'))) {
				snprintf(err, errlen, "address '%.*s': '%c' "
				    "cannot be in an IPv6 address", (int)n, a,
				    a[i]);
				return -1;
			}
		colon = rb + 1;
	} else {
		colon = memchr(a, ':', n);
		if (colon != NULL &&
		    memchr(colon + 1, ':', (size_t)(end - colon - 1)) != NULL) {
			snprintf(err, errlen, "address '%.*s': write an IPv6 "
			    "host in brackets, [::1]:6379", (int)n, a);
			return -1;
		}
		if (colon == NULL || colon == a) {
			snprintf(err, errlen, "address '%.*s' is not HOST:PORT",
			    (int)n, a);
			return -1;
		}
		for (i = 0; a + i < colon; i++)
			if (!((a[i] >= '0' && a[i] <= '9') ||
			    (a[i] >= 'a' && a[i] <= 'z') ||
			    (a[i] >= 'A' && a[i] <= 'Z') || a[i] == '.' ||
			    a[i] == '-' || a[i] == '_')) {
				snprintf(err, errlen, "address '%.*s': '%c' "
				    "cannot be in a host name", (int)n, a, a[i]);
				return -1;
			}
	}
	plen = (size_t)(end - colon - 1);
	if (plen == 0 || plen >= sizeof(port)) {
		snprintf(err, errlen, "address '%.*s' needs a port 1..%lu",
		    (int)n, a, VSET_RS_PORT_MAX);
		return -1;
	}
	memcpy(port, colon + 1, plen);
	port[plen] = '\0';
	if (vset_parse_uint(port, 1, VSET_RS_PORT_MAX, &p) != 0) {
		snprintf(err, errlen, "address '%.*s': port '%s' is not a "
		    "number 1..%lu", (int)n, a, port, VSET_RS_PORT_MAX);
		return -1;
	}
	return 0;
}

/* "PRIMARY[,REPLICA...]": every part checked; *primary_len is the length
 * of the first.  *n_replicas counts the rest. */
static int
rs_check_shard_arg(const char *s, size_t *primary_len, size_t *n_replicas,
    char *err, size_t errlen)
{
	const char *p = s, *comma;
	size_t n, k = 0;

	do {
		comma = strchr(p, ',');
		n = comma != NULL ? (size_t)(comma - p) : strlen(p);
		if (rs_check_addr(p, n, err, errlen) != 0)
			return -1;
		if (k == 0)
			*primary_len = n;
		else {
			size_t j;
			const char *q = s;

			/* A replica equal to the primary or to another one
			 * is certainly a typo. */
			for (j = 0; j < k; j++) {
				const char *qc = strchr(q, ',');
				size_t qn = (size_t)(qc - q);

				if (qn == n && memcmp(q, p, n) == 0) {
					snprintf(err, errlen, "address '%.*s' "
					    "is listed twice", (int)n, p);
					return -1;
				}
				q = qc + 1;
			}
		}
		if (++k > VSET_RS_MAX_ADDRS) {
			snprintf(err, errlen, "at most %d addresses (a primary "
			    "and its replicas)", VSET_RS_MAX_ADDRS);
			return -1;
		}
		p = comma != NULL ? comma + 1 : NULL;
	} while (p != NULL);
	*n_replicas = k - 1;
	return 0;
}

/* ------------------------------------------------------------ output */

static uint64_t
rs_moved(const vs_reshard_state *s)
{
	return s->progress.copied + s->progress.skipped;
}

/* Work done so far, what the rate and --rate count: elements copied or
 * skipped, and old copies deleted. */
static uint64_t
rs_work(const vs_reshard_state *s)
{
	return rs_moved(s) + s->progress.cleaned;
}

/* Clear the bar's line before printing anything else on stdout. */
static void
rs_unbar(struct rs_run *r)
{
	if (r->bar_shown) {
		fputs("\r\033[K", stdout);
		fflush(stdout);
		r->bar_shown = 0;
	}
}

/* A note for people: stdout, except with --json (stdout is the report's
 * alone), then stderr. */
static void
rs_note(struct rs_run *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void
rs_note(struct rs_run *r, const char *fmt, ...)
{
	FILE *f = r->json ? stderr : stdout;
	va_list ap;

	rs_unbar(r);
	va_start(ap, fmt);
	vfprintf(f, fmt, ap);
	va_end(ap);
	fputc('\n', f);
	fflush(f);
}

static void
rs_sample(struct rs_run *r, double t, uint64_t work)
{
	r->sample_t[r->next_sample] = t;
	r->sample_work[r->next_sample] = work;
	r->next_sample = (r->next_sample + 1) % VSET_RS_SAMPLES;
	if (r->n_samples < VSET_RS_SAMPLES)
		r->n_samples++;
}

/* Elements per second over the last VSET_RS_RATE_WINDOW_S (or over what
 * is there); -1 when not known yet. */
static double
rs_rate(const struct rs_run *r)
{
	size_t newest, oldest, i, k;
	double dt;

	if (r->n_samples < 2)
		return -1;
	newest = (r->next_sample + VSET_RS_SAMPLES - 1) % VSET_RS_SAMPLES;
	oldest = newest;
	for (k = 1; k < r->n_samples; k++) {
		i = (newest + VSET_RS_SAMPLES - k) % VSET_RS_SAMPLES;
		oldest = i;
		if (r->sample_t[newest] - r->sample_t[i] >= VSET_RS_RATE_WINDOW_S)
			break;
	}
	dt = r->sample_t[newest] - r->sample_t[oldest];
	if (dt <= 0 || r->sample_work[newest] < r->sample_work[oldest])
		return -1;
	return (double)(r->sample_work[newest] - r->sample_work[oldest]) / dt;
}

/* How many elements the move will have moved: the server's to_move, or
 * the estimate while copying when that is larger (to_move grows as the
 * sources are listed).  *approx: the estimate was used. */
static uint64_t
rs_total(const struct rs_run *r, int *approx)
{
	const vs_reshard_state *s = r->st;

	*approx = s->phase == VS_RESHARD_DUAL && r->cmd != RS_ABORT &&
	    r->estimate > s->progress.to_move;
	return *approx ? r->estimate : s->progress.to_move;
}

/* Seconds left: what remains to copy and then to clean, at the current
 * rate. */
static double
rs_eta(const struct rs_run *r, double rate)
{
	const vs_reshard_state *s = r->st;
	uint64_t left = 0, tm;
	int approx;

	tm = rs_total(r, &approx);
	if (rate <= 0)
		return -1;
	if (s->phase == VS_RESHARD_DUAL && rs_moved(s) < tm)
		left += tm - rs_moved(s);
	if (s->phase != VS_RESHARD_STABLE && s->progress.cleaned < tm)
		left += tm - s->progress.cleaned;
	return (double)left / rate;
}

/* What the bar and the lines count in this phase: moved while copying
 * (DUAL), old copies deleted while cleaning (SWITCHED, or an abort). */
static void
rs_phase_count(const struct rs_run *r, const char **what, uint64_t *done,
    uint64_t *of, int *approx)
{
	const vs_reshard_state *s = r->st;

	*of = rs_total(r, approx);
	if (s->phase == VS_RESHARD_DUAL) {
		*what = "moved";
		*done = rs_moved(s);
	} else {
		*what = "cleaned";
		*done = s->progress.cleaned;
	}
}

static void
rs_draw_bar(struct rs_run *r, double now)
{
	const vs_reshard_state *s = r->st;
	char bar[VSET_RS_BAR_WIDTH + 1], eta[24], rate[32];
	const char *what;
	uint64_t done, of;
	double frac, rt = rs_rate(r);
	int i, fill, approx;

	rs_phase_count(r, &what, &done, &of, &approx);
	frac = of > 0 ? (double)done / (double)of : 0;
	if (frac > 1)
		frac = 1;
	fill = (int)(frac * VSET_RS_BAR_WIDTH);
	for (i = 0; i < VSET_RS_BAR_WIDTH; i++)
		bar[i] = i < fill ? '#' : '-';
	bar[VSET_RS_BAR_WIDTH] = '\0';
	if (rt >= 0)
		snprintf(rate, sizeof(rate), "%.0f/s", rt);
	else
		snprintf(rate, sizeof(rate), "-/s");
	printf("\r[%s] %3d%% %s %" PRIu64 "/%s%" PRIu64 "  %s  %s left  %s"
	    "\033[K", bar, (int)(frac * 100), what, done, approx ? "~" : "",
	    of, rate, rs_hms(rs_eta(r, rt), eta, sizeof(eta)),
	    vs_reshard_phase_name(s->phase));
	fflush(stdout);
	r->bar_shown = 1;
	r->last_draw = now;
}

static void
rs_print_line(struct rs_run *r, double now)
{
	const vs_reshard_state *s = r->st;
	double rt = rs_rate(r);
	char eta[24];
	uint64_t of;
	int approx;

	of = rs_total(r, &approx);
	printf("%s: epoch %" PRIu64 ", moved %" PRIu64 " of %s%" PRIu64
	    " (copied %" PRIu64 ", skipped %" PRIu64 "), cleaned %" PRIu64,
	    vs_reshard_phase_name(s->phase), s->epoch, rs_moved(s),
	    approx ? "~" : "", of, s->progress.copied, s->progress.skipped,
	    s->progress.cleaned);
	if (rt >= 0)
		printf(", %.0f elements/s (copied, skipped or cleaned), %s "
		    "left", rt,
		    rs_hms(rs_eta(r, rt), eta, sizeof(eta)));
	putchar('\n');
	fflush(stdout);
	r->last_line = now;
}

/* Show the latest state: bar, line, or nothing (--json). */
static void
rs_progress(struct rs_run *r)
{
	double now = rs_now();
	int phase_changed = r->st->phase != r->last_phase;

	rs_sample(r, now, rs_work(r->st));
	if (!r->have_moved0) {
		r->moved0 = rs_moved(r->st);
		r->have_moved0 = 1;
	}
	if (!r->json) {
		if (r->tty) {
			if (phase_changed && r->bar_shown)
				putchar('\n');  /* keep the finished phase's bar */
			if (phase_changed || r->st->done ||
			    now - r->last_draw >= VSET_RS_BAR_EVERY_S)
				rs_draw_bar(r, now);
		} else if (!r->st->done && (phase_changed ||
		    now - r->last_line >= VSET_RS_LOG_EVERY_S)) {
			/* (the "done:" line says the rest) */
			rs_print_line(r, now);
		}
	}
	r->last_phase = r->st->phase;
}

static void
rs_json_strv(vs_sb *sb, char *const *v, size_t n)
{
	size_t i;

	vs_sb_putc(sb, '[');
	for (i = 0; i < n; i++) {
		if (i)
			vs_sb_putc(sb, ',');
		vs_sb_json_str(sb, v[i], strlen(v[i]));
	}
	vs_sb_putc(sb, ']');
}

static const char *
rs_cmd_name(enum rs_cmd c)
{
	switch (c) {
	case RS_ADD:
		return "add";
	case RS_REMOVE:
		return "remove";
	case RS_ABORT:
		return "abort";
	default:
		return "status";
	}
}

/* Elements moved per second by this run. */
static double
rs_run_rate(const struct rs_run *r, double elapsed)
{
	uint64_t m = rs_moved(r->st);

	if (elapsed <= 0 || m < r->moved0)
		return 0;
	return (double)(m - r->moved0) / elapsed;
}

/* The final report: one JSON object, or a summary line. */
static int
rs_report(struct rs_run *r)
{
	const vs_reshard_state *s = r->st;
	double elapsed = rs_now() - r->t0;
	vs_sb sb;

	rs_unbar(r);
	if (!r->json) {
		if (!s->done)
			return 0;
		if (r->cmd == RS_ABORT)
			printf("aborted: back to %zu shards at epoch %" PRIu64
			    ", copies deleted, in %.1f s\n", s->n_shards,
			    s->epoch, elapsed);
		else
			printf("done: shard %s %s; %zu shards at epoch %" PRIu64
			    "; moved %" PRIu64 " (copied %" PRIu64 ", skipped %"
			    PRIu64 "), cleaned %" PRIu64 " in %.1f s (moved %.0f "
			    "elements/s overall)\n", r->cmd == RS_ADD ? r->target :
			    r->removed[0] ? r->removed : "(the last)",
			    r->cmd == RS_ADD ? "added" : "removed",
			    s->n_shards, s->epoch, rs_moved(s), s->progress.copied,
			    s->progress.skipped, s->progress.cleaned, elapsed,
			    rs_run_rate(r, elapsed));
		return 0;
	}
	vs_sb_init(&sb);
	vs_sb_printf(&sb, "{\"command\":\"%s\",\"done\":%s,\"resumed\":%s,"
	    "\"epoch\":%" PRIu64 ",\"phase\":\"%s\",\"move\":\"%s\","
	    "\"shards\":", rs_cmd_name(r->cmd), s->done ? "true" : "false",
	    r->resumed ? "true" : "false", s->epoch,
	    vs_reshard_phase_name(s->phase), vs_reshard_move_name(s->move));
	rs_json_strv(&sb, s->shards, s->n_shards);
	vs_sb_printf(&sb, ",\"to_move\":%" PRIu64 ",\"moved\":%" PRIu64
	    ",\"copied\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"cleaned\":%"
	    PRIu64 ",\"elapsed_s\":", s->progress.to_move, rs_moved(s),
	    s->progress.copied, s->progress.skipped, s->progress.cleaned);
	vs_sb_json_double(&sb, elapsed);
	vs_sb_puts(&sb, ",\"rate\":");
	vs_sb_json_double(&sb, rs_run_rate(r, elapsed));
	if (r->err_code != VS_OK) {
		vs_sb_printf(&sb, ",\"error\":{\"code\":\"%s\",\"message\":",
		    vs_code_name(r->err_code));
		vs_sb_json_str(&sb, r->err_msg, strlen(r->err_msg));
		vs_sb_putc(&sb, '}');
	}
	vs_sb_puts(&sb, "}\n");
	return vset_print_sb(&sb);
}

/* ------------------------------------------------------------ calls */

static int
rs_retryable(int code)
{
	return code == VS_UNAVAILABLE || code == VS_DEADLINE_EXCEEDED;
}

/* Keep the last error for the report, and print it. */
static void
rs_fail(struct rs_run *r, int code)
{
	rs_unbar(r);
	r->err_code = code;
	snprintf(r->err_msg, sizeof(r->err_msg), "%s", vs_errmsg());
	vset_print_error(code);
}

typedef int (*rs_call_fn)(vs_client *c, uint32_t batch, const char *shard,
    const char *expect, vs_reshard_state **out);

static int
rs_call_step(vs_client *c, uint32_t batch, const char *shard,
    const char *expect, vs_reshard_state **out)
{
	(void)shard;
	(void)expect;
	return vs_reshard_step(c, batch, out);
}

static int
rs_call_add(vs_client *c, uint32_t batch, const char *shard,
    const char *expect, vs_reshard_state **out)
{
	(void)batch;
	(void)expect;
	return vs_reshard_start(c, VS_RESHARD_ADD, shard, NULL, out);
}

static int
rs_call_remove(vs_client *c, uint32_t batch, const char *shard,
    const char *expect, vs_reshard_state **out)
{
	(void)batch;
	(void)shard;
	return vs_reshard_start(c, VS_RESHARD_REMOVE, NULL, expect, out);
}

/*
 * One idempotent call (Start or Step), tried again on UNAVAILABLE or
 * DEADLINE_EXCEEDED.  On VS_OK r->st is the answer.  Otherwise the error
 * was printed; -1 means a stop signal came during a backoff.
 */
static int
rs_call_retrying(struct rs_run *r, vs_client *c, rs_call_fn fn,
    const char *shard, const char *expect, const char *what)
{
	vs_reshard_state *s = NULL;
	int attempt, code = VS_OK;
	double backoff = VSET_RS_BACKOFF_MS;

	for (attempt = 0; attempt <= VSET_RS_RETRIES; attempt++) {
		code = fn(c, (uint32_t)r->batch, shard, expect, &s);
		if (code == VS_OK) {
			vs_reshard_state_free(r->st);
			r->st = s;
			return VS_OK;
		}
		if (!rs_retryable(code) || attempt == VSET_RS_RETRIES)
			break;
		rs_unbar(r);
		fprintf(stderr, "warning: %s: %s: %s; trying again in %.2g s "
		    "(retry %d of %d)\n", what, vs_code_name(code), vs_errmsg(),
		    backoff / MS_PER_S, attempt + 1, VSET_RS_RETRIES);
		if (rs_sleep_ms(backoff) != 0)
			return -1;
		backoff *= 2;
		if (backoff > VSET_RS_BACKOFF_MAX_MS)
			backoff = VSET_RS_BACKOFF_MAX_MS;
	}
	rs_fail(r, code);
	if (rs_retryable(code))
		fprintf(stderr, "vset: gave up after %d retries\n",
		    VSET_RS_RETRIES);
	return code;
}

/* How to go on after the command stopped with a move still open. */
static void
rs_resume_hint(struct rs_run *r)
{
	const vs_reshard_state *s = r->st;

	rs_unbar(r);
	if (s == NULL || s->done)
		return;
	fprintf(stderr, "The move is still open (phase %s, epoch %" PRIu64
	    "); the routers keep serving.  To resume it, run the same command "
	    "again:\n  %s\n", vs_reshard_phase_name(s->phase), s->epoch,
	    r->cmdline);
	if (s->phase == VS_RESHARD_DUAL && r->cmd != RS_ABORT)
		fputs("or undo it (possible while the phase is DUAL):\n"
		    "  vset reshard abort\n", stderr);
}

/* Step until done.  The exit status. */
static int
rs_drive(struct rs_run *r, vs_client *c)
{
	double wait_ms, t_step;
	uint64_t before;
	int code;

	for (;;) {
		rs_progress(r);
		if (r->st->done)
			break;
		if (rs_stop_signal)
			goto stopped;
		wait_ms = r->st->retry_after_ms;
		if (wait_ms > 0 && rs_sleep_ms(wait_ms) != 0)
			goto stopped;
		before = rs_work(r->st);
		t_step = rs_now();
		code = rs_call_retrying(r, c, rs_call_step, NULL, NULL, "step");
		if (code == -1)
			goto stopped;
		if (code != VS_OK) {
			rs_report(r);
			rs_resume_hint(r);
			return VSET_EXIT_ERROR;
		}
		/* --rate: this step's elements must take at least
		 * work/rate seconds, counting the step itself. */
		if (r->rate > 0 && !r->st->done && rs_work(r->st) > before) {
			double need = (double)(rs_work(r->st) - before) /
			    (double)r->rate * MS_PER_S;
			double took = (rs_now() - t_step) * MS_PER_S;

			if (need > took && rs_sleep_ms(need - took) != 0) {
				rs_progress(r);
				goto stopped;
			}
		}
	}
	return rs_report(r) == 0 ? VSET_EXIT_OK : VSET_EXIT_ERROR;
stopped:
	rs_unbar(r);
	fprintf(stderr, "vset: stopped by %s after the current step\n",
	    rs_stop_signal == SIGINT ? "Ctrl-C" : "a signal");
	r->err_code = VS_CANCELLED;
	snprintf(r->err_msg, sizeof(r->err_msg), "stopped by a signal");
	rs_report(r);
	rs_resume_hint(r);
	return VSET_EXIT_STOPPED;
}

/* ------------------------------------------------------------ status */

static int
rs_status_json(const vs_reshard_state *s)
{
	vs_sb sb;
	size_t i;

	vs_sb_init(&sb);
	vs_sb_printf(&sb, "{\"epoch\":%" PRIu64 ",\"phase\":\"%s\",\"move\":"
	    "\"%s\",\"done\":%s,\"shards\":", s->epoch,
	    vs_reshard_phase_name(s->phase), vs_reshard_move_name(s->move),
	    s->done ? "true" : "false");
	rs_json_strv(&sb, s->shards, s->n_shards);
	vs_sb_puts(&sb, ",\"from\":");
	rs_json_strv(&sb, s->from, s->n_from);
	vs_sb_printf(&sb, ",\"progress\":{\"to_move\":%" PRIu64 ",\"moved\":%"
	    PRIu64 ",\"copied\":%" PRIu64 ",\"skipped\":%" PRIu64 ",\"cleaned\":%"
	    PRIu64 ",\"sources_total\":%u,\"sources_copied\":%u,"
	    "\"sources_cleaned\":%u},\"routers\":[", s->progress.to_move,
	    rs_moved(s), s->progress.copied, s->progress.skipped,
	    s->progress.cleaned, s->progress.sources_total,
	    s->progress.sources_copied, s->progress.sources_cleaned);
	for (i = 0; i < s->n_routers; i++) {
		const vs_reshard_router *rt = &s->routers[i];

		vs_sb_puts(&sb, i ? ",{\"id\":" : "{\"id\":");
		vs_sb_json_str(&sb, rt->id, strlen(rt->id));
		vs_sb_printf(&sb, ",\"epoch\":%" PRIu64 ",\"seen_ms_ago\":%"
		    PRIu64 ",\"behind\":%s}", rt->epoch, rt->seen_ms_ago,
		    rt->epoch < s->epoch ? "true" : "false");
	}
	vs_sb_puts(&sb, "]}\n");
	return vset_print_sb(&sb);
}

static void
rs_status_text(const vs_reshard_state *s)
{
	size_t i, behind = 0;

	printf("epoch %" PRIu64 "  phase %s  move %s\n", s->epoch,
	    vs_reshard_phase_name(s->phase), vs_reshard_move_name(s->move));
	printf("layout (%zu):", s->n_shards);
	for (i = 0; i < s->n_shards; i++)
		printf(" %s", s->shards[i]);
	putchar('\n');
	if (s->n_from > 0) {
		printf("from   (%zu):", s->n_from);
		for (i = 0; i < s->n_from; i++)
			printf(" %s", s->from[i]);
		putchar('\n');
	}
	if (s->move != VS_RESHARD_NONE)
		printf("progress: moved %" PRIu64 " of %" PRIu64 " (copied %"
		    PRIu64 ", skipped %" PRIu64 "), cleaned %" PRIu64
		    "; sources copied %u of %u, cleaned %u of %u\n",
		    rs_moved(s), s->progress.to_move, s->progress.copied,
		    s->progress.skipped, s->progress.cleaned,
		    s->progress.sources_copied, s->progress.sources_total,
		    s->progress.sources_cleaned, s->progress.sources_total);
	printf("routers (%zu):\n", s->n_routers);
	for (i = 0; i < s->n_routers; i++) {
		const vs_reshard_router *rt = &s->routers[i];

		printf("  %s  epoch %" PRIu64 "  seen %.1f s ago%s\n", rt->id,
		    rt->epoch, (double)rt->seen_ms_ago / MS_PER_S,
		    rt->epoch < s->epoch ? "  BEHIND" : "");
		if (rt->epoch < s->epoch)
			behind++;
	}
	if (behind > 0)
		printf("%zu router(s) behind epoch %" PRIu64 ": they adopt it "
		    "on their next heartbeat or write; one that stays behind "
		    "cannot reach the shards\n", behind, s->epoch);
}

/* ------------------------------------------------------------ command */

static const char reshard_help[] =
"Usage: vset [GLOBAL OPTIONS] reshard add HOST:PORT[,REPLICA:PORT...]\n"
"                                     [--batch N] [--rate N] [--json]\n"
"       vset [GLOBAL OPTIONS] reshard remove [--expect HOST:PORT]\n"
"                                     [--batch N] [--rate N] [--json]\n"
"       vset [GLOBAL OPTIONS] reshard status [--json]\n"
"       vset [GLOBAL OPTIONS] reshard abort [--batch N] [--json]\n"
"\n"
"Grow or shrink a live deployment.  Every router keeps serving while the\n"
"elements that change owner are copied (phase DUAL), reads switch to the\n"
"new layout (SWITCHED), and the old copies are deleted.  Jump hash can\n"
"only add or remove a shard at the END of the shard list: 'add' appends\n"
"a shard, 'remove' drains the last one into the others.\n"
"\n"
"  add HOST:PORT[,REPLICA:PORT...]\n"
"      append this Redis 8 server (holding no vsetd data) as the last\n"
"      shard and move onto it the elements it now owns.  The topology\n"
"      record stores primaries only: replicas listed here are checked\n"
"      but not sent, and routers use the new shard's primary until they\n"
"      are restarted with --shard PRIMARY,REPLICA.\n"
"  remove [--expect HOST:PORT]\n"
"      move the last shard's elements to their owners among the others,\n"
"      then drop it.  --expect: refuse unless the last shard is this one.\n"
"  status\n"
"      the topology epoch, phase, move, layouts, progress, and each live\n"
"      router with the epoch it routes by (flagged BEHIND when older than\n"
"      the record's).\n"
"  abort\n"
"      return to the layout before the move and delete the copies made.\n"
"      Only in phase DUAL (reads still use the old layout); later, let the\n"
"      move finish, then do the opposite move.\n"
"\n"
"Options:\n"
"  --batch N         elements per step, 1..1000000 (default: the\n"
"                    server's, 32; the server caps it by --max-batch)\n"
"  --rate N          at most N elements per second, counting copies,\n"
"                    skips and deleted old copies: sleep between steps\n"
"                    (default: no limit but the server's)\n"
"  --expect HOST:PORT  (remove) the last shard's primary\n"
"  --timeout-ms N    the deadline of each call (default: the global\n"
"                    --timeout-ms, 5000)\n"
"  --json            print nothing on stdout but one final report\n"
"  -h, --help        show this help\n"
"\n"
"Each step is one call with its own deadline.  A call answering\n"
"UNAVAILABLE or DEADLINE_EXCEEDED is retried up to 5 times (after 0.25,\n"
"0.5, 1, 2 and 4 s); then the command stops and says how to resume.\n"
"\n"
"Progress: on a terminal a bar redrawn in place (moved or cleaned of\n"
"those to move, rate over the last seconds, time left, phase); otherwise\n"
"one line per phase change, and at most every 5 s, then a 'done: ...'\n"
"line.  While the server still lists the elements, the total is an\n"
"estimate from the collections' counts, shown as ~N.\n"
"With --json, one object at the end (also when it stops early once the\n"
"move is open, then with \"done\":false and \"error\"; a refused start\n"
"prints only the error on stderr):\n"
"  {\"command\":\"add\",\"done\":true,\"resumed\":false,\"epoch\":N,\n"
"  \"phase\":\"stable\",\"move\":..,\"shards\":[..],\"to_move\":N,\"moved\":N,\n"
"  \"copied\":N,\"skipped\":N,\"cleaned\":N,\"elapsed_s\":S,\"rate\":R}\n"
"(moved = copied + skipped; rate: elements moved per second by this run).\n"
"status --json: {\"epoch\":N,\"phase\":..,\"move\":..,\"done\":B,\"shards\":[..],\n"
"  \"from\":[..],\"progress\":{\"to_move\":N,\"moved\":N,\"copied\":N,\n"
"  \"skipped\":N,\"cleaned\":N,\"sources_total\":N,\"sources_copied\":N,\n"
"  \"sources_cleaned\":N},\"routers\":[{\"id\":..,\"epoch\":N,\n"
"  \"seen_ms_ago\":N,\"behind\":B}]}\n"
"\n"
"Resuming: all progress lives in Redis.  If this command is killed (even\n"
"kill -9) or loses its router, run the same command again: it continues\n"
"where the move stopped and says \"resuming a move begun earlier\".\n"
"Ctrl-C stops after the current step and prints how to resume or abort;\n"
"a second Ctrl-C stops at once (just as safe).\n"
"\n"
"Exit status: 0 done (status: answered), 1 a call failed (an open move\n"
"stays open: run the same command to resume), 2 usage error (nothing was\n"
"sent), 3 stopped by Ctrl-C or SIGTERM with the move still open.\n";

/* "vset reshard add X ..." from argv, for the resume hint. */
static char *
rs_cmdline(int argc, char **argv)
{
	size_t len = sizeof("vset");
	char *s;
	int i;

	for (i = 0; i < argc; i++)
		len += strlen(argv[i]) + 1;
	if ((s = malloc(len)) == NULL)
		return NULL;
	strcpy(s, "vset");
	for (i = 0; i < argc; i++) {
		strcat(s, " ");
		strcat(s, argv[i]);
	}
	return s;
}

static int
rs_parse_cmd(const char *s, enum rs_cmd *out)
{
	static const struct {
		const char *name;
		enum rs_cmd cmd;
	} cmds[] = {
		{ "add", RS_ADD }, { "remove", RS_REMOVE },
		{ "status", RS_STATUS }, { "abort", RS_ABORT },
	};
	size_t i;

	for (i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(s, cmds[i].name) == 0) {
			*out = cmds[i].cmd;
			return 0;
		}
	return -1;
}

/*
 * r->estimate: the elements this move will move, from each collection's
 * counts (one Count call per collection, at most VSET_RS_MAX_EST_COLLS):
 * a remove moves everything on the last shard, an add about 1/(n+1) of
 * everything (jump hash).  Best effort: any failure leaves it 0 (the bar
 * then shows the server's to_move alone).
 */
static void
rs_estimate(struct rs_run *r, vs_client *c)
{
	const vs_reshard_state *s = r->st;
	vs_count_result *cr = NULL;
	char **names = NULL;
	size_t n = 0, i, nold = s->n_from;
	uint64_t total = 0, last = 0;

	if (s->phase != VS_RESHARD_DUAL || nold == 0 ||
	    vs_list_collections(c, &names, &n) != VS_OK)
		return;
	for (i = 0; i < n && i < VSET_RS_MAX_EST_COLLS; i++) {
		if (vs_count(c, names[i], &cr) != VS_OK)
			goto out;
		total += cr->count;
		if (cr->n_shards >= nold)
			last += cr->shard_counts[nold - 1];
		vs_count_result_free(cr);
	}
	r->estimate = r->cmd == RS_REMOVE ? last : total / (nold + 1);
out:
	vs_strings_free(names, n);
}

/* An abort cleaning up: phase STABLE, the move still open, and the layout
 * back to the one before it.  (STABLE with the NEW layout is a move that
 * is finishing its clean-up.) */
static int
rs_is_aborting(const vs_reshard_state *s)
{
	size_t i;

	if (s->phase != VS_RESHARD_STABLE || s->move == VS_RESHARD_NONE ||
	    s->done || s->n_shards != s->n_from)
		return 0;
	for (i = 0; i < s->n_shards; i++)
		if (strcmp(s->shards[i], s->from[i]) != 0)
			return 0;
	return 1;
}

/* Before Start: is this move already under way?  Then say so. */
static void
rs_check_resume(struct rs_run *r, vs_client *c, int move)
{
	vs_reshard_state *s = NULL;

	if (vs_reshard_status(c, &s) != VS_OK)
		return;              /* Start will say what is wrong */
	/* (an abort cleaning up is no move to resume: Start says so) */
	if (s->move == move && !s->done && !rs_is_aborting(s)) {
		r->resumed = 1;
		rs_note(r, "resuming a move begun earlier (phase %s, epoch %"
		    PRIu64 ", moved %" PRIu64 " of %" PRIu64 ", cleaned %"
		    PRIu64 ")", vs_reshard_phase_name(s->phase), s->epoch,
		    rs_moved(s), s->progress.to_move, s->progress.cleaned);
	}
	vs_reshard_state_free(s);
}

static int
rs_call_abort(vs_client *c, uint32_t batch, const char *shard,
    const char *expect, vs_reshard_state **out)
{
	(void)batch;
	(void)shard;
	(void)expect;
	return vs_reshard_abort(c, out);
}

/* abort: ReshardAbort (a repeated one answers the abort already under
 * way, so it is retried like a step), then the steps delete the copies. */
static int
rs_start_abort(struct rs_run *r, vs_client *c)
{
	vs_reshard_state *s = NULL;
	int code;

	if (vs_reshard_status(c, &s) == VS_OK && rs_is_aborting(s)) {
		r->resumed = 1;
		rs_note(r, "resuming an abort begun earlier (epoch %" PRIu64 ")",
		    s->epoch);
	}
	vs_reshard_state_free(s);
	code = rs_call_retrying(r, c, rs_call_abort, NULL, NULL, "abort");
	if (code == VS_FAILED_PRECONDITION)
		fputs("vset: abort is possible only while the move is in phase "
		    "DUAL (see 'vset reshard status'); once reads use the new "
		    "layout, let the move finish (run its command again) and "
		    "then do the opposite move\n", stderr);
	return code;
}

int
vset_cmd_reshard(const vset_global *g, int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "batch", required_argument, NULL, OPT_BATCH },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "expect", required_argument, NULL, OPT_EXPECT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "help", no_argument, NULL, OPT_HELP },
		{ NULL, 0, NULL, 0 },
	};
	const char *pos[2], *arg = NULL, *expect = NULL;
	struct rs_run r;
	struct sigaction sa, old_int, old_term;
	vset_global gl = *g;
	vs_client *c = NULL;
	char err[VSET_RS_ADDR_MAX + 100], primary[VSET_RS_ADDR_MAX + 1];
	size_t npos = 0, plen = 0, nrep = 0;
	unsigned long n;
	int rv = VSET_EXIT_USAGE, opt, code, have_batch = 0, have_rate = 0;
	int sigs = 0;
	vset_argp p;

	memset(&r, 0, sizeof(r));
	r.json = g->json;
	r.last_phase = -1;
	vset_argp_init(&p, "reshard", argc, argv, "h", longopts);
	while ((opt = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (opt) {
		case VSET_ARG_ERROR:
			goto out;
		case VSET_ARG_POSITIONAL:
			if (vset_argp_keep(&p, arg, pos, &npos, 2) != 0)
				goto out;
			break;
		case OPT_BATCH:
			if (vset_parse_uint(arg, 1, VSET_RS_MAX_BATCH, &n) != 0) {
				vset_usage_error("reshard", "--batch needs a "
				    "whole number 1..%lu, not '%s'",
				    VSET_RS_MAX_BATCH, arg);
				goto out;
			}
			r.batch = n;
			have_batch = 1;
			break;
		case OPT_RATE:
			if (vset_parse_uint(arg, 1, VSET_RS_MAX_RATE, &n) != 0) {
				vset_usage_error("reshard", "--rate needs a "
				    "whole number of elements per second, "
				    "1..%lu, not '%s'", VSET_RS_MAX_RATE, arg);
				goto out;
			}
			r.rate = n;
			have_rate = 1;
			break;
		case OPT_EXPECT:
			expect = arg;
			break;
		case OPT_JSON:
			r.json = 1;
			break;
		case OPT_TIMEOUT:
			if (vset_parse_uint(arg, 1, INT_MAX, &n) != 0) {
				vset_usage_error("reshard", "--timeout-ms needs "
				    "a whole number of 1 or more, not '%s'", arg);
				goto out;
			}
			gl.timeout_ms = (int)n;
			break;
		case 'h':
		case OPT_HELP:
			fputs(reshard_help, stdout);
			rv = VSET_EXIT_OK;
			goto out;
		}
	}
	if (npos == 0) {
		vset_usage_error("reshard", "missing what to do: add, remove, "
		    "status or abort");
		goto out;
	}
	if (rs_parse_cmd(pos[0], &r.cmd) != 0) {
		vset_usage_error("reshard", "unknown reshard command '%s' (add, "
		    "remove, status or abort)", pos[0]);
		goto out;
	}
	if (r.cmd == RS_ADD) {
		if (npos < 2) {
			vset_usage_error("reshard", "add needs the new shard: "
			    "HOST:PORT[,REPLICA:PORT...]");
			goto out;
		}
		if (rs_check_shard_arg(pos[1], &plen, &nrep, err,
		    sizeof(err)) != 0) {
			vset_usage_error("reshard", "add: %s", err);
			goto out;
		}
		memcpy(primary, pos[1], plen);
		primary[plen] = '\0';
		r.target = primary;
	} else if (npos > 1) {
		vset_usage_error("reshard", "%s takes no address%s", pos[0],
		    r.cmd == RS_REMOVE ? " (it always removes the last shard; "
		    "--expect HOST:PORT checks which that is)" : "");
		goto out;
	}
	if (expect != NULL && r.cmd != RS_REMOVE) {
		vset_usage_error("reshard", "--expect applies to remove only");
		goto out;
	}
	if (expect != NULL &&
	    rs_check_addr(expect, strlen(expect), err, sizeof(err)) != 0) {
		vset_usage_error("reshard", "--expect: %s", err);
		goto out;
	}
	if ((have_batch || have_rate) && r.cmd == RS_STATUS) {
		vset_usage_error("reshard", "status takes no --batch or --rate");
		goto out;
	}
	if (have_rate && r.cmd == RS_ABORT) {
		vset_usage_error("reshard", "abort takes no --rate");
		goto out;
	}

	rv = VSET_EXIT_ERROR;
	if ((r.cmdline = rs_cmdline(argc, argv)) == NULL) {
		fputs("vset: out of memory\n", stderr);
		goto out;
	}
	r.tty = isatty(STDOUT_FILENO);
	if (vset_connect(&gl, &c) != VS_OK)
		goto out;
	if (r.cmd == RS_STATUS) {
		if ((code = vs_reshard_status(c, &r.st)) != VS_OK) {
			vset_print_error(code);
			goto out;
		}
		if (r.json) {
			if (rs_status_json(r.st) != 0)
				goto out;
		} else {
			rs_status_text(r.st);
		}
		rv = VSET_EXIT_OK;
		goto out;
	}

	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rs_on_signal;
	sigemptyset(&sa.sa_mask);
	/* No SA_RESTART: cut sleeps short. */
	sa.sa_flags = SA_RESETHAND;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	sigs = 1;
	r.t0 = rs_now();
	if (nrep > 0)
		rs_note(&r, "note: the topology record stores primaries only; "
		    "routers use the new shard's primary %s until they are "
		    "restarted with --shard %s", primary, pos[1]);
	if (r.cmd == RS_ABORT) {
		code = rs_start_abort(&r, c);
	} else {
		rs_check_resume(&r, c, r.cmd == RS_ADD ? VS_RESHARD_ADD :
		    VS_RESHARD_REMOVE);
		code = rs_call_retrying(&r, c, r.cmd == RS_ADD ? rs_call_add :
		    rs_call_remove, primary, expect, "start");
		if (code == VS_OK && !r.resumed &&
		    (rs_work(r.st) > 0 || r.st->phase == VS_RESHARD_SWITCHED)) {
			r.resumed = 1;
			rs_note(&r, "resuming a move begun earlier (phase %s, "
			    "epoch %" PRIu64 ")",
			    vs_reshard_phase_name(r.st->phase), r.st->epoch);
		}
	}
	/* Done at once: the move was complete before this run (its driver
	 * died at the very end); the server says so in the step. */
	if (code == VS_OK && r.cmd != RS_ABORT && r.st->done &&
	    r.st->step != NULL && r.st->step[0] != '\0')
		rs_note(&r, "%s", r.st->step);
	/* The shard a remove drains: the old layout's last. */
	if (code == VS_OK && r.cmd == RS_REMOVE &&
	    r.st->n_from > r.st->n_shards)
		snprintf(r.removed, sizeof(r.removed), "%s",
		    r.st->from[r.st->n_from - 1]);
	if (code == VS_OK && r.cmd != RS_ABORT && !r.json)
		rs_estimate(&r, c);
	if (code == -1) {
		fprintf(stderr, "vset: stopped by a signal while waiting to "
		    "retry; nothing more was sent.  See 'vset reshard "
		    "status'; run the same command again to go on\n");
		rv = VSET_EXIT_STOPPED;
		goto out;
	}
	if (code != VS_OK)
		goto out;
	rv = rs_drive(&r, c);
out:
	if (sigs) {
		sigaction(SIGINT, &old_int, NULL);
		sigaction(SIGTERM, &old_term, NULL);
	}
	vs_reshard_state_free(r.st);
	free((char *)r.cmdline);
	vs_close(c);
	return rv;
}
