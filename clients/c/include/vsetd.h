/*
 * vsetd.h - the vsetd C client library (libvsetd-client).
 *
 * A small synchronous API over the generated protobuf-c stubs of
 * proto/vsetd/v1/vsetd.proto.  Every call is one request/reply round trip:
 * for tcp:// URLs on a plain socket in the calling thread, speaking nng's
 * REQ wire protocol (no nng threads; VS_TRANSPORT=nng in the environment
 * uses libnng instead), for tls+tcp://, ipc://, ws:// and wss:// on an
 * nng REQ socket.  Link with `pkg-config --libs vsetd-client`.
 *
 * Errors.  Every call that can fail returns an int status code: VS_OK (0) on
 * success, otherwise one of the gRPC codes below.  vs_errmsg() then gives a
 * message naming the problem.  The last error is kept per thread, like errno:
 * read it on the thread that made the call, before its next call.
 *
 * Threads.  A vs_client may be shared by several threads: each call takes
 * its own connection (tcp://) or nng context from the client's pool.
 * vs_close() must not race with calls in flight.
 *
 * Ownership.  The library never keeps pointers the caller passed in after a
 * call returns.  Every result object it hands out (vs_search_result,
 * vs_write_result, vs_reshard_state, ...) is owned by the caller and freed
 * with its vs_*_free function; strings inside it live and die with it.
 * vs_errmsg()'s string is owned by the library and valid until this
 * thread's next call.
 *
 * Retries.  A request is sent once (nng REQ's automatic resend is off; the
 * tcp:// path never resends and drops a connection whose call failed); Insert and Delete are in any case safe to repeat (see
 * docs/protocol.md).
 */
#ifndef VSETD_H
#define VSETD_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VS_VERSION "0.1.0"

/* gRPC status codes; the numbers are the wire's (vsetd.v1.Code). */
enum vs_code {
	VS_OK = 0,
	VS_CANCELLED = 1,
	VS_UNKNOWN = 2,
	VS_INVALID_ARGUMENT = 3,
	VS_DEADLINE_EXCEEDED = 4,
	VS_NOT_FOUND = 5,
	VS_ALREADY_EXISTS = 6,
	VS_PERMISSION_DENIED = 7,
	VS_RESOURCE_EXHAUSTED = 8,
	VS_FAILED_PRECONDITION = 9,
	VS_ABORTED = 10,
	VS_OUT_OF_RANGE = 11,
	VS_UNIMPLEMENTED = 12,
	VS_INTERNAL = 13,
	VS_UNAVAILABLE = 14,
	VS_DATA_LOSS = 15,
	VS_UNAUTHENTICATED = 16,
};

/* "OK", "INVALID_ARGUMENT", ...; "UNKNOWN" for numbers outside the set.
 * Static storage. */
const char *vs_code_name(int code);

/* This thread's last error message ("" after a success).  Library-owned. */
const char *vs_errmsg(void);
/* This thread's last status code (VS_OK after a success). */
int vs_errcode(void);

typedef struct vs_client vs_client;

/* Connect to a vsetd at url ("tcp://127.0.0.1:5555").  timeout_ms bounds the
 * connect and is the default deadline of every later call (0 = 5000 ms).
 * The connection is made before return: a server that is not there gives
 * VS_UNAVAILABLE.  On success *out is the caller's, freed with vs_close(). */
int vs_connect(vs_client **out, const char *url, int timeout_ms);
void vs_close(vs_client *c);

/* Options for vs_connect_opts(); zero-initialise and set what you need. */
typedef struct vs_connect_options {
	int timeout_ms;              /* as vs_connect's (0 = 5000) */
	/* tls+tcp:// and wss:// only.  The server is verified against
	 * tls_ca_file (required for both); a client certificate is sent when
	 * the server asks and tls_cert_file/tls_key_file are set. */
	const char *tls_ca_file;
	const char *tls_cert_file;
	const char *tls_key_file;
	/* NULL = the host in the URL.  The TLS library (mbedTLS) matches it
	 * against the certificate's DNS names and CN only, never against IP
	 * addresses: with an IP URL, set a DNS name the certificate carries. */
	const char *tls_server_name;
} vs_connect_options;

/* vs_connect with options (TLS).  A TLS handshake the server refuses, or a
 * server certificate the CA does not vouch for, gives VS_UNAVAILABLE. */
int vs_connect_opts(vs_client **out, const char *url,
    const vs_connect_options *opts);

/* Change the deadline sent with later calls (ms, > 0). */
void vs_set_timeout(vs_client *c, int timeout_ms);

/* How many shards a fanned-out call reached (see vsetd.v1.ShardSummary). */
typedef struct vs_shards {
	uint32_t total, ok, failed, timed_out;
	uint32_t from_replica;       /* of ok: answered by a replica */
} vs_shards;

/* ------------------------------------------------------------ writes */

typedef struct vs_item {
	const char *id;              /* NUL-terminated UTF-8 */
	const float *vector;
	size_t dim;
	const char *attrs_json;      /* NULL = none */
} vs_item;

enum vs_outcome {
	VS_WRITE_ADDED = 1,
	VS_WRITE_UPDATED = 2,
	VS_WRITE_DELETED = 3,
	VS_WRITE_NOT_FOUND = 4,
	VS_WRITE_FAILED = 5,
};

typedef struct vs_item_result {
	const char *id;
	int outcome;                 /* enum vs_outcome */
	uint32_t shard;
	int code;                    /* enum vs_code, set when VS_WRITE_FAILED */
	const char *message;
} vs_item_result;

typedef struct vs_write_result {
	vs_item_result *items;       /* one per request item, in order */
	size_t n_items;
	uint32_t added, updated, deleted, not_found, failed;
	vs_shards shards;
} vs_write_result;

/* Insert n items into collection.  On VS_OK every item was written.  On
 * VS_UNAVAILABLE or VS_DEADLINE_EXCEEDED some were not: *out (when out is
 * not NULL) still says which, per item.  *out is set to NULL when the server
 * sent no per-item answer. */
int vs_insert(vs_client *c, const char *collection, const vs_item *items,
    size_t n, vs_write_result **out);

/* Delete ids[0..n) from collection; *out as for vs_insert. */
int vs_delete(vs_client *c, const char *collection, const char *const *ids,
    size_t n, vs_write_result **out);

void vs_write_result_free(vs_write_result *r);

/* ------------------------------------------------------------ search */

typedef struct vs_search_params {
	const char *collection;
	const float *vector;
	size_t dim;
	uint32_t k;                  /* 0 = 10 */
	uint32_t ef;                 /* 0 = Redis's default */
	int require_all;             /* nonzero: fail unless every shard answers */
} vs_search_params;

typedef struct vs_hit {
	const char *id;
	double score;                /* 1 - cosine_distance/2, in [0,1] */
	uint32_t shard;
} vs_hit;

typedef struct vs_shard_error {
	uint32_t shard;
	int code;
	const char *message;
} vs_shard_error;

typedef struct vs_search_result {
	vs_hit *hits;                /* best first */
	size_t n_hits;
	int partial;                 /* nonzero: some shard did not answer */
	vs_shards shards;
	vs_shard_error *shard_errors;
	size_t n_shard_errors;
	/* vs_search_ex with with_attrs: n_hits entries, each the hit's JSON
	 * attributes or NULL for none; otherwise NULL.  See vs_search_attrs. */
	char **attrs;
} vs_search_result;

/* On VS_OK *out is the caller's (free with vs_search_result_free). */
int vs_search(vs_client *c, const vs_search_params *p, vs_search_result **out);
void vs_search_result_free(vs_search_result *r);

/* ------------------------------------------------------------ surface */
/*
 * The rest of the vector-set surface (docs/collections.md).  Every result
 * object is the caller's and freed with its vs_*_free; strings inside live
 * and die with it.  Calls that answer one string or list hand out malloc'd
 * memory the caller frees as documented.
 */

/* Options of vs_search_ex / vs_search_batch (zeroed = plain search). */
typedef struct vs_search_options {
	const char *filter;          /* VSIM FILTER expression, NULL = none */
	uint32_t filter_ef;          /* 0 = Redis's default */
	double epsilon;              /* > 0: only score >= 1 - epsilon */
	int truth;                   /* exact linear scan */
	int nothread;
	int with_attrs;              /* fill vs_search_result.attrs */
	const char *by_id;           /* search by this element's vector;
	                              * p->vector must then be NULL */
	double shard_k_ratio;        /* (0,1]: ask each shard ceil(k*ratio) */
} vs_search_options;

/* vs_search with options.  With o->with_attrs, (*out)->attrs (see
 * vs_search_attrs) has one entry per hit. */
int vs_search_ex(vs_client *c, const vs_search_params *p,
    const vs_search_options *o, vs_search_result **out);
/* Attributes of hit i of a result from vs_search_ex with with_attrs (NULL
 * for none or when not asked).  Owned by r. */
const char *vs_search_attrs(const vs_search_result *r, size_t i);

/* n queries (vectors[i], each p->dim floats) in one call, pipelined per
 * shard; p->vector is ignored.  On VS_OK *out is an array of n results
 * the caller frees with vs_search_results_free(*out, n). */
int vs_search_batch(vs_client *c, const vs_search_params *p,
    const vs_search_options *o, const float *const *vectors, size_t n,
    vs_search_result ***out);
void vs_search_results_free(vs_search_result **r, size_t n);

/* Insert with options. */
typedef struct vs_insert_options {
	int no_create;               /* NOT_FOUND instead of auto-create */
	int cas;                     /* VADD CAS */
	uint32_t ef;                 /* VADD EF; 0 = the collection's */
} vs_insert_options;
int vs_insert_ex(vs_client *c, const char *collection, const vs_item *items,
    size_t n, const vs_insert_options *o, vs_write_result **out);

enum vs_quant {
	VS_QUANT_DEFAULT = 0,        /* Q8 */
	VS_QUANT_Q8 = 1,
	VS_QUANT_NOQUANT = 2,
	VS_QUANT_BIN = 3,
};

typedef struct vs_collection_params {
	uint32_t dim;
	int quant;                   /* enum vs_quant */
	uint32_t m;                  /* 0 = 16 */
	uint32_t reduce;             /* 0 = none */
	uint32_t build_ef;           /* 0 = Redis's */
} vs_collection_params;

/* "q8", "noquant", "bin" (static); and back (-1 if unknown). */
const char *vs_quant_name(int quant);
int vs_quant_parse(const char *name);

/* Create a collection.  *created (may be NULL) is 0 when it already
 * existed with the same parameters; other parameters: VS_ALREADY_EXISTS. */
int vs_create_collection(vs_client *c, const char *collection,
    const vs_collection_params *p, int *created);

typedef struct vs_collection_info {
	vs_collection_params params;
	uint64_t count;
	uint64_t *shard_counts;      /* n_shards, in --shard order */
	size_t n_shards;
	int has_metadata;
	vs_shards shards;
} vs_collection_info;
int vs_describe_collection(vs_client *c, const char *collection,
    vs_collection_info **out);
void vs_collection_info_free(vs_collection_info *i);

/* Sorted names; free with vs_strings_free(*names, *n). */
int vs_list_collections(vs_client *c, char ***names, size_t *n);
void vs_strings_free(char **s, size_t n);

int vs_drop_collection(vs_client *c, const char *collection,
    uint64_t *keys_deleted);

typedef struct vs_element {
	char *id;
	float *vector;
	size_t dim;
	char *attrs_json;            /* NULL: none */
	uint32_t shard;
	int has_raw;                 /* raw fields set (vs_get with raw) */
	char *raw_quant;             /* "int8", "f32", "bin" */
	unsigned char *raw_data;
	size_t raw_len;
	double raw_norm, raw_range;
} vs_element;
int vs_get(vs_client *c, const char *collection, const char *id, int raw,
    vs_element **out);
void vs_element_free(vs_element *e);

/* *json: malloc'd (caller frees), NULL when the element has none. */
int vs_get_attributes(vs_client *c, const char *collection, const char *id,
    char **json);
/* json: a JSON object, or "" / NULL to remove the attributes. */
int vs_set_attributes(vs_client *c, const char *collection, const char *id,
    const char *json);
int vs_exists(vs_client *c, const char *collection, const char *id,
    int *exists);

typedef struct vs_count_result {
	uint64_t count;
	uint64_t *shard_counts;
	size_t n_shards;
	int partial;
	vs_shards shards;
} vs_count_result;
int vs_count(vs_client *c, const char *collection, vs_count_result **out);
void vs_count_result_free(vs_count_result *r);

typedef struct vs_info_field {
	char *name, *value;
} vs_info_field;
typedef struct vs_shard_info {
	uint32_t shard;
	int exists;
	vs_info_field *fields;
	size_t n_fields;
} vs_shard_info;
typedef struct vs_info_result {
	vs_shard_info *shard_info;   /* shards that answered */
	size_t n_shard_info;
	uint64_t size, attributes_count;
	int partial;
	vs_shards shards;
} vs_info_result;
int vs_info(vs_client *c, const char *collection, vs_info_result **out);
void vs_info_result_free(vs_info_result *r);

/* VRANDMEMBER semantics: count > 0 distinct, < 0 with repeats, 0 = 1.
 * *ids: free with vs_strings_free(*ids, *n). */
int vs_random_members(vs_client *c, const char *collection, int64_t count,
    char ***ids, size_t *n);

typedef struct vs_link_level {
	char **ids;
	double *scores;
	size_t n;
} vs_link_level;
typedef struct vs_links_result {
	vs_link_level *levels;       /* level 0 first */
	size_t n_levels;
	uint32_t shard;
} vs_links_result;
int vs_links(vs_client *c, const char *collection, const char *id,
    vs_links_result **out);
void vs_links_result_free(vs_links_result *r);

/* ------------------------------------------------------------ resharding */
/*
 * Online resharding (docs/operations.md, "Growing and shrinking").  A move
 * is driven by its caller one bounded step at a time: vs_reshard_start()
 * opens it (or, called again with the same move, answers the move already
 * under way: this is how a driver killed at any point resumes), then
 * vs_reshard_step() until the state says done, waiting retry_after_ms
 * between steps.  All progress lives in Redis, so any router of the
 * deployment can serve any of these calls, and every step is safe to
 * repeat after UNAVAILABLE or DEADLINE_EXCEEDED.  Jump hash can only add
 * or remove a shard at the END of the layout.
 *
 * Every call that answers hands the caller a vs_reshard_state (*out),
 * freed with vs_reshard_state_free(); its strings and arrays live and die
 * with it.  *out is NULL whenever the call fails.
 */
enum vs_reshard_move {
	VS_RESHARD_NONE = 0,         /* no move open */
	VS_RESHARD_ADD = 1,          /* append one shard */
	VS_RESHARD_REMOVE = 2,       /* drain the last shard, drop it */
};

enum vs_reshard_phase {
	VS_RESHARD_STABLE = 0,
	VS_RESHARD_DUAL = 1,         /* writes to old and new owner; reads old */
	VS_RESHARD_SWITCHED = 2,     /* writes to new owner; reads both */
};

/* "none", "add", "remove" / "stable", "dual", "switched" ("unknown" for
 * numbers a newer server may add).  Static storage. */
const char *vs_reshard_move_name(int move);
const char *vs_reshard_phase_name(int phase);

/* Counts of one move, summed over collections and source shards (see
 * vsetd.v1.ReshardProgress).  to_move grows while sources are listed. */
typedef struct vs_reshard_progress {
	uint64_t to_move;            /* ids found that change owner */
	uint64_t copied;             /* copied to their new owner */
	uint64_t skipped;            /* already there, or deleted meanwhile */
	uint64_t cleaned;            /* old copies deleted (SWITCHED) */
	uint32_t sources_total;      /* (collection, source shard) pairs */
	uint32_t sources_copied;
	uint32_t sources_cleaned;
} vs_reshard_progress;

/* A router serving the deployment (vs_reshard_status only). */
typedef struct vs_reshard_router {
	char *id;                    /* "host/pid/listen address" */
	uint64_t epoch;              /* the topology epoch it routes by */
	uint64_t seen_ms_ago;        /* since its last heartbeat */
} vs_reshard_router;

typedef struct vs_reshard_state {
	uint64_t epoch;              /* the topology record's epoch */
	int phase;                   /* enum vs_reshard_phase */
	int move;                    /* enum vs_reshard_move */
	char **shards;               /* the layout (the new one during a move) */
	size_t n_shards;
	char **from;                 /* the layout before the move, if any */
	size_t n_from;
	vs_reshard_progress progress;
	int done;                    /* the move is complete (or, after an
	                              * abort, cleaned up): stop stepping */
	char *step;                  /* what this step did ("" if nothing) */
	vs_reshard_router *routers;  /* vs_reshard_status only */
	size_t n_routers;
	uint32_t retry_after_ms;     /* wait this long before the next step */
} vs_reshard_state;

/* Open a move, or answer the one already under way when it is the same
 * move (resume).  VS_RESHARD_ADD: shard is the new shard's primary
 * "host:port" (IPv6 in brackets), expect_last must be NULL.
 * VS_RESHARD_REMOVE: shard must be NULL; expect_last (NULL = any) is the
 * primary of the last shard, checked by the server so that the caller
 * removes the shard it means.  A different move already open answers
 * VS_FAILED_PRECONDITION. */
int vs_reshard_start(vs_client *c, int move, const char *shard,
    const char *expect_last, vs_reshard_state **out);
/* One bounded unit of work: at most batch elements copied or old copies
 * deleted (0 = the server's default).  Idempotent. */
int vs_reshard_step(vs_client *c, uint32_t batch, vs_reshard_state **out);
/* The record, the progress and every live router with its epoch. */
int vs_reshard_status(vs_client *c, vs_reshard_state **out);
/* Return to the old layout.  Only in phase DUAL (reads still use the old
 * layout), otherwise VS_FAILED_PRECONDITION; then step until done to
 * delete the copies already made. */
int vs_reshard_abort(vs_client *c, vs_reshard_state **out);
void vs_reshard_state_free(vs_reshard_state *s);

/* ------------------------------------------------------------ raw calls */

/* The client as a protobuf-c service: pass it to the generated stubs of
 * vsetd.pb-c.h (vsetd__v1__vector_service__search(...) and friends) to use
 * the generated messages directly.  Owned by c; valid until vs_close(c).
 * The stub's closure gets NULL on failure; vs_errcode() then says why. */
struct ProtobufCService;
struct ProtobufCService *vs_service(vs_client *c);

/* Send one already-serialized request message to method ("/vsetd.v1.
 * VectorService/Search") and return the reply payload in *reply (malloc'd,
 * the caller frees it) and *reply_len.  For tools and tests that speak
 * messages the typed API does not cover. */
int vs_call_raw(vs_client *c, const char *method, const void *req,
    size_t req_len, void **reply, size_t *reply_len);

#ifdef __cplusplus
}
#endif
#endif /* VSETD_H */
