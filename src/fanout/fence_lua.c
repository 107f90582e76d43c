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

/* ------------------------------------------------ the mover's scripts
 * Why each exists and why together they lose no write: mover.h (the
 * design comment).  KEYS[1] meta, KEYS[2] topology, KEYS[3] data key,
 * KEYS[4] the destination's marks "vsetd:@mv:<collection>" (field
 * "c"..id: a counter bumped by every router write of id on the new owner;
 * field "s"..id: "del" = deleted there, "noattr" = created there without
 * attributes).  Both begin with the fence's generation and epoch check. */
#define VSD_LUA_FENCE_CHECK \
    "local g = redis.call('HGET', KEYS[1], 'gen')\n" \
    "if not g then\n" \
    "  if redis.call('EXISTS', KEYS[1]) == 1 then g = '0' else g = 'none' end\n" \
    "end\n" \
    "if g ~= ARGV[1] then\n" \
    "  return redis.error_reply('VSETDSTALE generation ' .. g .. " \
    "' expected ' .. ARGV[1])\n" \
    "end\n" \
    "local e = redis.call('HGET', KEYS[2], 'epoch') or '0'\n" \
    "if e ~= ARGV[2] then\n" \
    "  return redis.error_reply('VSETDSTALE epoch ' .. e .. " \
    "' expected ' .. ARGV[2])\n" \
    "end\n" \
    "local function ismember(id)\n" \
    "  local m = redis.pcall('VISMEMBER', KEYS[3], id)\n" \
    "  if type(m) == 'number' then return m end\n" \
    "  return 0\n" \
    "end\n"

/* A router's write of a moving id on its NEW owner in phase DUAL
 * (move_write.c).  ARGV[1] generation, ARGV[2] epoch, ARGV[3] id,
 * ARGV[4] kind: "a" VADD with SETATTR, "n" VADD without, "r" VREM, "s"
 * VSETATTR; ARGV[5] the command, ARGV[6..] its arguments after the key.
 * A VADD that updates (answers 0) is redone as VREM + VADD, attributes
 * carried over unless it sets them, as the fence does (vsd_fence_lua:
 * Redis 8.0.2 neither logs nor replicates a VADD update). */
static const char vsd_move_write_lua[] =
    VSD_LUA_FENCE_CHECK
    "local c, id, k = ARGV[5], ARGV[3], ARGV[4]\n"
    "if c ~= 'VADD' and c ~= 'VREM' and c ~= 'VSETATTR' then\n"
    "  return redis.error_reply('ERR vsetd fence: ' .. c .. "
    "' is not a fenced command')\n"
    "end\n"
    "local had = ismember(id)\n"
    "local r = redis.pcall(c, KEYS[3], unpack(ARGV, 6))\n"
    "redis.call('HINCRBY', KEYS[4], 'c' .. id, 1)\n"
    "if type(r) == 'table' and r.err then return r end\n"
    "if c == 'VADD' and r == 0 then\n"
    "  local attr = nil\n"
    "  if k ~= 'a' then attr = redis.call('VGETATTR', KEYS[3], id) end\n"
    "  redis.call('VREM', KEYS[3], id)\n"
    "  redis.call('VADD', KEYS[3], unpack(ARGV, 6))\n"
    "  if attr then redis.call('VSETATTR', KEYS[3], id, attr) end\n"
    "end\n"
    "local sf = 's' .. id\n"
    "if c == 'VREM' then\n"
    "  redis.call('HSET', KEYS[4], sf, 'del')\n"
    "elseif c == 'VADD' then\n"
    "  if k == 'a' then redis.call('HDEL', KEYS[4], sf)\n"
    "  elseif had == 0 then redis.call('HSET', KEYS[4], sf, 'noattr') end\n"
    "elseif had == 1 then\n"
    "  redis.call('HDEL', KEYS[4], sf)\n"
    "end\n"
    "return r\n";

/* The mover's copy of one id on its new owner.  ARGV[1] generation,
 * ARGV[2] epoch, ARGV[3] id, ARGV[4] the counter the mover read before it
 * read the source ("0": none), ARGV[5] the attributes read on the source
 * ("" none), ARGV[6..] VADD's arguments after the key.  Answers "copied",
 * "present", "deleted", "attrs" (present but created without attributes
 * by a router: the source's attributes set), or "retry" (a router wrote
 * the id since the mover's read: read again). */
static const char vsd_move_copy_lua[] =
    VSD_LUA_FENCE_CHECK
    "local id = ARGV[3]\n"
    "local n = redis.call('HGET', KEYS[4], 'c' .. id) or '0'\n"
    "if n ~= ARGV[4] then return 'retry' end\n"
    "local st = redis.call('HGET', KEYS[4], 's' .. id)\n"
    "if ismember(id) == 1 then\n"
    "  if st == 'noattr' then\n"
    "    redis.call('VSETATTR', KEYS[3], id, ARGV[5])\n"
    "    redis.call('HDEL', KEYS[4], 's' .. id)\n"
    "    return 'attrs'\n"
    "  end\n"
    "  return 'present'\n"
    "end\n"
    "if st == 'del' then return 'deleted' end\n"
    "redis.call('VADD', KEYS[3], unpack(ARGV, 6))\n"
    "return 'copied'\n";

/* List a vector set once per pass of the mover, on its source shard.
 * KEYS[1] data key, KEYS[2] the list "vsetd:@mvl:<collection>", KEYS[3]
 * the cursors "vsetd:@mvc"; ARGV[1] the cursor's field (the collection),
 * ARGV[2] the pass ("copy", "clean", "abort"), ARGV[3] ids per RPUSH (Lua's
 * unpack() is bounded).  VRANDMEMBER with a count of VCARD answers every
 * element once (Redis 8.0 has no cursor over a vector set).  A cursor
 * already in this pass means listed: nothing is done.  Answers the
 * list's length. */
static const char vsd_move_list_lua[] =
    "local cur = redis.call('HGET', KEYS[3], ARGV[1])\n"
    "if cur and string.sub(cur, 1, #ARGV[2] + 1) == ARGV[2] .. ':' then\n"
    "  return redis.call('LLEN', KEYS[2])\n"
    "end\n"
    "redis.call('DEL', KEYS[2])\n"
    "local n = 0\n"
    "if redis.call('TYPE', KEYS[1]).ok == 'vectorset' then\n"
    "  n = redis.call('VCARD', KEYS[1])\n"
    "end\n"
    "if n > 0 then\n"
    "  local ids = redis.call('VRANDMEMBER', KEYS[1], n)\n"
    "  local chunk = tonumber(ARGV[3])\n"
    "  for i = 1, #ids, chunk do\n"
    "    redis.call('RPUSH', KEYS[2], unpack(ids, i, "
    "math.min(i + chunk - 1, #ids)))\n"
    "  end\n"
    "  n = #ids\n"
    "end\n"
    "redis.call('HSET', KEYS[3], ARGV[1], ARGV[2] .. ':0')\n"
    "return n\n";

/* Write the topology record (DEL + HSET) only over the epoch the writer
 * saw there, so two drivers cannot leave different records at one epoch.
 * KEYS[1] vsetd:@topology; ARGV[1] the epoch seen there ("0": none),
 * ARGV[2] the new epoch, ARGV[3..] field value pairs.  Answers 1
 * (written), 0 (already this exact record), or -VSETDSTALE. */
static const char vsd_topo_put_lua[] =
    "local e = redis.call('HGET', KEYS[1], 'epoch') or '0'\n"
    "if e == ARGV[2] then\n"
    "  local same = redis.call('HLEN', KEYS[1]) == (#ARGV - 2) / 2\n"
    "  for i = 3, #ARGV, 2 do\n"
    "    if redis.call('HGET', KEYS[1], ARGV[i]) ~= ARGV[i + 1] then "
    "same = false end\n"
    "  end\n"
    "  if same then return 0 end\n"
    "  return redis.error_reply('VSETDSTALE record epoch ' .. e .. "
    "' holds another layout')\n"
    "end\n"
    "if e ~= ARGV[1] then\n"
    "  return redis.error_reply('VSETDSTALE record epoch ' .. e .. "
    "' expected ' .. ARGV[1])\n"
    "end\n"
    "redis.call('DEL', KEYS[1])\n"
    "redis.call('HSET', KEYS[1], unpack(ARGV, 3))\n"
    "return 1\n";

static const char *const vsd_scripts[VSD_SCRIPT_COUNT] = {
	vsd_fence_lua, vsd_adopt_lua, vsd_filter_check_lua,
	vsd_move_write_lua, vsd_move_copy_lua, vsd_move_list_lua,
	vsd_topo_put_lua,
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

