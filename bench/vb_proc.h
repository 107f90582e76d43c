/*
 * vb_proc.h - CPU time and memory of another local process, from
 * /proc/PID/stat and /proc/PID/statm (Linux).  The coordinator samples
 * vsetd and the shards before and after a run to report CPU per request.
 */
#ifndef VB_PROC_H
#define VB_PROC_H

#include <sys/types.h>

typedef struct vb_proc_sample {
	double cpu_s;                /* user + system, all threads */
	long rss_kb;
} vb_proc_sample;

/* 0, or -1 if the process cannot be read (gone, other host, ...). */
int vb_proc_read(pid_t pid, vb_proc_sample *out);

#endif
