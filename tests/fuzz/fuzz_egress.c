/*
 * fuzz_egress.c - libFuzzer harness for the egress policy, checked
 * against a small reference written differently: CIDRs parsed with
 * inet_pton alone, membership tested bit by bit, embedded IPv4 found by
 * its own rules, and a range denied by default reopened only by an
 * allow range that lies inside it. Input: 16 address bytes, 2 port
 * bytes, 1 flag byte, then "deny|allow" lists.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#include "egress.h"

struct ref_range {
	uint8_t a[16];
	int bits;
};

/* Reference parse: "addr[/bits]", IPv4 as ::ffff:a.b.c.d. */
static bool
ref_parse(const char *s, struct ref_range *r)
{
	char host[64];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);
	uint8_t v4[4];
	int bits = -1;

	if (n == 0 || n >= sizeof(host))
		return false;
	memcpy(host, s, n);
	host[n] = 0;
	if (slash != NULL) {
		const char *p = slash + 1;

		if (*p == 0)
			return false;
		bits = 0;
		for (; *p; p++) {
			if (*p < '0' || *p > '9' || bits > 1000)
				return false;
			bits = bits * 10 + (*p - '0');
		}
	}
	memset(r->a, 0, 16);
	if (inet_pton(AF_INET, host, v4) == 1) {
		if (bits > 32)
			return false;
		r->a[10] = r->a[11] = 0xff;
		memcpy(r->a + 12, v4, 4);
		r->bits = 96 + (bits < 0 ? 32 : bits);
		return true;
	}
	if (inet_pton(AF_INET6, host, r->a) != 1 || bits > 128)
		return false;
	r->bits = bits < 0 ? 128 : bits;
	return true;
}

static bool
ref_in(const struct ref_range *r, const uint8_t a[16])
{
	int i;

	for (i = 0; i < r->bits; i++) {
		int bit = 7 - i % 8;

		if (((r->a[i / 8] >> bit) & 1) != ((a[i / 8] >> bit) & 1))
			return false;
	}
	return true;
}

/* Reference list: every parsable entry, separated by , space or tab. */
static int
ref_list(const char *list, struct ref_range *out, int max)
{
	char buf[600], *save = NULL, *t;
	int n = 0;

	snprintf(buf, sizeof(buf), "%s", list);
	for (t = strtok_r(buf, ", \t", &save); t && n < max;
	     t = strtok_r(NULL, ", \t", &save))
		if (ref_parse(t, &out[n]))
			n++;
	return n;
}

static void
mapped(uint8_t out[16], const uint8_t v4[4])
{
	memset(out, 0, 16);
	out[10] = out[11] = 0xff;
	memcpy(out + 12, v4, 4);
}

/* The reference's embedded IPv4 rules. */
static int
ref_embedded(const uint8_t a[16], uint8_t out[2][16])
{
	static const uint8_t pre_mapped[12] = {[10] = 0xff, [11] = 0xff};
	static const uint8_t pre_nat64[12] = {0, 0x64, 0xff, 0x9b};
	static const uint8_t zero[12] = {0};
	uint8_t v4[4];
	int i;

	if (!memcmp(a, pre_mapped, 12))
		return 0;
	if (!memcmp(a, pre_nat64, 12) ||
	    (!memcmp(a, zero, 12) && (a[12] || a[13]))) {
		mapped(out[0], a + 12);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x02) {
		mapped(out[0], a + 2);
		return 1;
	}
	if (a[0] == 0x20 && a[1] == 0x01 && a[2] == 0 && a[3] == 0) {
		mapped(out[0], a + 4);
		for (i = 0; i < 4; i++)
			v4[i] = (uint8_t)(a[12 + i] ^ 0xff);
		mapped(out[1], v4);
		return 2;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct ref_range builtin[32];
	static int nbuiltin = -1;
	struct ref_range deny[256], allow[256];
	char lists[600], *bar, why[200];
	uint8_t a[16], emb[2][16];
	const uint8_t *cand[3];
	int nd, na, ne, i, j;
	bool deny_private, in_allow = false, in_deny = false, shut = false;
	bool got, reopened;
	struct egress e;
	uint16_t port;

	if (size < 19)
		return 0;
	memcpy(a, data, 16);
	port = (uint16_t)(data[16] << 8 | data[17]);
	deny_private = data[18] & 1;
	snprintf(lists, sizeof(lists), "%.*s",
	    (int)(size - 19 > 590 ? 590 : size - 19), (const char *)data + 19);
	if (strlen(lists) != (size - 19 > 590 ? 590 : size - 19))
		return 0; /* a NUL inside: not a list anyone writes */
	bar = strchr(lists, '|');
	if (bar != NULL)
		*bar++ = 0;
	if (egress_check_list(lists, why, sizeof(why)) != 0 ||
	    (bar && egress_check_list(bar, why, sizeof(why)) != 0))
		return 0;
	if (nbuiltin < 0) {
		const char *b = "169.254.0.0/16 fe80::/10 fd00:ec2::254/128 "
		                "0.0.0.0/8 ::/128 224.0.0.0/4 ff00::/8 "
		                "240.0.0.0/4";

		nbuiltin = ref_list(b, builtin, 32);
	}
	nd = ref_list(lists, deny, 200);
	na = bar ? ref_list(bar, allow, 256) : 0;
	if (deny_private)
		nd += ref_list("127.0.0.0/8 ::1/128 10.0.0.0/8 172.16.0.0/12 "
		               "192.168.0.0/16 100.64.0.0/10 fc00::/7",
		    deny + nd, 256 - nd);
	ne = ref_embedded(a, emb);
	cand[0] = a;
	for (i = 0; i < ne; i++)
		cand[1 + i] = emb[i];
	for (i = 0; i <= ne; i++) {
		for (j = 0; j < na; j++)
			in_allow |= ref_in(&allow[j], cand[i]);
		for (j = 0; j < nd; j++)
			in_deny |= ref_in(&deny[j], cand[i]);
		for (j = 0; j < nbuiltin; j++) {
			int k;

			if (!ref_in(&builtin[j], cand[i]))
				continue;
			reopened = false;
			for (k = 0; k < na; k++)
				reopened |= allow[k].bits >= builtin[j].bits &&
				    ref_in(&builtin[j], allow[k].a) &&
				    ref_in(&allow[k], cand[i]);
			shut |= !reopened;
		}
	}
	egress_init(&e, deny_private, lists, bar ? bar : "");
	got = egress_allowed(&e, a, port, why, sizeof(why));
	if (got != (!shut && (in_allow || !in_deny))) {
		char txt[INET6_ADDRSTRLEN];

		inet_ntop(AF_INET6, a, txt, sizeof(txt));
		fprintf(stderr,
		    "egress: %s port %u: allowed=%d, reference: shut=%d "
		    "allow=%d deny=%d (%s)\n",
		    txt, port, got, shut, in_allow, in_deny, got ? "" : why);
		abort();
	}
	egress_free(&e);
	return 0;
}
