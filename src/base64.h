/*
 * base64.h - RFC 4648 base64 (standard alphabet, padded): encoding for
 * binary result bodies, decoding for items' body_base64.
 */
#ifndef FANOUTD_BASE64_H
#define FANOUTD_BASE64_H

#include <stddef.h>

/* Bytes base64_encode writes for n input bytes (no NUL). */
#define BASE64_ENCODED_LEN(n) ((((n) + 2) / 3) * 4)
/* An upper bound on the bytes base64_decode writes for n input chars. */
#define BASE64_DECODED_MAX(n) (((n) / 4) * 3 + 3)

/* Encode n bytes of in into out; returns the length written. */
size_t base64_encode(const unsigned char *in, size_t n, char *out);
/*
 * Decode n chars of in into out (room for BASE64_DECODED_MAX(n) bytes).
 * Padding is optional; whitespace and any other character outside the
 * alphabet is an error. Returns 0 and sets *outlen, or -1.
 */
int base64_decode(const char *in, size_t n, unsigned char *out, size_t *outlen);

#endif
