/*
 * cli_args.c - fanout's command line and input (see cli.h). The batch
 * options are not listed here: every row of the daemon's option table
 * (options.h) becomes a flag, "--timeout_ms" and "--timeout-ms" alike,
 * checked with the daemon's own parser (opts_set_text) so a bad value
 * is a usage error before anything is sent, and passed on in the query
 * string the daemon parses with that same parser. A new option in the
 * table is a new flag with no change here. Flags are exact: getopt's
 * completion of a prefix (--time for --timeout-ms) is refused, so a
 * typo never becomes another flag (--token SECRET is not
 * --token-file), and a new flag never breaks an old abbreviation.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "cli.h"
#include "config.h"
#include "http.h"
#include "options.h"
#include "util.h"

#define DEFAULT_SERVER "http://127.0.0.1:7878"
#define FLAG_TABLE     0x1000 /* getopt value of table row i: FLAG_TABLE + i */

enum {
	FLAG_JSON = 0x100,
	FLAG_FORMAT,
	FLAG_PROGRESS,
	FLAG_OVERWRITE,
	FLAG_FAIL_FAST,
	FLAG_SERVER,
	FLAG_UNIX_SOCKET,
	FLAG_TOKEN_FILE,
	FLAG_JOB,
	FLAG_NAME,
	FLAG_FOLLOW,
	FLAG_FAILED,
	FLAG_AFTER,
	FLAG_STATE,
};

/* The commands on durable jobs, and how many IDs each takes. */
static const struct {
	const char *name;
	int ids;
} commands[] = {
    {"jobs", 0},
    {"status", 1},
    {"results", 1},
    {"retry", 1},
    {"cancel", 1},
};

/* Short names for batch options (issue #18 promises these), each the
 * option table's name of the row it stands for: the value is checked
 * and sent under that name. */
static const struct {
	const char *alias;
	const char *option;
} aliases[] = {
    {"timeout", "timeout_ms"},
    {"per_host", "per_host_concurrency"},
};

static const struct option fixed_options[] = {
    {"input", required_argument, NULL, 'i'},
    {"json", required_argument, NULL, FLAG_JSON},
    {"output", required_argument, NULL, 'o'},
    {"format", required_argument, NULL, FLAG_FORMAT},
    {"progress", required_argument, NULL, FLAG_PROGRESS},
    {"dir", required_argument, NULL, 'd'},
    {"overwrite", no_argument, NULL, FLAG_OVERWRITE},
    {"fail-fast", no_argument, NULL, FLAG_FAIL_FAST},
    {"server", required_argument, NULL, FLAG_SERVER},
    {"unix-socket", required_argument, NULL, FLAG_UNIX_SOCKET},
    {"token-file", required_argument, NULL, FLAG_TOKEN_FILE},
    {"job", no_argument, NULL, FLAG_JOB},
    {"name", required_argument, NULL, FLAG_NAME},
    {"follow", no_argument, NULL, FLAG_FOLLOW},
    {"failed", no_argument, NULL, FLAG_FAILED},
    {"after", required_argument, NULL, FLAG_AFTER},
    {"state", required_argument, NULL, FLAG_STATE},
    {"method", required_argument, NULL, 'X'},
    {"header", required_argument, NULL, 'H'},
    {"user-agent", required_argument, NULL, 'A'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
};
#define NFIXED (sizeof(fixed_options) / sizeof(fixed_options[0]))

static const char usage_text[] =
    "usage: fanout [OPTIONS] URL...\n"
    "       fanout [OPTIONS] -i FILE      (one URL a line, - for stdin)\n"
    "       fanout [OPTIONS] --json FILE  (a JSON batch, - for stdin)\n"
    "       fanout jobs [--state LIST] | status ID | retry ID | cancel ID\n"
    "       fanout results ID [--follow] [--failed] [--after SEQ]\n"
    "Fetches the URLs through fanoutd, one NDJSON result line each.\n"
    "      --job [--name NAME] submit them as a durable job and follow it\n"
    "                          (Ctrl-C leaves the job running)\n"
    "  -o, --output FILE       write results to FILE\n"
    "      --format ndjson|table\n"
    "      --progress auto|always|never   (progress bar on stderr)\n"
    "  -d, --dir DIR           save each ok body in DIR (line gets "
    "saved_path)\n"
    "      --overwrite         replace existing files in DIR\n"
    "      --fail-fast         cancel the rest (the job, with --job) at the\n"
    "                          first failed item\n"
    "  -X, --method METHOD     -H, --header 'Name: value'\n"
    "  -A, --user-agent TEXT\n"
    "      --server URL        (FANOUTD_URL; " DEFAULT_SERVER ")\n"
    "      --unix-socket PATH  --token-file FILE (or FANOUTD_TOKEN)\n"
    "  -j N                    the same as --concurrency N\n"
    "  -x LIST                 the same as --extract LIST (title,links,meta)\n"
    "      --timeout MS        the same as --timeout-ms MS\n"
    "      --per-host N        the same as --per-host-concurrency N\n"
    "Every batch option of fanoutd(8) is a flag: --NAME VALUE, with '-' or\n"
    "'_' in NAME (--timeout-ms 500, --per-host-concurrency 4, --rate 10).\n"
    "Flags are spelled in full: --time is not --timeout. URLs keep the\n"
    "command line's order, arguments and -i files alike.\n"
    "Exit: 0 all ok, 1 usage, 2 daemon unreachable or refused, 3 some\n"
    "items failed, 4 every item failed. See fanout(1).\n";

void
cli_free(struct cli *c)
{
	size_t i;

	for (i = 0; i < c->nurls; i++)
		free(c->urls[i]);
	free(c->urls);
	free(c->opt_set);
	free(c->headers);
	buf_free(&c->query);
}

bool
cli_is_batch_flag(const char *flag, const char **option)
{
	size_t i;

	for (i = 0; i < opts_count(); i++) {
		const char *name = opts_at(i)->name;
		size_t j;

		for (j = 0; name[j] != '\0' && flag[j] != '\0'; j++)
			if (name[j] != flag[j] &&
			    !(name[j] == '_' && flag[j] == '-'))
				break;
		if (name[j] == '\0' && flag[j] == '\0') {
			*option = name;
			return true;
		}
	}
	return false;
}

static void
add_url(void *ctx, const char *url, size_t len)
{
	struct cli *c = ctx;

	if (c->nurls == c->capurls) {
		c->capurls = c->capurls ? c->capurls * 2 : 64;
		c->urls = realloc(c->urls, c->capurls * sizeof(*c->urls));
		if (c->urls == NULL)
			abort();
	}
	c->urls[c->nurls] = strndup(url, len);
	if (c->urls[c->nurls] == NULL)
		abort();
	c->nurls++;
}

size_t
cli_parse_list(const char *text, size_t n,
    void (*add)(void *ctx, const char *url, size_t len), void *ctx)
{
	const char *p = text, *s;
	size_t count = 0, len;

	/* the daemon's own reading of a text/plain batch (util.h) */
	while (next_text_line(&p, text + n, &s, &len)) {
		add(ctx, s, len);
		count++;
	}
	return count;
}

bool
cli_build_list(const struct cli *c, struct buf *out)
{
	size_t i;

	if (c->json_file != NULL || c->method != NULL || c->nheaders > 0 ||
	    c->user_agent != NULL)
		return false;
	for (i = 0; i < c->nurls; i++) {
		const char *u = c->urls[i];
		size_t n = strlen(u);

		if (n == 0 || u[0] == '#' || strchr(" \t\r", u[0]) != NULL ||
		    strchr(" \t\r", u[n - 1]) != NULL ||
		    strchr(u, '\n') != NULL)
			return false;
	}
	buf_reset(out);
	for (i = 0; i < c->nurls; i++) {
		buf_adds(out, c->urls[i]);
		buf_addc(out, '\n');
	}
	return true;
}

int
cli_read_list(struct cli *c, const char *path, struct buf *err)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
	struct buf text = BUF_INIT;
	char chunk[65536];
	size_t n;
	int bad;

	if (f == NULL) {
		buf_printf(err, "cannot read %s: %s", path, strerror(errno));
		return 1;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_add(&text, chunk, n);
	bad = ferror(f);
	if (f != stdin)
		fclose(f);
	if (bad) {
		buf_printf(err, "cannot read %s", path);
		buf_free(&text);
		return 1;
	}
	cli_parse_list(
	    text.data != NULL ? text.data : "", text.len, add_url, c);
	buf_free(&text);
	return 0;
}

/* name=value onto the query string, percent-encoded (RFC 3986 §2.1). */
static void
query_add(struct buf *q, const char *name, const char *value)
{
	const char *p;

	if (q->len > 0)
		buf_addc(q, '&');
	buf_adds(q, name);
	buf_addc(q, '=');
	for (p = value; *p != '\0'; p++) {
		unsigned char ch = (unsigned char)*p;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || strchr("-._~,", ch) != NULL)
			buf_addc(q, (char)ch);
		else
			buf_printf(q, "%%%02X", ch);
	}
}

/* A batch option from the command line: checked by the daemon's parser
 * against its built-in defaults and caps. 0, or 1 with err. */
static int
set_option(struct cli *c, const char *name, const char *value, struct buf *err)
{
	struct config cfg;
	struct batch_opts o;
	const char *why = NULL;

	config_defaults(&cfg);
	opts_defaults(&o, &cfg);
	if (opts_set_text(&o, &cfg, name, value, &why) != 0) {
		buf_printf(err, "--%s %s: %s", name, value, why);
		return 1;
	}
	query_add(&c->query, name, value);
	c->opt_set = realloc(c->opt_set, (c->nopt_set + 1) * sizeof(char *));
	if (c->opt_set == NULL)
		abort();
	c->opt_set[c->nopt_set++] = name;
	if (strcmp(name, "progress_ms") == 0)
		c->progress_ms_set = true;
	return 0;
}

/* The row of the option table named name, or -1. */
static int
option_row(const char *name)
{
	size_t i;

	for (i = 0; i < opts_count(); i++)
		if (strcmp(opts_at(i)->name, name) == 0)
			return (int)i;
	return -1;
}

/* The getopt_long table: the fixed flags, then each option row twice
 * (its name, and with '-' for '_'). names holds the dashed copies. */
static struct option *
long_options(char ***names)
{
	size_t n = opts_count(), na = ARRAY_SIZE(aliases), i, k = NFIXED;
	struct option *lo = calloc(NFIXED + 2 * (n + na) + 1, sizeof(*lo));

	*names = calloc(n + na + 1, sizeof(char *));
	if (lo == NULL || *names == NULL)
		abort();
	memcpy(lo, fixed_options, sizeof(fixed_options));
	for (i = 0; i < n + na; i++) {
		const char *name =
		    i < n ? opts_at(i)->name : aliases[i - n].alias;
		int row = i < n ? (int)i : option_row(aliases[i - n].option);
		char *d = strdup(name), *p;

		if (d == NULL || row < 0)
			abort(); /* an alias of no row: the unit test fails */
		for (p = d; *p != '\0'; p++)
			if (*p == '_')
				*p = '-';
		(*names)[i] = d;
		lo[k++] = (struct option){
		    name, required_argument, NULL, FLAG_TABLE + row};
		if (strcmp(d, name) != 0)
			lo[k++] = (struct option){
			    d, required_argument, NULL, FLAG_TABLE + row};
	}
	return lo;
}

/*
 * The argv element getopt_long just read was a long flag: is its name
 * (up to '=') exactly one of lo's? getopt_long also takes a prefix of a
 * name; that is refused here. 0, or 1 with err naming the flag as typed
 * and never the value after it (which may be a secret).
 */
static int
exact_flag(const struct option *lo, const char *typed, struct buf *err)
{
	size_t n = strcspn(typed + 2, "="), i;

	for (i = 0; lo[i].name != NULL; i++)
		if (strlen(lo[i].name) == n &&
		    strncmp(lo[i].name, typed + 2, n) == 0)
			return 0;
	buf_printf(err, "%.*s: unknown flag", (int)n + 2, typed);
	return 1;
}

/* What getopt_long's '?' or ':' means, in words: the flag as typed, and
 * no value. */
static void
bad_flag(const struct option *lo, int ch, const char *typed, struct buf *err)
{
	size_t n;

	if (strncmp(typed, "--", 2) != 0) {
		if (ch == ':')
			buf_printf(err, "-%c: needs a value", optopt);
		else
			buf_printf(err, "-%c: unknown flag", optopt);
		return;
	}
	if (exact_flag(lo, typed, err) != 0)
		return;
	n = strcspn(typed, "=");
	buf_printf(err, "%.*s: %s", (int)n, typed,
	    ch == ':' ? "needs a value" : "takes no value");
}

static void
free_names(char **names)
{
	size_t i;

	for (i = 0; names[i] != NULL; i++)
		free(names[i]);
	free(names);
}

/* One flag other than a table option. 0, 1 (usage) or -1 (help). */
static int
fixed_flag(struct cli *c, int ch, const char *arg, struct buf *err)
{
	switch (ch) {
	case 'i':
		c->stdin_used |= strcmp(arg, "-") == 0;
		return cli_read_list(c, arg, err);
	case FLAG_JSON:
		c->json_file = arg;
		return 0;
	case 'o':
		c->out_file = arg;
		return 0;
	case FLAG_FORMAT:
		if (strcmp(arg, "ndjson") == 0)
			c->format = CLI_FORMAT_NDJSON;
		else if (strcmp(arg, "table") == 0)
			c->format = CLI_FORMAT_TABLE;
		else {
			buf_printf(
			    err, "--format %s: expected ndjson or table", arg);
			return 1;
		}
		return 0;
	case FLAG_PROGRESS:
		if (strcmp(arg, "auto") == 0)
			c->progress = CLI_PROGRESS_AUTO;
		else if (strcmp(arg, "always") == 0)
			c->progress = CLI_PROGRESS_ALWAYS;
		else if (strcmp(arg, "never") == 0)
			c->progress = CLI_PROGRESS_NEVER;
		else {
			buf_printf(err,
			    "--progress %s: expected auto, always or never",
			    arg);
			return 1;
		}
		return 0;
	case 'd':
		c->dir = arg;
		return 0;
	case FLAG_OVERWRITE:
		c->overwrite = true;
		return 0;
	case FLAG_FAIL_FAST:
		c->fail_fast = true;
		return 0;
	case FLAG_SERVER:
		c->server = arg;
		c->server_set = true;
		return 0;
	case FLAG_UNIX_SOCKET:
		c->unix_socket = arg;
		return 0;
	case FLAG_TOKEN_FILE:
		c->token_file = arg;
		return 0;
	case 'X':
		/* the daemon's own list (http.h) */
		if (http_method_parse(arg) < 0) {
			buf_printf(err,
			    "-X %s: not a method fanoutd sends (GET, HEAD, "
			    "POST, PUT, PATCH, DELETE, OPTIONS: methods are "
			    "case-sensitive, RFC 9110 §9.1)",
			    arg);
			return 1;
		}
		c->method = arg;
		return 0;
	case FLAG_JOB:
		c->job = true;
		return 0;
	case FLAG_NAME:
		c->job_name = arg;
		return 0;
	case FLAG_FOLLOW:
		c->follow = true;
		return 0;
	case FLAG_FAILED:
		c->failed_only = true;
		return 0;
	case FLAG_AFTER:
		if (arg[strspn(arg, "0123456789")] != '\0' || arg[0] == '\0') {
			buf_printf(
			    err, "--after %s: expected a seq (digits)", arg);
			return 1;
		}
		c->after = arg;
		return 0;
	case FLAG_STATE:
		c->state = arg;
		return 0;
	case 'H':
		if (strchr(arg, ':') == NULL || arg[0] == ':') {
			buf_printf(err, "-H %s: expected 'Name: value'", arg);
			return 1;
		}
		c->headers =
		    realloc(c->headers, (c->nheaders + 1) * sizeof(char *));
		if (c->headers == NULL)
			abort();
		c->headers[c->nheaders++] = arg;
		return 0;
	case 'A':
		c->user_agent = arg;
		return 0;
	case 'h':
		fputs(usage_text, stdout);
		return -1;
	case 'V':
		printf("fanout %s\n", PACKAGE_VERSION);
		return -1;
	default:
		buf_printf(err, "unknown flag");
		return 1;
	}
}

/* The index of command name, or -1. */
static int
command_index(const char *name)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(commands); i++)
		if (strcmp(commands[i].name, name) == 0)
			return (int)i;
	return -1;
}

/* A command's flags: only those it takes. 0, or 1 with err. */
static int
command_args(struct cli *c, struct buf *err)
{
	if (c->nurls > 0 || c->json_file != NULL || c->job) {
		buf_printf(err, "fanout %s takes no URLs, --json or --job",
		    c->command);
		return 1;
	}
	if (c->state != NULL && strcmp(c->command, "jobs") != 0) {
		buf_printf(err, "--state is for fanout jobs");
		return 1;
	}
	if ((c->follow || c->failed_only || c->after != NULL) &&
	    strcmp(c->command, "results") != 0) {
		buf_printf(err,
		    "--follow, --failed and --after are for "
		    "fanout results");
		return 1;
	}
	return 0;
}

/* Does s start with a URI scheme and its ':' (RFC 3986 §3.1: ALPHA
 * *( ALPHA / DIGIT / "+" / "-" / "." ))? */
static bool
has_scheme(const char *s)
{
	size_t n = strspn(s,
	    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	    "0123456789+-.");

	return n > 0 && s[n] == ':' && strchr("0123456789+-.", s[0]) == NULL;
}

/* Is s an http or https URL with a host (the daemon's address)? */
static bool
server_ok(const char *s)
{
	size_t n = strncasecmp(s, "http://", 7) == 0 ? 7
	    : strncasecmp(s, "https://", 8) == 0     ? 8
	                                             : 0;

	return n > 0 && s[n] != '\0' && strchr("/?#", s[n]) == NULL;
}

/* An argument that is not a flag, in its place on the command line: a
 * command's job ID (*nids counts them), else a URL, which has a scheme
 * (a word without one is a mistyped command, not a URL). 0, or 1. */
static int
positional(struct cli *c, const char *arg, int *nids, struct buf *err)
{
	size_t i;

	if (c->command != NULL) {
		if ((*nids)++ == 0)
			c->job_id = arg;
		return 0;
	}
	if (!has_scheme(arg)) {
		buf_printf(err,
		    "%s: not a URL (no scheme, such as http://) "
		    "nor a command (",
		    arg);
		for (i = 0; i < ARRAY_SIZE(commands); i++)
			buf_printf(
			    err, "%s%s", i ? ", " : "", commands[i].name);
		buf_addc(err, ')');
		return 1;
	}
	add_url(c, arg, strlen(arg));
	return 0;
}

/* One getopt_long result (not a positional). 0, 1 (usage), -1 (help). */
static int
one_flag(struct cli *c, const struct option *lo, int ch, char **argv,
    struct buf *err)
{
	const char *typed = argv[optind - 1];

	if (ch == ':' || ch == '?') {
		bad_flag(lo, ch, typed, err);
		return 1;
	}
	/* the flag, when its value was the next element */
	if (optarg != NULL && optarg == typed && optind >= 2)
		typed = argv[optind - 2];
	if (strncmp(typed, "--", 2) == 0 && exact_flag(lo, typed, err) != 0)
		return 1;
	if (ch == 'j')
		return set_option(c, "concurrency", optarg, err);
	if (ch == 'x')
		return set_option(c, "extract", optarg, err);
	if (ch >= FLAG_TABLE)
		return set_option(
		    c, opts_at((size_t)(ch - FLAG_TABLE))->name, optarg, err);
	return fixed_flag(c, ch, optarg, err);
}

/* What the whole command line must hold together. 0, or 1 with err. */
static int
check_whole(struct cli *c, int nids, struct buf *err)
{
	if (!server_ok(c->server)) {
		buf_printf(err, "%s%s: expected an http:// or https:// URL",
		    c->server_set ? "--server " : "FANOUTD_URL=", c->server);
		return 1;
	}
	if (c->command != NULL) {
		int ids = commands[command_index(c->command)].ids;

		if (nids != ids) {
			buf_printf(err, "fanout %s takes %s", c->command,
			    ids ? "one job ID" : "no arguments");
			return 1;
		}
		return command_args(c, err);
	}
	if (c->job_name != NULL && !c->job)
		buf_printf(err, "--name is for --job");
	else if (c->state != NULL || c->follow || c->failed_only ||
	    c->after != NULL)
		buf_printf(err,
		    "--state is for fanout jobs; --follow, --failed "
		    "and --after for fanout results");
	else if (c->json_file != NULL && strcmp(c->json_file, "-") == 0 &&
	    c->stdin_used)
		buf_printf(err, "-i - and --json - both read stdin: one only");
	else if (c->json_file != NULL && c->nurls > 0)
		buf_printf(err, "--json FILE takes no URLs besides");
	else if (c->json_file == NULL && c->nurls == 0)
		buf_printf(err,
		    "no URLs (give them as arguments, -i FILE or "
		    "--json FILE)");
	else
		return 0;
	return 1;
}

int
cli_parse_args(struct cli *c, int argc, char **argv, struct buf *err)
{
	char **names;
	struct option *lo = long_options(&names);
	int ch, rc = 0, nids = 0;
	const char *env = getenv("FANOUTD_URL");

	memset(c, 0, sizeof(*c));
	c->server = env != NULL && env[0] != '\0' ? env : DEFAULT_SERVER;
	opterr = 0;
	optind = 0; /* getopt's whole state anew (a GNU extension) */
	if (argc > 1 && command_index(argv[1]) >= 0) {
		/* "fanout results ID ...": the command, then its flags */
		c->command = argv[1];
		argc--;
		argv++;
	}
	/* '-': arguments come back in their place (as 1), so URLs and -i
	 * files keep the command line's order; ':' a missing value */
	while (rc == 0 &&
	    (ch = getopt_long(argc, argv, "-:i:o:d:j:x:X:H:A:hV", lo, NULL)) !=
	        -1)
		rc = ch == 1 ? positional(c, optarg, &nids, err)
		             : one_flag(c, lo, ch, argv, err);
	for (; rc == 0 && optind < argc; optind++) /* after "--" */
		rc = positional(c, argv[optind], &nids, err);
	if (rc == 0)
		rc = check_whole(c, nids, err);
	free(lo);
	free_names(names);
	return rc;
}

/* An item with -X, -H and --user-agent applied (its own values win).
 * Returns a new reference. */
static json_t *
item_with_extras(const struct cli *c, json_t *item)
{
	json_t *obj, *hs;
	size_t i;

	if (c->method == NULL && c->nheaders == 0 && c->user_agent == NULL)
		return json_incref(item);
	if (json_is_string(item)) {
		obj = json_object();
		json_object_set(obj, "url", item);
	} else if (json_is_object(item))
		obj = json_deep_copy(item);
	else
		return json_incref(item); /* the daemon names what is wrong */
	if (c->method != NULL && json_object_get(obj, "method") == NULL)
		json_object_set_new(obj, "method", json_string(c->method));
	hs = json_object_get(obj, "headers");
	if (hs == NULL) {
		hs = json_object();
		json_object_set_new(obj, "headers", hs);
	}
	if (!json_is_object(hs))
		return obj;
	if (c->user_agent != NULL && json_object_get(hs, "User-Agent") == NULL)
		json_object_set_new(
		    hs, "User-Agent", json_string(c->user_agent));
	for (i = 0; i < c->nheaders; i++) {
		const char *h = c->headers[i], *colon = strchr(h, ':');
		char *name = strndup(h, (size_t)(colon - h));
		const char *v = colon + 1;

		while (*v == ' ' || *v == '\t')
			v++;
		if (json_object_get(hs, name) == NULL)
			json_object_set_new(hs, name, json_string(v));
		free(name);
	}
	return obj;
}

/* The --json file's requests and options. 0, or 1 with err. */
static int
load_json(
    const struct cli *c, json_t **requests, json_t **options, struct buf *err)
{
	bool in = strcmp(c->json_file, "-") == 0;
	json_error_t je;
	json_t *doc = in ? json_loadf(stdin, JSON_DECODE_ANY, &je)
	                 : json_load_file(c->json_file, JSON_DECODE_ANY, &je);
	size_t i;

	if (doc == NULL) {
		/* jansson's line is -1 when it read nothing (no file) */
		if (je.line > 0)
			buf_printf(err, "%s:%d: %s",
			    in ? "stdin" : c->json_file, je.line, je.text);
		else
			buf_printf(err, "--json %s: %s", c->json_file, je.text);
		return 1;
	}
	if (json_is_array(doc)) {
		*requests = doc;
		*options = json_object();
		return 0;
	}
	*requests = json_incref(json_object_get(doc, "requests"));
	*options = json_object_get(doc, "options");
	*options = *options != NULL ? json_deep_copy(*options) : json_object();
	json_decref(doc);
	if (!json_is_array(*requests) || !json_is_object(*options)) {
		buf_printf(err,
		    "%s: expected {\"requests\": [...], \"options\": {...}} "
		    "or an array of requests",
		    c->json_file);
		json_decref(*requests);
		json_decref(*options);
		return 1;
	}
	for (i = 0; i < c->nopt_set; i++)
		json_object_del(*options, c->opt_set[i]);
	return 0;
}

json_t *
cli_build_batch(const struct cli *c, size_t *nitems, struct buf *err)
{
	json_t *requests, *options, *out, *items, *it;
	size_t i;

	if (c->json_file != NULL) {
		if (load_json(c, &requests, &options, err) != 0)
			return NULL;
	} else {
		requests = json_array();
		options = json_object();
		for (i = 0; i < c->nurls; i++) {
			json_t *u = json_string(c->urls[i]);

			if (u == NULL) {
				buf_printf(err, "URL %zu is not UTF-8", i + 1);
				json_decref(requests);
				json_decref(options);
				return NULL;
			}
			json_array_append_new(requests, u);
		}
	}
	items = json_array();
	json_array_foreach(requests, i, it)
	    json_array_append_new(items, item_with_extras(c, it));
	json_decref(requests);
	*nitems = json_array_size(items);
	out = json_object();
	json_object_set_new(out, "requests", items);
	json_object_set_new(out, "options", options);
	return out;
}
