/*
 * wire_check.c - see wire_check.h for why.  The walk follows the protobuf
 * encoding: a varint key (field number << 3 | wire type), then a varint,
 * 8 bytes, a varint length and that many bytes, or 4 bytes.  Counts of
 * repeated fields are kept per field of each message instance (a small
 * array indexed by the field's position in its descriptor).
 */
#include <string.h>

#include "wire_check.h"

#define VSD_WIRE_MAX_FIELDS 64  /* fields per message we keep counts for */

struct vsd_wire_walk {
	const char *what;
	uint32_t max_repeated;
	uint32_t unknown;
	struct vsd_status *st;
};

static int
vsd_varint(const uint8_t *buf, size_t len, size_t *pos, uint64_t *v)
{
	unsigned shift = 0;

	*v = 0;
	while (*pos < len && shift < 64) {
		uint8_t b = buf[(*pos)++];

		*v |= (uint64_t)(b & 0x7f) << shift;
		if ((b & 0x80) == 0)
			return 0;
		shift += 7;
	}
	return -1;
}

static int
vsd_wire_msg(struct vsd_wire_walk *w, const ProtobufCMessageDescriptor *d,
    const uint8_t *buf, size_t len, int depth)
{
	uint32_t counts[VSD_WIRE_MAX_FIELDS];
	const ProtobufCFieldDescriptor *f;
	size_t pos = 0, idx;
	uint64_t key, v;

	if (depth > VSD_WIRE_MAX_DEPTH)
		return vsd_status_set(w->st, VSD_INVALID_ARGUMENT,
		    "%s: messages nested deeper than %d", w->what,
		    VSD_WIRE_MAX_DEPTH);
	memset(counts, 0, sizeof(counts));
	while (pos < len) {
		if (vsd_varint(buf, len, &pos, &key) != 0 || (key >> 3) == 0 ||
		    (key >> 3) > 536870911u)
			goto bad;
		f = protobuf_c_message_descriptor_get_field(d,
		    (unsigned)(key >> 3));
		if (f == NULL && ++w->unknown > VSD_WIRE_MAX_UNKNOWN)
			return vsd_status_set(w->st, VSD_INVALID_ARGUMENT,
			    "%s: more than %d unknown fields", w->what,
			    VSD_WIRE_MAX_UNKNOWN);
		switch (key & 7) {
		case 0:
			if (vsd_varint(buf, len, &pos, &v) != 0)
				goto bad;
			break;
		case 1:
			if (len - pos < 8)
				goto bad;
			pos += 8;
			break;
		case 5:
			if (len - pos < 4)
				goto bad;
			pos += 4;
			break;
		case 2:
			if (vsd_varint(buf, len, &pos, &v) != 0 || v > len - pos)
				goto bad;
			if (f != NULL && f->label == PROTOBUF_C_LABEL_REPEATED &&
			    (f->type == PROTOBUF_C_TYPE_MESSAGE ||
			    f->type == PROTOBUF_C_TYPE_STRING ||
			    f->type == PROTOBUF_C_TYPE_BYTES)) {
				idx = (size_t)(f - d->fields);
				if (idx < VSD_WIRE_MAX_FIELDS &&
				    ++counts[idx] > w->max_repeated)
					return vsd_status_set(w->st,
					    VSD_INVALID_ARGUMENT, "%s: %s.%s has "
					    "more than %u entries (--max-batch)",
					    w->what, d->short_name, f->name,
					    w->max_repeated);
			}
			if (f != NULL && f->type == PROTOBUF_C_TYPE_STRING &&
			    memchr(buf + pos, 0, (size_t)v) != NULL)
				return vsd_status_set(w->st,
				    VSD_INVALID_ARGUMENT, "%s: %s.%s contains a "
				    "NUL byte", w->what, d->short_name, f->name);
			if (f != NULL && f->type == PROTOBUF_C_TYPE_MESSAGE &&
			    vsd_wire_msg(w, f->descriptor, buf + pos, (size_t)v,
			    depth + 1) != VSD_OK)
				return w->st->code;
			pos += (size_t)v;
			break;
		default:
			goto bad;
		}
	}
	return VSD_OK;
bad:
	return vsd_status_set(w->st, VSD_INVALID_ARGUMENT, "malformed %s: "
	    "not a valid %s (byte %zu of %zu)", w->what, d->name, pos, len);
}

int
vsd_wire_check(const ProtobufCMessageDescriptor *d, const uint8_t *buf,
    size_t len, uint32_t max_repeated, const char *what,
    struct vsd_status *st)
{
	struct vsd_wire_walk w = { what, max_repeated, 0, st };

	st->code = VSD_OK;
	return vsd_wire_msg(&w, d, buf, len, 0);
}
