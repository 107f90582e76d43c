/*
 * wire_check.h - checks on a protobuf message's bytes, before decoding.
 *
 * protobuf-c 1.4.1 decodes whatever it is given: it allocates for every
 * element of every repeated field and every unknown field before vsetd can
 * look at a count (fuzzing measured 30-50x the message size), and it hands
 * strings over NUL-terminated, so an id "a\0b" would silently become "a".
 * vsd_wire_check() walks the encoded message with its descriptor, without
 * allocating, and refuses, with INVALID_ARGUMENT naming the field:
 *   - a NUL byte inside any string field (nested messages included);
 *   - a repeated message, string or bytes field with more than max_repeated
 *     entries (vsetd passes --max-batch), so batch limits hold before any
 *     memory is spent;
 *   - more than VSD_WIRE_MAX_UNKNOWN unknown fields (a newer client's few
 *     extra fields are fine; thousands are not);
 *   - nesting deeper than VSD_WIRE_MAX_DEPTH, and malformed encodings.
 * Pure: no allocation, no state.
 */
#ifndef VSD_WIRE_CHECK_H
#define VSD_WIRE_CHECK_H

#include <protobuf-c/protobuf-c.h>
#include <stddef.h>
#include <stdint.h>

#include "status.h"

#define VSD_WIRE_MAX_UNKNOWN 1024
#define VSD_WIRE_MAX_DEPTH 32

/* what names the bytes in messages ("payload", "request envelope"). */
int vsd_wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, uint32_t max_repeated, const char *what,
    struct vsd_status *st);

#endif
