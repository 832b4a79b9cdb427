/*
 * test_base64.c - RFC 4648 base64: the §10 test vectors both ways,
 * optional padding, and the inputs a strict decoder must refuse.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "base64.h"

static const struct {
	const char *plain;
	const char *encoded;
} vectors[] = {
    {"", ""},
    {"f", "Zg=="},
    {"fo", "Zm8="},
    {"foo", "Zm9v"},
    {"foob", "Zm9vYg=="},
    {"fooba", "Zm9vYmE="},
    {"foobar", "Zm9vYmFy"},
};

static void
test_rfc4648_vectors_encode(void **state)
{
	char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		n = base64_encode((const unsigned char *)vectors[i].plain,
		    strlen(vectors[i].plain), out);
		out[n] = '\0';
		assert_string_equal(out, vectors[i].encoded);
		assert_int_equal(
		    n, BASE64_ENCODED_LEN(strlen(vectors[i].plain)));
	}
}

static void
test_rfc4648_vectors_decode(void **state)
{
	unsigned char out[64];
	size_t i, n;

	for (i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++) {
		assert_int_equal(base64_decode(vectors[i].encoded,
		                     strlen(vectors[i].encoded), out, &n),
		    0);
		assert_int_equal(n, strlen(vectors[i].plain));
		assert_memory_equal(out, vectors[i].plain, n);
	}
}

static void
test_padding_is_optional(void **state)
{
	unsigned char out[8];
	size_t n;

	assert_int_equal(base64_decode("Zm9vYg", 6, out, &n), 0);
	assert_int_equal(n, 4);
	assert_memory_equal(out, "foob", 4);
}

static void
test_bad_input_is_refused(void **state)
{
	const char *bad[] = {"Zm9v!", "Zm=9v", "Zg=", "Zh==", "Zm9vYmF=", "Z",
	    "Zm9v\n", "====", "Zg==="};
	unsigned char out[16];
	size_t i, n;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (base64_decode(bad[i], strlen(bad[i]), out, &n) == 0)
			fail_msg("accepted \"%s\"", bad[i]);
}

static void
test_every_byte_value_round_trips(void **state)
{
	unsigned char in[256], back[256];
	char enc[BASE64_ENCODED_LEN(256) + 1];
	size_t i, n, len;

	for (i = 0; i < 256; i++)
		in[i] = (unsigned char)i;
	for (len = 0; len <= 256; len += 37) {
		n = base64_encode(in, len, enc);
		assert_int_equal(base64_decode(enc, n, back, &n), 0);
		assert_int_equal(n, len);
		assert_memory_equal(back, in, len);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_rfc4648_vectors_encode),
	    cmocka_unit_test(test_rfc4648_vectors_decode),
	    cmocka_unit_test(test_padding_is_optional),
	    cmocka_unit_test(test_bad_input_is_refused),
	    cmocka_unit_test(test_every_byte_value_round_trips),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
