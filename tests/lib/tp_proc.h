/*
 * tp_proc.h - child processes for the tests that run real servers.
 *
 * Design.  One process core serves every test tree (integration,
 * reliability, observability): tp_proc is a generic child (argv + extra
 * environment + cwd + log file) that can be spawned, signalled, waited for
 * (bounded) and spawned again with the same arguments.  Every child gets
 * PR_SET_PDEATHSIG=SIGKILL and is listed in a table that an atexit() and a
 * SIGTERM/SIGINT/SIGHUP handler (meson sends SIGTERM on a timeout) kill, so
 * nothing outlives the test.  tp_redis.h and tp_vsetd.h build Redis and
 * vsetd on it; tests/integration/harness.h builds whole clusters on those.
 *
 * Every wait is bounded; failures print "# tp: ..." (a TAP comment) and
 * return -1.  Not thread-safe: start and stop processes from one thread.
 *
 * Ownership.  A tp_proc is caller-owned (static, in the test state or in a
 * harness cluster) and must stay at its address while its process runs:
 * the cleanup table points to it.  argv/env strings are copied in, so the
 * caller's arrays may be temporary.  tp_tmpdir() writes the caller's
 * buffer; tp_slurp() returns a buffer the caller frees.
 */
#ifndef TP_PROC_H
#define TP_PROC_H

#include <limits.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* A vsetd in front of 16 shards takes 3 + 32 arguments before its own. */
#define TP_MAX_ARGS 96
#define TP_ARG_BYTES 4096

struct tp_proc {
	pid_t pid;                   /* 0 = not running */
	int stopped;                 /* SIGSTOPped by us */
	char log[PATH_MAX];
	char cwd[PATH_MAX];
	int argc, envc;
	char *argv[TP_MAX_ARGS + 1];
	char *env[TP_MAX_ARGS + 1];  /* "NAME=value", added to ours */
	char buf[TP_ARG_BYTES];      /* storage of argv/env strings */
	size_t used;
};

/* printf to stderr as a TAP comment "# tp: ...". */
void tp_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

int64_t tp_now_ms(void);
void tp_sleep_ms(int ms);

/* mkdtemp under $TMPDIR (or /tmp) named "vsetd-<tag>-XXXXXX". */
int tp_tmpdir(char *buf, size_t size, const char *tag);
/* rm -rf dir, unless VSETD_TEST_KEEP is set (then it is only logged). */
void tp_rmtree(const char *dir);
/* A loopback TCP port that was free a moment ago. */
int tp_free_port(void);

/* Write text to path (mode 0600); 0 or -1. */
int tp_write_file(const char *path, const char *text);
/* The whole file, NUL-terminated (binary-safe length in *len, may be
 * NULL); the caller frees it.  NULL on error. */
char *tp_slurp(const char *path, size_t *len);
/* Whether the file contains needle (0/1), -1 if unreadable. */
int tp_file_contains(const char *path, const char *needle);
/* Print the last max_bytes of the log as TAP comments. */
void tp_log_tail(const char *path, size_t max_bytes);

/* Start argv (NULL-terminated) with env (NULL-terminated "NAME=value", may
 * be NULL) added to this process's environment, in cwd, output appended to
 * log.  p is overwritten. */
int tp_proc_start(struct tp_proc *p, const char *const *argv,
    const char *const *env, const char *cwd, const char *log);
/* Start p again with the same argv/env/cwd/log (after it was killed). */
int tp_proc_respawn(struct tp_proc *p);
/* 1 if p's process is running (reaps it if it exited), 0 if not. */
int tp_proc_alive(struct tp_proc *p);
/* kill(); SIGSTOP/SIGCONT also update p->stopped. */
int tp_proc_signal(struct tp_proc *p, int sig);
/* Wait at most timeout_ms for exit; 0 and *status (may be NULL), or -1. */
int tp_proc_wait(struct tp_proc *p, int timeout_ms, int *status);
/* SIGCONT + SIGKILL + reap.  No-op when not running. */
void tp_proc_kill(struct tp_proc *p);
/* Resident set size of p in KiB (/proc/PID/status VmRSS), -1 on error. */
long tp_proc_rss_kb(const struct tp_proc *p);
/* Whether /proc/PID/cmdline contains needle: 1/0, -1 on error. */
int tp_proc_cmdline_contains(const struct tp_proc *p, const char *needle);
/* Whether /proc/PID/maps names needle (e.g. "libasan"): 1/0, -1 error. */
int tp_proc_maps_contain(const struct tp_proc *p, const char *needle);

#endif
