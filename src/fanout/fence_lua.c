/*
 * fence_lua.c - the Lua scripts vsetd runs on the shards (fence.h says
 * what each does and why), and the SHA-1 that names them for EVALSHA
 * (FIPS 180-4; a few lines, so no crypto library for it).  Standalone, so
 * tests can send the exact scripts by hand.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "fence_lua.h"

#define VSD_SHA1_BLOCK 64
#define VSD_SHA1_WORDS 80

/* KEYS[1] meta, KEYS[2] topology, KEYS[3] data key;
 * ARGV[1] expected generation, ARGV[2] expected epoch, ARGV[3] command,
 * ARGV[4..] its arguments after the key.
 *
 * A VADD that updates an element (it answers 0) is done again as VREM +
 * VADD: Redis 8.0.2's vector sets neither write such an update to the AOF
 * nor send it to replicas (measured: after kill -9 and a restart from an
 * appendfsync-always AOF, or on the replica, the element has its previous
 * vector and attributes), so an acknowledged update would be lost at the
 * next restart or failover.  VREM and a VADD of a new element are both
 * logged and replicated.  The first VADD stays, so that a VADD Redis
 * refuses (a wrong dimension...) fails before anything is removed; the
 * attributes are carried over unless the VADD sets them.  Arguments after
 * the key: [REDUCE n] FP32 blob | VALUES n v1..vn, then the id, then the
 * options (SETATTR among them). */
static const char vsd_fence_lua[] =
    "local g = redis.call('HGET', KEYS[1], 'gen')\n"
    "if not g then\n"
    "  if redis.call('EXISTS', KEYS[1]) == 1 then g = '0' else g = 'none' end\n"
    "end\n"
    "if g ~= ARGV[1] then\n"
    "  return redis.error_reply('VSETDSTALE generation ' .. g .. "
    "' expected ' .. ARGV[1])\n"
    "end\n"
    "local e = redis.call('HGET', KEYS[2], 'epoch') or '0'\n"
    "if e ~= ARGV[2] then\n"
    "  return redis.error_reply('VSETDSTALE epoch ' .. e .. "
    "' expected ' .. ARGV[2])\n"
    "end\n"
    "local c = ARGV[3]\n"
    "if c ~= 'VADD' and c ~= 'VREM' and c ~= 'VSETATTR' then\n"
    "  return redis.error_reply('ERR vsetd fence: ' .. c .. "
    "' is not a fenced command')\n"
    "end\n"
    "local r = redis.pcall(c, KEYS[3], unpack(ARGV, 4))\n"
    "if c ~= 'VADD' or r ~= 0 then return r end\n"
    "local i = 4\n"
    "if ARGV[i] == 'REDUCE' then i = i + 2 end\n"
    "if ARGV[i] == 'FP32' then i = i + 2 else i = i + 2 + tonumber(ARGV[i + 1]) end\n"
    "local id, attr = ARGV[i], nil\n"
    "local sets = false\n"
    "for k = i + 1, #ARGV do if ARGV[k] == 'SETATTR' then sets = true end end\n"
    "if not sets then attr = redis.call('VGETATTR', KEYS[3], id) end\n"
    "redis.call('VREM', KEYS[3], id)\n"
    "redis.call('VADD', KEYS[3], unpack(ARGV, 4))\n"
    "if attr then redis.call('VSETATTR', KEYS[3], id, attr) end\n"
    "return r\n";

/* KEYS[1] meta; ARGV field value pairs. */
static const char vsd_adopt_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 0 then\n"
    "  redis.call('HSET', KEYS[1], unpack(ARGV))\n"
    "end\n"
    "return redis.call('HGETALL', KEYS[1])\n";

/* KEYS[1] scratch key (absent); ARGV[1] the FILTER expression.  The
 * answer is VSIM's: an error for a bad expression. */
static const char vsd_filter_check_lua[] =
    "if redis.call('EXISTS', KEYS[1]) == 1 then\n"
    "  return redis.error_reply('ERR vsetd: scratch key ' .. KEYS[1] .. "
    "' exists')\n"
    "end\n"
    "redis.call('VADD', KEYS[1], 'VALUES', '1', '1', 'x')\n"
    "local r = redis.pcall('VSIM', KEYS[1], 'VALUES', '1', '1', "
    "'FILTER', ARGV[1])\n"
    "redis.call('DEL', KEYS[1])\n"
    "return r\n";

static const char *const vsd_scripts[VSD_SCRIPT_COUNT] = {
	vsd_fence_lua, vsd_adopt_lua, vsd_filter_check_lua,
};
static char vsd_shas[VSD_SCRIPT_COUNT][41];
static pthread_once_t vsd_sha_once = PTHREAD_ONCE_INIT;

/* ------------------------------------------------------------ SHA-1 */

static uint32_t
vsd_rol(uint32_t x, int n)
{
	return (x << n) | (x >> (32 - n));
}

static void
vsd_sha1_block(uint32_t h[5], const unsigned char *b)
{
	uint32_t w[VSD_SHA1_WORDS], a, bb, c, d, e, f, k, t;
	int i;

	for (i = 0; i < 16; i++)
		w[i] = (uint32_t)b[4 * i] << 24 | (uint32_t)b[4 * i + 1] << 16 |
		    (uint32_t)b[4 * i + 2] << 8 | b[4 * i + 3];
	for (; i < VSD_SHA1_WORDS; i++)
		w[i] = vsd_rol(w[i - 3] ^ w[i - 8] ^ w[i - 14] ^ w[i - 16], 1);
	a = h[0]; bb = h[1]; c = h[2]; d = h[3]; e = h[4];
	for (i = 0; i < VSD_SHA1_WORDS; i++) {
		if (i < 20) {
			f = (bb & c) | (~bb & d);
			k = 0x5a827999;
		} else if (i < 40) {
			f = bb ^ c ^ d;
			k = 0x6ed9eba1;
		} else if (i < 60) {
			f = (bb & c) | (bb & d) | (c & d);
			k = 0x8f1bbcdc;
		} else {
			f = bb ^ c ^ d;
			k = 0xca62c1d6;
		}
		t = vsd_rol(a, 5) + f + e + k + w[i];
		e = d;
		d = c;
		c = vsd_rol(bb, 30);
		bb = a;
		a = t;
	}
	h[0] += a; h[1] += bb; h[2] += c; h[3] += d; h[4] += e;
}

void
vsd_sha1_hex(const void *p, size_t n, char hex[41])
{
	uint32_t h[5] = { 0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476,
	    0xc3d2e1f0 };
	const unsigned char *s = p;
	unsigned char last[2 * VSD_SHA1_BLOCK];
	uint64_t bits = (uint64_t)n * 8;
	size_t full = n / VSD_SHA1_BLOCK * VSD_SHA1_BLOCK, rest = n - full;
	size_t i, tail;

	for (i = 0; i < full; i += VSD_SHA1_BLOCK)
		vsd_sha1_block(h, s + i);
	memset(last, 0, sizeof(last));
	memcpy(last, s + full, rest);
	last[rest] = 0x80;
	tail = rest + 1 + 8 <= VSD_SHA1_BLOCK ? VSD_SHA1_BLOCK :
	    2 * VSD_SHA1_BLOCK;
	for (i = 0; i < 8; i++)
		last[tail - 1 - i] = (unsigned char)(bits >> (8 * i));
	for (i = 0; i < tail; i += VSD_SHA1_BLOCK)
		vsd_sha1_block(h, last + i);
	for (i = 0; i < 5; i++)
		snprintf(hex + 8 * i, 9, "%08x", h[i]);
}

static void
vsd_sha_init(void)
{
	int i;

	for (i = 0; i < VSD_SCRIPT_COUNT; i++)
		vsd_sha1_hex(vsd_scripts[i], strlen(vsd_scripts[i]),
		    vsd_shas[i]);
}

const char *
vsd_script_text(int which)
{
	return vsd_scripts[which];
}

const char *
vsd_script_sha(int which)
{
	pthread_once(&vsd_sha_once, vsd_sha_init);
	return vsd_shas[which];
}

