/*
 * extract_file.c - the extractor (src/extract.h) over files, for the
 * bs4 comparison (tests/integration/extract_corpus.sh) and for trying a
 * page by hand before the daemon wiring exists.
 *
 *   extract-file [-t CONTENT-TYPE] [-w title,links,meta] [-n MAX_LINKS]
 *                [-c CHUNK] BASE-URL FILE
 *   extract-file [options] -l < LIST
 *
 * The first form prints {"file":FILE,"extract":...} for FILE as if it
 * were served from BASE-URL; the second reads lines "FILE<TAB>BASE-URL"
 * and prints one such line for each. The body is fed in CHUNK-byte
 * pieces (default 16384), as a network would deliver it; -m prints each
 * extractor's peak memory as "mem_peak" too.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "emit.h"
#include "extract.h"

struct cli {
	struct extract_opts o;
	const char *ctype;
	size_t chunk;
	bool mem;
};

static unsigned
parse_what(const char *s)
{
	unsigned w = 0;

	if (strstr(s, "title"))
		w |= EXTRACT_TITLE;
	if (strstr(s, "links"))
		w |= EXTRACT_LINKS;
	if (strstr(s, "meta"))
		w |= EXTRACT_META;
	return w;
}

/* Extract file as served from base; one line to stdout. 0, or -1 when
 * the file cannot be read. */
static int
run(const struct cli *c, const char *file, const char *base, struct buf *out)
{
	FILE *f = fopen(file, "rb");
	char *chunk;
	size_t n;
	struct extract *x;

	if (f == NULL) {
		perror(file);
		return -1;
	}
	chunk = malloc(c->chunk);
	x = extract_create(&c->o, base, c->ctype);
	while ((n = fread(chunk, 1, c->chunk, f)) > 0)
		extract_feed(x, chunk, n);
	fclose(f);
	free(chunk);
	extract_finish(x);
	buf_reset(out);
	buf_adds(out, "{\"file\":");
	emit_json_string(out, file, strlen(file));
	buf_addc(out, ',');
	extract_json(x, out);
	if (c->mem)
		buf_printf(out, ",\"mem_peak\":%zu", extract_mem_peak(x));
	buf_add(out, "}\n", 2);
	fwrite(out->data, 1, out->len, stdout);
	extract_free(x);
	return 0;
}

static int
run_list(const struct cli *c, struct buf *out)
{
	char *line = NULL, *tab;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;

	while ((len = getline(&line, &cap, stdin)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		if ((tab = strchr(line, '\t')) == NULL) {
			fprintf(
			    stderr, "extract-file: no tab in \"%s\"\n", line);
			rc = 1;
			continue;
		}
		*tab = '\0';
		if (run(c, line, tab + 1, out) != 0)
			rc = 1;
	}
	free(line);
	return rc;
}

int
main(int argc, char **argv)
{
	struct cli c = {{0, 0, 0, 0}, "text/html", 16384, false};
	struct buf out = BUF_INIT;
	bool list = false;
	int opt, rc;

	while ((opt = getopt(argc, argv, "t:w:n:c:lm")) != -1) {
		switch (opt) {
		case 't':
			c.ctype = *optarg ? optarg : NULL;
			break;
		case 'w':
			c.o.what = parse_what(optarg);
			break;
		case 'n':
			c.o.max_links = strtoul(optarg, NULL, 10);
			break;
		case 'c':
			c.chunk = strtoul(optarg, NULL, 10);
			c.chunk = c.chunk ? c.chunk : 1;
			break;
		case 'l':
			list = true;
			break;
		case 'm':
			c.mem = true;
			break;
		default:
			goto usage;
		}
	}
	if (list && optind == argc)
		rc = run_list(&c, &out);
	else if (!list && argc - optind == 2)
		rc = run(&c, argv[optind + 1], argv[optind], &out) ? 1 : 0;
	else
		goto usage;
	buf_free(&out);
	return rc;
usage:
	fprintf(stderr,
	    "usage: extract-file [-t TYPE] [-w title,links,meta] "
	    "[-n MAX_LINKS] [-c CHUNK] [-m] BASE-URL FILE\n"
	    "       extract-file [options] -l < LIST "
	    "(lines FILE<TAB>BASE-URL)\n");
	return 2;
}
