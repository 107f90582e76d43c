/* vs_status.c - code -> name, as gRPC spells them. */
#include "vs_status.h"

static const char *const vs_code_names[] = {
	"OK", "CANCELLED", "UNKNOWN", "INVALID_ARGUMENT", "DEADLINE_EXCEEDED",
	"NOT_FOUND", "ALREADY_EXISTS", "PERMISSION_DENIED",
	"RESOURCE_EXHAUSTED", "FAILED_PRECONDITION", "ABORTED",
	"OUT_OF_RANGE", "UNIMPLEMENTED", "INTERNAL", "UNAVAILABLE",
	"DATA_LOSS", "UNAUTHENTICATED",
};

const char *
vs_code_name(int code)
{
	if (code < 0 ||
	    code >= (int)(sizeof(vs_code_names) / sizeof(vs_code_names[0])))
		return "UNKNOWN";
	return vs_code_names[code];
}
