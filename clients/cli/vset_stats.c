/*
 * vset_stats.c - `vset stats`: poll one or more vsetd routers with an nng
 * survey and print their StatsReports (proto/vsetd/v1/stats.proto).
 *
 * Surveys reach only pipes connected when the survey is sent, so we dial
 * every URL, count connected pipes with nng_pipe_notify, and send only once
 * all are up (or the timeout says which are not).
 */
#include <nng/nng.h>
#include <nng/protocol/survey0/survey.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "stats.pb-c.h"
#include "vs_json.h"
#include "vset.h"

#define VSET_DEFAULT_SURVEY "tcp://127.0.0.1:5556"
#define VSET_MAX_ROUTERS 64

static pthread_mutex_t vset_pipes_mu = PTHREAD_MUTEX_INITIALIZER;
static int vset_pipes;

static void
vset_pipe_cb(nng_pipe p, nng_pipe_ev ev, void *arg)
{
	(void)p;
	(void)arg;
	pthread_mutex_lock(&vset_pipes_mu);
	vset_pipes += ev == NNG_PIPE_EV_ADD_POST ? 1 : -1;
	pthread_mutex_unlock(&vset_pipes_mu);
}

static int
vset_pipes_now(void)
{
	int n;

	pthread_mutex_lock(&vset_pipes_mu);
	n = vset_pipes;
	pthread_mutex_unlock(&vset_pipes_mu);
	return n;
}

static double
ms(double us)
{
	return us / 1000.0;
}

static void
vset_stats_text(const Vsetd__V1__StatsReport *r)
{
	size_t i, j;

	printf("router %s  vsetd %s  pid %llu  up %.1fs  inflight %d\n",
	    r->listen, r->version, (unsigned long long)r->pid,
	    (double)r->uptime_ms / 1000.0, r->inflight);
	printf("  %-16s %10s %10s %9s %9s %9s  %s\n", "method", "requests",
	    "errors", "p50_ms", "p99_ms", "max_ms", "codes");
	for (i = 0; i < r->n_methods; i++) {
		const Vsetd__V1__MethodStats *m = r->methods[i];
		uint64_t errs = 0;

		if (m->latency == NULL || m->latency->count == 0)
			continue;
		for (j = 0; j < m->n_codes; j++)
			if (strcmp(m->codes[j]->code, "OK") != 0)
				errs += m->codes[j]->count;
		printf("  %-16s %10llu %10llu %9.3f %9.3f %9.3f  ", m->method,
		    (unsigned long long)m->latency->count,
		    (unsigned long long)errs, ms(m->latency->p50_us),
		    ms(m->latency->p99_us), ms((double)m->latency->max_us));
		for (j = 0; j < m->n_codes; j++)
			printf("%s%s=%llu", j ? " " : "", m->codes[j]->code,
			    (unsigned long long)m->codes[j]->count);
		printf("\n");
	}
	printf("  %-5s %-22s %-6s %10s %8s %8s %9s %9s\n", "shard", "address",
	    "health", "ok", "errors", "timeouts", "p50_ms", "p99_ms");
	for (i = 0; i < r->n_shards; i++) {
		const Vsetd__V1__ShardStats *s = r->shards[i];

		printf("  %-5u %-22s %-6s %10llu %8llu %8llu %9.3f %9.3f\n",
		    s->shard, s->address, s->health,
		    (unsigned long long)s->ok, (unsigned long long)s->errors,
		    (unsigned long long)s->timeouts,
		    s->latency ? ms(s->latency->p50_us) : 0,
		    s->latency ? ms(s->latency->p99_us) : 0);
	}
	for (i = 0; i < r->n_shards; i++) {
		const Vsetd__V1__ShardStats *s = r->shards[i];

		if (s->sentinel_master == NULL || s->sentinel_master[0] == '\0')
			continue;
		printf("  shard %u: sentinel master %s, primary %s, replicas "
		    "%s, failovers %llu", s->shard, s->sentinel_master,
		    s->address, s->replicas[0] ? s->replicas : "(none)",
		    (unsigned long long)s->failovers);
		if (s->last_failover_unix_ms > 0) {
			time_t when = (time_t)(s->last_failover_unix_ms / 1000);
			struct tm tm;
			char buf[32];

			gmtime_r(&when, &tm);
			strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf(", last %s", buf);
		}
		printf("\n");
	}
}

static void
vset_json_latency(vs_sb *sb, const Vsetd__V1__Latency *l)
{
	if (l == NULL) {
		vs_sb_puts(sb, "null");
		return;
	}
	vs_sb_printf(sb, "{\"count\":%llu,\"p50_ms\":%.4f,\"p90_ms\":%.4f,"
	    "\"p99_ms\":%.4f,\"p999_ms\":%.4f,\"max_ms\":%.4f}",
	    (unsigned long long)l->count, ms(l->p50_us), ms(l->p90_us),
	    ms(l->p99_us), ms(l->p999_us), ms((double)l->max_us));
}

static void
vset_stats_json(vs_sb *sb, const Vsetd__V1__StatsReport *r)
{
	size_t i, j;

	vs_sb_puts(sb, "{\"listen\":");
	vs_sb_json_str(sb, r->listen, strlen(r->listen));
	vs_sb_puts(sb, ",\"version\":");
	vs_sb_json_str(sb, r->version, strlen(r->version));
	vs_sb_printf(sb, ",\"pid\":%llu,\"uptime_ms\":%llu,\"inflight\":%d,"
	    "\"methods\":[", (unsigned long long)r->pid,
	    (unsigned long long)r->uptime_ms, r->inflight);
	for (i = 0; i < r->n_methods; i++) {
		const Vsetd__V1__MethodStats *m = r->methods[i];

		vs_sb_puts(sb, i ? ",{\"method\":" : "{\"method\":");
		vs_sb_json_str(sb, m->method, strlen(m->method));
		vs_sb_puts(sb, ",\"codes\":{");
		for (j = 0; j < m->n_codes; j++)
			vs_sb_printf(sb, "%s\"%s\":%llu", j ? "," : "",
			    m->codes[j]->code,
			    (unsigned long long)m->codes[j]->count);
		vs_sb_puts(sb, "},\"latency\":");
		vset_json_latency(sb, m->latency);
		vs_sb_putc(sb, '}');
	}
	vs_sb_puts(sb, "],\"shards\":[");
	for (i = 0; i < r->n_shards; i++) {
		const Vsetd__V1__ShardStats *s = r->shards[i];

		vs_sb_printf(sb, "%s{\"shard\":%u,\"address\":", i ? "," : "",
		    s->shard);
		vs_sb_json_str(sb, s->address, strlen(s->address));
		vs_sb_printf(sb, ",\"health\":\"%s\",\"consecutive_failures\":%u,"
		    "\"ok\":%llu,\"errors\":%llu,\"timeouts\":%llu,\"latency\":",
		    s->health, s->consecutive_failures,
		    (unsigned long long)s->ok, (unsigned long long)s->errors,
		    (unsigned long long)s->timeouts);
		vset_json_latency(sb, s->latency);
		if (s->sentinel_master != NULL && s->sentinel_master[0] != '\0') {
			vs_sb_puts(sb, ",\"sentinel_master\":");
			vs_sb_json_str(sb, s->sentinel_master,
			    strlen(s->sentinel_master));
			vs_sb_puts(sb, ",\"replicas\":");
			vs_sb_json_str(sb, s->replicas, strlen(s->replicas));
			vs_sb_printf(sb, ",\"failovers\":%llu,"
			    "\"last_failover_unix_ms\":%lld",
			    (unsigned long long)s->failovers,
			    (long long)s->last_failover_unix_ms);
		}
		vs_sb_putc(sb, '}');
	}
	vs_sb_puts(sb, "]}");
}

int
vset_cmd_stats(const vset_global *g, int argc, char **argv)
{
	static const struct option opts[] = {
		{ "survey", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	Vsetd__V1__StatsReport *reps[VSET_MAX_ROUTERS];
	const char *urls[VSET_MAX_ROUTERS], *arg, *env;
	struct timespec nap = { 0, 10 * 1000 * 1000 };
	int nurls = 0, nreps = 0, i, rv, c, waited, status = VSET_EXIT_ERROR;
	nng_socket s = NNG_SOCKET_INITIALIZER;
	vset_argp p;
	nng_msg *m;
	vs_sb sb;

	vset_argp_init(&p, "stats", argc, argv, "s:h", opts);
	while ((c = vset_argp_next(&p, &arg)) != VSET_ARG_END) {
		switch (c) {
		case 's':
			if (nurls == VSET_MAX_ROUTERS)
				return vset_usage_error("stats", "at most %d "
				    "--survey URLs", VSET_MAX_ROUTERS);
			urls[nurls++] = arg;
			break;
		case 'h':
			printf(
"Usage: vset [--timeout-ms N] [--json] stats [--survey URL]...\n"
"\n"
"Poll vsetd routers' stats survey sockets (vsetd --survey-listen) with an\n"
"nng survey and print each router's requests by method and status, latency\n"
"percentiles, per-shard health, rounds, errors and latency.\n"
"\n"
"  --survey URL   a router's survey socket; repeat for a fleet (default\n"
"                 $VSET_SURVEY, else %s)\n"
"\n"
"--timeout-ms bounds the wait for connections and for the answers.\n"
"With --json: one object {\"routers\":[...]}.  Exit status 0 when every\n"
"router answered, 1 otherwise, 2 on a usage error.\n", VSET_DEFAULT_SURVEY);
			return VSET_EXIT_OK;
		case VSET_ARG_POSITIONAL:
			return vset_usage_error("stats", "unexpected argument "
			    "\"%s\"", arg);
		default:
			return VSET_EXIT_USAGE;
		}
	}
	if (nurls == 0) {
		env = getenv("VSET_SURVEY");
		urls[nurls++] = env != NULL && *env ? env : VSET_DEFAULT_SURVEY;
	}

	if ((rv = nng_surveyor0_open(&s)) != 0) {
		fprintf(stderr, "INTERNAL: surveyor socket: %s\n", nng_strerror(rv));
		return VSET_EXIT_ERROR;
	}
	nng_pipe_notify(s, NNG_PIPE_EV_ADD_POST, vset_pipe_cb, NULL);
	nng_pipe_notify(s, NNG_PIPE_EV_REM_POST, vset_pipe_cb, NULL);
	nng_socket_set_ms(s, NNG_OPT_SURVEYOR_SURVEYTIME, g->timeout_ms);
	for (i = 0; i < nurls; i++) {
		/* non-blocking: a router that is down must not stop the rest */
		if ((rv = nng_dial(s, urls[i], NULL, NNG_FLAG_NONBLOCK)) != 0) {
			fprintf(stderr, "INVALID_ARGUMENT: --survey %s: %s\n",
			    urls[i], nng_strerror(rv));
			status = VSET_EXIT_USAGE;
			goto out;
		}
	}
	for (waited = 0; vset_pipes_now() < nurls && waited < g->timeout_ms;
	    waited += 10)
		nanosleep(&nap, NULL);
	if (vset_pipes_now() == 0) {
		fprintf(stderr, "UNAVAILABLE: no router reachable at %s%s "
		    "within %d ms\n", urls[0], nurls > 1 ? " (and others)" : "",
		    g->timeout_ms);
		goto out;
	}
	if ((rv = nng_msg_alloc(&m, 0)) != 0 || (rv = nng_sendmsg(s, m, 0)) != 0) {
		fprintf(stderr, "INTERNAL: sending the survey: %s\n",
		    nng_strerror(rv));
		goto out;
	}
	while (nreps < nurls && nng_recvmsg(s, &m, 0) == 0) {
		reps[nreps] = vsetd__v1__stats_report__unpack(NULL,
		    nng_msg_len(m), nng_msg_body(m));
		nng_msg_free(m);
		if (reps[nreps] != NULL)
			nreps++;
	}
	if (g->json) {
		vs_sb_init(&sb);
		vs_sb_puts(&sb, "{\"routers\":[");
		for (i = 0; i < nreps; i++) {
			if (i)
				vs_sb_putc(&sb, ',');
			vset_stats_json(&sb, reps[i]);
		}
		vs_sb_puts(&sb, "]}");
		if (!sb.oom)
			printf("%s\n", sb.buf);
		vs_sb_free(&sb);
	} else {
		for (i = 0; i < nreps; i++) {
			if (i)
				printf("\n");
			vset_stats_text(reps[i]);
		}
	}
	if (nreps < nurls)
		fprintf(stderr, "UNAVAILABLE: %d of %d routers answered within "
		    "%d ms\n", nreps, nurls, g->timeout_ms);
	else
		status = VSET_EXIT_OK;
	for (i = 0; i < nreps; i++)
		vsetd__v1__stats_report__free_unpacked(reps[i], NULL);
out:
	nng_close(s);
	return status;
}
