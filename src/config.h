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

struct vsd_shard_addr {
	char *host;                  /* owned (vsd_config_fini frees) */
	int port;
};

struct vsd_config {
	const char *listen;
	struct vsd_shard_addr *shards;   /* owned; in --shard order */
	uint32_t nshards;
	int workers;
	int deadline_ms;             /* default for calls that carry none */
	size_t max_message_bytes;
	uint32_t max_batch;
	uint32_t max_k;
	uint32_t max_dim;
	uint32_t max_id_bytes;
	int max_inflight;
	int log_level;
};

/* Outcome of parsing: run, or exit now with the given status (after
 * --help/--version: 0; after a usage error: 2, message already printed). */
enum { VSD_CONFIG_RUN = -1 };

int vsd_config_parse(struct vsd_config *cfg, int argc, char **argv);
void vsd_config_fini(struct vsd_config *cfg);

#endif
