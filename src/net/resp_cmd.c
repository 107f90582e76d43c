/*
 * resp_cmd.c - the Redis commands of the front door (--resp-listen).
 *
 * Where a command runs:
 *   - connection commands (PING, ECHO, HELLO, AUTH, SELECT, CLIENT,
 *     COMMAND, INFO, QUIT, RESET), arity errors, unknown commands and
 *     NOAUTH are answered on the net thread, in command order, by
 *     vsd_resp_local().  They read and change the connection's state
 *     (protocol, authentication), so running them where the commands are
 *     read keeps a pipeline like "HELLO 3, VSIM, ..." exact without locks;
 *   - every command that needs a shard goes through the workers' queue
 *     like an RPC (same queue, deadline, breaker, replicas and stats) and
 *     runs in vsd_resp_run() on a worker.
 *
 * Translation: a data command is parsed into the protobuf request struct
 * of the matching RPC (VADD -> InsertRequest, VSIM -> SearchRequest, ...)
 * and the op function is called directly, with a vsd_call set up as
 * dispatch.c does (the server's default deadline, the worker's arena and
 * shard links).  Going through dispatch would mean packing an envelope to
 * unpack it again; calling the op keeps one request path with no second
 * copy of any op's logic.  The op's response struct becomes the reply
 * Redis 8 gives for that command, in RESP2 or RESP3.  One Redis key is
 * one collection.
 *
 * Partial results: RESP has no flag for them.  A read that fans out (VSIM,
 * VCARD, VINFO, VRANDMEMBER, DBSIZE, KEYS, SCAN, EXISTS, TYPE) that not
 * every shard answered fails with "-PARTIAL n of m shards answered",
 * unless --resp-partial allow.
 */
#include <ctype.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "ops.h"
#include "resp_cmd.h"
#include "server.h"
#include "vs_time.h"

#define VSD_RESP_DEFAULT_COUNT 10    /* VSIM without COUNT */
#define VSD_RESP_ARGS_SHOWN 128      /* of an unknown command's args */
#define VSD_RESP_INFO_MAX 1024

#define ARITY_ERR "wrong number of arguments for '%s' command"

/* ------------------------------------------------------------ the table */

enum {
	F_LOCAL = 1,                 /* answered on the net thread */
	F_MODULE = 2,                /* a vector-set (module) command: its
	                              * name in errors is upper case */
	F_NOAUTH = 4                 /* allowed before AUTH */
};

struct vsd_resp_def;
struct vsd_rx;
typedef void vsd_resp_fn(struct vsd_rx *x);

struct vsd_resp_def {
	const char *name;            /* lower case */
	int arity;                   /* Redis's: n exact, -n at least n */
	int flags;
	vsd_resp_fn *fn;             /* worker commands */
};

static vsd_resp_fn c_vadd, c_vrem, c_vsim, c_vcard, c_vdim, c_vemb,
    c_vgetattr, c_vsetattr, c_vismember, c_vlinks, c_vrandmember, c_vinfo,
    c_del, c_exists, c_type, c_dbsize, c_keys, c_scan;

static const struct vsd_resp_def vsd_resp_defs[] = {
	{ "ping", -1, F_LOCAL, NULL },
	{ "echo", 2, F_LOCAL, NULL },
	{ "hello", -1, F_LOCAL | F_NOAUTH, NULL },
	{ "auth", -2, F_LOCAL | F_NOAUTH, NULL },
	{ "select", 2, F_LOCAL, NULL },
	{ "client", -2, F_LOCAL, NULL },
	{ "command", -1, F_LOCAL, NULL },
	{ "info", -1, F_LOCAL, NULL },
	{ "quit", -1, F_LOCAL | F_NOAUTH, NULL },
	{ "reset", 1, F_LOCAL | F_NOAUTH, NULL },
	{ "vadd", -5, F_MODULE, c_vadd },
	{ "vrem", 3, F_MODULE, c_vrem },
	{ "vsim", -4, F_MODULE, c_vsim },
	{ "vcard", 2, F_MODULE, c_vcard },
	{ "vdim", 2, F_MODULE, c_vdim },
	{ "vemb", -3, F_MODULE, c_vemb },
	{ "vgetattr", 3, F_MODULE, c_vgetattr },
	{ "vsetattr", 4, F_MODULE, c_vsetattr },
	{ "vismember", 3, F_MODULE, c_vismember },
	{ "vlinks", -3, F_MODULE, c_vlinks },
	{ "vrandmember", -2, F_MODULE, c_vrandmember },
	{ "vinfo", 2, F_MODULE, c_vinfo },
	{ "del", -2, 0, c_del },
	{ "unlink", -2, 0, c_del },
	{ "exists", -2, 0, c_exists },
	{ "type", 2, 0, c_type },
	{ "dbsize", 1, 0, c_dbsize },
	{ "keys", 2, 0, c_keys },
	{ "scan", -2, 0, c_scan },
};

#define VSD_RESP_NDEFS (sizeof(vsd_resp_defs) / sizeof(vsd_resp_defs[0]))

static const struct vsd_resp_def *
vsd_resp_find(const char *name)
{
	size_t i;

	for (i = 0; i < VSD_RESP_NDEFS; i++)
		if (strcasecmp(name, vsd_resp_defs[i].name) == 0)
			return &vsd_resp_defs[i];
	return NULL;
}

static int
vsd_arg_is(const struct vsd_resp_cmd *cmd, size_t i, const char *s)
{
	return i < cmd->argc && strcasecmp(cmd->argv[i], s) == 0;
}

/* A whole decimal integer (Redis's string2ll: no spaces, no '+'). */
static int
vsd_arg_ll(const char *s, long long *v)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s) || *s == '+')
		return -1;
	*v = strtoll(s, &end, 10);
	return *end == '\0' ? 0 : -1;
}

static int
vsd_arg_double(const char *s, double *v)
{
	char *end;

	if (*s == '\0' || isspace((unsigned char)*s))
		return -1;
	*v = strtod(s, &end);
	return *end == '\0' && *v == *v ? 0 : -1;
}

/* ------------------------------------------------------------ net thread */

void
vsd_resp_session_init(struct vsd_resp_session *s, const struct vsd_config *cfg,
    uint64_t id)
{
	memset(s, 0, sizeof(*s));
	s->proto = 2;
	s->authed = cfg->resp_password == NULL;
	s->id = id;
}

/* Compare without leaking where they differ. */
static int
vsd_secret_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b), i;
	unsigned char d = alen != blen;

	for (i = 0; i < alen; i++)
		d |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
	return d == 0;
}

/* AUTH [user] pass, or HELLO's AUTH user pass: 1 if they pass. */
static int
vsd_resp_check_auth(const struct vsd_config *cfg, const char *user,
    const char *pass, size_t passlen)
{
	const char *want_user = cfg->resp_user ? cfg->resp_user : "default";

	if (strcmp(user, want_user) != 0)
		return 0;
	if (cfg->resp_password == NULL)
		return 1;               /* a user with nopass, as Redis */
	return vsd_secret_eq(pass, passlen, cfg->resp_password);
}

static void
vsd_resp_unknown(struct vsd_resp_buf *b, const struct vsd_resp_cmd *cmd)
{
	char args[VSD_RESP_ARGS_SHOWN * 2 + 64];
	size_t i, n = 0;

	args[0] = '\0';
	for (i = 1; i < cmd->argc && n < VSD_RESP_ARGS_SHOWN; i++)
		n += (size_t)snprintf(args + n, sizeof(args) - n, "'%.*s' ",
		    (int)(VSD_RESP_ARGS_SHOWN - n), cmd->argv[i]);
	vsd_resp_error(b, "ERR unknown command '%.128s', with args "
	    "beginning with: %s", cmd->argv[0], args);
}

static void
vsd_resp_hello_reply(struct vsd_resp_session *s, struct vsd_resp_buf *b)
{
	b->proto = s->proto;
	vsd_resp_map(b, 7);
	vsd_resp_str(b, "server");
	vsd_resp_str(b, "redis");
	vsd_resp_str(b, "version");
	vsd_resp_str(b, VSD_RESP_REDIS_VERSION);
	vsd_resp_str(b, "proto");
	vsd_resp_int(b, s->proto);
	vsd_resp_str(b, "id");
	vsd_resp_int(b, (long long)s->id);
	vsd_resp_str(b, "mode");
	vsd_resp_str(b, "standalone");
	vsd_resp_str(b, "role");
	vsd_resp_str(b, "master");
	vsd_resp_str(b, "modules");
	vsd_resp_array(b, 1);
	vsd_resp_map(b, 4);
	vsd_resp_str(b, "name");
	vsd_resp_str(b, "vectorset");
	vsd_resp_str(b, "ver");
	vsd_resp_int(b, 1);
	vsd_resp_str(b, "path");
	vsd_resp_str(b, "");
	vsd_resp_str(b, "args");
	vsd_resp_array(b, 0);
}

static void
vsd_resp_hello(struct vsd_resp_session *s, const struct vsd_config *cfg,
    const struct vsd_resp_cmd *cmd, struct vsd_resp_buf *b)
{
	long long ver = s->proto;
	size_t i = 2;
	int authed = s->authed;

	if (cmd->argc >= 2) {
		if (vsd_arg_ll(cmd->argv[1], &ver) != 0) {
			vsd_resp_error(b, "ERR Protocol version is not an "
			    "integer or out of range");
			return;
		}
		if (ver < 2 || ver > 3) {
			vsd_resp_error(b, "NOPROTO unsupported protocol "
			    "version");
			return;
		}
	}
	for (; i < cmd->argc; i++) {
		if (vsd_arg_is(cmd, i, "AUTH") && i + 2 < cmd->argc) {
			if (!vsd_resp_check_auth(cfg, cmd->argv[i + 1],
			    cmd->argv[i + 2], cmd->argl[i + 2])) {
				vsd_resp_error(b, "WRONGPASS invalid "
				    "username-password pair or user is "
				    "disabled.");
				return;
			}
			authed = 1;
			i += 2;
		} else if (vsd_arg_is(cmd, i, "SETNAME") &&
		    i + 1 < cmd->argc) {
			i++;
		} else {
			vsd_resp_error(b, "ERR Syntax error in HELLO option "
			    "'%.128s'", cmd->argv[i]);
			return;
		}
	}
	if (!authed) {
		vsd_resp_error(b, "NOAUTH HELLO must be called with the client "
		    "already authenticated, otherwise the HELLO <proto> AUTH "
		    "<user> <pass> option can be used to authenticate the "
		    "client and select the RESP protocol version at the same "
		    "time");
		return;
	}
	s->authed = 1;
	s->proto = (int)ver;
	vsd_resp_hello_reply(s, b);
}

static void
vsd_resp_auth(struct vsd_resp_session *s, const struct vsd_config *cfg,
    const struct vsd_resp_cmd *cmd, struct vsd_resp_buf *b)
{
	const char *user = cmd->argc == 3 ? cmd->argv[1] : "default";
	size_t pi = cmd->argc - 1;

	if (cmd->argc > 3) {
		vsd_resp_error(b, "ERR syntax error");
		return;
	}
	if (cmd->argc == 2 && cfg->resp_password == NULL) {
		vsd_resp_error(b, "ERR AUTH <password> called without any "
		    "password configured for the default user. Are you sure "
		    "your configuration is correct?");
		return;
	}
	if (!vsd_resp_check_auth(cfg, user, cmd->argv[pi], cmd->argl[pi])) {
		vsd_resp_error(b, "WRONGPASS invalid username-password pair "
		    "or user is disabled.");
		return;
	}
	s->authed = 1;
	vsd_resp_simple(b, "OK");
}

static void
vsd_resp_client(struct vsd_resp_session *s, const struct vsd_resp_cmd *cmd,
    struct vsd_resp_buf *b)
{
	size_t i;

	if (vsd_arg_is(cmd, 1, "ID") && cmd->argc == 2) {
		vsd_resp_int(b, (long long)s->id);
	} else if (vsd_arg_is(cmd, 1, "SETNAME") && cmd->argc == 3) {
		for (i = 0; i < cmd->argl[2]; i++)
			if (cmd->argv[2][i] < '!' || cmd->argv[2][i] > '~') {
				vsd_resp_error(b, "ERR Client names cannot "
				    "contain spaces, newlines or special "
				    "characters.");
				return;
			}
		vsd_resp_simple(b, "OK");
	} else if (vsd_arg_is(cmd, 1, "SETINFO") && cmd->argc == 4 &&
	    (vsd_arg_is(cmd, 2, "LIB-NAME") || vsd_arg_is(cmd, 2, "LIB-VER"))) {
		vsd_resp_simple(b, "OK");
	} else if (vsd_arg_is(cmd, 1, "GETNAME") && cmd->argc == 2) {
		vsd_resp_null(b);
	} else {
		vsd_resp_error(b, "ERR unknown subcommand or wrong number of "
		    "arguments for '%.128s'. Try CLIENT HELP.", cmd->argv[1]);
	}
}

/* One COMMAND INFO entry, as Redis 7+ shapes it (10 fields). */
static void
vsd_resp_command_entry(struct vsd_resp_buf *b, const struct vsd_resp_def *d)
{
	int keyed = d->fn != NULL && strcmp(d->name, "dbsize") != 0 &&
	    strcmp(d->name, "keys") != 0 && strcmp(d->name, "scan") != 0;

	vsd_resp_array(b, 10);
	vsd_resp_str(b, d->name);
	vsd_resp_int(b, d->arity);
	vsd_resp_array(b, 0);
	vsd_resp_int(b, keyed ? 1 : 0);
	vsd_resp_int(b, keyed ? (d->arity < 0 && d->name[0] != 'v' ? -1 : 1)
	    : 0);
	vsd_resp_int(b, keyed ? 1 : 0);
	vsd_resp_array(b, 0);
	vsd_resp_array(b, 0);
	vsd_resp_array(b, 0);
	vsd_resp_array(b, 0);
}

static void
vsd_resp_command(const struct vsd_resp_cmd *cmd, struct vsd_resp_buf *b)
{
	const struct vsd_resp_def *d;
	size_t i;

	if (cmd->argc == 1) {
		vsd_resp_array(b, VSD_RESP_NDEFS);
		for (i = 0; i < VSD_RESP_NDEFS; i++)
			vsd_resp_command_entry(b, &vsd_resp_defs[i]);
	} else if (vsd_arg_is(cmd, 1, "COUNT") && cmd->argc == 2) {
		vsd_resp_int(b, (long long)VSD_RESP_NDEFS);
	} else if (vsd_arg_is(cmd, 1, "INFO")) {
		vsd_resp_array(b, cmd->argc - 2);
		for (i = 2; i < cmd->argc; i++) {
			if ((d = vsd_resp_find(cmd->argv[i])) != NULL)
				vsd_resp_command_entry(b, d);
			else
				vsd_resp_null(b);
		}
	} else if (vsd_arg_is(cmd, 1, "DOCS")) {
		vsd_resp_map(b, 0);     /* no docs: clients fall back */
	} else {
		vsd_resp_error(b, "ERR unknown subcommand or wrong number of "
		    "arguments for '%.128s'. Try COMMAND HELP.", cmd->argv[1]);
	}
}

static void
vsd_resp_info(const struct vsd_config *cfg, int64_t started_us,
    struct vsd_resp_buf *b)
{
	char txt[VSD_RESP_INFO_MAX];
	int n;

	n = snprintf(txt, sizeof(txt), "# Server\r\n"
	    "redis_version:%s\r\n"
	    "redis_mode:standalone\r\n"
	    "vsetd_version:%s\r\n"
	    "vsetd_shards:%u\r\n"
	    "vsetd_resp_partial:%s\r\n"
	    "process_id:%ld\r\n"
	    "uptime_in_seconds:%lld\r\n",
	    VSD_RESP_REDIS_VERSION, VSETD_VERSION, cfg->nshards,
	    cfg->resp_partial_allow ? "allow" : "error", (long)getpid(),
	    (long long)((vs_now_us() - started_us) / 1000000));
	if (n < 0 || (size_t)n >= sizeof(txt))
		n = (int)strlen(txt);
	vsd_resp_verbatim(b, txt, (size_t)n);
}

int
vsd_resp_local(struct vsd_resp_session *s, const struct vsd_config *cfg,
    int64_t started_us, const struct vsd_resp_cmd *cmd,
    struct vsd_resp_buf *b)
{
	const struct vsd_resp_def *d;
	const char *name;
	char upper[32];
	size_t i;
	long long v;

	b->proto = s->proto;
	if ((d = vsd_resp_find(cmd->argv[0])) == NULL) {
		vsd_resp_unknown(b, cmd);
		return VSD_RESP_ANSWERED;
	}
	if ((d->arity > 0 && cmd->argc != (size_t)d->arity) ||
	    (d->arity < 0 && cmd->argc < (size_t)-d->arity)) {
		name = d->name;
		if (d->flags & F_MODULE) {
			for (i = 0; d->name[i] != '\0' && i + 1 < sizeof(upper);
			    i++)
				upper[i] = (char)toupper((unsigned char)d->name[i]);
			upper[i] = '\0';
			name = upper;
		}
		vsd_resp_error(b, "ERR " ARITY_ERR, name);
		return VSD_RESP_ANSWERED;
	}
	if (!s->authed && !(d->flags & F_NOAUTH)) {
		vsd_resp_error(b, "NOAUTH Authentication required.");
		return VSD_RESP_ANSWERED;
	}
	if (!(d->flags & F_LOCAL))
		return VSD_RESP_WORKER;
	if (strcmp(d->name, "ping") == 0) {
		if (cmd->argc > 2)
			vsd_resp_error(b, "ERR " ARITY_ERR, "ping");
		else if (cmd->argc == 2)
			vsd_resp_bulk(b, cmd->argv[1], cmd->argl[1]);
		else
			vsd_resp_simple(b, "PONG");
	} else if (strcmp(d->name, "echo") == 0) {
		vsd_resp_bulk(b, cmd->argv[1], cmd->argl[1]);
	} else if (strcmp(d->name, "hello") == 0) {
		vsd_resp_hello(s, cfg, cmd, b);
	} else if (strcmp(d->name, "auth") == 0) {
		vsd_resp_auth(s, cfg, cmd, b);
	} else if (strcmp(d->name, "select") == 0) {
		if (vsd_arg_ll(cmd->argv[1], &v) != 0)
			vsd_resp_error(b, "ERR value is not an integer or out "
			    "of range");
		else if (v != 0)
			vsd_resp_error(b, "ERR DB index is out of range");
		else
			vsd_resp_simple(b, "OK");
	} else if (strcmp(d->name, "client") == 0) {
		vsd_resp_client(s, cmd, b);
	} else if (strcmp(d->name, "command") == 0) {
		vsd_resp_command(cmd, b);
	} else if (strcmp(d->name, "info") == 0) {
		vsd_resp_info(cfg, started_us, b);
	} else if (strcmp(d->name, "quit") == 0) {
		vsd_resp_simple(b, "OK");
		s->quit = 1;
	} else {                        /* reset */
		vsd_resp_session_init(s, cfg, s->id);
		b->proto = s->proto;
		vsd_resp_simple(b, "RESET");
	}
	return VSD_RESP_ANSWERED;
}

nng_msg *
vsd_resp_msg(struct vsd_resp_buf *b)
{
	nng_msg *m = NULL;

	if (!b->oom && nng_msg_alloc(&m, b->len) == 0)
		memcpy(nng_msg_body(m), b->p, b->len);
	vsd_resp_buf_free(b);
	return m;
}

/* ------------------------------------------------------------ workers */

/* One data command being run. */
struct vsd_rx {
	struct vsd_worker *w;
	const struct vsd_job *job;
	const struct vsd_resp_cmd *cmd;
	struct vsd_resp_buf *b;
	struct vsd_call call;
	int allow_partial;
};

static int
vsd_resp_method(const char *name)
{
	int i;

	for (i = 0; i < vsd_method_count(); i++)
		if (strcmp(vsd_method_name(i), name) == 0)
			return i;
	return VSD_STATS_OTHER;
}

/* Run an op as dispatch.c would for an RPC with no deadline of its own.
 * The response stays valid until vsd_rx_done(). */
static int
vsd_rx_op(struct vsd_rx *x, vsd_op_fn *fn, const char *method,
    const ProtobufCMessage *req)
{
	struct vsd_call *call = &x->call;

	vsd_call_init(call, &x->w->lane);
	call->deadline_us = vsd_request_due_us(call->w->cfg, 0,
	    x->job->recv_us);
	if (vs_now_us() >= call->deadline_us)
		vsd_status_set(&call->st, VSD_DEADLINE_EXCEEDED, "deadline "
		    "passed while the command waited for a worker");
	else
		fn(call, req);
	vsd_stats_request_from(&x->w->lane.stats, VSD_FRONTEND_RESP,
	    vsd_resp_method(method),
	    call->st.code, vs_now_us() - x->job->recv_us);
	return call->st.code;
}

static void
vsd_rx_done(struct vsd_rx *x)
{
	vsd_cmds_free_replies(x->call.cmds, x->call.ncmds);
	x->call.cmds = NULL;
	x->call.ncmds = 0;
}

/* The op's failure as a Redis error. */
static void
vsd_rx_status(struct vsd_rx *x)
{
	const struct vsd_status *st = &x->call.st;

	if (st->code == VSD_FAILED_PRECONDITION &&
	    strstr(st->msg, "WRONGTYPE") != NULL)
		vsd_resp_error(x->b, "WRONGTYPE Operation against a key "
		    "holding the wrong kind of value");
	else
		vsd_resp_error(x->b, "ERR %s", st->msg);
}

/* A fanned-out read some shard did not answer: 1 if it was refused. */
static int
vsd_rx_partial(struct vsd_rx *x, int partial,
    const Vsetd__V1__ShardSummary *s)
{
	if (!partial || x->allow_partial)
		return 0;
	vsd_resp_error(x->b, "PARTIAL %u of %u shards answered",
	    s != NULL ? s->ok : 0, s != NULL ? s->total : 0);
	return 1;
}

/* "VALUES n f1..fn" or "FP32 blob" at argv[*i]: the vector, in the
 * arena.  -1 (error written) if malformed. */
static int
vsd_rx_vector(struct vsd_rx *x, size_t *i, float **vec, size_t *dim)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	long long n;
	size_t k;
	double d;

	if (vsd_arg_is(cmd, *i, "FP32") && *i + 1 < cmd->argc) {
		if (cmd->argl[*i + 1] == 0 || cmd->argl[*i + 1] % 4 != 0)
			goto bad;
		*dim = cmd->argl[*i + 1] / 4;
		if ((*vec = vsd_call_alloc(&x->call, *dim * 4)) == NULL)
			goto oom;
		memcpy(*vec, cmd->argv[*i + 1], *dim * 4);
		*i += 2;
		return 0;
	}
	if (!vsd_arg_is(cmd, *i, "VALUES") || *i + 1 >= cmd->argc ||
	    vsd_arg_ll(cmd->argv[*i + 1], &n) != 0 || n <= 0 ||
	    (size_t)n > cmd->argc - *i - 2)
		goto bad;
	*dim = (size_t)n;
	if ((*vec = vsd_call_alloc(&x->call, *dim * sizeof(float))) == NULL)
		goto oom;
	for (k = 0; k < *dim; k++) {
		if (vsd_arg_double(cmd->argv[*i + 2 + k], &d) != 0)
			goto bad;
		(*vec)[k] = (float)d;
	}
	*i += 2 + *dim;
	return 0;
bad:
	vsd_resp_error(x->b, "ERR invalid vector specification");
	return -1;
oom:
	vsd_resp_error(x->b, "OOM out of memory");
	return -1;
}

/* The reply to a one-element write (VADD, VREM): :1 when its outcome is
 * yes, :0 for the other success, -ERR with the item's message when it
 * failed. */
static void
vsd_rx_write_one(struct vsd_rx *x, size_t n_results,
    Vsetd__V1__ItemResult **results, Vsetd__V1__WriteOutcome yes)
{
	if (n_results != 1)
		vsd_resp_error(x->b, "ERR no result from the shard");
	else if (results[0]->outcome == VSETD__V1__WRITE_OUTCOME__WRITE_FAILED)
		vsd_resp_error(x->b, "ERR %s", results[0]->message);
	else
		vsd_resp_bool(x->b, results[0]->outcome == yes);
}

static void
c_vadd(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	Vsetd__V1__InsertRequest req = VSETD__V1__INSERT_REQUEST__INIT;
	Vsetd__V1__CreateCollectionRequest creq =
	    VSETD__V1__CREATE_COLLECTION_REQUEST__INIT;
	Vsetd__V1__CollectionParams params = VSETD__V1__COLLECTION_PARAMS__INIT;
	Vsetd__V1__Item item = VSETD__V1__ITEM__INIT, *items[1] = { &item };
	Vsetd__V1__InsertResponse *resp;
	long long reduce = 0, m = 0, ef = 0;
	int quant = 0, create = 0;
	size_t i = 2, dim = 0;
	float *vec = NULL;

	if (vsd_arg_is(cmd, i, "REDUCE")) {
		if (i + 1 >= cmd->argc ||
		    vsd_arg_ll(cmd->argv[i + 1], &reduce) != 0 || reduce <= 0) {
			vsd_resp_error(x->b, "ERR invalid vector "
			    "specification");
			return;
		}
		create = 1;
		i += 2;
	}
	if (vsd_rx_vector(x, &i, &vec, &dim) != 0)
		return;
	if (i >= cmd->argc) {
		vsd_resp_error(x->b, "ERR " ARITY_ERR, "VADD");
		return;
	}
	item.id = cmd->argv[i++];
	item.vector = vec;
	item.n_vector = dim;
	for (; i < cmd->argc; i++) {
		if (vsd_arg_is(cmd, i, "CAS")) {
			req.cas = 1;
		} else if (vsd_arg_is(cmd, i, "NOQUANT")) {
			quant = VSETD__V1__QUANTIZATION__QUANT_NOQUANT;
		} else if (vsd_arg_is(cmd, i, "Q8")) {
			quant = VSETD__V1__QUANTIZATION__QUANT_Q8;
		} else if (vsd_arg_is(cmd, i, "BIN")) {
			quant = VSETD__V1__QUANTIZATION__QUANT_BIN;
		} else if (vsd_arg_is(cmd, i, "EF") && i + 1 < cmd->argc) {
			if (vsd_arg_ll(cmd->argv[++i], &ef) != 0 || ef <= 0 ||
			    ef > 1000000) {
				vsd_resp_error(x->b, "ERR invalid EF");
				return;
			}
		} else if (vsd_arg_is(cmd, i, "SETATTR") &&
		    i + 1 < cmd->argc) {
			item.attributes_json = cmd->argv[++i];
		} else if (vsd_arg_is(cmd, i, "M") && i + 1 < cmd->argc) {
			if (vsd_arg_ll(cmd->argv[++i], &m) != 0 || m < 4 ||
			    m > 4096) {
				vsd_resp_error(x->b, "ERR invalid M");
				return;
			}
			create = 1;
		} else {
			vsd_resp_error(x->b, "ERR invalid option after element");
			return;
		}
	}
	if (quant != 0)
		create = 1;
	if (create) {
		/* The set's fixed parameters: vsetd keeps them as collection
		 * metadata, so they are set by creating the collection (a
		 * repeat with the same parameters is not an error). */
		params.dim = (uint32_t)dim;
		params.quant = quant != 0 ? quant :
		    VSETD__V1__QUANTIZATION__QUANT_Q8;
		params.m = (uint32_t)m;
		params.reduce = (uint32_t)reduce;
		params.build_ef = 0;
		creq.collection = cmd->argv[1];
		creq.params = &params;
		if (vsd_rx_op(x, vsd_op_create_collection, "CreateCollection",
		    &creq.base) != VSD_OK) {
			vsd_rx_status(x);
			vsd_rx_done(x);
			return;
		}
		vsd_rx_done(x);
		/* the vector is in the arena, which the op does not reset */
	}
	req.collection = cmd->argv[1];
	req.items = items;
	req.n_items = 1;
	req.ef = (uint32_t)ef;
	if (vsd_rx_op(x, vsd_op_insert, "Insert", &req.base) != VSD_OK) {
		vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__InsertResponse *)x->call.resp;
		vsd_rx_write_one(x, resp == NULL ? 0 : resp->n_results,
		    resp == NULL ? NULL : resp->results,
		    VSETD__V1__WRITE_OUTCOME__WRITE_ADDED);
	}
	vsd_rx_done(x);
}

static void
c_vrem(struct vsd_rx *x)
{
	Vsetd__V1__DeleteRequest req = VSETD__V1__DELETE_REQUEST__INIT;
	Vsetd__V1__DeleteResponse *resp;
	char *ids[1] = { x->cmd->argv[2] };

	req.collection = x->cmd->argv[1];
	req.ids = ids;
	req.n_ids = 1;
	if (vsd_rx_op(x, vsd_op_delete, "Delete", &req.base) != VSD_OK) {
		vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__DeleteResponse *)x->call.resp;
		vsd_rx_write_one(x, resp == NULL ? 0 : resp->n_results,
		    resp == NULL ? NULL : resp->results,
		    VSETD__V1__WRITE_OUTCOME__WRITE_DELETED);
	}
	vsd_rx_done(x);
}

static void
c_vsim(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	Vsetd__V1__SearchRequest req = VSETD__V1__SEARCH_REQUEST__INIT;
	Vsetd__V1__SearchResponse *resp;
	Vsetd__V1__SearchHit *h;
	int withscores = 0, withattribs = 0;
	long long count = VSD_RESP_DEFAULT_COUNT, v;
	size_t i = 2, k, dim = 0;
	float *vec = NULL;
	double eps;

	req.collection = cmd->argv[1];
	if (vsd_arg_is(cmd, i, "ELE")) {
		req.by_id = cmd->argv[i + 1];   /* arity: argc >= 4 */
		i += 2;
	} else {
		if (vsd_rx_vector(x, &i, &vec, &dim) != 0)
			return;
		req.vector = vec;
		req.n_vector = dim;
	}
	for (; i < cmd->argc; i++) {
		int has = i + 1 < cmd->argc;

		if (vsd_arg_is(cmd, i, "WITHSCORES")) {
			withscores = 1;
		} else if (vsd_arg_is(cmd, i, "WITHATTRIBS")) {
			withattribs = 1;
		} else if (vsd_arg_is(cmd, i, "TRUTH")) {
			req.truth = 1;
		} else if (vsd_arg_is(cmd, i, "NOTHREAD")) {
			req.nothread = 1;
		} else if (vsd_arg_is(cmd, i, "COUNT") && has) {
			if (vsd_arg_ll(cmd->argv[++i], &count) != 0 ||
			    count <= 0) {
				vsd_resp_error(x->b, "ERR invalid COUNT");
				return;
			}
		} else if (vsd_arg_is(cmd, i, "EF") && has) {
			if (vsd_arg_ll(cmd->argv[++i], &v) != 0 || v <= 0 ||
			    v > 1000000) {
				vsd_resp_error(x->b, "ERR invalid EF");
				return;
			}
			req.ef = (uint32_t)v;
		} else if (vsd_arg_is(cmd, i, "FILTER") && has) {
			req.filter = cmd->argv[++i];
		} else if (vsd_arg_is(cmd, i, "FILTER-EF") && has) {
			if (vsd_arg_ll(cmd->argv[++i], &v) != 0 || v < 0) {
				vsd_resp_error(x->b, "ERR invalid FILTER-EF");
				return;
			}
			req.filter_ef = (uint32_t)v;
		} else if (vsd_arg_is(cmd, i, "EPSILON") && has) {
			if (vsd_arg_double(cmd->argv[++i], &eps) != 0 ||
			    eps <= 0) {
				vsd_resp_error(x->b, "ERR invalid EPSILON");
				return;
			}
			/* Redis's EPSILON bounds the cosine distance (0..2);
			 * vsetd's the score, 1 - distance / 2 */
			req.epsilon = eps / 2 > 2 ? 2 : eps / 2;
		} else {
			vsd_resp_error(x->b, "ERR syntax error in VSIM command");
			return;
		}
	}
	if ((unsigned long long)count > x->call.lim->max_k) {
		vsd_resp_error(x->b, "ERR COUNT %lld is larger than this "
		    "server's --max-k %u", count, x->call.lim->max_k);
		return;
	}
	req.k = (uint32_t)count;
	req.with_attributes = withattribs;
	if (vsd_rx_op(x, vsd_op_search, "Search", &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND &&
		    strstr(x->call.st.msg, "element") != NULL &&
		    req.by_id[0] != '\0')
			vsd_resp_error(x->b, "ERR element not found in set");
		else if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_array(x->b, 0);        /* no such key */
		else
			vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__SearchResponse *)x->call.resp;
	if (vsd_rx_partial(x, resp->partial, resp->shards))
		goto out;
	if (withscores || withattribs) {
		if (x->b->proto >= 3)
			vsd_resp_map(x->b, resp->n_results);
		else
			vsd_resp_array(x->b, resp->n_results *
			    (1 + (size_t)withscores + (size_t)withattribs));
	} else {
		vsd_resp_array(x->b, resp->n_results);
	}
	for (k = 0; k < resp->n_results; k++) {
		h = resp->results[k];
		vsd_resp_str(x->b, h->id);
		if (withscores && withattribs && x->b->proto >= 3)
			vsd_resp_array(x->b, 2);
		if (withscores)
			vsd_resp_double(x->b, h->score);
		if (withattribs) {
			if (h->has_attributes)
				vsd_resp_str(x->b, h->attributes_json);
			else
				vsd_resp_null(x->b);
		}
	}
out:
	vsd_rx_done(x);
}

static void
c_vcard(struct vsd_rx *x)
{
	Vsetd__V1__CountRequest req = VSETD__V1__COUNT_REQUEST__INIT;
	Vsetd__V1__CountResponse *resp;

	req.collection = x->cmd->argv[1];
	if (vsd_rx_op(x, vsd_op_count, "Count", &req.base) != VSD_OK) {
		vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__CountResponse *)x->call.resp;
		if (!vsd_rx_partial(x, resp->partial, resp->shards))
			vsd_resp_int(x->b, (long long)resp->count);
	}
	vsd_rx_done(x);
}

static void
c_vdim(struct vsd_rx *x)
{
	Vsetd__V1__DescribeCollectionRequest req =
	    VSETD__V1__DESCRIBE_COLLECTION_REQUEST__INIT;
	Vsetd__V1__DescribeCollectionResponse *resp;

	req.collection = x->cmd->argv[1];
	if (vsd_rx_op(x, vsd_op_describe_collection, "DescribeCollection",
	    &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_error(x->b, "ERR key does not exist");
		else
			vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__DescribeCollectionResponse *)x->call.resp;
		if (resp->count == 0)
			vsd_resp_error(x->b, "ERR key does not exist");
		else
			vsd_resp_int(x->b, resp->params->reduce != 0 ?
			    resp->params->reduce : resp->params->dim);
	}
	vsd_rx_done(x);
}

static void
c_vemb(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	Vsetd__V1__GetRequest req = VSETD__V1__GET_REQUEST__INIT;
	Vsetd__V1__GetResponse *resp;
	Vsetd__V1__RawVector *raw;
	size_t k;

	if (cmd->argc > 4 || (cmd->argc == 4 && !vsd_arg_is(cmd, 3, "RAW"))) {
		vsd_resp_error(x->b, "ERR " ARITY_ERR, "VEMB");
		return;
	}
	req.collection = cmd->argv[1];
	req.id = cmd->argv[2];
	req.raw = cmd->argc == 4;
	if (vsd_rx_op(x, vsd_op_get, "Get", &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_null(x->b);
		else
			vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__GetResponse *)x->call.resp;
	if (req.raw && (raw = resp->raw) != NULL) {
		int q8 = strcmp(raw->quantization, "int8") == 0;

		vsd_resp_array(x->b, q8 ? 4 : 3);
		vsd_resp_simple(x->b, raw->quantization);
		vsd_resp_bulk(x->b, raw->data.data, raw->data.len);
		vsd_resp_double(x->b, raw->norm);
		if (q8)
			vsd_resp_double(x->b, raw->range);
		goto out;
	}
	vsd_resp_array(x->b, resp->n_vector);
	for (k = 0; k < resp->n_vector; k++)
		vsd_resp_double(x->b, resp->vector[k]);
out:
	vsd_rx_done(x);
}

static void
c_vgetattr(struct vsd_rx *x)
{
	Vsetd__V1__GetAttributesRequest req =
	    VSETD__V1__GET_ATTRIBUTES_REQUEST__INIT;
	Vsetd__V1__GetAttributesResponse *resp;

	req.collection = x->cmd->argv[1];
	req.id = x->cmd->argv[2];
	if (vsd_rx_op(x, vsd_op_get_attributes, "GetAttributes",
	    &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_null(x->b);
		else
			vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__GetAttributesResponse *)x->call.resp;
		if (resp->has_attributes)
			vsd_resp_str(x->b, resp->attributes_json);
		else
			vsd_resp_null(x->b);
	}
	vsd_rx_done(x);
}

static void
c_vsetattr(struct vsd_rx *x)
{
	Vsetd__V1__SetAttributesRequest req =
	    VSETD__V1__SET_ATTRIBUTES_REQUEST__INIT;

	req.collection = x->cmd->argv[1];
	req.id = x->cmd->argv[2];
	req.attributes_json = x->cmd->argv[3];
	if (vsd_rx_op(x, vsd_op_set_attributes, "SetAttributes",
	    &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_bool(x->b, 0);
		else
			vsd_rx_status(x);
	} else {
		vsd_resp_bool(x->b, 1);
	}
	vsd_rx_done(x);
}

static void
c_vismember(struct vsd_rx *x)
{
	Vsetd__V1__ExistsRequest req = VSETD__V1__EXISTS_REQUEST__INIT;

	req.collection = x->cmd->argv[1];
	req.id = x->cmd->argv[2];
	if (vsd_rx_op(x, vsd_op_exists, "Exists", &req.base) != VSD_OK)
		vsd_rx_status(x);
	else
		vsd_resp_bool(x->b,
		    ((Vsetd__V1__ExistsResponse *)x->call.resp)->exists);
	vsd_rx_done(x);
}

static void
c_vlinks(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	Vsetd__V1__LinksRequest req = VSETD__V1__LINKS_REQUEST__INIT;
	Vsetd__V1__LinksResponse *resp;
	Vsetd__V1__LinkLevel *l;
	int ws = cmd->argc == 4;
	size_t i, k;

	if (cmd->argc > 4 || (ws && !vsd_arg_is(cmd, 3, "WITHSCORES"))) {
		vsd_resp_error(x->b, "ERR " ARITY_ERR, "VLINKS");
		return;
	}
	req.collection = cmd->argv[1];
	req.id = cmd->argv[2];
	if (vsd_rx_op(x, vsd_op_links, "Links", &req.base) != VSD_OK) {
		if (x->call.st.code == VSD_NOT_FOUND)
			vsd_resp_null(x->b);
		else
			vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__LinksResponse *)x->call.resp;
	vsd_resp_array(x->b, resp->n_levels);
	for (i = 0; i < resp->n_levels; i++) {
		l = resp->levels[i];
		if (ws)
			vsd_resp_map(x->b, l->n_ids);
		else
			vsd_resp_array(x->b, l->n_ids);
		for (k = 0; k < l->n_ids; k++) {
			vsd_resp_str(x->b, l->ids[k]);
			if (ws)
				vsd_resp_double(x->b, k < l->n_scores ?
				    l->scores[k] : 0);
		}
	}
out:
	vsd_rx_done(x);
}

static void
c_vrandmember(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	Vsetd__V1__RandomMembersRequest req =
	    VSETD__V1__RANDOM_MEMBERS_REQUEST__INIT;
	Vsetd__V1__RandomMembersResponse *resp;
	long long count = 0;
	size_t k;

	if (cmd->argc > 3) {
		vsd_resp_error(x->b, "ERR " ARITY_ERR, "VRANDMEMBER");
		return;
	}
	if (cmd->argc == 3) {
		if (vsd_arg_ll(cmd->argv[2], &count) != 0) {
			vsd_resp_error(x->b, "ERR COUNT must be an integer");
			return;
		}
		if (count == 0) {
			vsd_resp_array(x->b, 0);
			return;
		}
	}
	req.collection = cmd->argv[1];
	req.count = count;
	if (vsd_rx_op(x, vsd_op_random_members, "RandomMembers",
	    &req.base) != VSD_OK) {
		vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__RandomMembersResponse *)x->call.resp;
	if (vsd_rx_partial(x, resp->partial, resp->shards))
		goto out;
	if (cmd->argc == 2) {
		if (resp->n_ids == 0)
			vsd_resp_null(x->b);
		else
			vsd_resp_str(x->b, resp->ids[0]);
		goto out;
	}
	vsd_resp_array(x->b, resp->n_ids);
	for (k = 0; k < resp->n_ids; k++)
		vsd_resp_str(x->b, resp->ids[k]);
out:
	vsd_rx_done(x);
}

static int
vsd_is_integer(const char *s)
{
	long long v;

	return vsd_arg_ll(s, &v) == 0;
}

static void
c_vinfo(struct vsd_rx *x)
{
	Vsetd__V1__InfoRequest req = VSETD__V1__INFO_REQUEST__INIT;
	Vsetd__V1__InfoResponse *resp;
	Vsetd__V1__ShardInfo *si = NULL;
	Vsetd__V1__InfoField *f;
	long long maxlevel = 0, v;
	size_t i, k;

	req.collection = x->cmd->argv[1];
	if (vsd_rx_op(x, vsd_op_info, "Info", &req.base) != VSD_OK) {
		vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__InfoResponse *)x->call.resp;
	if (vsd_rx_partial(x, resp->partial, resp->shards))
		goto out;
	for (i = 0; i < resp->n_shard_info; i++) {
		if (!resp->shard_info[i]->exists)
			continue;
		if (si == NULL)
			si = resp->shard_info[i];
		for (k = 0; k < resp->shard_info[i]->n_fields; k++) {
			f = resp->shard_info[i]->fields[k];
			if (strcmp(f->name, "max-level") == 0 &&
			    vsd_arg_ll(f->value, &v) == 0 && v > maxlevel)
				maxlevel = v;
		}
	}
	if (si == NULL) {
		vsd_resp_null(x->b);
		goto out;
	}
	/* one set's answer: the first shard's fields, with the sums (and
	 * the deepest level) of all shards */
	vsd_resp_map(x->b, si->n_fields);
	for (k = 0; k < si->n_fields; k++) {
		f = si->fields[k];
		vsd_resp_simple(x->b, f->name);
		if (strcmp(f->name, "size") == 0)
			vsd_resp_int(x->b, (long long)resp->size);
		else if (strcmp(f->name, "attributes-count") == 0)
			vsd_resp_int(x->b, (long long)resp->attributes_count);
		else if (strcmp(f->name, "max-level") == 0)
			vsd_resp_int(x->b, maxlevel);
		else if (vsd_is_integer(f->value) &&
		    vsd_arg_ll(f->value, &v) == 0)
			vsd_resp_int(x->b, v);
		else
			vsd_resp_simple(x->b, f->value);
	}
out:
	vsd_rx_done(x);
}

/* Count of key: -1 if it failed (error written). */
static long long
vsd_rx_count(struct vsd_rx *x, const char *key)
{
	Vsetd__V1__CountRequest req = VSETD__V1__COUNT_REQUEST__INIT;
	Vsetd__V1__CountResponse *resp;
	long long n = -1;

	req.collection = (char *)key;
	if (vsd_rx_op(x, vsd_op_count, "Count", &req.base) != VSD_OK) {
		vsd_rx_status(x);
	} else {
		resp = (Vsetd__V1__CountResponse *)x->call.resp;
		if (!vsd_rx_partial(x, resp->partial, resp->shards))
			n = (long long)resp->count;
	}
	vsd_rx_done(x);
	return n;
}

static void
c_exists(struct vsd_rx *x)
{
	long long total = 0, n;
	size_t i;

	for (i = 1; i < x->cmd->argc; i++) {
		if ((n = vsd_rx_count(x, x->cmd->argv[i])) < 0)
			return;
		total += n > 0;
	}
	vsd_resp_int(x->b, total);
}

static void
c_type(struct vsd_rx *x)
{
	long long n = vsd_rx_count(x, x->cmd->argv[1]);

	if (n >= 0)
		vsd_resp_simple(x->b, n > 0 ? "vectorset" : "none");
}

static void
c_del(struct vsd_rx *x)
{
	Vsetd__V1__DropCollectionRequest req =
	    VSETD__V1__DROP_COLLECTION_REQUEST__INIT;
	long long n, total = 0;
	size_t i;

	for (i = 1; i < x->cmd->argc; i++) {
		/* a collection with no element is no key to Redis */
		if ((n = vsd_rx_count(x, x->cmd->argv[i])) < 0)
			return;
		req.collection = x->cmd->argv[i];
		if (vsd_rx_op(x, vsd_op_drop_collection, "DropCollection",
		    &req.base) != VSD_OK) {
			vsd_rx_status(x);
			vsd_rx_done(x);
			return;
		}
		vsd_rx_done(x);
		total += n > 0;
	}
	vsd_resp_int(x->b, total);
}

/* The collections, filtered by a glob (NULL = all): an array reply. */
static void
vsd_rx_keys(struct vsd_rx *x, const char *pattern, int scan)
{
	Vsetd__V1__ListCollectionsRequest req =
	    VSETD__V1__LIST_COLLECTIONS_REQUEST__INIT;
	Vsetd__V1__ListCollectionsResponse *resp;
	size_t i, n = 0;

	if (vsd_rx_op(x, vsd_op_list_collections, "ListCollections",
	    &req.base) != VSD_OK) {
		vsd_rx_status(x);
		goto out;
	}
	resp = (Vsetd__V1__ListCollectionsResponse *)x->call.resp;
	if (vsd_rx_partial(x, resp->partial, resp->shards))
		goto out;
	if (pattern == (const char *)-1) {        /* DBSIZE */
		vsd_resp_int(x->b, (long long)resp->n_collections);
		goto out;
	}
	for (i = 0; i < resp->n_collections; i++)
		n += pattern == NULL ||
		    fnmatch(pattern, resp->collections[i], 0) == 0;
	if (scan) {
		vsd_resp_array(x->b, 2);
		vsd_resp_str(x->b, "0");
	}
	vsd_resp_array(x->b, n);
	for (i = 0; i < resp->n_collections; i++)
		if (pattern == NULL ||
		    fnmatch(pattern, resp->collections[i], 0) == 0)
			vsd_resp_str(x->b, resp->collections[i]);
out:
	vsd_rx_done(x);
}

static void
c_dbsize(struct vsd_rx *x)
{
	vsd_rx_keys(x, (const char *)-1, 0);
}

static void
c_keys(struct vsd_rx *x)
{
	vsd_rx_keys(x, x->cmd->argv[1], 0);
}

static void
c_scan(struct vsd_rx *x)
{
	const struct vsd_resp_cmd *cmd = x->cmd;
	const char *pattern = NULL;
	long long v;
	size_t i;

	if (vsd_arg_ll(cmd->argv[1], &v) != 0 || v < 0) {
		vsd_resp_error(x->b, "ERR invalid cursor");
		return;
	}
	for (i = 2; i < cmd->argc; i += 2) {
		if (i + 1 >= cmd->argc) {
			vsd_resp_error(x->b, "ERR syntax error");
			return;
		}
		if (vsd_arg_is(cmd, i, "MATCH")) {
			pattern = cmd->argv[i + 1];
		} else if (vsd_arg_is(cmd, i, "COUNT")) {
			if (vsd_arg_ll(cmd->argv[i + 1], &v) != 0 || v < 1) {
				vsd_resp_error(x->b, v < 1 ? "ERR syntax error" :
				    "ERR value is not an integer or out of "
				    "range");
				return;
			}
		} else if (vsd_arg_is(cmd, i, "TYPE")) {
			if (strcasecmp(cmd->argv[i + 1], "vectorset") != 0)
				pattern = "\x01 no key \x01";
		} else {
			vsd_resp_error(x->b, "ERR syntax error");
			return;
		}
	}
	/* every collection in one reply: the cursor is always 0 */
	vsd_rx_keys(x, pattern, 1);
}

nng_msg *
vsd_resp_run(struct vsd_worker *w, const struct vsd_job *job)
{
	struct vsd_resp_buf b;
	struct vsd_rx x;
	const struct vsd_resp_def *d;

	memset(&b, 0, sizeof(b));
	b.proto = job->proto;
	memset(&x, 0, sizeof(x));
	x.w = w;
	x.job = job;
	x.cmd = job->rcmd;
	x.b = &b;
	x.call.w = &w->lane;
	x.call.lim = w->lane.lim;
	x.allow_partial = w->srv->cfg->resp_partial_allow;
	d = vsd_resp_find(job->rcmd->argv[0]);
	if (d == NULL || d->fn == NULL)         /* vsd_resp_local's job */
		vsd_resp_error(&b, "ERR unknown command");
	else
		d->fn(&x);
	return vsd_resp_msg(&b);
}
