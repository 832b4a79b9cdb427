/*
 * extract_bench.c - the extractor's throughput alone, on one core: every
 * file named on stdin (one path a line) is read into memory once, then
 * extracted ROUNDS times over (title and links, as issue #17's benchmark
 * batch asks, or -w), fed in 16 KiB pieces as a socket would deliver
 * them. Prints MB/s, pages/s and the largest per-extractor peak memory.
 *
 *   find /usr/share/doc/python3.11/html -name '*.html' |
 *       bench/extract_bench [-r ROUNDS] [-w title,links,meta]
 *
 * Pages are extracted as if served from https://docs.python.org/3.11/.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "extract.h"
#include "util.h"

struct page {
	char *data;
	size_t len;
};

static int
load(const char *path, struct page *p)
{
	FILE *f = fopen(path, "rb");
	struct buf b = BUF_INIT;
	char tmp[65536];
	size_t n;

	if (f == NULL)
		return -1;
	while ((n = fread(tmp, 1, sizeof(tmp), f)) > 0)
		buf_add(&b, tmp, n);
	fclose(f);
	p->data = b.data;
	p->len = b.len;
	return 0;
}

int
main(int argc, char **argv)
{
	struct extract_opts o = {EXTRACT_TITLE | EXTRACT_LINKS, 0, 0, 0};
	struct page *pages = NULL;
	size_t npages = 0, cap = 0, i, r, rounds = 5, bytes = 0, peak = 0;
	size_t links = 0;
	char *line = NULL;
	size_t lcap = 0;
	ssize_t len;
	struct buf out = BUF_INIT;
	uint64_t t0, us;
	int opt;

	while ((opt = getopt(argc, argv, "r:w:")) != -1) {
		if (opt == 'r')
			rounds = strtoul(optarg, NULL, 10);
		else if (opt == 'w')
			o.what = (strstr(optarg, "title") ? EXTRACT_TITLE : 0) |
			    (strstr(optarg, "links") ? EXTRACT_LINKS : 0) |
			    (strstr(optarg, "meta") ? EXTRACT_META : 0);
		else
			return 2;
	}
	while ((len = getline(&line, &lcap, stdin)) > 0) {
		line[strcspn(line, "\n")] = '\0';
		if (npages == cap) {
			cap = cap ? 2 * cap : 256;
			pages = xrealloc(pages, cap * sizeof(*pages));
		}
		if (load(line, &pages[npages]) == 0)
			bytes += pages[npages++].len;
	}
	free(line);
	t0 = mono_us();
	for (r = 0; r < rounds; r++) {
		for (i = 0; i < npages; i++) {
			struct extract *x = extract_create(&o,
			    "https://docs.python.org/3.11/a/b.html",
			    "text/html");
			size_t off;

			for (off = 0; off < pages[i].len; off += 16384) {
				size_t n = pages[i].len - off;

				extract_feed(x, pages[i].data + off,
				    n < 16384 ? n : 16384);
			}
			buf_reset(&out);
			extract_json(x, &out);
			links += out.len;
			if (extract_mem_peak(x) > peak)
				peak = extract_mem_peak(x);
			extract_free(x);
		}
	}
	us = mono_us() - t0;
	printf("extract_bench: %zu pages, %.1f MB, %zu rounds: %.1f MB/s, "
	       "%.0f pages/s, peak %zu bytes per extractor (one core)\n",
	    npages, bytes / 1e6, rounds, (double)bytes * rounds / us,
	    (double)npages * rounds * 1e6 / us, peak);
	for (i = 0; i < npages; i++)
		free(pages[i].data);
	free(pages);
	buf_free(&out);
	return links > 0 ? 0 : 1;
}
