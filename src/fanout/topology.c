/*
 * topology.c - the topology record: parsing, validation, formatting and
 * reconciling the records of several shards (see topology.h for the
 * design).  Pure functions, no I/O: the record comes from Redis and is
 * untrusted, so every field is bounded and checked here, where unit tests
 * reach every branch.  Reading it from the shards is topology_io.c.
 */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "topology.h"

#define VSD_TOPO_MAX_PORT 65535
#define VSD_TOPO_MAX_DNS 253
#define VSD_TOPO_MAX_PORT_LEN 5

static const char *const vsd_phase_names[] = { "stable", "dual", "switched" };
static const char *const vsd_move_names[] = { "", "add", "remove" };

static void
vsd_topo_msg(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || errlen == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

const char *
vsd_topo_phase_name(int phase)
{
	if (phase < VSD_PHASE_STABLE || phase > VSD_PHASE_SWITCHED)
		return NULL;
	return vsd_phase_names[phase];
}

/* ------------------------------------------------------------ addresses */

static int
vsd_host_char(char c)
{
	return isalnum((unsigned char)c) || c == '.' || c == '-' || c == '_';
}

static int
vsd_ipv6_char(char c)
{
	return isxdigit((unsigned char)c) || c == ':' || c == '.';
}

int
vsd_topo_parse_addr(const char *s, size_t len, struct vsd_topo_addr *out,
    char *err, size_t errlen)
{
	size_t colon, i, hostlen;
	unsigned long port = 0;

	if (len == 0 || len > VSD_TOPO_MAX_ADDR) {
		vsd_topo_msg(err, errlen, "address of %zu bytes (1..%d)", len,
		    VSD_TOPO_MAX_ADDR);
		return -1;
	}
	for (colon = len; colon > 0 && s[colon - 1] != ':'; colon--)
		;
	if (colon == 0) {
		vsd_topo_msg(err, errlen, "address \"%.*s\" has no :port", (int)len,
		    s);
		return -1;
	}
	colon--;                     /* index of the last ':' */
	hostlen = colon;
	if (hostlen == 0) {
		vsd_topo_msg(err, errlen, "address \"%.*s\" has no host", (int)len,
		    s);
		return -1;
	}
	if (s[0] == '[') {
		if (hostlen < 3 || s[hostlen - 1] != ']')
			goto badhost;
		for (i = 1; i + 1 < hostlen; i++)
			if (!vsd_ipv6_char(s[i]))
				goto badhost;
	} else {
		if (hostlen > VSD_TOPO_MAX_DNS)
			goto badhost;
		for (i = 0; i < hostlen; i++)
			if (!vsd_host_char(s[i]))
				goto badhost;
	}
	if (len - colon - 1 == 0 || len - colon - 1 > VSD_TOPO_MAX_PORT_LEN ||
	    s[colon + 1] == '0')
		goto badport;
	for (i = colon + 1; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			goto badport;
		port = port * 10 + (unsigned long)(s[i] - '0');
	}
	if (port < 1 || port > VSD_TOPO_MAX_PORT)
		goto badport;
	memcpy(out->s, s, len);
	out->s[len] = '\0';
	return 0;
badhost:
	vsd_topo_msg(err, errlen, "address \"%.*s\": malformed host", (int)len, s);
	return -1;
badport:
	vsd_topo_msg(err, errlen, "address \"%.*s\": port is not 1..%d", (int)len,
	    s, VSD_TOPO_MAX_PORT);
	return -1;
}

int
vsd_topo_parse_list(const char *s, size_t len, struct vsd_topo_addr *out,
    uint32_t *n, char *err, size_t errlen)
{
	size_t start = 0, i;
	uint32_t j;

	*n = 0;
	if (len == 0) {
		vsd_topo_msg(err, errlen, "empty list");
		return -1;
	}
	for (i = 0; i <= len; i++) {
		if (i < len && s[i] != ',')
			continue;
		if (*n >= VSD_MAX_SHARDS) {
			vsd_topo_msg(err, errlen, "more than %d addresses",
			    VSD_MAX_SHARDS);
			return -1;
		}
		if (vsd_topo_parse_addr(s + start, i - start, &out[*n], err,
		    errlen) != 0)
			return -1;
		for (j = 0; j < *n; j++)
			if (strcmp(out[j].s, out[*n].s) == 0) {
				vsd_topo_msg(err, errlen, "address %s at index %u "
				    "and %u", out[j].s, j, *n);
				return -1;
			}
		(*n)++;
		start = i + 1;
	}
	return 0;
}

size_t
vsd_topo_format_list(const struct vsd_topo_addr *a, uint32_t n, char *buf,
    size_t size)
{
	size_t used = 0, l;
	uint32_t i;

	if (size == 0)
		return 0;
	buf[0] = '\0';
	for (i = 0; i < n; i++) {
		l = strlen(a[i].s);
		if (used + l + (i > 0) + 1 > size) {
			buf[0] = '\0';
			return 0;
		}
		if (i > 0)
			buf[used++] = ',';
		memcpy(buf + used, a[i].s, l);
		used += l;
		buf[used] = '\0';
	}
	return used;
}

int
vsd_topo_addr_of(const struct vsd_endpoint *ep, struct vsd_topo_addr *out)
{
	int n;

	n = snprintf(out->s, sizeof(out->s), strchr(ep->host, ':') != NULL ?
	    "[%s]:%d" : "%s:%d", ep->host, ep->port);
	return n > 0 && (size_t)n < sizeof(out->s) ? 0 : -1;
}

/* ------------------------------------------------------------ record */

/* 1 when a[0..min) equals b[0..min). */
static int
vsd_prefix_related(const struct vsd_topo_addr *a, uint32_t na,
    const struct vsd_topo_addr *b, uint32_t nb)
{
	uint32_t i, m = na < nb ? na : nb;

	for (i = 0; i < m; i++)
		if (strcmp(a[i].s, b[i].s) != 0)
			return 0;
	return 1;
}

int
vsd_topo_check(const struct vsd_topo *t, char *err, size_t errlen)
{
	if (t->nshards == 0) {
		vsd_topo_msg(err, errlen, "no shards");
		return -1;
	}
	if (t->phase == VSD_PHASE_STABLE) {
		if (t->move != VSD_MOVE_NONE || t->nfrom != 0) {
			vsd_topo_msg(err, errlen, "phase stable with a move");
			return -1;
		}
		return 0;
	}
	if (t->phase != VSD_PHASE_DUAL && t->phase != VSD_PHASE_SWITCHED) {
		vsd_topo_msg(err, errlen, "unknown phase %d", t->phase);
		return -1;
	}
	if (t->nfrom == 0 || t->move == VSD_MOVE_NONE) {
		vsd_topo_msg(err, errlen, "phase %s needs fields from and move",
		    vsd_topo_phase_name(t->phase));
		return -1;
	}
	if ((t->move == VSD_MOVE_ADD && t->nshards != t->nfrom + 1) ||
	    (t->move == VSD_MOVE_REMOVE && t->nshards + 1 != t->nfrom) ||
	    !vsd_prefix_related(t->shards, t->nshards, t->from, t->nfrom)) {
		vsd_topo_msg(err, errlen, "move %s: shards (%u) is not from (%u) "
		    "with one shard %s at the end", vsd_move_names[t->move],
		    t->nshards, t->nfrom, t->move == VSD_MOVE_ADD ? "appended" :
		    "removed");
		return -1;
	}
	if (t->move == VSD_MOVE_ADD) {
		uint32_t i;

		for (i = 0; i < t->nfrom; i++)
			if (strcmp(t->from[i].s, t->shards[t->nshards - 1].s)
			    == 0) {
				vsd_topo_msg(err, errlen, "move add: %s is already "
				    "shard %u", t->from[i].s, i);
				return -1;
			}
	}
	return 0;
}

static int
vsd_field_is(const char *f, size_t n, const char *name)
{
	return n == strlen(name) && memcmp(f, name, n) == 0;
}

/* A plain decimal u64 without sign or leading zeros. */
static int
vsd_parse_u64(const char *s, size_t n, uint64_t *out)
{
	uint64_t v = 0;
	size_t i;

	if (n == 0 || n > VSD_TOPO_MAX_EPOCH_LEN || (n > 1 && s[0] == '0'))
		return -1;
	for (i = 0; i < n; i++) {
		unsigned d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = (unsigned)(s[i] - '0');
		if (v > (UINT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

int
vsd_topo_parse(const char *const *field, const size_t *flen,
    const char *const *value, const size_t *vlen, size_t nfields,
    struct vsd_topo *out, char *err, size_t errlen)
{
	int seen_epoch = 0, seen_shards = 0, seen_phase = 0;
	uint64_t version;
	size_t i;
	char sub[200];

	out->epoch = 0;
	out->phase = VSD_PHASE_STABLE;
	out->move = VSD_MOVE_NONE;
	out->nshards = 0;
	out->nfrom = 0;
	if (nfields == 0)
		return 1;
	if (nfields > VSD_TOPO_MAX_FIELDS) {
		vsd_topo_msg(err, errlen, "%zu fields (at most %d)", nfields,
		    VSD_TOPO_MAX_FIELDS);
		return -1;
	}
	for (i = 0; i < nfields; i++) {
		const char *f = field[i], *v = value[i];
		size_t fn = flen[i], vn = vlen[i];

		if (vsd_field_is(f, fn, "version")) {
			if (vsd_parse_u64(v, vn, &version) != 0 ||
			    version != VSD_TOPO_VERSION) {
				vsd_topo_msg(err, errlen, "version \"%.*s\" (this "
				    "vsetd reads version %d)", (int)(vn > 20 ?
				    20 : vn), v, VSD_TOPO_VERSION);
				return -1;
			}
		} else if (vsd_field_is(f, fn, "epoch")) {
			if (vsd_parse_u64(v, vn, &out->epoch) != 0) {
				vsd_topo_msg(err, errlen, "epoch \"%.*s\" is not a "
				    "decimal u64", (int)(vn > 24 ? 24 : vn), v);
				return -1;
			}
			seen_epoch = 1;
		} else if (vsd_field_is(f, fn, "shards")) {
			if (vsd_topo_parse_list(v, vn, out->shards,
			    &out->nshards, sub, sizeof(sub)) != 0) {
				vsd_topo_msg(err, errlen, "shards: %s", sub);
				return -1;
			}
			seen_shards = 1;
		} else if (vsd_field_is(f, fn, "from")) {
			if (vsd_topo_parse_list(v, vn, out->from, &out->nfrom,
			    sub, sizeof(sub)) != 0) {
				vsd_topo_msg(err, errlen, "from: %s", sub);
				return -1;
			}
		} else if (vsd_field_is(f, fn, "phase")) {
			int p;

			for (p = VSD_PHASE_STABLE; p <= VSD_PHASE_SWITCHED; p++)
				if (vsd_field_is(v, vn, vsd_phase_names[p]))
					break;
			if (p > VSD_PHASE_SWITCHED) {
				vsd_topo_msg(err, errlen, "phase \"%.*s\" (stable, "
				    "dual or switched)", (int)(vn > 20 ? 20 :
				    vn), v);
				return -1;
			}
			out->phase = p;
			seen_phase = 1;
		} else if (vsd_field_is(f, fn, "move")) {
			if (vsd_field_is(v, vn, "add")) {
				out->move = VSD_MOVE_ADD;
			} else if (vsd_field_is(v, vn, "remove")) {
				out->move = VSD_MOVE_REMOVE;
			} else {
				vsd_topo_msg(err, errlen, "move \"%.*s\" (add or "
				    "remove)", (int)(vn > 20 ? 20 : vn), v);
				return -1;
			}
		}
		/* other fields: a newer version's, ignored */
	}
	if (!seen_epoch || !seen_shards || !seen_phase) {
		vsd_topo_msg(err, errlen, "missing field %s", !seen_epoch ? "epoch" :
		    !seen_shards ? "shards" : "phase");
		return -1;
	}
	return vsd_topo_check(out, err, errlen);
}

size_t
vsd_topo_to_fields(const struct vsd_topo *t, struct vsd_topo_text *txt,
    const char *field[VSD_TOPO_RECORD_FIELDS],
    const char *value[VSD_TOPO_RECORD_FIELDS], char *err, size_t errlen)
{
	size_t n = 0;

	if (vsd_topo_check(t, err, errlen) != 0)
		return 0;
	snprintf(txt->version, sizeof(txt->version), "%d", VSD_TOPO_VERSION);
	snprintf(txt->epoch, sizeof(txt->epoch), "%llu",
	    (unsigned long long)t->epoch);
	if (vsd_topo_format_list(t->shards, t->nshards, txt->shards,
	    VSD_TOPO_MAX_LIST) == 0 || (t->nfrom > 0 &&
	    vsd_topo_format_list(t->from, t->nfrom, txt->from,
	    VSD_TOPO_MAX_LIST) == 0)) {
		vsd_topo_msg(err, errlen, "list does not fit");
		return 0;
	}
	field[n] = "version";
	value[n++] = txt->version;
	field[n] = "epoch";
	value[n++] = txt->epoch;
	field[n] = "shards";
	value[n++] = txt->shards;
	field[n] = "phase";
	value[n++] = vsd_phase_names[t->phase];
	if (t->phase != VSD_PHASE_STABLE) {
		field[n] = "from";
		value[n++] = txt->from;
		field[n] = "move";
		value[n++] = vsd_move_names[t->move];
	}
	return n;
}

/* ------------------------------------------------------------ reconcile */

int
vsd_topo_equal(const struct vsd_topo *a, const struct vsd_topo *b)
{
	return a->epoch == b->epoch && a->phase == b->phase &&
	    a->move == b->move && a->nshards == b->nshards &&
	    a->nfrom == b->nfrom &&
	    vsd_prefix_related(a->shards, a->nshards, b->shards, b->nshards) &&
	    vsd_prefix_related(a->from, a->nfrom, b->from, b->nfrom);
}

int
vsd_topo_reconcile(const struct vsd_topo_addr *cli, uint32_t ncli,
    const int *answer, const struct vsd_topo *const *rec,
    const char *const *rec_err, struct vsd_topo *out, uint32_t *nabsent,
    char *err, size_t errlen)
{
	const struct vsd_topo *best = NULL;
	const struct vsd_topo_addr *lay;
	uint32_t i, nlay, absent = 0;

	*nabsent = 0;
	for (i = 0; i < ncli; i++) {
		if (answer[i] == VSD_TOPO_MALFORMED) {
			vsd_topo_msg(err, errlen, "shard %u (%s): malformed %s: %s",
			    i, cli[i].s, VSD_TOPO_KEY, rec_err[i] != NULL ?
			    rec_err[i] : "?");
			return VSD_TOPO_REFUSE;
		}
		if (answer[i] == VSD_TOPO_ABSENT)
			absent++;
		if (answer[i] == VSD_TOPO_RECORD &&
		    (best == NULL || rec[i]->epoch > best->epoch))
			best = rec[i];
	}
	if (best == NULL)
		return VSD_TOPO_NONE;
	for (i = 0; i < ncli; i++) {
		const struct vsd_topo *r = rec[i];

		if (answer[i] != VSD_TOPO_RECORD || r == best)
			continue;
		if (r->epoch == best->epoch && !vsd_topo_equal(r, best)) {
			vsd_topo_msg(err, errlen, "shard %u (%s) holds another "
			    "record at the same epoch %llu", i, cli[i].s,
			    (unsigned long long)best->epoch);
			return VSD_TOPO_REFUSE;
		}
		if (!vsd_prefix_related(r->shards, r->nshards, best->shards,
		    best->nshards)) {
			vsd_topo_msg(err, errlen, "shard %u (%s) holds epoch %llu "
			    "whose shard list contradicts epoch %llu's",
			    i, cli[i].s, (unsigned long long)r->epoch,
			    (unsigned long long)best->epoch);
			return VSD_TOPO_REFUSE;
		}
	}
	/* During a remove, from is the longer list; the router's --shard
	 * list may still be it. */
	lay = best->nfrom > best->nshards ? best->from : best->shards;
	nlay = best->nfrom > best->nshards ? best->nfrom : best->nshards;
	for (i = 0; i < ncli && i < nlay; i++)
		if (strcmp(cli[i].s, lay[i].s) != 0) {
			vsd_topo_msg(err, errlen, "the --shard at index %u "
			    "(counting from 0) is %s but the topology record "
			    "(epoch %llu) has %s there", i, cli[i].s,
			    (unsigned long long)best->epoch, lay[i].s);
			return VSD_TOPO_REFUSE;
		}
	if (ncli > nlay) {
		vsd_topo_msg(err, errlen, "%u --shard given but the topology "
		    "record (epoch %llu) has only %u shards (the --shard at "
		    "index %u, %s, is not part of it)", ncli,
		    (unsigned long long)best->epoch, nlay, nlay, cli[nlay].s);
		return VSD_TOPO_REFUSE;
	}
	*out = *best;
	*nabsent = absent;
	return VSD_TOPO_ADOPT;
}
