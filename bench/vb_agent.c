/*
 * vb_agent.c - the RESPONDENT side.
 *
 * The agent dials the coordinator (nng keeps redialling until it is there),
 * then answers surveys one at a time on its main thread: PREPARE loads the
 * dataset (kept across runs while the spec is the same) and connects;
 * RUN drives the load and answers the results; BYE drops the connections,
 * and with --once ends the process.
 *
 * Leaving on BYE, before the coordinator closes its socket, also keeps the
 * agent clear of nng 1.5.2's respondent crash when a surveyor disconnects
 * (nng #1959, fixed in 1.10).
 *
 * Every wait is bounded: --idle-timeout ends an agent that hears nothing.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#include <nng/nng.h>
#include <nng/protocol/survey0/respond.h>
#include <nng/supplemental/util/platform.h>

#include "vb_agent.h"
#include "vb_dataset.h"
#include "vb_engine.h"
#include "vb_survey.h"
#include "vs_time.h"
#include "vsetd.h"

static volatile sig_atomic_t agent_stop;

static void
on_signal(int sig)
{
	(void)sig;
	agent_stop = 1;
}

struct agent {
	nng_socket sock;
	uint64_t id;
	int quiet;
	char host[256];
	/* The dataset of the last PREPARE, reused while the spec matches. */
	vb_dataset ds;
	char *ds_spec;
	uint32_t ds_limit, ds_nq;
	/* The prepared run: the survey holding its plan, and the engine. */
	Vsetbench__V1__Survey *prepared;
	vb_engine *engine;
};

static void
agent_unprepare(struct agent *a)
{
	vb_engine_free(a->engine);
	a->engine = NULL;
	if (a->prepared != NULL)
		vsetbench__v1__survey__free_unpacked(a->prepared, NULL);
	a->prepared = NULL;
}

static int
agent_dataset(struct agent *a, const Vsetbench__V1__Plan *p, char *err,
    size_t errlen)
{
	if (a->ds_spec != NULL && strcmp(a->ds_spec, p->dataset) == 0 &&
	    a->ds_limit == p->limit && a->ds_nq == p->nqueries)
		return 0;
	vb_dataset_free(&a->ds);
	free(a->ds_spec);
	a->ds_spec = NULL;
	if (vb_dataset_open(&a->ds, p->dataset, p->limit, p->nqueries, err,
	    errlen) != 0)
		return -1;
	if ((a->ds_spec = strdup(p->dataset)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	a->ds_limit = p->limit;
	a->ds_nq = p->nqueries;
	return 0;
}

/* PREPARE: takes ownership of s. */
static void
on_prepare(struct agent *a, Vsetbench__V1__Survey *s,
    Vsetbench__V1__AgentReply *r, char *err, size_t errlen)
{
	agent_unprepare(a);
	if (s->plan == NULL) {
		snprintf(err, errlen, "PREPARE without a plan");
		goto fail;
	}
	if (agent_dataset(a, s->plan, err, errlen) != 0)
		goto fail;
	if (vb_engine_prepare(&a->engine, s->plan, &a->ds, a->id, err,
	    errlen) != 0)
		goto fail;
	a->prepared = s;
	return;
fail:
	r->error = err;
	vsetbench__v1__survey__free_unpacked(s, NULL);
}

/* RUN: fills r (codes and hist point into the caller's buffers). */
static void
on_run(struct agent *a, uint64_t run_id, Vsetbench__V1__AgentReply *r,
    vb_result *res, Vsetbench__V1__CodeCount *cc,
    Vsetbench__V1__CodeCount **ccp, uint8_t *hbuf, size_t hcap, char *err,
    size_t errlen)
{
	size_t i;

	if (a->engine == NULL || a->prepared->run_id != run_id) {
		snprintf(err, errlen, "RUN for a run this agent did not "
		    "prepare");
		r->error = err;
		return;
	}
	if (vb_engine_run(a->engine, res, !a->quiet && isatty(2), err,
	    errlen) != 0) {
		r->error = err;
		return;
	}
	r->hist.len = vs_hist_encode(&res->hist, hbuf, hcap);
	r->hist.data = hbuf;
	r->elapsed_us = res->elapsed_us;
	r->requests = res->requests;
	r->partial = res->partial;
	r->searches = res->searches;
	r->inserts = res->inserts;
	r->deletes = res->deletes;
	r->gets = res->gets;
	r->items = res->items;
	r->recall_hits = res->recall_hits;
	r->recall_total = res->recall_total;
	r->late = res->late;
	r->cpu_s = res->cpu_s;
	for (i = 0; i < VB_NCODES; i++) {
		if (res->codes[i] == 0)
			continue;
		vsetbench__v1__code_count__init(&cc[r->n_codes]);
		cc[r->n_codes].code = (uint32_t)i;
		cc[r->n_codes].count = res->codes[i];
		ccp[r->n_codes] = &cc[r->n_codes];
		r->n_codes++;
	}
	r->codes = ccp;
}

static void
usage(FILE *f)
{
	fprintf(f,
	    "usage: vset-bench agent --coordinator URL [--once] "
	    "[--idle-timeout S] [--quiet]\n"
	    "  Dial the coordinator of `vset-bench run` and generate the load "
	    "it asks for.\n"
	    "  --once            exit after the first run's BYE\n"
	    "  --idle-timeout S  exit if no survey comes for S seconds "
	    "(default 600)\n"
	    "  --quiet           no live progress line\n");
}

int
vb_agent_main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "coordinator", required_argument, NULL, 'c' },
		{ "once", no_argument, NULL, 'o' },
		{ "idle-timeout", required_argument, NULL, 'i' },
		{ "quiet", no_argument, NULL, 'q' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct agent a;
	const char *url = NULL;
	int once = 0, idle_s = 600, opt, rv, status = 1, done = 0;
	int64_t last_heard;
	vb_result *res = NULL;
	uint8_t *hbuf = NULL;
	size_t hcap = 0;
	char err[512];
	struct sigaction sa;

	memset(&a, 0, sizeof(a));
	a.sock = (nng_socket)NNG_SOCKET_INITIALIZER;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (opt) {
		case 'c':
			url = optarg;
			break;
		case 'o':
			once = 1;
			break;
		case 'i':
			idle_s = atoi(optarg);
			break;
		case 'q':
			a.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (url == NULL || idle_s <= 0) {
		usage(stderr);
		return 2;
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (getrandom(&a.id, sizeof(a.id), 0) != sizeof(a.id))
		a.id = (uint64_t)vs_now_us() ^ ((uint64_t)getpid() << 32);
	gethostname(a.host, sizeof(a.host) - 1);
	hcap = 16 + 2 * 10 * VS_HIST_NBUCKETS + 50;
	if ((res = malloc(sizeof(*res))) == NULL ||
	    (hbuf = malloc(hcap)) == NULL) {
		fprintf(stderr, "vset-bench agent: out of memory\n");
		goto out;
	}
	if ((rv = nng_respondent0_open(&a.sock)) != 0 ||
	    (rv = nng_socket_set_ms(a.sock, NNG_OPT_RECVTIMEO, 500)) != 0 ||
	    (rv = nng_socket_set_ms(a.sock, NNG_OPT_RECONNMINT, 50)) != 0 ||
	    (rv = nng_socket_set_ms(a.sock, NNG_OPT_RECONNMAXT, 1000)) != 0 ||
	    (rv = nng_socket_set_size(a.sock, NNG_OPT_RECVMAXSZ,
	    64u << 20)) != 0) {
		fprintf(stderr, "vset-bench agent: socket: %s\n",
		    nng_strerror(rv));
		goto out;
	}
	/* Non-blocking dial: the coordinator may not be listening yet; nng
	 * keeps retrying in the background. */
	if ((rv = nng_dial(a.sock, url, NULL, NNG_FLAG_NONBLOCK)) != 0) {
		fprintf(stderr, "vset-bench agent: dial %s: %s\n", url,
		    nng_strerror(rv));
		goto out;
	}
	last_heard = vs_now_us();
	while (!agent_stop && !done) {
		Vsetbench__V1__AgentReply r = VSETBENCH__V1__AGENT_REPLY__INIT;
		Vsetbench__V1__CodeCount cc[VB_NCODES];
		Vsetbench__V1__CodeCount *ccp[VB_NCODES];
		Vsetbench__V1__Survey *s = NULL;

		rv = vb_recv_survey(a.sock, &s);
		if (rv == NNG_ETIMEDOUT) {
			if (vs_now_us() - last_heard > (int64_t)idle_s * 1000000) {
				fprintf(stderr, "vset-bench agent: no survey "
				    "for %d s, exiting\n", idle_s);
				goto out;
			}
			continue;
		}
		if (rv != 0) {
			fprintf(stderr, "vset-bench agent: receive: %s\n",
			    nng_strerror(rv));
			if (rv == NNG_EINVAL)
				continue;   /* not ours: ignore it */
			goto out;
		}
		last_heard = vs_now_us();
		err[0] = '\0';
		r.kind = s->kind;
		r.run_id = s->run_id;
		r.agent_id = a.id;
		r.host = a.host;
		r.pid = (uint32_t)getpid();
		switch (s->kind) {
		case VSETBENCH__V1__SURVEY_KIND__PREPARE:
			on_prepare(&a, s, &r, err, sizeof(err));
			s = NULL;   /* kept as a.prepared, or freed */
			break;
		case VSETBENCH__V1__SURVEY_KIND__RUN:
			on_run(&a, s->run_id, &r, res, cc, ccp, hbuf, hcap, err,
			    sizeof(err));
			break;
		case VSETBENCH__V1__SURVEY_KIND__BYE:
			agent_unprepare(&a);
			done = once;
			break;
		default:
			snprintf(err, sizeof(err), "unknown survey kind %d",
			    (int)s->kind);
			r.error = err;
			break;
		}
		if (s != NULL)
			vsetbench__v1__survey__free_unpacked(s, NULL);
		if ((rv = vb_send_pb(a.sock, &r.base)) != 0)
			/* The survey may have expired meanwhile: the
			 * coordinator reports the missing agent. */
			fprintf(stderr, "vset-bench agent: reply: %s\n",
			    nng_strerror(rv));
		if (r.error != NULL && r.error[0] != '\0')
			fprintf(stderr, "vset-bench agent: %s\n", r.error);
	}
	status = 0;
out:
	agent_unprepare(&a);
	vb_dataset_free(&a.ds);
	free(a.ds_spec);
	free(res);
	free(hbuf);
	/* Give the last reply time to leave before the socket closes. */
	if (nng_socket_id(a.sock) > 0) {
		nng_msleep(100);
		nng_close(a.sock);
	}
	return status;
}
