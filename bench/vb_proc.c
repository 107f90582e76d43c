/*
 * vb_proc.c - /proc/PID/stat parsing.
 *
 * The second field of stat is the command name in parentheses and may
 * itself contain spaces and parentheses, so parsing starts after the
 * *last* ')'.  utime and stime are fields 14 and 15, in clock ticks, and
 * already cover every thread.  Context switches do not: /proc/PID/status
 * counts the main thread only, so they are summed over
 * /proc/PID/task/TID/status (voluntary_ctxt_switches and
 * nonvoluntary_ctxt_switches), which is what "wake-ups per request" in
 * docs/benchmarks.md means.
 */
#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vb_proc.h"

#define VB_PROC_PATH_MAX 320   /* "/proc/PID/task/" + a d_name (256) + "/status" */
#define VB_PROC_LINE_MAX 256
#define VB_SWITCH_KEY_V "voluntary_ctxt_switches:"
#define VB_SWITCH_KEY_N "nonvoluntary_ctxt_switches:"

/* Switches of one thread, or -1. */
static long long
thread_switches(const char *path)
{
	char line[VB_PROC_LINE_MAX];
	long long n = 0, v;
	int seen = 0;
	FILE *f;

	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f) != NULL) {
		if (sscanf(line, VB_SWITCH_KEY_V " %lld", &v) == 1 ||
		    sscanf(line, VB_SWITCH_KEY_N " %lld", &v) == 1) {
			n += v;
			seen++;
		}
	}
	fclose(f);
	return seen == 2 ? n : -1;
}

/* Sum over /proc/PID/task/, or -1.  A thread gone between readdir and
 * fopen is skipped (it has left the process). */
static long long
process_switches(pid_t pid)
{
	char path[VB_PROC_PATH_MAX];
	struct dirent *e;
	long long n = 0, t;
	int threads = 0;
	DIR *d;

	snprintf(path, sizeof(path), "/proc/%ld/task", (long)pid);
	if ((d = opendir(path)) == NULL)
		return -1;
	while ((e = readdir(d)) != NULL) {
		if (e->d_name[0] < '0' || e->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%ld/task/%s/status",
		    (long)pid, e->d_name);
		if ((t = thread_switches(path)) < 0)
			continue;
		n += t;
		threads++;
	}
	closedir(d);
	return threads > 0 ? n : -1;
}

int
vb_proc_read(pid_t pid, vb_proc_sample *out)
{
	char path[VB_PROC_PATH_MAX], buf[2048], *p;
	unsigned long long ut, st;
	long pages, rss;
	size_t n;
	FILE *f;
	int i;

	snprintf(path, sizeof(path), "/proc/%ld/stat", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	if ((p = strrchr(buf, ')')) == NULL)
		return -1;
	p++;
	/* After ')': field 3 (state) onwards; skip to field 14. */
	for (i = 3; i < 14; i++) {
		p = strchr(p + 1, ' ');
		if (p == NULL)
			return -1;
	}
	if (sscanf(p, " %llu %llu", &ut, &st) != 2)
		return -1;
	out->cpu_s = (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
	snprintf(path, sizeof(path), "/proc/%ld/statm", (long)pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	if (fscanf(f, "%ld %ld", &pages, &rss) != 2) {
		fclose(f);
		return -1;
	}
	fclose(f);
	out->rss_kb = rss * (sysconf(_SC_PAGESIZE) / 1024);
	out->switches = process_switches(pid);
	return 0;
}
