/*
 * vb_proc.h - CPU time, context switches and memory of another local
 * process, from /proc/PID/stat, /proc/PID/task/TID/status and
 * /proc/PID/statm (Linux).  The coordinator samples vsetd and the shards
 * before and after a run to report CPU and wake-ups per request.
 * Nothing here allocates: the caller owns the sample.
 */
#ifndef VB_PROC_H
#define VB_PROC_H

#include <sys/types.h>

typedef struct vb_proc_sample {
	double cpu_s;                /* user + system, all threads */
	long rss_kb;
	/* voluntary + nonvoluntary context switches summed over the threads
	 * alive at the time of the sample; -1 if they could not be read.
	 * A thread that exits between two samples takes its count with it,
	 * so a difference is a lower bound when threads come and go. */
	long long switches;
} vb_proc_sample;

/* 0, or -1 if the process cannot be read (gone, other host, ...).  A
 * missing switch count alone is not an error (switches = -1). */
int vb_proc_read(pid_t pid, vb_proc_sample *out);

#endif
