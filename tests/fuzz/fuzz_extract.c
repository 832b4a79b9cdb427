/*
 * fuzz_extract.c - libFuzzer harness for the extractor (src/extract.h):
 * whatever bytes a page holds, served with one of a few Content-Types
 * (charsets among them), the result is valid JSON, and the document fed
 * whole or in random pieces (sizes drawn from a generator the first
 * input byte seeds) gives the same result byte for byte. The second
 * byte picks the Content-Type, a small max_links and a small memory cap
 * (so the cap's path is fuzzed too). Leaks and overflows are ASan's.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "buf.h"
#include "extract.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const ctypes[] = {"text/html", NULL,
    "text/html; charset=shift_jis", "text/html; charset=windows-1252",
    "application/xhtml+xml; charset=utf-16", "text/html; charset=euc-kr",
    "text/plain", "text/html; charset=gb18030"};

/* The result for p[0..n) fed in pieces drawn from seed (0: whole). */
static void
run(const struct extract_opts *o, const char *ctype, const uint8_t *p, size_t n,
    uint32_t seed, struct buf *out)
{
	struct extract *x =
	    extract_create(o, "http://a.test/dir/page?q=1", ctype);
	uint32_t rng = seed * 2654435761u + 1;
	size_t off = 0, step;

	while (off < n) {
		step = seed ? (rng >> 16) % 64 + 1 : n;
		rng = rng * 1103515245u + 12345u;
		step = step < n - off ? step : n - off;
		extract_feed(x, p + off, step);
		off += step;
	}
	buf_addc(out, '{');
	extract_json(x, out);
	buf_addc(out, '}');
	extract_free(x);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct extract_opts o = {0, 0, 0, 0};
	struct buf a = BUF_INIT, b = BUF_INIT;
	const char *ctype;
	json_t *j;

	if (size < 2)
		return 0;
	ctype = ctypes[data[1] & 7];
	o.what = (data[1] >> 3) & 7;
	o.max_links = data[1] & 0x40 ? 3 : 0;
	o.mem_cap = data[1] & 0x80 ? 48 * 1024 : 0;
	run(&o, ctype, data + 2, size - 2, 0, &a);
	run(&o, ctype, data + 2, size - 2, (uint32_t)data[0] + 1, &b);
	if (a.len != b.len || memcmp(a.data, b.data, a.len) != 0)
		abort();
	j = json_loadb(a.data, a.len, 0, NULL);
	if (j == NULL)
		abort();
	json_decref(j);
	buf_free(&a);
	buf_free(&b);
	return 0;
}
