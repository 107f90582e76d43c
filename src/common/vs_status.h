/*
 * vs_status.h - gRPC status code names.  The numbers are enum vs_code in
 * clients/c/include/vsetd.h (and vsetd.v1.Code on the wire).
 */
#ifndef VS_STATUS_H
#define VS_STATUS_H

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" outside 0..16.  Static storage. */
const char *vs_code_name(int code);

#endif
