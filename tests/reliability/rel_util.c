/*
 * rel_util.c - child processes, Redis and vsetd for the fault tests.
 *
 * Design note.  Children are started with fork()+execve() from tests that
 * already run nng and client threads, so everything the child needs (argv,
 * envp, paths) is built before fork() and the child only makes
 * async-signal-safe calls.  Each child closes every inherited descriptor
 * above stderr: a Redis holding a copy of a test's socket would keep that
 * connection open after the test closed it.  Children stay in the test's
 * process group, so meson's timeout kill reaches them too; the table below
 * lets our own signal handler kill them before it re-raises.
 */
#include "rel_util.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
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

extern char **environ;

#define REL_MAX_PROCS 32
#define REL_PING_WAIT_MS 15000
#define REL_LISTEN_WAIT_MS 10000
#define REL_REAP_WAIT_MS 5000

/* Read by the signal handler: a slot is set before the process exists and
 * cleared after it is reaped. */
static struct rel_proc *volatile rel_live[REL_MAX_PROCS];
static int rel_handlers_installed;

static void
rel_log(const char *fmt, ...)
{
	va_list ap;

	fputs("# rel: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

int64_t
rel_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
rel_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ cleanup */

static void
rel_kill_all(void)
{
	int i;

	for (i = 0; i < REL_MAX_PROCS; i++) {
		struct rel_proc *p = rel_live[i];

		if (p != NULL && p->pid > 0) {
			kill(p->pid, SIGCONT);
			kill(p->pid, SIGKILL);
		}
	}
}

static void
rel_on_signal(int sig)
{
	rel_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
rel_at_exit(void)
{
	int i;

	for (i = 0; i < REL_MAX_PROCS; i++) {
		if (rel_live[i] != NULL)
			rel_proc_kill(rel_live[i]);
	}
}

static void
rel_install_handlers(void)
{
	struct sigaction sa;

	if (rel_handlers_installed)
		return;
	rel_handlers_installed = 1;
	atexit(rel_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = rel_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A write to a closed socket must be an error, not the test's death. */
	signal(SIGPIPE, SIG_IGN);
}

static void
rel_track(struct rel_proc *p, int on)
{
	int i;

	for (i = 0; i < REL_MAX_PROCS; i++) {
		if (on && rel_live[i] == NULL) {
			rel_live[i] = p;
			return;
		}
		if (!on && rel_live[i] == p)
			rel_live[i] = NULL;
	}
	if (on)
		rel_log("more than %d processes tracked", REL_MAX_PROCS);
}

/* ------------------------------------------------------------ files */

int
rel_tmpdir(char *buf, size_t size, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(buf, size, "%s/vsetd-rel-%s-XXXXXX", tmp, tag);
	if (n < 0 || (size_t)n >= size) {
		rel_log("temp dir name too long");
		return -1;
	}
	if (mkdtemp(buf) == NULL) {
		rel_log("mkdtemp %s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

static int
rel_rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
rel_rmtree(const char *dir)
{
	const char *keep = getenv("VSETD_TEST_KEEP");

	if (dir == NULL || dir[0] == '\0')
		return;
	if (keep != NULL && *keep != '\0' && strcmp(keep, "0") != 0) {
		rel_log("kept %s", dir);
		return;
	}
	nftw(dir, rel_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
rel_free_port(void)
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
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

int
rel_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd, rv = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rel_log("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) == (ssize_t)len)
		rv = 0;
	else
		rel_log("write %s: %s", path, strerror(errno));
	close(fd);
	return rv;
}

/* The whole file, NUL-terminated (binary-safe length in *len); the caller
 * frees it.  NULL on error. */
static char *
rel_slurp(const char *path, size_t *len)
{
	char *buf = NULL, *nb;
	size_t cap = 0, n = 0;
	ssize_t r;
	int fd;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	for (;;) {
		if (n + 4097 > cap) {
			cap = cap * 2 + 8192;
			if ((nb = realloc(buf, cap)) == NULL) {
				free(buf);
				buf = NULL;
				goto out;
			}
			buf = nb;
		}
		r = read(fd, buf + n, cap - n - 1);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			break;
		n += (size_t)r;
	}
	buf[n] = '\0';
	if (len != NULL)
		*len = n;
out:
	close(fd);
	return buf;
}

int
rel_file_contains(const char *path, const char *needle)
{
	char *text = rel_slurp(path, NULL);
	int rv;

	if (text == NULL)
		return -1;
	rv = strstr(text, needle) != NULL;
	free(text);
	return rv;
}

void
rel_log_tail(const char *path, size_t max_bytes)
{
	size_t len = 0;
	char *text = rel_slurp(path, &len);
	char *p, *nl;

	if (text == NULL)
		return;
	p = len > max_bytes ? text + len - max_bytes : text;
	fprintf(stderr, "# ---- %s (tail)\n", path);
	while (*p != '\0') {
		nl = strchr(p, '\n');
		if (nl != NULL)
			*nl = '\0';
		fprintf(stderr, "# %s\n", p);
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	fprintf(stderr, "# ----\n");
	free(text);
}

/* ------------------------------------------------------------ processes */

/* Copy s into p's string storage; NULL when full. */
static char *
rel_proc_strdup(struct rel_proc *p, const char *s)
{
	size_t len = strlen(s) + 1;
	char *d;

	if (p->used + len > sizeof(p->buf))
		return NULL;
	d = p->buf + p->used;
	memcpy(d, s, len);
	p->used += len;
	return d;
}

static int
rel_proc_spawn(struct rel_proc *p)
{
	pid_t parent = getpid();
	char **envp = NULL;
	size_t n = 0, i;
	pid_t pid;
	int fd, rv = -1;

	rel_install_handlers();
	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + (size_t)p->envc + 1, sizeof(*envp))) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	for (i = 0; i < (size_t)p->envc; i++)
		envp[n + i] = p->env[i];

	rel_track(p, 1);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		rel_log("fork: %s", strerror(errno));
		rel_track(p, 0);
		goto out;
	}
	if (pid == 0) {
		/* Child: async-signal-safe calls only until execve. */
		if (prctl(PR_SET_PDEATHSIG, SIGKILL) != 0 ||
		    getppid() != parent)
			_exit(127);
		signal(SIGPIPE, SIG_DFL);
		signal(SIGTERM, SIG_DFL);
		signal(SIGINT, SIG_DFL);
		signal(SIGHUP, SIG_DFL);
		if (chdir(p->cwd) != 0)
			_exit(127);
		fd = open("/dev/null", O_RDONLY);
		if (fd < 0 || dup2(fd, 0) < 0)
			_exit(127);
		close(fd);
		fd = open(p->log, O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd < 0 || dup2(fd, 1) < 0 || dup2(fd, 2) < 0)
			_exit(127);
		close(fd);
		close_range(3, ~0U, 0);
		execve(p->argv[0], p->argv, envp);
		_exit(127);
	}
	p->pid = pid;
	p->stopped = 0;
	rv = 0;
out:
	free(envp);
	return rv;
}

int
rel_proc_start(struct rel_proc *p, const char *const *argv,
    const char *const *env, const char *cwd, const char *log)
{
	int i;

	memset(p, 0, sizeof(*p));
	snprintf(p->cwd, sizeof(p->cwd), "%s", cwd);
	snprintf(p->log, sizeof(p->log), "%s", log);
	for (i = 0; argv[i] != NULL; i++) {
		if (i >= REL_MAX_ARGS ||
		    (p->argv[i] = rel_proc_strdup(p, argv[i])) == NULL) {
			rel_log("too many or too long arguments");
			return -1;
		}
	}
	p->argc = i;
	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (i >= REL_MAX_ARGS ||
		    (p->env[i] = rel_proc_strdup(p, env[i])) == NULL) {
			rel_log("too many or too long environment entries");
			return -1;
		}
	}
	p->envc = i;
	if (p->argc == 0 || p->argv[0] == NULL || p->argv[0][0] == '\0') {
		rel_log("no program to start");
		return -1;
	}
	return rel_proc_spawn(p);
}

int
rel_proc_respawn(struct rel_proc *p)
{
	if (p->pid > 0) {
		rel_log("pid %d still running", (int)p->pid);
		return -1;
	}
	return rel_proc_spawn(p);
}

int
rel_proc_wait(struct rel_proc *p, int timeout_ms, int *status)
{
	int64_t end = rel_now_ms() + timeout_ms;
	int st = 0;
	pid_t r;

	if (p->pid <= 0)
		return -1;
	for (;;) {
		r = waitpid(p->pid, &st, WNOHANG);
		if (r == p->pid || (r < 0 && errno == ECHILD)) {
			if (status != NULL)
				*status = r == p->pid ? st : 0;
			p->pid = 0;
			p->stopped = 0;
			rel_track(p, 0);
			return 0;
		}
		if (rel_now_ms() >= end)
			return -1;
		rel_sleep_ms(5);
	}
}

int
rel_proc_alive(struct rel_proc *p)
{
	if (p->pid <= 0)
		return 0;
	return rel_proc_wait(p, 0, NULL) != 0;
}

int
rel_proc_signal(struct rel_proc *p, int sig)
{
	if (p->pid <= 0 || kill(p->pid, sig) != 0) {
		rel_log("signal %d to pid %d failed", sig, (int)p->pid);
		return -1;
	}
	if (sig == SIGSTOP)
		p->stopped = 1;
	else if (sig == SIGCONT)
		p->stopped = 0;
	return 0;
}

void
rel_proc_kill(struct rel_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGCONT);
	kill(p->pid, SIGKILL);
	if (rel_proc_wait(p, REL_REAP_WAIT_MS, NULL) != 0)
		rel_log("pid %d did not die after SIGKILL", (int)p->pid);
}

long
rel_proc_rss_kb(const struct rel_proc *p)
{
	char path[64], line[256];
	long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%d/status", (int)p->pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (strncmp(line, "VmRSS:", 6) == 0) {
			kb = strtol(line + 6, NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

int
rel_proc_cmdline_contains(const struct rel_proc *p, const char *needle)
{
	char path[64];
	size_t len = 0, i;
	char *text;
	int rv;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p->pid);
	if ((text = rel_slurp(path, &len)) == NULL)
		return -1;
	/* Arguments are NUL-separated: join them so a needle spanning two
	 * arguments ("--x secret") is found too. */
	for (i = 0; i < len; i++)
		if (text[i] == '\0')
			text[i] = ' ';
	rv = strstr(text, needle) != NULL;
	free(text);
	return rv;
}

int
rel_proc_maps_contain(const struct rel_proc *p, const char *needle)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	return rel_file_contains(path, needle);
}

/* ------------------------------------------------------------ redis */

static redisContext *
rel_connect_port(int port, const char *password, int timeout_ms)
{
	struct timeval tv = { timeout_ms / 1000, (timeout_ms % 1000) * 1000 };
	redisContext *rc;
	redisReply *r;

	rc = redisConnectWithTimeout("127.0.0.1", port, tv);
	if (rc == NULL)
		return NULL;
	if (rc->err != 0 || redisSetTimeout(rc, tv) != REDIS_OK)
		goto fail;
	if (password != NULL && password[0] != '\0') {
		r = redisCommand(rc, "AUTH %s", password);
		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			if (r != NULL)
				freeReplyObject(r);
			goto fail;
		}
		freeReplyObject(r);
	}
	return rc;
fail:
	redisFree(rc);
	return NULL;
}

redisContext *
rel_redis_connect(const struct rel_redis *r, int timeout_ms)
{
	return rel_connect_port(r->port, r->password, timeout_ms);
}

redisReply *
rel_redis_cmd(const struct rel_redis *r, const char *fmt, ...)
{
	redisContext *rc;
	redisReply *rep;
	va_list ap;

	if ((rc = rel_redis_connect(r, 2000)) == NULL) {
		rel_log("cannot connect to redis port %d", r->port);
		return NULL;
	}
	va_start(ap, fmt);
	rep = redisvCommand(rc, fmt, ap);
	va_end(ap);
	if (rep == NULL)
		rel_log("redis port %d: %s", r->port, rc->errstr);
	redisFree(rc);
	return rep;
}

/* Bounded wait for PONG (not -LOADING: an AOF is being replayed). */
static int
rel_redis_wait_ping(struct rel_redis *r)
{
	int64_t end = rel_now_ms() + REL_PING_WAIT_MS;
	redisContext *rc;
	redisReply *rep;
	int ok;

	while (rel_now_ms() < end) {
		if (!rel_proc_alive(&r->p)) {
			rel_log("redis on port %d exited, see %s", r->port,
			    r->p.log);
			rel_log_tail(r->p.log, 1500);
			return -1;
		}
		rc = rel_redis_connect(r, 200);
		if (rc != NULL) {
			rep = redisCommand(rc, "PING");
			ok = rep != NULL && rep->type == REDIS_REPLY_STATUS &&
			    strcmp(rep->str, "PONG") == 0;
			if (rep != NULL)
				freeReplyObject(rep);
			redisFree(rc);
			if (ok)
				return 0;
		}
		rel_sleep_ms(20);
	}
	rel_log("redis on port %d did not answer PING in %d ms", r->port,
	    REL_PING_WAIT_MS);
	rel_proc_kill(&r->p);
	return -1;
}

int
rel_redis_start(struct rel_redis *r, int port, const char *dir,
    const char *const *extra, const char *password)
{
	const char *bin = getenv("REDIS_SERVER");
	const char *argv[REL_MAX_ARGS + 1];
	char portstr[16], log[PATH_MAX];
	int argc = 0, i, tries;

	if (bin == NULL || *bin == '\0') {
		rel_log("REDIS_SERVER is not set");
		return -1;
	}
	memset(r, 0, sizeof(*r));
	snprintf(r->dir, sizeof(r->dir), "%s", dir);
	snprintf(r->password, sizeof(r->password), "%s",
	    password != NULL ? password : "");
	snprintf(log, sizeof(log), "%s/redis.log", dir);
	/* A free port can be taken between our probe and Redis's bind: retry
	 * on a fresh one (only when the caller did not fix the port). */
	for (tries = 0; tries < 5; tries++) {
		r->port = port > 0 ? port : rel_free_port();
		snprintf(portstr, sizeof(portstr), "%d", r->port);
		argc = 0;
		argv[argc++] = bin;
		argv[argc++] = "--port";
		argv[argc++] = portstr;
		argv[argc++] = "--bind";
		argv[argc++] = "127.0.0.1";
		argv[argc++] = "--save";
		argv[argc++] = "";
		argv[argc++] = "--daemonize";
		argv[argc++] = "no";
		argv[argc++] = "--dir";
		argv[argc++] = dir;
		for (i = 0; extra != NULL && extra[i] != NULL; i++) {
			if (argc >= REL_MAX_ARGS) {
				rel_log("too many redis arguments");
				return -1;
			}
			argv[argc++] = extra[i];
		}
		argv[argc] = NULL;
		if (rel_proc_start(&r->p, argv, NULL, dir, log) != 0)
			return -1;
		if (rel_redis_wait_ping(r) == 0)
			return 0;
		if (port > 0)
			break;
		rel_sleep_ms(100);
	}
	return -1;
}

int
rel_shards_start(struct rel_redis *r, int n, const char *dir,
    const char *const *extra, const char *password, const char **argv,
    char (*hosts)[40])
{
	char sdir[PATH_MAX];
	int i;

	for (i = 0; i < n; i++) {
		snprintf(sdir, sizeof(sdir), "%s/shard%d", dir, i);
		if (mkdir(sdir, 0700) != 0 && errno != EEXIST) {
			rel_log("mkdir %s: %s", sdir, strerror(errno));
			return -1;
		}
		if (rel_redis_start(&r[i], 0, sdir, extra, password) != 0)
			return -1;
		snprintf(hosts[i], 40, "127.0.0.1:%d", r[i].port);
		argv[2 * i] = "--shard";
		argv[2 * i + 1] = hosts[i];
	}
	return 0;
}

void
rel_redis_kill(struct rel_redis *r)
{
	rel_proc_kill(&r->p);
}

int
rel_redis_restart(struct rel_redis *r)
{
	int64_t end = rel_now_ms() + 3000;

	rel_proc_kill(&r->p);
	/* Redis sets SO_REUSEADDR, but a just-killed listener's port may be
	 * busy for a moment: retry the same port, bounded. */
	while (rel_now_ms() < end) {
		if (rel_proc_respawn(&r->p) != 0)
			return -1;
		if (rel_redis_wait_ping(r) == 0)
			return 0;
		rel_sleep_ms(100);
	}
	return -1;
}

int
rel_redis_stop(struct rel_redis *r)
{
	return rel_proc_signal(&r->p, SIGSTOP);
}

int
rel_redis_cont(struct rel_redis *r)
{
	return rel_proc_signal(&r->p, SIGCONT);
}

int
rel_vemb(redisContext *rc, const char *coll, const char *id, float *out,
    size_t dim)
{
	redisReply *rep;
	size_t i;
	int rv = -1;

	rep = redisCommand(rc, "VEMB vsetd:%s %s", coll, id);
	if (rep == NULL) {
		rel_log("VEMB %s: %s", id, rc->errstr);
		return -1;
	}
	if (rep->type == REDIS_REPLY_NIL) {
		rv = 0;
	} else if (rep->type == REDIS_REPLY_ARRAY && rep->elements > 0) {
		rv = 1;
		for (i = 0; out != NULL && i < dim && i < rep->elements; i++)
			out[i] = rep->element[i]->str != NULL ?
			    strtof(rep->element[i]->str, NULL) : 0.0f;
	} else {
		rel_log("VEMB %s: reply type %d %s", id, rep->type,
		    rep->type == REDIS_REPLY_ERROR ? rep->str : "");
	}
	freeReplyObject(rep);
	return rv;
}

int
rel_redis_wait_link_up(const struct rel_redis *r, int timeout_ms)
{
	int64_t end = rel_now_ms() + timeout_ms;
	redisReply *rep;
	int up;

	while (rel_now_ms() < end) {
		rep = rel_redis_cmd(r, "INFO replication");
		up = rep != NULL && rep->type == REDIS_REPLY_STRING &&
		    strstr(rep->str, "master_link_status:up") != NULL;
		if (rep != NULL)
			freeReplyObject(rep);
		if (up)
			return 0;
		rel_sleep_ms(50);
	}
	rel_log("replica on port %d: master link not up in %d ms", r->port,
	    timeout_ms);
	return -1;
}

/* ------------------------------------------------------------ vsetd */

/* The URL of the first "listening on URL" line of path (a fresh log per
 * process) into url; 1 found, 0 not yet. */
static int
rel_scan_listening(const char *path, char *url, size_t size)
{
	static const char needle[] = "listening on ";
	char *text, *p;
	size_t n;
	int found = 0;

	if ((text = rel_slurp(path, NULL)) == NULL)
		return 0;
	p = strstr(text, needle);
	if (p != NULL) {
		p += sizeof(needle) - 1;
		/* The URL ends at a space or the ", N shards" that follows. */
		n = strcspn(p, " ,\n");
		if (p[n] != '\0' && n > 0 && n < size) {
			memcpy(url, p, n);
			url[n] = '\0';
			found = strchr(url, ':') != NULL &&
			    url[n - 1] != ':' && strcmp(url + n - 2, ":0") != 0;
		}
	}
	free(text);
	return found;
}

int
rel_vsetd_start(struct rel_vsetd *v, const char *dir, const char *tag,
    const char *const *args, const char *const *env)
{
	const char *bin = getenv("VSETD_BIN");
	const char *argv[REL_MAX_ARGS + 1];
	char log[PATH_MAX];
	int64_t end;
	int argc = 0, i, st = 0;

	if (bin == NULL || *bin == '\0') {
		rel_log("VSETD_BIN is not set");
		return -1;
	}
	memset(v, 0, sizeof(*v));
	argv[argc++] = bin;
	for (i = 0; args != NULL && args[i] != NULL; i++) {
		if (argc >= REL_MAX_ARGS) {
			rel_log("too many vsetd arguments");
			return -1;
		}
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	/* A fresh log per process: the scan must not find an old line. */
	snprintf(log, sizeof(log), "%s/vsetd-%s.log", dir, tag);
	unlink(log);
	if (rel_proc_start(&v->p, argv, env, dir, log) != 0)
		return -1;
	end = rel_now_ms() + REL_LISTEN_WAIT_MS;
	for (;;) {
		if (rel_scan_listening(log, v->url, sizeof(v->url)))
			return 0;
		if (rel_proc_wait(&v->p, 0, &st) == 0) {
			rel_log("vsetd exited at start (status 0x%x)", st);
			rel_log_tail(log, 2000);
			return -1;
		}
		if (rel_now_ms() >= end) {
			rel_log("vsetd printed no 'listening on' in %d ms",
			    REL_LISTEN_WAIT_MS);
			rel_proc_kill(&v->p);
			rel_log_tail(log, 2000);
			return -1;
		}
		rel_sleep_ms(10);
	}
}

int
rel_vsetd_term(struct rel_vsetd *v, int timeout_ms)
{
	int st = 0;

	if (v->p.pid <= 0) {
		rel_log("vsetd is not running (crashed earlier?)");
		rel_log_tail(v->p.log, 2000);
		return -1;
	}
	kill(v->p.pid, SIGTERM);
	if (rel_proc_wait(&v->p, timeout_ms, &st) != 0) {
		rel_log("vsetd did not exit within %d ms of SIGTERM",
		    timeout_ms);
		rel_proc_kill(&v->p);
		rel_log_tail(v->p.log, 2000);
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		rel_log("vsetd ended with status 0x%x after SIGTERM", st);
		rel_log_tail(v->p.log, 2000);
		return -1;
	}
	return 0;
}

/* ------------------------------------------------------------ numbers */

static int
rel_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

double
rel_quantile(double *v, size_t n, double q)
{
	size_t rank;

	if (n == 0)
		return 0.0;
	qsort(v, n, sizeof(*v), rel_cmp_double);
	/* Nearest rank: the smallest value with at least q*n values <= it. */
	rank = (size_t)(q * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1];
}

void
rel_rand_vec(uint64_t *seed, float *v, size_t dim)
{
	size_t i;
	uint64_t z;

	for (i = 0; i < dim; i++) {
		z = (*seed += 0x9e3779b97f4a7c15ULL);
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
		z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
		z ^= z >> 31;
		v[i] = (float)((double)(z >> 11) / 9007199254740992.0) * 2.0f -
		    1.0f;
	}
}
