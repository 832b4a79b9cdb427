/*
 * fuzz_emit.c - libFuzzer harness for result emission: whatever bytes a
 * body or a header holds, the line must be valid JSON (jansson refuses
 * invalid UTF-8), and the body must come back exactly: as the same
 * string when sent as utf8, as the same bytes when sent as base64.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>

#include "base64.h"
#include "emit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct result_view r;
	struct emit_header h[2];
	struct buf b = BUF_INIT;
	size_t split = size ? data[0] % (size + 1) : 0;
	char *hv;
	json_error_t e;
	json_t *j, *body;
	const char *enc;

	/* The first `split` bytes are a header value, the rest the body. */
	hv = malloc(split + 1);
	memcpy(hv, data, split);
	hv[split] = '\0';
	memset(&r, 0, sizeof(r));
	h[0].name = "X-Fuzz";
	h[0].value = hv;
	h[1].name = "x-fuzz";
	h[1].value = hv;
	r.url = hv;
	r.status = 200;
	r.with_headers = true;
	r.headers = h;
	r.nheaders = 2;
	r.with_body = true;
	r.body = data + split;
	r.body_len = size - split;
	r.elapsed_ms = (double)size;
	r.queued_ms = r.dns_ms = r.ttfb_ms = -1;
	emit_result(&b, &r);
	j = json_loadb(b.data, b.len, JSON_ALLOW_NUL, &e);
	if (j == NULL)
		abort();
	body = json_object_get(j, "body");
	enc = json_string_value(json_object_get(j, "body_encoding"));
	if (body == NULL || enc == NULL)
		abort();
	if (strcmp(enc, "utf8") == 0) {
		if (json_string_length(body) != r.body_len ||
		    memcmp(json_string_value(body), r.body, r.body_len) != 0)
			abort();
	} else {
		const char *s = json_string_value(body);
		size_t n = json_string_length(body), outlen;
		unsigned char *out = malloc(BASE64_DECODED_MAX(n) + 1);

		if (base64_decode(s, n, out, &outlen) != 0 ||
		    outlen != r.body_len || memcmp(out, r.body, outlen) != 0)
			abort();
		free(out);
	}
	json_decref(j);
	buf_free(&b);
	free(hv);
	return 0;
}
