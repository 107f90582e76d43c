/*
 * vset_args.c - command-line parsing shared by vset's commands.
 *
 * Vectors are typed by hand and pasted from other tools, so the parser is
 * strict (a typo must not silently become 0.0) and its errors say which
 * component is wrong.  Negative numbers need care: to getopt "-0.5,1" is
 * an option cluster, yet nobody who types it means options, so the option
 * loop hands such arguments over as positionals.
 */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "vset.h"

int
vset_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fputs("vset: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	if (cmd != NULL)
		fprintf(stderr, "\nTry 'vset %s --help'.\n", cmd);
	else
		fputs("\nTry 'vset --help'.\n", stderr);
	return VSET_EXIT_USAGE;
}

/* ------------------------------------------------------------ numbers */

int
vset_parse_uint(const char *s, unsigned long min, unsigned long max,
    unsigned long *out)
{
	unsigned long long v;
	char *end;

	/* strtoull would accept blanks, a sign and wrap "-1" around. */
	if (!isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno != 0 || *end != '\0' || v < min || v > max)
		return -1;
	*out = (unsigned long)v;
	return 0;
}

static int
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

/* Parse the one component s[0..n) (not NUL-terminated: it ends at a comma
 * or the end of the whole string, where strtof stops by itself). */
static int
parse_component(const char *s, size_t n, size_t idx, size_t count, float *out,
    char *err, size_t errlen)
{
	const char *why = NULL;
	size_t b = 0, e = n;
	char *end;
	float f;

	while (b < e && is_blank(s[b]))
		b++;
	while (e > b && is_blank(s[e - 1]))
		e--;
	if (b == e) {
		snprintf(err, errlen, "invalid vector: component %zu of %zu is "
		    "empty", idx, count);
		return -1;
	}
	errno = 0;
	f = strtof(s + b, &end);
	if (end == s + b)
		why = "is not a number";
	else if ((size_t)(end - s) != e)
		why = "has trailing characters";
	else if (isnan(f) || (isinf(f) && errno != ERANGE))
		why = "is not finite";
	else if (errno == ERANGE && isinf(f))
		why = "is too large for a 32-bit float";
	/* ERANGE with a finite result is underflow: the tiny value is kept. */
	if (why != NULL) {
		snprintf(err, errlen, "invalid vector: component %zu of %zu "
		    "(\"%.*s\") %s", idx, count, (int)(e - b > 40 ? 40 : e - b),
		    s + b, why);
		return -1;
	}
	*out = f;
	return 0;
}

int
vset_parse_vector(const char *s, float **out, size_t *dim, char *err,
    size_t errlen)
{
	size_t count = 1, i = 0;
	const char *p;
	float *v = NULL;
	int rv = -1;

	*out = NULL;
	*dim = 0;
	for (p = s; *p != '\0'; p++)
		if (*p == ',')
			count++;
	if (*s == '\0') {
		snprintf(err, errlen, "invalid vector: it is empty");
		goto out;
	}
	if ((v = malloc(count * sizeof(*v))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	for (p = s; i < count; i++) {
		const char *comma = strchr(p, ',');
		size_t n = comma != NULL ? (size_t)(comma - p) : strlen(p);

		if (parse_component(p, n, i + 1, count, &v[i], err, errlen) != 0)
			goto out;
		p += n + 1;
	}
	*out = v;
	*dim = count;
	v = NULL;
	rv = 0;
out:
	free(v);
	return rv;
}

/* ------------------------------------------------------------ options */

void
vset_argp_init(vset_argp *p, const char *cmd, int argc, char **argv,
    const char *shortopts, const struct option *longopts)
{
	static char *prime_argv[] = { "vset", NULL };

	p->argc = argc;
	p->argv = argv;
	p->cmd = cmd;
	p->shortopts = shortopts;
	p->longopts = longopts;
	p->rest = 0;
	/* "-": return positionals in order as option 1 (works even under
	 * POSIXLY_CORRECT, unlike permuting); ":": report a missing argument
	 * as ':' so the message can be ours. */
	snprintf(p->optstring, sizeof(p->optstring), "-:%s", shortopts);
	/*
	 * getopt keeps its parse mode from when it was last reset, and the
	 * global options were parsed in "+" mode.  optind = 0 resets it, but
	 * only inside a call, and vset_argp_next() may look at arguments
	 * before its first call: so reset it here with an empty argument
	 * list, leaving optind at 1.
	 */
	opterr = 0;
	optind = 0;
	getopt_long(1, prime_argv, p->optstring, p->longopts, NULL);
}

/* "-0.5", "-.5", "-1,2", "-inf,3": a negative number or a vector. */
static int
looks_like_vector(const char *a)
{
	if (a[0] != '-' || a[1] == '-')
		return 0;
	return isdigit((unsigned char)a[1]) || a[1] == '.' ||
	    strchr(a, ',') != NULL;
}

int
vset_argp_next(vset_argp *p, const char **arg)
{
	int c;

	if (p->rest > 0) {
		if (p->rest >= p->argc)
			return VSET_ARG_END;
		*arg = p->argv[p->rest++];
		return VSET_ARG_POSITIONAL;
	}
	/* Between calls getopt is never inside a cluster such as "-k5" that
	 * could look numeric: a cluster starts with a letter. */
	if (optind < p->argc && looks_like_vector(p->argv[optind])) {
		*arg = p->argv[optind++];
		return VSET_ARG_POSITIONAL;
	}
	c = getopt_long(p->argc, p->argv, p->optstring, p->longopts, NULL);
	switch (c) {
	case -1:
		/* Only "--" ends a RETURN_IN_ORDER parse early. */
		if (optind < p->argc) {
			p->rest = optind;
			return vset_argp_next(p, arg);
		}
		return VSET_ARG_END;
	case 1:
		*arg = optarg;
		return VSET_ARG_POSITIONAL;
	case ':':
		if (optopt > 0 && optopt < VSET_OPT_LONG)
			vset_usage_error(p->cmd, "option '-%c' needs a value",
			    optopt);
		else
			vset_usage_error(p->cmd, "option '%s' needs a value",
			    p->argv[optind - 1]);
		return VSET_ARG_ERROR;
	case '?':
		/* Long options have values >= VSET_OPT_LONG, and getopt
		 * always moves past a long option, so argv[optind - 1] is it;
		 * not so for a bad letter inside a cluster like "-kx". */
		if (optopt > 0 && optopt < VSET_OPT_LONG)
			vset_usage_error(p->cmd, "unknown option '-%c'", optopt);
		else if (optopt >= VSET_OPT_LONG)
			vset_usage_error(p->cmd, "option '%s' takes no value",
			    p->argv[optind - 1]);
		else
			vset_usage_error(p->cmd, "unknown or ambiguous option "
			    "'%s'", p->argv[optind - 1]);
		return VSET_ARG_ERROR;
	default:
		*arg = optarg;
		return c;
	}
}

int
vset_argp_keep(const vset_argp *p, const char *arg, const char **pos,
    size_t *n, size_t max)
{
	if (*n == max)
		return vset_usage_error(p->cmd, "unexpected argument '%s'", arg);
	pos[(*n)++] = arg;
	return 0;
}
