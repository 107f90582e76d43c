/* status.c - see status.h. */
#include <stdarg.h>
#include <stdio.h>

#include "status.h"

int
vsd_status_set(struct vsd_status *st, int code, const char *fmt, ...)
{
	va_list ap;

	st->code = code;
	va_start(ap, fmt);
	vsnprintf(st->msg, sizeof(st->msg), fmt, ap);
	va_end(ap);
	return code;
}
