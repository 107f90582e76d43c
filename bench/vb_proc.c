/*
 * vb_proc.c - /proc/PID/stat parsing.
 *
 * The second field of stat is the command name in parentheses and may
 * itself contain spaces and parentheses, so parsing starts after the
 * *last* ')'.  utime and stime are fields 14 and 15, in clock ticks.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "vb_proc.h"

int
vb_proc_read(pid_t pid, vb_proc_sample *out)
{
	char path[64], buf[2048], *p;
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
	return 0;
}
