/*
 * move_write.c - the new owner's write in DUAL (move_write.h).
 *
 * The command is the fence's (fence.h) plus what the mover's copy script
 * checks, all in one script on the new owner (VSD_SCRIPT_MOVE_WRITE in
 * fence_lua.c), so that nothing can run between the write and its marks:
 *
 *   EVALSHA <sha> 4 <meta> vsetd:@topology <data key> vsetd:@mv:<coll>
 *           <generation> <epoch> <id> <kind> <CMD> <args after key>
 *
 * kind tells the script what the write means for a copy racing it:
 * "a" VADD with SETATTR (a full state), "n" VADD without (leaves the
 * attributes as they are: on an id absent here it creates it without
 * any, so the script marks it "noattr"), "r" VREM (marks it "del"), "s"
 * VSETATTR.  Every kind bumps the id's counter.  Why these marks make
 * the copy safe for any interleaving: mover.h.  Like the fence, the
 * script redoes a VADD that updates an element as VREM + VADD (Redis
 * 8.0.2 neither logs nor replicates a VADD update), keeping the
 * attributes unless the VADD sets them.
 *
 * The kind and the id are found by parsing the inner command the way
 * Redis does (VADD key [REDUCE n] FP32 blob|VALUES n v... id options), not
 * by searching for the word SETATTR, which a blob or an id may contain.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "fence.h"
#include "move_write.h"
#include "mover.h"

/* EVALSHA sha numkeys + 4 keys + generation epoch id kind + CMD, minus
 * the inner command's name and key, which are moved into place. */
#define VSD_MOVE_WRITE_EXTRA 10
#define VSD_MOVE_WRITE_NKEYS "4"

static int
vsd_arg_is(const struct vsd_argv *a, int i, const char *word)
{
	size_t n = strlen(word);

	return i < a->argc && a->len[i] == n &&
	    strncasecmp(a->argv[i], word, n) == 0;
}

/* The id (index into inner) and kind of a fenced write, or -1. */
static int
vsd_move_write_parse(const struct vsd_argv *in, int *id, char *kind)
{
	int i = 2, n;
	char num[16];

	if (vsd_arg_is(in, 0, "VREM") || vsd_arg_is(in, 0, "VSETATTR")) {
		if (in->argc < 3)
			return -1;
		*id = 2;
		*kind = vsd_arg_is(in, 0, "VREM") ? 'r' : 's';
		return 0;
	}
	if (!vsd_arg_is(in, 0, "VADD"))
		return -1;
	if (vsd_arg_is(in, i, "REDUCE"))
		i += 2;
	if (vsd_arg_is(in, i, "FP32")) {
		i += 2;
	} else if (vsd_arg_is(in, i, "VALUES") && i + 1 < in->argc &&
	    in->len[i + 1] < sizeof(num)) {
		memcpy(num, in->argv[i + 1], in->len[i + 1]);
		num[in->len[i + 1]] = '\0';
		n = atoi(num);
		if (n <= 0 || n > in->argc)
			return -1;
		i += 2 + n;
	} else {
		return -1;
	}
	if (i >= in->argc)
		return -1;
	*id = i++;
	*kind = 'n';
	for (; i < in->argc; i++) {
		if (vsd_arg_is(in, i, "SETATTR")) {
			*kind = 'a';
			i++;
		} else if (vsd_arg_is(in, i, "EF") || vsd_arg_is(in, i, "M")) {
			i++;
		}
	}
	return 0;
}

int
vsd_move_wrap_new_owner(struct vsd_call *call, const struct vsd_argv *inner,
    const char *collection, const char *metakey, size_t metalen,
    const char *gen, uint32_t shard, struct vsd_cmd *cmd)
{
	const char *epoch = vsd_topo_epoch_arg(call);
	const char *marks;
	struct vsd_argv a;
	size_t markslen;
	char *kind, k;
	int i, id;

	if (epoch == NULL || inner->argc < 3)
		return -1;
	if (vsd_move_write_parse(inner, &id, &k) != 0) {
		vsd_status_set(&call->st, VSD_INTERNAL, "the new owner's write "
		    "is not a VADD, VREM or VSETATTR vsetd can parse");
		return -1;
	}
	if ((kind = vsd_call_alloc(call, 2)) == NULL ||
	    (marks = vsd_mv_marks_key(call, collection, &markslen)) == NULL ||
	    vsd_argv_init(call, &a, inner->argc + VSD_MOVE_WRITE_EXTRA) != 0)
		return -1;
	kind[0] = k;
	vsd_argv_str(&a, "EVALSHA");
	vsd_argv_str(&a, vsd_script_sha(VSD_SCRIPT_MOVE_WRITE));
	vsd_argv_str(&a, VSD_MOVE_WRITE_NKEYS);
	vsd_argv_add(&a, metakey, metalen);
	vsd_argv_str(&a, VSD_TOPOLOGY_KEY);
	vsd_argv_add(&a, inner->argv[1], inner->len[1]);
	vsd_argv_add(&a, marks, markslen);
	vsd_argv_str(&a, gen);
	vsd_argv_str(&a, epoch);
	vsd_argv_add(&a, inner->argv[id], inner->len[id]);
	vsd_argv_str(&a, kind);
	vsd_argv_add(&a, inner->argv[0], inner->len[0]);
	for (i = 2; i < inner->argc; i++)
		vsd_argv_add(&a, inner->argv[i], inner->len[i]);
	/* A lost argument would send another command: refuse instead. */
	if (a.argc != inner->argc + VSD_MOVE_WRITE_EXTRA)
		return -1;
	vsd_argv_to_cmd(&a, cmd, shard);
	return 0;
}
