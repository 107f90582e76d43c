/*
 * vset.c - the vset command-line client: global options and dispatch.
 *
 *   vset [--server URL] [--timeout-ms N] [--json] COMMAND ARGS...
 *
 * Global options must come before the command ("+" stops getopt there), so
 * a command's own options can never be mistaken for them; each command
 * then parses the rest in any order (vset_cmds.c).  Everything the user
 * can rely on (options, defaults, output, exit statuses) is in the --help
 * texts, which are kept next to the code they describe.
 */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "vset.h"

enum {
	OPT_SERVER = VSET_OPT_LONG,
	OPT_TIMEOUT,
	OPT_JSON,
	OPT_HELP,
	OPT_VERSION,
	OPT_TLS_CA,
	OPT_TLS_CERT,
	OPT_TLS_KEY,
	OPT_TLS_NAME,
};

int
vset_connect(const vset_global *g, vs_client **c)
{
	vs_connect_options o;
	int rv;

	memset(&o, 0, sizeof(o));
	o.timeout_ms = g->timeout_ms;
	o.tls_ca_file = g->tls_ca;
	o.tls_cert_file = g->tls_cert;
	o.tls_key_file = g->tls_key;
	o.tls_server_name = g->tls_server_name;
	if ((rv = vs_connect_opts(c, g->server, &o)) != VS_OK)
		vset_print_error(rv);
	return rv;
}

static void
print_help(void)
{
	const vset_command *cmd;

	fputs(
"Usage: vset [--server URL] [--timeout-ms N] [--json] COMMAND ARGS...\n"
"       vset COMMAND --help | vset --help | vset --version\n"
"\n"
"Command-line client of vsetd, the sharded vector-set server.\n"
"\n"
"Commands:\n", stdout);
	for (cmd = vset_commands; cmd->name != NULL; cmd++)
		printf("  %s %s\n      %s\n", cmd->name, cmd->synopsis,
		    cmd->summary);
	for (cmd = vset_surface_commands; cmd->name != NULL; cmd++)
		printf("  %s %s\n      %s\n", cmd->name, cmd->synopsis,
		    cmd->summary);
	fputs(
"\n"
"Global options (before the command):\n"
"  --server URL      vsetd to talk to (default: $VSET_SERVER if set, else\n"
"                    " VSET_DEFAULT_SERVER ")\n"
"  --timeout-ms N    connect timeout and deadline of the call, in\n"
"                    milliseconds, 1 or more (default 5000)\n"
"  --json            print the result as one JSON object on one line\n"
"  --tls-ca FILE     for tls+tcp:// and wss:// servers: PEM CA certificates\n"
"                    to verify the server with (default: $VSET_TLS_CA;\n"
"                    required)\n"
"  --tls-cert FILE   client certificate (PEM) for servers that ask for one\n"
"  --tls-key FILE    its private key (PEM)\n"
"  --tls-server-name NAME\n"
"                    the name to verify the server certificate against\n"
"                    (default: the URL's host; must be a DNS name the\n"
"                    certificate carries: IP addresses cannot be matched)\n"
"  -h, --help        show this help\n"
"  -V, --version     show the version\n"
"\n"
"Errors go to stderr as 'CODE: message' (gRPC code names, such as\n"
"INVALID_ARGUMENT or UNAVAILABLE).\n"
"\n"
"Exit status:\n"
"  0  success (a search answered by only some shards also counts; it\n"
"     warns on stderr and says \"partial\":true)\n"
"  1  the call failed, or some items of an insert/delete/load were not\n"
"     written\n"
"  2  usage error: the command line was wrong (or, for load, the file\n"
"     cannot be loaded at all) and nothing was sent\n"
"  3  reshard only: stopped by Ctrl-C or SIGTERM with the move still\n"
"     open (run the same command again to resume it)\n",
	    stdout);
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "server", required_argument, NULL, OPT_SERVER },
		{ "timeout-ms", required_argument, NULL, OPT_TIMEOUT },
		{ "json", no_argument, NULL, OPT_JSON },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ "tls-ca", required_argument, NULL, OPT_TLS_CA },
		{ "tls-cert", required_argument, NULL, OPT_TLS_CERT },
		{ "tls-key", required_argument, NULL, OPT_TLS_KEY },
		{ "tls-server-name", required_argument, NULL, OPT_TLS_NAME },
		{ NULL, 0, NULL, 0 },
	};
	const vset_command *cmd;
	vset_global g;
	unsigned long n;
	const char *env;
	int rv, opt;

	memset(&g, 0, sizeof(g));
	g.server = VSET_DEFAULT_SERVER;
	g.timeout_ms = VSET_DEFAULT_TIMEOUT_MS;
	g.json = 0;
	env = getenv("VSET_SERVER");
	if (env != NULL && *env != '\0')
		g.server = env;
	env = getenv("VSET_TLS_CA");
	if (env != NULL && *env != '\0')
		g.tls_ca = env;

	opterr = 0;
	while ((opt = getopt_long(argc, argv, "+:hV", longopts, NULL)) != -1) {
		switch (opt) {
		case OPT_SERVER:
			g.server = optarg;
			break;
		case OPT_TIMEOUT:
			if (vset_parse_uint(optarg, 1, INT_MAX, &n) != 0)
				return vset_usage_error(NULL, "--timeout-ms needs "
				    "a whole number of 1 or more, not '%s'",
				    optarg);
			g.timeout_ms = (int)n;
			break;
		case OPT_TLS_CA:
			g.tls_ca = optarg;
			break;
		case OPT_TLS_CERT:
			g.tls_cert = optarg;
			break;
		case OPT_TLS_KEY:
			g.tls_key = optarg;
			break;
		case OPT_TLS_NAME:
			g.tls_server_name = optarg;
			break;
		case OPT_JSON:
			g.json = 1;
			break;
		case 'h':
		case OPT_HELP:
			print_help();
			return VSET_EXIT_OK;
		case 'V':
		case OPT_VERSION:
			printf("vset %s (libvsetd-client %s)\n", VSETD_VERSION,
			    VS_VERSION);
			return VSET_EXIT_OK;
		case ':':
			return vset_usage_error(NULL, "option '%s' needs a value",
			    argv[optind - 1]);
		default:
			if (optopt > 0 && optopt < VSET_OPT_LONG)
				return vset_usage_error(NULL,
				    "unknown option '-%c'", optopt);
			if (optopt >= VSET_OPT_LONG)
				return vset_usage_error(NULL,
				    "option '%s' takes no value",
				    argv[optind - 1]);
			return vset_usage_error(NULL, "unknown or ambiguous "
			    "option '%s'%s", argv[optind - 1],
			    " (command options go after the command)");
		}
	}
	if (optind >= argc)
		return vset_usage_error(NULL, "missing COMMAND");
	for (cmd = vset_commands; cmd->name != NULL; cmd++)
		if (strcmp(cmd->name, argv[optind]) == 0)
			break;
	if (cmd->name == NULL)
		for (cmd = vset_surface_commands; cmd->name != NULL; cmd++)
			if (strcmp(cmd->name, argv[optind]) == 0)
				break;
	if (cmd->name == NULL)
		return vset_usage_error(NULL, "unknown command '%s'",
		    argv[optind]);
	rv = cmd->run(&g, argc - optind, argv + optind);
	/* A result that did not reach stdout (full disk, closed pipe) is a
	 * failure, not a silent success. */
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "vset: writing output: %s\n", strerror(errno));
		if (rv == VSET_EXIT_OK)
			rv = VSET_EXIT_ERROR;
	}
	return rv;
}
