/*
 * config.h - vsetd's settings: defaults, then the command line.
 *
 * vsd_config_parse() fills a struct vsd_config the caller owns; strings in
 * it point into argv or into allocations freed by vsd_config_fini().
 */
#ifndef VSD_CONFIG_H
#define VSD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#define VSD_DEFAULT_LISTEN "tcp://127.0.0.1:5555"
#define VSD_MAX_SHARDS 1024
/* --loops: event loop threads at most */
#define VSD_MAX_LOOPS 64
#define VSD_MAX_ENDPOINTS 4      /* a primary and up to 3 replicas */
#define VSD_MAX_SENTINELS 8      /* per sentinel:// shard */
#define VSD_MAX_MASTER_NAME 128  /* bytes of a Sentinel master name */
#define VSD_DEFAULT_SHARD_TIMEOUT_MS 2000
#define VSD_DEFAULT_SHARD_STALL_MS 250

/* --vsim-threads (ops/op_search.c says why) */
enum vsd_vsim_threads {
	VSD_VSIM_THREADS_AUTO = 0,   /* NOTHREAD while few searches run */
	VSD_VSIM_THREADS_ON,         /* Redis's thread per VSIM (default) */
	VSD_VSIM_THREADS_OFF,        /* always NOTHREAD */
};
/* auto: NOTHREAD while this router runs at most this many searches
 * (docs/benchmarks.md, "VSIM threads": NOTHREAD won at 1 and at 16
 * callers; above 32 it was not measured). */
#define VSD_VSIM_AUTO_MAX_RUNNING 32

struct vsd_endpoint {
	char *host;                  /* owned (vsd_config_fini frees) */
	int port;
};

/* A shard: its primary, then its read replicas (Redis REPLICAOF). */
struct vsd_shard_addr {
	struct vsd_endpoint ep[VSD_MAX_ENDPOINTS]; /* [0] primary, then replicas */
	int nep;
	/* --shard sentinel://HOST:PORT[,...]/MASTER: the Sentinels to ask and
	 * the master's name (owned); NULL for a plain shard.  ep[]/nep are
	 * then filled in at start by sentinel.c and followed from there. */
	char *sentinel_master;
	struct vsd_endpoint sentinel[VSD_MAX_SENTINELS];
	int nsentinel;
};

struct vsd_sentinels;

struct vsd_config {
	const char *listen;
	struct vsd_shard_addr *shards;   /* owned; in --shard order */
	uint32_t nshards;
	int workers;                 /* requests run at once (fibers) */
	int loops;                   /* event loop threads, <= workers */
	int deadline_ms;             /* default for calls that carry none */
	size_t max_message_bytes;
	uint32_t max_batch;
	uint32_t max_k;
	uint32_t max_dim;
	uint32_t max_id_bytes;
	int max_inflight;
	int log_level;
	/* A shard connection that moved no bytes for this long while replies
	 * were pending fails (timed out) and counts against the shard's
	 * breaker, whatever the caller's deadline (shards.h). */
	int shard_timeout_ms;
	/* Half of the workers waiting this long on one shard endpoint with no
	 * byte from it make it "not answering" (health.h, the stall rule). */
	int shard_stall_ms;

	/* native tcp:// listener bounds (net.c, docs/operations.md) */
	int frame_timeout_ms;        /* a frame (or handshake) started must
	                              * complete within this; a reply left
	                              * unread this long closes the connection */
	size_t max_conn_pending;     /* unsent reply bytes per connection
	                              * before it is no longer read */
	size_t max_buffered;         /* request + reply bytes held, in total */
	int max_conn_inflight;       /* requests per connection at once */

	/* Redis AUTH for every shard connection.  The password comes only
	 * from the config file or $VSETD_REDIS_PASSWORD, never from argv. */
	const char *redis_user;      /* NULL = the default user */
	const char *redis_password;  /* NULL = no AUTH */
	/* AUTH to the Sentinels (sentinel:// shards), apart from the shards'.
	 * The password comes only from the config file or
	 * $VSETD_SENTINEL_PASSWORD, never from argv. */
	const char *sentinel_user;   /* NULL = the default user */
	const char *sentinel_password; /* NULL = no AUTH */
	/* Who follows the sentinel:// shards' primaries (sentinel.h); NULL
	 * when there are none.  Owned by main.c. */
	struct vsd_sentinels *sentinels;

	/* tls+tcp:// listeners */
	const char *tls_cert;        /* PEM certificate (chain) file */
	const char *tls_key;         /* PEM private key file */
	const char *tls_ca;          /* CA file for verifying clients */
	int tls_verify_clients;      /* require a client certificate */

	/* replicas */
	const char *survey_listen;   /* RESPONDENT for stats surveys, or NULL */
	const char *metrics_listen;  /* http://HOST:PORT for /metrics, or NULL */
	int hedge_ms;                /* 0 = no hedged reads */
	int vsim_threads;            /* enum vsd_vsim_threads */
	int wait_replicas;           /* WAIT n after writes; 0 = off */
	int wait_ms;

	/* the Redis-protocol front door (net.c, resp.c, resp_cmd.c) */
	const char *resp_listen;     /* HOST:PORT, or NULL = off */
	int resp_partial_allow;      /* --resp-partial allow */
	const char *resp_user;       /* NULL = "default" */
	const char *resp_password;   /* file or $VSETD_RESP_PASSWORD only;
	                              * NULL = AUTH not required */

	char **owned;                /* strings read from the config file */
	size_t nowned;
};

/* Outcome of parsing: run, or exit now with the given status (after
 * --help/--version: 0; after a usage error: 2, message already printed). */
enum { VSD_CONFIG_RUN = -1 };

int vsd_config_parse(struct vsd_config *cfg, int argc, char **argv);
void vsd_config_fini(struct vsd_config *cfg);

/* --listen URL is served over TLS (tls+tcp://, wss://): the --tls-*
 * files apply to it. */
int vsd_listen_is_tls(const char *url);
/* url into out with a port of 0 replaced by the port actually bound:
 * "tcp://127.0.0.1:0" -> "tcp://127.0.0.1:41234", "ws://h:0/p" ->
 * "ws://h:41234/p" (the port ends the host part, before any path).  Any
 * other url (or port 0) is copied as it is. */
void vsd_url_bound(const char *url, int port, char *out, size_t outlen);

#endif
