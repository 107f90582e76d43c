/*
 * vb_coord.c - the SURVEYOR side (see vb_coord.h).
 *
 * Surveys reach only the pipes connected when they are sent (nng drops a
 * survey to nobody silently), so before the first survey the coordinator
 * counts connected agents with nng_pipe_notify and waits for --agents of
 * them.  Each survey then expects an answer from every pipe that was
 * connected at send time, and stops waiting at its own deadline: an agent
 * that does not answer is reported, never waited on forever.
 *
 * The receive timeout is left infinite on purpose: nng bounds a surveyor's
 * receive by the survey time anyway, and in nng 1.5.2 a receive that times
 * out *earlier* cancels the whole survey (surv0_ctx_cancel drops the survey
 * id: later receives fail with NNG_ESTATE and late answers are discarded).
 * So the progress line and ^C handling live on a watcher thread instead
 * of in a polling receive loop.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <pthread.h>
#include <inttypes.h>
#include <signal.h>
#include <spawn.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/survey0/survey.h>
#include <nng/supplemental/util/platform.h>

#include "vb_coord.h"
#include "vb_dataset.h"
#include "vb_loader.h"
#include "vb_proc.h"
#include "vb_report.h"
#include "vb_survey.h"
#include "vb_truth.h"
#include "vs_time.h"

extern char **environ;

#define PREPARE_TIMEOUT_MS 120000    /* agents load the dataset */
#define BYE_TIMEOUT_MS 5000
#define RUN_SLACK_MS 15000           /* past the agents' hard stop */

static volatile sig_atomic_t coord_stop;
static atomic_int coord_pipes;

static void
on_signal(int sig)
{
	(void)sig;
	coord_stop = 1;
}

static void
on_pipe(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	if (ev == NNG_PIPE_EV_ADD_POST)
		atomic_fetch_add(&coord_pipes, 1);
	else if (ev == NNG_PIPE_EV_REM_POST)
		atomic_fetch_sub(&coord_pipes, 1);
}

struct coord {
	struct vb_run_opts *o;
	nng_socket sock;
	char url[512];               /* where agents dial */
	pid_t *kids;
	size_t nkids;
	uint64_t run_id;
	int progress;
};

/* ------------------------------------------------------------ agents */

static int
spawn_agents(struct coord *c)
{
	char idle[32];
	char *argv[10];
	size_t i;
	int rv;

	if ((c->kids = calloc(c->o->agents, sizeof(*c->kids))) == NULL)
		return -1;
	/* The agents outlive no run by much: idle timeout = the whole
	 * run's bound plus the waits around it. */
	snprintf(idle, sizeof(idle), "%u",
	    (c->o->plan.max_ms + c->o->plan.warmup_ms) / 1000 + 300);
	argv[0] = "vset-bench";
	argv[1] = "agent";
	argv[2] = "--coordinator";
	argv[3] = c->url;
	argv[4] = "--once";
	argv[5] = "--quiet";
	argv[6] = "--idle-timeout";
	argv[7] = idle;
	argv[8] = NULL;
	for (i = 0; i < c->o->agents; i++) {
		if ((rv = posix_spawn(&c->kids[i], c->o->self, NULL, NULL, argv,
		    environ)) != 0) {
			fprintf(stderr, "vset-bench: cannot start an agent: "
			    "%s\n", strerror(rv));
			return -1;
		}
		c->nkids++;
	}
	return 0;
}

/* Wait for the spawned agents (they leave after BYE), then make sure. */
static void
reap_agents(struct coord *c)
{
	int64_t until = vs_now_us() + 5000000;
	size_t i, left;
	int st;

	for (;;) {
		left = 0;
		for (i = 0; i < c->nkids; i++) {
			if (c->kids[i] <= 0)
				continue;
			if (waitpid(c->kids[i], &st, WNOHANG) == c->kids[i])
				c->kids[i] = 0;
			else
				left++;
		}
		if (left == 0 || vs_now_us() > until)
			break;
		nng_msleep(50);
	}
	for (i = 0; i < c->nkids; i++) {
		if (c->kids[i] <= 0)
			continue;
		kill(c->kids[i], SIGTERM);
		nng_msleep(500);
		if (waitpid(c->kids[i], &st, WNOHANG) != c->kids[i]) {
			kill(c->kids[i], SIGKILL);
			waitpid(c->kids[i], &st, 0);
		}
		c->kids[i] = 0;
	}
	free(c->kids);
	c->kids = NULL;
	c->nkids = 0;
}

static int
open_surveyor(struct coord *c)
{
	nng_listener l;
	nng_sockaddr sa;
	size_t n;
	int rv;

	if ((rv = nng_surveyor0_open(&c->sock)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_ADD_POST, on_pipe,
	    NULL)) != 0 ||
	    (rv = nng_pipe_notify(c->sock, NNG_PIPE_EV_REM_POST, on_pipe,
	    NULL)) != 0 ||
	    (rv = nng_socket_set_ms(c->sock, NNG_OPT_RECVTIMEO,
	    NNG_DURATION_INFINITE)) != 0 ||
	    (rv = nng_listener_create(&l, c->sock, c->o->listen)) != 0 ||
	    (rv = nng_listener_set_size(l, NNG_OPT_RECVMAXSZ,
	    16u << 20)) != 0 ||
	    (rv = nng_listener_start(l, 0)) != 0) {
		fprintf(stderr, "vset-bench: listen on %s: %s\n",
		    c->o->listen, nng_strerror(rv));
		return -1;
	}
	snprintf(c->url, sizeof(c->url), "%s", c->o->listen);
	/* Port 0: tell the real one (agents and scripts need it). */
	n = strlen(c->url);
	if (n > 2 && strcmp(c->url + n - 2, ":0") == 0 &&
	    nng_listener_get_addr(l, NNG_OPT_LOCADDR, &sa) == 0 &&
	    sa.s_family == NNG_AF_INET)
		snprintf(c->url + n - 1, sizeof(c->url) - n + 1, "%u",
		    (unsigned)ntohs(sa.s_in.sa_port));
	fprintf(stderr, "vset-bench: listening on %s\n", c->url);
	return 0;
}

static int
wait_agents(struct coord *c)
{
	int64_t until = vs_now_us() + (int64_t)c->o->agent_wait_s * 1000000;
	int n;

	while ((n = atomic_load(&coord_pipes)) < (int)c->o->agents) {
		if (coord_stop || vs_now_us() > until) {
			fprintf(stderr, "vset-bench: %d of %zu agents connected "
			    "after %d s; giving up\n", n, c->o->agents,
			    c->o->agent_wait_s);
			return -1;
		}
		if (c->progress)
			fprintf(stderr, "\r\033[K[run] waiting for agents: "
			    "%d/%zu", n, c->o->agents);
		nng_msleep(50);
	}
	if (c->progress)
		fprintf(stderr, "\r\033[K");
	return 0;
}

/* ------------------------------------------------------------ surveys */

struct watcher {
	struct coord *c;
	const char *what;
	int64_t t0;
	atomic_int done;
	atomic_size_t got;
	size_t expected;
};

/* While a survey is out: the progress line, and ^C (closing the socket is
 * the one way to end a blocked receive). */
static void *
watch_main(void *arg)
{
	struct watcher *w = arg;
	int closed = 0;

	while (!atomic_load(&w->done)) {
		nng_msleep(100);
		if (coord_stop && !closed) {
			nng_close(w->c->sock);
			closed = 1;
		}
		if (w->c->progress && !atomic_load(&w->done))
			fprintf(stderr, "\r\033[K[%s] %.1f s, %zu/%zu agents "
			    "answered", w->what,
			    (double)(vs_now_us() - w->t0) / 1e6,
			    atomic_load(&w->got), w->expected);
	}
	return NULL;
}

/* Send a survey and gather one reply per agent connected at send time.
 * replies[] gets up to `cap` distinct agents' replies (caller frees).
 * Returns the number gathered; *expected is how many were asked. */
static size_t
survey(struct coord *c, Vsetbench__V1__SurveyKind kind,
    Vsetbench__V1__Plan *plan, uint32_t timeout_ms, const char *what,
    Vsetbench__V1__AgentReply **replies, size_t cap, size_t *expected)
{
	Vsetbench__V1__Survey s = VSETBENCH__V1__SURVEY__INIT;
	Vsetbench__V1__AgentReply *r;
	struct watcher w;
	pthread_t wt;
	int64_t t0, until;
	size_t got = 0, i;
	int rv, dup, watching;

	s.kind = kind;
	s.run_id = c->run_id;
	s.plan = plan;
	*expected = (size_t)atomic_load(&coord_pipes);
	if (*expected > cap)
		*expected = cap;
	if ((rv = nng_socket_set_ms(c->sock, NNG_OPT_SURVEYOR_SURVEYTIME,
	    (nng_duration)timeout_ms)) != 0 ||
	    (rv = vb_send_pb(c->sock, &s.base)) != 0) {
		fprintf(stderr, "vset-bench: %s survey: %s\n", what,
		    nng_strerror(rv));
		return 0;
	}
	t0 = vs_now_us();
	until = t0 + (int64_t)timeout_ms * 1000;
	memset(&w, 0, sizeof(w));
	w.c = c;
	w.what = what;
	w.t0 = t0;
	w.expected = *expected;
	watching = pthread_create(&wt, NULL, watch_main, &w) == 0;
	while (got < *expected && !coord_stop && vs_now_us() < until) {
		rv = vb_recv_reply(c->sock, &r);
		if (rv == NNG_ETIMEDOUT || rv == NNG_ESTATE ||
		    rv == NNG_ECLOSED)
			break;       /* the survey expired, or ^C */
		if (rv == NNG_EINVAL)
			continue;    /* not one of our messages: skip it */
		if (rv != 0) {
			fprintf(stderr, "vset-bench: %s: %s\n", what,
			    nng_strerror(rv));
			break;
		}
		dup = 0;
		for (i = 0; i < got; i++)
			dup |= replies[i]->agent_id == r->agent_id;
		if (dup || r->kind != kind || r->run_id != c->run_id) {
			vsetbench__v1__agent_reply__free_unpacked(r, NULL);
			continue;
		}
		replies[got++] = r;
		atomic_store(&w.got, got);
	}
	atomic_store(&w.done, 1);
	if (watching)
		pthread_join(wt, NULL);
	if (c->progress)
		fprintf(stderr, "\r\033[K");
	if (got < *expected)
		fprintf(stderr, "vset-bench: %s: %zu of %zu agents answered "
		    "in time\n", what, got, *expected);
	return got;
}

static void
free_replies(Vsetbench__V1__AgentReply **r, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++)
		vsetbench__v1__agent_reply__free_unpacked(r[i], NULL);
}

/* Fold one agent's RUN reply into the report.  -1 if it is unusable. */
static int
add_result(vb_report *rep, const Vsetbench__V1__AgentReply *a,
    vb_result *scratch)
{
	vb_agent_summary *s = &rep->agents[rep->nagents];
	size_t i;

	memset(scratch, 0, sizeof(*scratch));
	if (vs_hist_decode(&scratch->hist, a->hist.data, a->hist.len) != 0) {
		fprintf(stderr, "vset-bench: agent %016" PRIx64 " sent a bad "
		    "histogram\n", a->agent_id);
		return -1;
	}
	scratch->elapsed_us = a->elapsed_us;
	scratch->requests = a->requests;
	for (i = 0; i < a->n_codes; i++)
		if (a->codes[i]->code < VB_NCODES)
			scratch->codes[a->codes[i]->code] += a->codes[i]->count;
	scratch->partial = a->partial;
	scratch->searches = a->searches;
	scratch->inserts = a->inserts;
	scratch->deletes = a->deletes;
	scratch->gets = a->gets;
	scratch->items = a->items;
	scratch->recall_hits = a->recall_hits;
	scratch->recall_total = a->recall_total;
	scratch->late = a->late;
	scratch->cpu_s = a->cpu_s;
	vb_result_merge(&rep->total, scratch);
	if (a->elapsed_us > 0)
		rep->qps += (double)a->requests * 1e6 / (double)a->elapsed_us;
	s->id = a->agent_id;
	snprintf(s->host, sizeof(s->host), "%s", a->host);
	s->pid = a->pid;
	s->requests = a->requests;
	s->hist_count = vs_hist_count(&scratch->hist);
	s->elapsed_us = a->elapsed_us;
	rep->nagents++;
	return 0;
}

static int
sample_shards(struct vb_run_opts *o, double *cpu)
{
	vb_proc_sample s;
	size_t i;

	*cpu = 0;
	for (i = 0; i < o->n_shard_pids; i++) {
		if (vb_proc_read(o->shard_pids[i], &s) != 0)
			return -1;
		*cpu += s.cpu_s;
	}
	return 0;
}

/* PREPARE and RUN with o->plan as it is now.  0 when every agent ran
 * the plan. */
static int
drive_agents(struct coord *c, vb_report *rep)
{
	struct vb_run_opts *o = c->o;
	Vsetbench__V1__AgentReply **rs = NULL;
	vb_proc_sample v0, v1;
	vb_result *scratch = NULL;
	size_t cap, got, want, i;
	double s0 = 0, s1 = 0;
	int rv = -1, have_v, have_s;

	cap = o->agents * 4 + 64;    /* extra agents may be connected */
	rs = calloc(cap, sizeof(*rs));
	rep->agents = calloc(cap, sizeof(*rep->agents));
	scratch = malloc(sizeof(*scratch));
	if (rs == NULL || rep->agents == NULL || scratch == NULL)
		goto out;
	if (getrandom(&c->run_id, sizeof(c->run_id), 0) != sizeof(c->run_id))
		c->run_id = (uint64_t)vs_now_us();

	got = survey(c, VSETBENCH__V1__SURVEY_KIND__PREPARE, &o->plan,
	    PREPARE_TIMEOUT_MS, "prepare", rs, cap, &want);
	for (i = 0; i < got; i++)
		if (rs[i]->error[0] != '\0') {
			fprintf(stderr, "vset-bench: agent %016" PRIx64 " (%s):"
			    " %s\n", rs[i]->agent_id, rs[i]->host,
			    rs[i]->error);
			want = cap + 1;      /* mark failure */
		}
	free_replies(rs, got);
	if (got < want || got < o->agents)
		goto out;

	/* vsetd's CPU only when the run goes through it. */
	have_v = !o->plan.direct && o->vsetd_pid > 0 &&
	    vb_proc_read(o->vsetd_pid, &v0) == 0;
	have_s = o->n_shard_pids > 0 && sample_shards(o, &s0) == 0;
	got = survey(c, VSETBENCH__V1__SURVEY_KIND__RUN, NULL,
	    o->plan.max_ms + o->plan.warmup_ms + RUN_SLACK_MS, "run", rs,
	    cap, &want);
	have_v = have_v && vb_proc_read(o->vsetd_pid, &v1) == 0;
	have_s = have_s && sample_shards(o, &s1) == 0;
	rep->have_run = 1;
	for (i = 0; i < got; i++) {
		if (rs[i]->error[0] != '\0') {
			fprintf(stderr, "vset-bench: agent %016" PRIx64 ": "
			    "%s\n", rs[i]->agent_id, rs[i]->error);
			want = cap + 1;
			continue;
		}
		if (add_result(rep, rs[i], scratch) != 0)
			want = cap + 1;
	}
	free_replies(rs, got);
	if (have_v) {
		rep->have_vsetd_cpu = 1;
		rep->vsetd_cpu_s = v1.cpu_s - v0.cpu_s;
		rep->vsetd_rss_before_kb = v0.rss_kb;
		rep->vsetd_rss_after_kb = v1.rss_kb;
		rep->vsetd_switches = v0.switches >= 0 && v1.switches >= 0 ?
		    v1.switches - v0.switches : -1;
	}
	if (have_s) {
		rep->have_shard_cpu = 1;
		rep->shards_cpu_s = s1 - s0;
	}
	rv = got == want && got >= o->agents ? 0 : -1;
out:
	free(rs);
	free(scratch);
	return rv;
}

/* BYE: agents drop their connections (and with --once, leave). */
static void
say_bye(struct coord *c)
{
	Vsetbench__V1__AgentReply *rs[256];
	size_t got, want;

	got = survey(c, VSETBENCH__V1__SURVEY_KIND__BYE, NULL,
	    BYE_TIMEOUT_MS, "bye", rs, sizeof(rs) / sizeof(rs[0]), &want);
	free_replies(rs, got);
}

/* One timed run into rep (direct or not, as o->plan says).  Returns the
 * exit status so far: 0, 3 (some agent missing) or 1 (no results). */
static int
timed_run(struct coord *c, vb_report *rep)
{
	rep->direct = c->o->plan.direct;
	if (drive_agents(c, rep) == 0)
		return 0;
	if (rep->have_run && rep->nagents > 0) {
		fprintf(stderr, "vset-bench: partial results (not every agent "
		    "answered)\n");
		return 3;
	}
	return 1;
}

/* ------------------------------------------------------------ main */

int
vb_coord_main(struct vb_run_opts *o)
{
	struct coord c;
	vb_dataset ds;
	vb_report *rep = NULL, *rep2 = NULL;
	uint32_t *truth = NULL;
	char err[512];
	struct sigaction sa;
	int status = 1, status2, cached, window;

	memset(&c, 0, sizeof(c));
	memset(&ds, 0, sizeof(ds));
	c.o = o;
	c.sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	c.progress = !o->quiet && isatty(2);
	window = o->plan.duration_ms != 0 || o->plan.requests != 0;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if ((rep = calloc(1, sizeof(*rep))) == NULL ||
	    (rep2 = calloc(1, sizeof(*rep2))) == NULL)
		goto out;
	vs_hist_reset(&rep->total.hist);
	rep->plan = &o->plan;
	rep->total_rate = o->total_rate;
	rep->recall_asked = o->recall;
	rep->direct = o->plan.direct;
	vs_hist_reset(&rep2->total.hist);
	rep2->plan = &o->plan;
	rep2->total_rate = o->total_rate;
	rep2->recall_asked = o->recall;

	if (vb_dataset_open(&ds, o->plan.dataset, o->plan.limit,
	    o->plan.nqueries, err, sizeof(err)) != 0) {
		fprintf(stderr, "vset-bench: %s\n", err);
		goto out;
	}
	rep->rows = rep2->rows = ds.n;
	rep->dim = rep2->dim = ds.dim;
	/* Agents draw queries from what the dataset really has. */
	o->plan.nqueries = (uint32_t)ds.nq;
	if (o->load) {
		if (vb_load(&o->plan, &ds, o->load_batch, o->load_concurrency,
		    c.progress, &rep->load, err, sizeof(err)) != 0) {
			fprintf(stderr, "vset-bench: load: %s\n", err);
			goto out;
		}
		rep->have_load = 1;
		if (!o->quiet)
			fprintf(stderr, "vset-bench: loaded %" PRIu64 " items "
			    "in %.2f s\n", rep->load.items, rep->load.seconds);
	}
	if (window && o->recall) {
		if (o->plan.k > ds.n) {
			fprintf(stderr, "vset-bench: -k %u exceeds the %zu "
			    "rows\n", o->plan.k, ds.n);
			goto out;
		}
		if ((truth = malloc(ds.nq * o->plan.k * sizeof(*truth) +
		    1)) == NULL)
			goto out;
		if (!o->quiet)
			fprintf(stderr, "vset-bench: ground truth for %zu "
			    "queries over %zu rows...\n", ds.nq, ds.n);
		if (vb_truth_get(&ds, o->plan.k, o->cache_dir, truth,
		    &cached) != 0) {
			fprintf(stderr, "vset-bench: ground truth failed\n");
			goto out;
		}
		if (!o->quiet && cached)
			fprintf(stderr, "vset-bench: ground truth from the "
			    "cache\n");
		o->plan.truth = truth;
		o->plan.n_truth = ds.nq * o->plan.k;
		o->plan.truth_k = o->plan.k;
	}
	if (window) {
		if (open_surveyor(&c) != 0)
			goto out;
		if (o->spawn && spawn_agents(&c) != 0)
			goto out;
		if (wait_agents(&c) != 0)
			goto out;
		/* --compare: the same agents run the same plan through
		 * vsetd, then straight to the shards, back to back. */
		status = timed_run(&c, rep);
		if (o->compare && status != 1) {
			o->plan.direct = 1;
			status2 = timed_run(&c, rep2);
			o->plan.direct = 0;
			if (status2 > status)
				status = status2;
		}
		say_bye(&c);
		if (status == 1)
			goto out;
	} else {
		status = 0;
	}
	if (o->compare && window) {
		if (o->json ? vb_report_compare_json(stdout, rep, rep2) != 0 :
		    (vb_report_compare_text(stdout, rep, rep2), 0) != 0)
			status = 1;
	} else if (o->json) {
		if (vb_report_json(stdout, rep) != 0)
			status = 1;
	} else {
		vb_report_text(stdout, rep);
	}
out:
	if (nng_socket_id(c.sock) > 0)
		nng_close(c.sock);
	reap_agents(&c);
	o->plan.truth = NULL;
	o->plan.n_truth = 0;
	free(truth);
	if (rep != NULL)
		free(rep->agents);
	if (rep2 != NULL)
		free(rep2->agents);
	free(rep);
	free(rep2);
	vb_dataset_free(&ds);
	return status;
}
