/*
 * fz_target.h - the fuzz targets' entry points, shared by the libFuzzer
 * binaries (fuzz_main.c, one per target; clang, -Dfuzz=true) and the
 * corpus replay test (fz_replay.c; any compiler, runs in every build).
 *
 * Why one shared file: the replay test must drive exactly the code the
 * fuzzer drives, so a seed or a saved crash reproduces with gcc in CI.
 *
 * The targets run the server's real request path with no network: a fake
 * server of FZ_NSHARDS shards whose circuit breakers are forced open, so
 * vsd_links_run() skips every shard and no socket is ever opened.  Each
 * target checks what clients rely on (every input gets a decodable reply
 * with the right request id and a sensible status) and calls abort() when
 * a check fails, which libFuzzer and the replay test both report as a
 * crash with the input that caused it.
 *
 * Ownership: fz_setup() allocates the fake server (process-wide, static);
 * fz_teardown() frees all of it.  The targets free everything they
 * allocate per input, so any growth between two identical passes is a leak.
 */
#ifndef FZ_TARGET_H
#define FZ_TARGET_H

#include <stddef.h>
#include <stdint.h>

#define FZ_NSHARDS 2

/* Build the fake server; 0 on success.  Idempotent. */
int fz_setup(void);
void fz_teardown(void);

/* fuzz_envelope: data as a RequestEnvelope (vsd_envelope_decode,
 * vsd_envelope_peek_id), a reply pack/unpack round trip of what decoded,
 * and data as a ReplyEnvelope (what clients decode). */
void fz_envelope_one(const uint8_t *data, size_t size);

/* fuzz_dispatch: data as a whole request message through vsd_dispatch(),
 * then data as the payload of a well-formed envelope for every method of
 * vsetd.v1.VectorService (read from the generated service descriptor, so
 * new RPCs are covered without touching this file). */
void fz_dispatch_one(const uint8_t *data, size_t size);

/* fuzz_reply: data as the bytes shards send back to a search.  Header:
 * byte 0 flags (bits 0-1: shards 1-3; bit 2: WITHATTRIBS layout, stride
 * 3; bit 3: an epsilon cut), byte 1 K (1..FZ_REPLY_MAX_K), byte 2 the
 * size of the pieces fed to the reader (1..64, so replies split at every
 * byte boundary); then the reply stream, one reply per shard in order.
 * Path: a hiredis reader with vsetd's limits (shard_reply.h) ->
 * vsd_vsim_parse per shard (the search's collect) -> vsd_merge_topk and
 * the epsilon cut -> a packed SearchResponse, decoded again.  Checks: no
 * shard adds more than K hits; the result has at most K hits, in result
 * order, distinct valid ids, finite scores in [0, 1] (with the slack);
 * a reader error reads "protocol error: ...". */
#define FZ_REPLY_MAX_K 16
void fz_reply_one(const uint8_t *data, size_t size);

/* fuzz_resp: data as what a Redis client sends to --resp-listen
 * (fz_resp.c): the RESP parser, split reads, the net thread's commands. */
void fz_resp_one(const uint8_t *data, size_t size);

#endif
