/*
 * vset.h - private to the vset command-line client.
 *
 * The pieces:
 *   vset.c         main: global options, command dispatch, --help, --version
 *   vset_args.c    argument parsing shared by the commands (vectors,
 *                  numbers, the per-command option loop, usage errors)
 *   vset_cmds.c    insert, delete, search: their options, the call, exit code
 *   vset_output.c  printing results, human-readable or --json
 *   vset_load.c    load: bulk import of .npy, .fvecs and CSV files
 *   vset_reshard.c reshard: drive and watch an online move
 *
 * Exit statuses are part of the interface (scripts test them):
 * 0 success, 1 the call failed (or some items were not written),
 * 2 the command line was wrong (nothing was sent); reshard also has
 * 3 stopped by a signal with the move still open.
 *
 * Ownership: nothing here keeps pointers beyond a call except where a
 * comment says so; strings from argv are borrowed for the whole run.
 */
#ifndef VSET_H
#define VSET_H

#include <getopt.h>
#include <stddef.h>
#include <stdio.h>

#include "vsetd.h"

#define VSET_EXIT_OK 0
#define VSET_EXIT_ERROR 1
#define VSET_EXIT_USAGE 2
/* reshard: stopped by Ctrl-C/SIGTERM with the move still open. */
#define VSET_EXIT_STOPPED 3

#define VSET_DEFAULT_SERVER "tcp://127.0.0.1:5555"
#define VSET_DEFAULT_TIMEOUT_MS 5000

/* Options that come before the command. */
typedef struct vset_global {
	const char *server;          /* borrowed from argv or the environment */
	int timeout_ms;
	int json;
	/* tls+tcp:// servers (borrowed from argv or the environment) */
	const char *tls_ca;
	const char *tls_cert;
	const char *tls_key;
	const char *tls_server_name;
} vset_global;

/* Connect to g->server with g's timeout and TLS settings; on failure print
 * "CODE: message" and return the code.  *c is the caller's (vs_close). */
int vset_connect(const vset_global *g, vs_client **c);

/* ------------------------------------------------------------ vset_args.c */

/*
 * Print "vset: MESSAGE" and a hint to run `vset CMD --help` (or `vset
 * --help` when cmd is NULL) to stderr.  Returns VSET_EXIT_USAGE so callers
 * can `return vset_usage_error(...)`.
 */
int vset_usage_error(const char *cmd, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/*
 * Parse "V1,V2,..." into a malloc'd array (*out, the caller frees it) of
 * *dim floats.  Components are decimal (or hex) floats as strtof reads
 * them, optionally surrounded by blanks; every one must be finite and fit a
 * float.  On error returns -1 with a message naming the component in
 * err[0..errlen) and *out NULL.
 */
int vset_parse_vector(const char *s, float **out, size_t *dim, char *err,
    size_t errlen);

/* Parse a plain decimal integer in [min, max] (no sign, no blanks). */
int vset_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out);

/*
 * The per-command option loop: getopt_long in RETURN_IN_ORDER mode, so
 * options may come before, between or after positionals.  An argument that
 * looks like a negative number or a vector ("-0.5", "-1,2") is a
 * positional, not an option cluster; anything after "--" is positional.
 */
typedef struct vset_argp {
	int argc;
	char **argv;                 /* argv[0] is the command name */
	const char *cmd;
	const char *shortopts;       /* without the leading "-:" */
	const struct option *longopts;
	char optstring[32];
	int rest;                    /* index of the next argument after "--" */
} vset_argp;

/* Values of long options without a letter start here, above any char, so
 * error messages can tell long options from letters. */
#define VSET_OPT_LONG 256

#define VSET_ARG_POSITIONAL 1
#define VSET_ARG_END (-1)
#define VSET_ARG_ERROR (-2)       /* a usage error was printed */

void vset_argp_init(vset_argp *p, const char *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts);
/* The next option's value (as getopt_long returns it, *arg its argument),
 * VSET_ARG_POSITIONAL with *arg the positional, VSET_ARG_END, or
 * VSET_ARG_ERROR after printing what was wrong. */
int vset_argp_next(vset_argp *p, const char **arg);
/* Keep positional arg as pos[*n] (pos has room for max): 0, or a usage
 * error ("unexpected argument") and VSET_EXIT_USAGE when pos is full. */
int vset_argp_keep(const vset_argp *p, const char *arg, const char **pos,
    size_t *n, size_t max);

/* ------------------------------------------------------------ vset_cmds.c */

typedef struct vset_command {
	const char *name;
	const char *synopsis;        /* its arguments, for vset --help */
	const char *summary;         /* one line, for vset --help */
	int (*run)(const vset_global *g, int argc, char **argv);
} vset_command;

/* NULL-name-terminated tables: vset_cmds.c (insert, delete, search) and
 * vset_surface.c (collections, reads, aggregates). */
extern const vset_command vset_commands[];
extern const vset_command vset_surface_commands[];

/* ------------------------------------------------------------ vset_stats.c */

int vset_cmd_stats(const vset_global *g, int argc, char **argv);

/* ------------------------------------------------------------ vset_load.c */

/* vset load: bulk import of a .npy, .fvecs or CSV file in batches. */
int vset_cmd_load(const vset_global *g, int argc, char **argv);

/* ------------------------------------------------------------ vset_reshard.c */

/* vset reshard add|remove|status|abort: online resharding (issue 10). */
int vset_cmd_reshard(const vset_global *g, int argc, char **argv);

/* ------------------------------------------------------------ vset_output.c */

/* Print "CODE: message" for this thread's last vs_ error to stderr. */
void vset_print_error(int code);

/* A search result on stdout; a partial one also warns on stderr.
 * 0, or -1 if out of memory. */
int vset_print_search(const vset_global *g, const vs_search_result *r);

/* A write result on stdout (deleting: delete's field names); items that
 * failed are also listed on stderr.  0, or -1 if out of memory. */
int vset_print_write(const vset_global *g, const vs_write_result *r,
    int deleting);

/* Write a built output (vs_json.h's vs_sb) to stdout, or say "out of
 * memory" on stderr when building it ran out; frees sb's buffer either
 * way.  0, or -1 if out of memory. */
struct vs_sb;
int vset_print_sb(struct vs_sb *sb);

#endif
