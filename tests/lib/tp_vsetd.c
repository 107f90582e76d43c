/*
 * tp_vsetd.c - start and stop a real vsetd, reading its URL from its log.
 *
 * Design note.  vsetd prints "listening on URL" once it serves; the URL
 * has the real port when it was asked for port 0.  Each process gets a
 * fresh log file, so the scan can never find an older process's line.
 */
#include "tp_vsetd.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sys/wait.h>

#define TP_LISTEN_WAIT_MS 10000

/* The URL of the first "listening on URL" line of path (a fresh log per
 * process) into url; 1 found, 0 not yet. */
static int
tp_scan_listening(const char *path, char *url, size_t size)
{
	static const char needle[] = "listening on ";
	char *text, *p;
	size_t n;
	int found = 0;

	if ((text = tp_slurp(path, NULL)) == NULL)
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
tp_vsetd_start(struct tp_vsetd *v, const char *dir, const char *tag,
    const char *const *args, const char *const *env)
{
	const char *bin = getenv("VSETD_BIN");
	const char *argv[TP_MAX_ARGS + 1];
	char log[PATH_MAX];
	int64_t end;
	int argc = 0, i, st = 0;

	if (bin == NULL || *bin == '\0') {
		tp_log("VSETD_BIN is not set");
		return -1;
	}
	memset(v, 0, sizeof(*v));
	argv[argc++] = bin;
	for (i = 0; args != NULL && args[i] != NULL; i++) {
		if (argc >= TP_MAX_ARGS) {
			tp_log("too many vsetd arguments");
			return -1;
		}
		argv[argc++] = args[i];
	}
	argv[argc] = NULL;
	/* A fresh log per process: the scan must not find an old line. */
	snprintf(log, sizeof(log), "%s/vsetd-%s.log", dir, tag);
	unlink(log);
	if (tp_proc_start(&v->p, argv, env, dir, log) != 0)
		return -1;
	end = tp_now_ms() + TP_LISTEN_WAIT_MS;
	for (;;) {
		if (tp_scan_listening(log, v->url, sizeof(v->url)))
			return 0;
		if (tp_proc_wait(&v->p, 0, &st) == 0) {
			tp_log("vsetd exited at start (status 0x%x)", st);
			tp_log_tail(log, 2000);
			return -1;
		}
		if (tp_now_ms() >= end) {
			tp_log("vsetd printed no 'listening on' in %d ms",
			    TP_LISTEN_WAIT_MS);
			tp_proc_kill(&v->p);
			tp_log_tail(log, 2000);
			return -1;
		}
		tp_sleep_ms(10);
	}
}

int
tp_vsetd_term(struct tp_vsetd *v, int timeout_ms)
{
	int st = 0;

	if (v->p.pid <= 0) {
		tp_log("vsetd is not running (crashed earlier?)");
		tp_log_tail(v->p.log, 2000);
		return -1;
	}
	kill(v->p.pid, SIGTERM);
	if (tp_proc_wait(&v->p, timeout_ms, &st) != 0) {
		tp_log("vsetd did not exit within %d ms of SIGTERM",
		    timeout_ms);
		tp_proc_kill(&v->p);
		tp_log_tail(v->p.log, 2000);
		return -1;
	}
	if (!WIFEXITED(st) || WEXITSTATUS(st) != 0) {
		tp_log("vsetd ended with status 0x%x after SIGTERM", st);
		tp_log_tail(v->p.log, 2000);
		return -1;
	}
	return 0;
}
