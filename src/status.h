/*
 * status.h - the outcome of one call inside the server: a gRPC code (enum
 * vs_code numbers) and a message for the caller.  Lives inside the call; no
 * allocation.
 */
#ifndef VSD_STATUS_H
#define VSD_STATUS_H

#include "vs_status.h"

enum {
	VSD_OK = 0, VSD_CANCELLED = 1, VSD_INVALID_ARGUMENT = 3,
	VSD_DEADLINE_EXCEEDED = 4, VSD_NOT_FOUND = 5,
	VSD_RESOURCE_EXHAUSTED = 8, VSD_FAILED_PRECONDITION = 9,
	VSD_UNIMPLEMENTED = 12, VSD_INTERNAL = 13, VSD_UNAVAILABLE = 14,
};

struct vsd_status {
	int code;
	char msg[384];
};

/* Set code and message; returns code, for `return vsd_status_set(...)`. */
int vsd_status_set(struct vsd_status *st, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#endif
