/*
 * harness.c - start, fault and clean up real Redis shards and vsetd.
 *
 * Design note.  Children are spawned with fork()+execv() from a test that
 * may already run nng and client threads, so the child does only
 * async-signal-safe work between the two: everything (argv, paths) is built
 * before fork().  Each child gets PR_SET_PDEATHSIG=SIGKILL, closes every
 * inherited descriptor above stderr (a shard holding a copy of the test's
 * vsetd socket would keep that connection alive), and writes its output to
 * a log file instead of the test's stdout, which carries TAP.
 *
 * Free ports are found by binding 127.0.0.1:0 and closing; another process
 * can take the port in between, so a Redis that dies at start is retried on
 * a fresh port.  A restart reuses the port (Redis sets SO_REUSEADDR).
 *
 * The live clusters sit in a small static table so that the atexit() and
 * signal handlers can find every pid; the signal handler only calls kill()
 * and then re-raises the signal with its default action.
 */
#include "harness.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>

#define H_MAX_CLUSTERS 8
#define H_PING_WAIT_MS 10000
#define H_LISTEN_WAIT_MS 10000
#define H_REAP_WAIT_MS 5000
#define H_START_TRIES 5
#define H_MAX_ARGS 96

struct h_shard {
	int port;
	pid_t pid;                   /* 0 = not running */
	int stopped;                 /* SIGSTOPped by us */
	char dir[PATH_MAX];
	char log[PATH_MAX];
	redisContext *check;         /* cached, for h_vcard/h_vemb_present */
};

struct h_cluster {
	int nshards;
	struct h_shard shard[H_MAX_SHARDS];
	char dir[PATH_MAX];
	pid_t vsetd_pid;             /* 0 = not running */
	char vsetd_url[64];
	char vsetd_log[PATH_MAX];
};

/* Read by the signal handler: pointers are written before a cluster has any
 * child and cleared after its last child is reaped. */
static h_cluster *volatile h_live[H_MAX_CLUSTERS];
static int h_handlers_installed;

static void
h_log(const char *fmt, ...)
{
	va_list ap;

	fputs("# harness: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

static int64_t
h_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
h_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ cleanup */

static void
h_kill_all_signal_safe(void)
{
	int i, j;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		h_cluster *c = h_live[i];

		if (c == NULL)
			continue;
		for (j = 0; j < c->nshards; j++) {
			if (c->shard[j].pid > 0) {
				kill(c->shard[j].pid, SIGCONT);
				kill(c->shard[j].pid, SIGKILL);
			}
		}
		if (c->vsetd_pid > 0)
			kill(c->vsetd_pid, SIGKILL);
	}
}

static void
h_on_signal(int sig)
{
	h_kill_all_signal_safe();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
h_at_exit(void)
{
	int i;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] != NULL)
			h_cluster_destroy(h_live[i]);
	}
}

static void
h_install_handlers(void)
{
	struct sigaction sa;

	if (h_handlers_installed)
		return;
	h_handlers_installed = 1;
	atexit(h_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = h_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A write to a closed socket must be an error, not the test's death. */
	signal(SIGPIPE, SIG_IGN);
}

static int
h_register(h_cluster *c)
{
	int i;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] == NULL) {
			h_live[i] = c;
			return 0;
		}
	}
	h_log("more than %d clusters at once", H_MAX_CLUSTERS);
	return -1;
}

static void
h_unregister(h_cluster *c)
{
	int i;

	for (i = 0; i < H_MAX_CLUSTERS; i++) {
		if (h_live[i] == c)
			h_live[i] = NULL;
	}
}

static int
h_rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

static void
h_rm_tree(const char *dir)
{
	if (dir[0] != '\0')
		nftw(dir, h_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ------------------------------------------------------------ processes */

/* Wait at most timeout_ms for pid to exit; 0 and *status on exit, -1 if it
 * is still running. */
static int
h_wait_exit(pid_t pid, int timeout_ms, int *status)
{
	int64_t end = h_now_ms() + timeout_ms;
	int st = 0;
	pid_t r;

	for (;;) {
		r = waitpid(pid, &st, WNOHANG);
		if (r == pid) {
			if (status != NULL)
				*status = st;
			return 0;
		}
		if (r < 0 && errno != EINTR) {
			/* Not our child any more (already reaped): treat as gone. */
			if (status != NULL)
				*status = 0;
			return 0;
		}
		if (h_now_ms() >= end)
			return -1;
		h_sleep_ms(5);
	}
}

/* SIGCONT, then SIGKILL.  Linux delivers SIGKILL to a stopped process too;
 * the SIGCONT is there so a process we stopped is never left stopped, even
 * if the SIGKILL is refused (e.g. the pid was already reused). */
static void
h_kill_reap(pid_t pid)
{
	if (pid <= 0)
		return;
	kill(pid, SIGCONT);
	kill(pid, SIGKILL);
	if (h_wait_exit(pid, H_REAP_WAIT_MS, NULL) != 0)
		h_log("pid %d did not die after SIGKILL", (int)pid);
}

/* fork+exec argv[0] with cwd dir and stdout/stderr appended to log.
 * Returns the pid, or -1. */
static pid_t
h_spawn(char *const argv[], const char *dir, const char *log)
{
	pid_t parent = getpid();
	pid_t pid;
	int fd;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		h_log("fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		return pid;

	/* Child: async-signal-safe calls only until execv. */
	if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 || getppid() != parent)
		_exit(127);
	signal(SIGPIPE, SIG_DFL);
	signal(SIGTERM, SIG_DFL);
	signal(SIGINT, SIG_DFL);
	signal(SIGHUP, SIG_DFL);
	if (chdir(dir) != 0)
		_exit(127);
	fd = open("/dev/null", O_RDONLY);
	if (fd < 0 || dup2(fd, 0) < 0)
		_exit(127);
	close(fd);
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND, 0644);
	if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
		_exit(127);
	close(fd);
	close_range(3, ~0U, 0);
	execv(argv[0], argv);
	_exit(127);
}

static int
h_free_port(void)
{
	struct sockaddr_in sa;
	socklen_t len = sizeof(sa);
	int fd, port = -1;

	fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	memset(&sa, 0, sizeof(sa));
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sa.sin_port = 0;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

static redisContext *
h_connect_port(int port, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *rc;

	rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (rc == NULL)
		return NULL;
	if (rc->err != 0 || redisSetTimeout(rc, tv) != REDIS_OK) {
		redisFree(rc);
		return NULL;
	}
	return rc;
}

/* Bounded wait until the shard answers PING.  0 ok, -1 it died or never
 * answered (it is then killed). */
static int
h_shard_wait_ping(struct h_shard *s)
{
	int64_t end = h_now_ms() + H_PING_WAIT_MS;
	redisContext *rc;
	redisReply *r;
	int ok;

	while (h_now_ms() < end) {
		if (h_wait_exit(s->pid, 0, NULL) == 0) {
			s->pid = 0;
			return -1;
		}
		rc = h_connect_port(s->port, 200);
		if (rc != NULL) {
			r = redisCommand(rc, "PING");
			ok = r != NULL && r->type == REDIS_REPLY_STATUS &&
			    strcmp(r->str, "PONG") == 0;
			if (r != NULL)
				freeReplyObject(r);
			redisFree(rc);
			if (ok)
				return 0;
		}
		h_sleep_ms(20);
	}
	h_log("redis on port %d did not answer PING in %d ms", s->port,
	    H_PING_WAIT_MS);
	h_kill_reap(s->pid);
	s->pid = 0;
	return -1;
}

/* Start shard s on s->port (keep_port) or on fresh ports (retrying). */
static int
h_shard_spawn(struct h_shard *s, int keep_port)
{
	const char *bin = getenv("REDIS_SERVER");
	char portstr[16];
	char *argv[16];
	int tries, argc;

	if (bin == NULL || bin[0] == '\0') {
		h_log("REDIS_SERVER is not set");
		return -1;
	}
	for (tries = 0; tries < H_START_TRIES; tries++) {
		if (!keep_port) {
			s->port = h_free_port();
			if (s->port < 0) {
				h_log("no free port: %s", strerror(errno));
				return -1;
			}
		}
		snprintf(portstr, sizeof(portstr), "%d", s->port);
		argc = 0;
		argv[argc++] = (char *)bin;
		argv[argc++] = "--port";
		argv[argc++] = portstr;
		argv[argc++] = "--bind";
		argv[argc++] = "127.0.0.1";
		argv[argc++] = "--save";
		argv[argc++] = "";
		argv[argc++] = "--appendonly";
		argv[argc++] = "no";
		argv[argc++] = "--daemonize";
		argv[argc++] = "no";
		argv[argc++] = "--dir";
		argv[argc++] = s->dir;
		argv[argc] = NULL;
		s->stopped = 0;
		s->pid = h_spawn(argv, s->dir, s->log);
		if (s->pid < 0) {
			s->pid = 0;
			return -1;
		}
		if (h_shard_wait_ping(s) == 0)
			return 0;
		h_log("redis on port %d failed to start (try %d), see %s",
		    s->port, tries + 1, s->log);
		/* The same port may only be busy for a moment: back off. */
		h_sleep_ms(100);
	}
	return -1;
}

static void
h_drop_check(struct h_shard *s)
{
	if (s->check != NULL) {
		redisFree(s->check);
		s->check = NULL;
	}
}

/* ------------------------------------------------------------ cluster */

/* dst = dir "/" name; -1 if it does not fit. */
static int
h_join(char *dst, size_t size, const char *dir, const char *name)
{
	int n = snprintf(dst, size, "%s/%s", dir, name);

	if (n < 0 || (size_t)n >= size) {
		h_log("path too long: %s/%s", dir, name);
		return -1;
	}
	return 0;
}

int
h_cluster_start(h_cluster **out, int nshards, const char *const *vsetd_args)
{
	const char *tmp = getenv("TMPDIR");
	h_cluster *c = NULL;
	int i, rv = -1;

	*out = NULL;
	if (nshards < 1 || nshards > H_MAX_SHARDS) {
		h_log("nshards %d out of range", nshards);
		goto out;
	}
	h_install_handlers();
	c = calloc(1, sizeof(*c));
	if (c == NULL)
		goto out;
	if (h_register(c) != 0) {
		free(c);
		c = NULL;
		goto out;
	}
	c->nshards = nshards;
	if (tmp == NULL || tmp[0] == '\0')
		tmp = "/tmp";
	if (h_join(c->dir, sizeof(c->dir), tmp, "vsetd-it-XXXXXX") != 0) {
		c->dir[0] = '\0';
		goto out;
	}
	if (mkdtemp(c->dir) == NULL) {
		h_log("mkdtemp %s: %s", c->dir, strerror(errno));
		c->dir[0] = '\0';
		goto out;
	}
	if (h_join(c->vsetd_log, sizeof(c->vsetd_log), c->dir, "vsetd.log") != 0)
		goto out;
	for (i = 0; i < nshards; i++) {
		struct h_shard *s = &c->shard[i];
		char name[32];

		snprintf(name, sizeof(name), "shard%d-XXXXXX", i);
		if (h_join(s->dir, sizeof(s->dir), c->dir, name) != 0)
			goto out;
		if (mkdtemp(s->dir) == NULL) {
			h_log("mkdtemp %s: %s", s->dir, strerror(errno));
			goto out;
		}
		if (h_join(s->log, sizeof(s->log), s->dir, "redis.log") != 0)
			goto out;
		if (h_shard_spawn(s, 0) != 0)
			goto out;
	}
	if (vsetd_args != NULL && h_vsetd_start(c, vsetd_args) != 0)
		goto out;
	*out = c;
	c = NULL;
	rv = 0;
out:
	h_cluster_destroy(c);
	return rv;
}

void
h_cluster_destroy(h_cluster *c)
{
	const char *keep = getenv("VSETD_TEST_KEEP");
	int i;

	if (c == NULL)
		return;
	if (c->vsetd_pid > 0) {
		h_kill_reap(c->vsetd_pid);
		c->vsetd_pid = 0;
	}
	for (i = 0; i < c->nshards; i++) {
		h_drop_check(&c->shard[i]);
		h_kill_reap(c->shard[i].pid);
		c->shard[i].pid = 0;
	}
	h_unregister(c);
	if (keep != NULL && keep[0] != '\0' && strcmp(keep, "0") != 0)
		h_log("kept %s", c->dir);
	else
		h_rm_tree(c->dir);
	free(c);
}

int
h_nshards(const h_cluster *c)
{
	return c->nshards;
}

/* ------------------------------------------------------------ vsetd */

static off_t
h_file_size(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 ? st.st_size : 0;
}

/* Look for the listening line in path from offset on: the port, or 0. */
static int
h_scan_listening(const char *path, off_t from)
{
	static const char needle[] = "listening on tcp://127.0.0.1:";
	char buf[8192];
	FILE *f;
	char *p;
	int port = 0;

	f = fopen(path, "r");
	if (f == NULL)
		return 0;
	if (fseeko(f, from, SEEK_SET) != 0)
		goto out;
	while (fgets(buf, sizeof(buf), f) != NULL) {
		p = strstr(buf, needle);
		if (p != NULL) {
			port = atoi(p + sizeof(needle) - 1);
			if (port > 0)
				break;
		}
	}
out:
	fclose(f);
	return port;
}

int
h_vsetd_start(h_cluster *c, const char *const *args)
{
	const char *bin = getenv("VSETD_BIN");
	char shardarg[H_MAX_SHARDS][32];
	char *argv[H_MAX_ARGS];
	int64_t end;
	off_t from;
	int argc = 0, i, port = 0, st;

	if (bin == NULL || bin[0] == '\0') {
		h_log("VSETD_BIN is not set");
		return -1;
	}
	if (c->vsetd_pid > 0) {
		h_log("vsetd already running (pid %d)", (int)c->vsetd_pid);
		return -1;
	}
	argv[argc++] = (char *)bin;
	argv[argc++] = "--listen";
	argv[argc++] = "tcp://127.0.0.1:0";
	for (i = 0; i < c->nshards; i++) {
		snprintf(shardarg[i], sizeof(shardarg[i]), "127.0.0.1:%d",
		    c->shard[i].port);
		argv[argc++] = "--shard";
		argv[argc++] = shardarg[i];
	}
	for (i = 0; args != NULL && args[i] != NULL; i++) {
		if (argc >= H_MAX_ARGS - 1) {
			h_log("too many vsetd arguments");
			return -1;
		}
		argv[argc++] = (char *)args[i];
	}
	argv[argc] = NULL;

	c->vsetd_url[0] = '\0';
	from = h_file_size(c->vsetd_log);
	c->vsetd_pid = h_spawn(argv, c->dir, c->vsetd_log);
	if (c->vsetd_pid < 0) {
		c->vsetd_pid = 0;
		return -1;
	}
	end = h_now_ms() + H_LISTEN_WAIT_MS;
	while (port == 0) {
		port = h_scan_listening(c->vsetd_log, from);
		if (port != 0)
			break;
		if (h_wait_exit(c->vsetd_pid, 0, &st) == 0) {
			h_log("vsetd exited at start (status 0x%x), see %s",
			    st, c->vsetd_log);
			c->vsetd_pid = 0;
			h_vsetd_log_tail(c, 2000);
			return -1;
		}
		if (h_now_ms() >= end) {
			h_log("vsetd printed no 'listening on' line in %d ms",
			    H_LISTEN_WAIT_MS);
			h_kill_reap(c->vsetd_pid);
			c->vsetd_pid = 0;
			h_vsetd_log_tail(c, 2000);
			return -1;
		}
		h_sleep_ms(10);
	}
	snprintf(c->vsetd_url, sizeof(c->vsetd_url), "tcp://127.0.0.1:%d",
	    port);
	return 0;
}

int
h_vsetd_stop(h_cluster *c, int sig, int timeout_ms, int *status)
{
	int st = 0, rv = -1;

	if (c->vsetd_pid <= 0) {
		h_log("no vsetd to stop");
		return -1;
	}
	kill(c->vsetd_pid, sig);
	if (h_wait_exit(c->vsetd_pid, timeout_ms, &st) == 0) {
		rv = 0;
	} else {
		h_log("vsetd did not exit within %d ms of signal %d", timeout_ms,
		    sig);
		kill(c->vsetd_pid, SIGKILL);
		if (h_wait_exit(c->vsetd_pid, H_REAP_WAIT_MS, &st) != 0)
			h_log("vsetd did not die after SIGKILL");
	}
	if (status != NULL)
		*status = st;
	c->vsetd_pid = 0;
	c->vsetd_url[0] = '\0';
	return rv;
}

const char *
h_vsetd_url(const h_cluster *c)
{
	return c->vsetd_url;
}

const char *
h_vsetd_log(const h_cluster *c)
{
	return c->vsetd_log;
}

pid_t
h_vsetd_pid(const h_cluster *c)
{
	return c->vsetd_pid;
}

void
h_vsetd_log_tail(const h_cluster *c, size_t max_bytes)
{
	char line[1024];
	off_t size = h_file_size(c->vsetd_log);
	FILE *f;

	f = fopen(c->vsetd_log, "r");
	if (f == NULL)
		return;
	if (size > (off_t)max_bytes) {
		fseeko(f, size - (off_t)max_bytes, SEEK_SET);
		/* Skip the partial first line. */
		if (fgets(line, sizeof(line), f) == NULL)
			goto out;
	}
	fprintf(stderr, "# ---- %s (tail)\n", c->vsetd_log);
	while (fgets(line, sizeof(line), f) != NULL)
		fprintf(stderr, "# %s%s", line,
		    strchr(line, '\n') != NULL ? "" : "\n");
	fprintf(stderr, "# ----\n");
out:
	fclose(f);
}

/* ------------------------------------------------------------ shards */

static struct h_shard *
h_shard_get(const h_cluster *c, int i)
{
	if (i < 0 || i >= c->nshards) {
		h_log("no shard %d", i);
		return NULL;
	}
	return (struct h_shard *)&c->shard[i];
}

int
h_shard_port(const h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	return s != NULL ? s->port : -1;
}

const char *
h_shard_dir(const h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	return s != NULL ? s->dir : "";
}

int
h_shard_kill(h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	if (s == NULL || s->pid <= 0) {
		h_log("shard %d is not running", i);
		return -1;
	}
	h_drop_check(s);
	h_kill_reap(s->pid);
	s->pid = 0;
	s->stopped = 0;
	return 0;
}

int
h_shard_stop(h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	if (s == NULL || s->pid <= 0) {
		h_log("shard %d is not running", i);
		return -1;
	}
	h_drop_check(s);
	if (kill(s->pid, SIGSTOP) != 0) {
		h_log("SIGSTOP shard %d: %s", i, strerror(errno));
		return -1;
	}
	s->stopped = 1;
	return 0;
}

int
h_shard_cont(h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	if (s == NULL || s->pid <= 0) {
		h_log("shard %d is not running", i);
		return -1;
	}
	if (kill(s->pid, SIGCONT) != 0) {
		h_log("SIGCONT shard %d: %s", i, strerror(errno));
		return -1;
	}
	s->stopped = 0;
	return 0;
}

int
h_shard_restart(h_cluster *c, int i)
{
	struct h_shard *s = h_shard_get(c, i);

	if (s == NULL)
		return -1;
	h_drop_check(s);
	if (s->pid > 0) {
		h_kill_reap(s->pid);
		s->pid = 0;
	}
	return h_shard_spawn(s, 1);
}

int
h_shards_heal(h_cluster *c)
{
	int i, rv = 0;

	for (i = 0; i < c->nshards; i++) {
		struct h_shard *s = &c->shard[i];

		if (s->pid > 0 && h_wait_exit(s->pid, 0, NULL) == 0)
			s->pid = 0;     /* died on its own */
		if (s->pid > 0 && s->stopped && h_shard_cont(c, i) != 0)
			rv = -1;
		if (s->pid <= 0 && h_shard_restart(c, i) != 0)
			rv = -1;
	}
	return rv;
}

redisContext *
h_shard_connect(const h_cluster *c, int i, int timeout_ms)
{
	struct h_shard *s = h_shard_get(c, i);

	if (s == NULL)
		return NULL;
	return h_connect_port(s->port, timeout_ms);
}

/* Run one command on shard i's cached connection; the reply is the
 * caller's (freeReplyObject), NULL on error (the connection is dropped). */
static redisReply *
h_check_cmd(h_cluster *c, int i, const char *fmt, ...)
{
	struct h_shard *s = h_shard_get(c, i);
	redisReply *r;
	va_list ap;

	if (s == NULL)
		return NULL;
	if (s->check == NULL) {
		s->check = h_connect_port(s->port, 2000);
		if (s->check == NULL) {
			h_log("cannot connect to shard %d (port %d)", i,
			    s->port);
			return NULL;
		}
	}
	va_start(ap, fmt);
	r = redisvCommand(s->check, fmt, ap);
	va_end(ap);
	if (r == NULL) {
		h_log("shard %d: %s", i, s->check->errstr);
		h_drop_check(s);
	}
	return r;
}

long long
h_vcard(h_cluster *c, int i, const char *collection)
{
	redisReply *r;
	long long n = -1;

	r = h_check_cmd(c, i, "VCARD vsetd:%s", collection);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_INTEGER)
		n = r->integer;
	else
		h_log("VCARD on shard %d: unexpected reply type %d (%s)", i,
		    r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
	freeReplyObject(r);
	return n;
}

int
h_vemb_present(h_cluster *c, int i, const char *collection, const char *id)
{
	redisReply *r;
	int rv = -1;

	r = h_check_cmd(c, i, "VEMB vsetd:%s %s", collection, id);
	if (r == NULL)
		return -1;
	if (r->type == REDIS_REPLY_NIL)
		rv = 0;
	else if (r->type == REDIS_REPLY_ARRAY && r->elements > 0)
		rv = 1;
	else
		h_log("VEMB on shard %d: unexpected reply type %d (%s)", i,
		    r->type, r->type == REDIS_REPLY_ERROR ? r->str : "");
	freeReplyObject(r);
	return rv;
}
