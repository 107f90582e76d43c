/*
 * tp_proc.c - child processes of the tests: spawn, signal, reap, clean up.
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
#include "tp_proc.h"

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

/* Up to 8 integration clusters of 16 shards and a vsetd each at once. */
#define TP_MAX_PROCS 160
#define TP_REAP_WAIT_MS 5000

/* Read by the signal handler: a slot is set before the process exists and
 * cleared after it is reaped. */
static struct tp_proc *volatile tp_live[TP_MAX_PROCS];
static int tp_handlers_installed;

void
tp_log(const char *fmt, ...)
{
	va_list ap;

	fputs("# tp: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	fflush(stderr);
}

int64_t
tp_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void
tp_sleep_ms(int ms)
{
	struct timespec ts = { ms / 1000, (long)(ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ------------------------------------------------------------ cleanup */

static void
tp_kill_all(void)
{
	int i;

	for (i = 0; i < TP_MAX_PROCS; i++) {
		struct tp_proc *p = tp_live[i];

		if (p != NULL && p->pid > 0) {
			kill(p->pid, SIGCONT);
			kill(p->pid, SIGKILL);
		}
	}
}

static void
tp_on_signal(int sig)
{
	tp_kill_all();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void
tp_at_exit(void)
{
	int i;

	for (i = 0; i < TP_MAX_PROCS; i++) {
		if (tp_live[i] != NULL)
			tp_proc_kill(tp_live[i]);
	}
}

static void
tp_install_handlers(void)
{
	struct sigaction sa;

	if (tp_handlers_installed)
		return;
	tp_handlers_installed = 1;
	atexit(tp_at_exit);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = tp_on_signal;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGHUP, &sa, NULL);
	/* A write to a closed socket must be an error, not the test's death. */
	signal(SIGPIPE, SIG_IGN);
}

static void
tp_track(struct tp_proc *p, int on)
{
	int i;

	for (i = 0; i < TP_MAX_PROCS; i++) {
		if (on && tp_live[i] == NULL) {
			tp_live[i] = p;
			return;
		}
		if (!on && tp_live[i] == p)
			tp_live[i] = NULL;
	}
	if (on)
		tp_log("more than %d processes tracked", TP_MAX_PROCS);
}

/* ------------------------------------------------------------ files */

int
tp_tmpdir(char *buf, size_t size, const char *tag)
{
	const char *tmp = getenv("TMPDIR");
	int n;

	if (tmp == NULL || *tmp == '\0')
		tmp = "/tmp";
	n = snprintf(buf, size, "%s/vsetd-%s-XXXXXX", tmp, tag);
	if (n < 0 || (size_t)n >= size) {
		tp_log("temp dir name too long");
		return -1;
	}
	if (mkdtemp(buf) == NULL) {
		tp_log("mkdtemp %s: %s", buf, strerror(errno));
		return -1;
	}
	return 0;
}

static int
tp_rm_entry(const char *path, const struct stat *sb, int flag,
    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void
tp_rmtree(const char *dir)
{
	const char *keep = getenv("VSETD_TEST_KEEP");

	if (dir == NULL || dir[0] == '\0')
		return;
	if (keep != NULL && *keep != '\0' && strcmp(keep, "0") != 0) {
		tp_log("kept %s", dir);
		return;
	}
	nftw(dir, tp_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

int
tp_free_port(void)
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
tp_write_file(const char *path, const char *text)
{
	size_t len = strlen(text);
	int fd, rv = -1;

	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		tp_log("open %s: %s", path, strerror(errno));
		return -1;
	}
	if (write(fd, text, len) == (ssize_t)len)
		rv = 0;
	else
		tp_log("write %s: %s", path, strerror(errno));
	close(fd);
	return rv;
}

char *
tp_slurp(const char *path, size_t *len)
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
tp_file_contains(const char *path, const char *needle)
{
	char *text = tp_slurp(path, NULL);
	int rv;

	if (text == NULL)
		return -1;
	rv = strstr(text, needle) != NULL;
	free(text);
	return rv;
}

void
tp_log_tail(const char *path, size_t max_bytes)
{
	size_t len = 0;
	char *text = tp_slurp(path, &len);
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
tp_proc_strdup(struct tp_proc *p, const char *s)
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
tp_proc_spawn(struct tp_proc *p)
{
	pid_t parent = getpid();
	char **envp = NULL;
	size_t n = 0, i;
	pid_t pid;
	int fd, rv = -1;

	tp_install_handlers();
	while (environ[n] != NULL)
		n++;
	if ((envp = calloc(n + (size_t)p->envc + 1, sizeof(*envp))) == NULL)
		goto out;
	for (i = 0; i < n; i++)
		envp[i] = environ[i];
	for (i = 0; i < (size_t)p->envc; i++)
		envp[n + i] = p->env[i];

	tp_track(p, 1);
	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		tp_log("fork: %s", strerror(errno));
		tp_track(p, 0);
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
tp_proc_start(struct tp_proc *p, const char *const *argv,
    const char *const *env, const char *cwd, const char *log)
{
	int i;

	memset(p, 0, sizeof(*p));
	snprintf(p->cwd, sizeof(p->cwd), "%s", cwd);
	snprintf(p->log, sizeof(p->log), "%s", log);
	for (i = 0; argv[i] != NULL; i++) {
		if (i >= TP_MAX_ARGS ||
		    (p->argv[i] = tp_proc_strdup(p, argv[i])) == NULL) {
			tp_log("too many or too long arguments");
			return -1;
		}
	}
	p->argc = i;
	for (i = 0; env != NULL && env[i] != NULL; i++) {
		if (i >= TP_MAX_ARGS ||
		    (p->env[i] = tp_proc_strdup(p, env[i])) == NULL) {
			tp_log("too many or too long environment entries");
			return -1;
		}
	}
	p->envc = i;
	if (p->argc == 0 || p->argv[0] == NULL || p->argv[0][0] == '\0') {
		tp_log("no program to start");
		return -1;
	}
	return tp_proc_spawn(p);
}

int
tp_proc_respawn(struct tp_proc *p)
{
	if (p->pid > 0) {
		tp_log("pid %d still running", (int)p->pid);
		return -1;
	}
	return tp_proc_spawn(p);
}

int
tp_proc_wait(struct tp_proc *p, int timeout_ms, int *status)
{
	int64_t end = tp_now_ms() + timeout_ms;
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
			tp_track(p, 0);
			return 0;
		}
		if (tp_now_ms() >= end)
			return -1;
		tp_sleep_ms(5);
	}
}

int
tp_proc_alive(struct tp_proc *p)
{
	if (p->pid <= 0)
		return 0;
	return tp_proc_wait(p, 0, NULL) != 0;
}

int
tp_proc_signal(struct tp_proc *p, int sig)
{
	if (p->pid <= 0 || kill(p->pid, sig) != 0) {
		tp_log("signal %d to pid %d failed", sig, (int)p->pid);
		return -1;
	}
	if (sig == SIGSTOP)
		p->stopped = 1;
	else if (sig == SIGCONT)
		p->stopped = 0;
	return 0;
}

void
tp_proc_kill(struct tp_proc *p)
{
	if (p->pid <= 0)
		return;
	kill(p->pid, SIGCONT);
	kill(p->pid, SIGKILL);
	if (tp_proc_wait(p, TP_REAP_WAIT_MS, NULL) != 0)
		tp_log("pid %d did not die after SIGKILL", (int)p->pid);
}

long
tp_proc_rss_kb(const struct tp_proc *p)
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
tp_proc_cmdline_contains(const struct tp_proc *p, const char *needle)
{
	char path[64];
	size_t len = 0, i;
	char *text;
	int rv;

	snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)p->pid);
	if ((text = tp_slurp(path, &len)) == NULL)
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
tp_proc_maps_contain(const struct tp_proc *p, const char *needle)
{
	char path[64];

	snprintf(path, sizeof(path), "/proc/%d/maps", (int)p->pid);
	return tp_file_contains(path, needle);
}
