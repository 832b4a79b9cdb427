/*
 * test_egress.c - the egress policy: built-in denials (link-local and
 * cloud metadata, unspecified, multicast, broadcast, reserved),
 * deny_private, allow winning over deny, IPv4 hidden in IPv6 (mapped,
 * compatible, NAT64, 6to4, Teredo) judged as that IPv4, fanoutd's own
 * listeners always denied, and the reason given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>

#include "egress.h"

/* text as the 16-byte form egress_allowed takes. */
static void
addr16(const char *text, uint8_t a[16])
{
	uint8_t v4[4];

	memset(a, 0, 16);
	if (inet_pton(AF_INET, text, v4) == 1) {
		a[10] = a[11] = 0xff;
		memcpy(a + 12, v4, 4);
	} else {
		assert_int_equal(inet_pton(AF_INET6, text, a), 1);
	}
}

static bool
allowed(const struct egress *e, const char *text, uint16_t port)
{
	uint8_t a[16];
	char why[200];

	addr16(text, a);
	return egress_allowed(e, a, port, why, sizeof(why));
}

static void
test_builtin_denials(void **state)
{
	static const char *const denied[] = {"169.254.169.254", "169.254.0.1",
	    "fe80::1", "fd00:ec2::254", "0.0.0.0", "0.1.2.3", "::", "224.0.0.1",
	    "239.255.255.250", "ff02::1", "255.255.255.255", "240.0.0.1"};
	static const char *const fine[] = {"127.0.0.1", "10.1.2.3",
	    "192.168.1.1", "8.8.8.8", "::1", "2606:4700::1111", "fd00::1"};
	struct egress e;
	size_t i;

	egress_init(&e, false, "", "");
	for (i = 0; i < sizeof(denied) / sizeof(*denied); i++)
		if (allowed(&e, denied[i], 80))
			fail_msg("%s allowed", denied[i]);
	for (i = 0; i < sizeof(fine) / sizeof(*fine); i++)
		if (!allowed(&e, fine[i], 80))
			fail_msg("%s denied", fine[i]);
	egress_free(&e);
}

static void
test_deny_private(void **state)
{
	static const char *const denied[] = {"127.0.0.1", "127.255.0.1", "::1",
	    "10.0.0.1", "172.16.5.4", "172.31.255.255", "192.168.0.1",
	    "100.64.0.1", "100.127.255.254", "fc00::1", "fd12:3456::1"};
	static const char *const fine[] = {
	    "172.32.0.1", "100.128.0.1", "11.0.0.1", "8.8.8.8", "2001:db8::1"};
	struct egress e;
	size_t i;

	egress_init(&e, true, "", "");
	for (i = 0; i < sizeof(denied) / sizeof(*denied); i++)
		if (allowed(&e, denied[i], 80))
			fail_msg("%s allowed", denied[i]);
	for (i = 0; i < sizeof(fine) / sizeof(*fine); i++)
		if (!allowed(&e, fine[i], 80))
			fail_msg("%s denied", fine[i]);
	egress_free(&e);
}

static void
test_ipv4_inside_ipv6_is_judged_as_ipv4(void **state)
{
	static const char *const denied[] = {
	    "::ffff:169.254.169.254", /* mapped */
	    "::169.254.169.254",      /* compatible */
	    "64:ff9b::a9fe:a9fe",     /* NAT64 of 169.254.169.254 */
	    "2002:a9fe:a9fe::1",      /* 6to4 */
	    "2001:0:a9fe:a9fe::1",    /* Teredo server */
	    "2001:0:4136:e378:8000:63bf:5601:5601", /* Teredo client
	                                             169.254.169.254 (xor) */
	    "::ffff:127.0.0.1"};
	struct egress e;
	size_t i;

	egress_init(&e, true, "", "");
	for (i = 0; i < sizeof(denied) / sizeof(*denied); i++)
		if (allowed(&e, denied[i], 80))
			fail_msg("%s allowed", denied[i]);
	assert_true(allowed(&e, "64:ff9b::808:808", 80)); /* 8.8.8.8 */
	egress_free(&e);
}

static void
test_allow_wins_over_deny(void **state)
{
	struct egress e;

	egress_init(&e, true, "203.0.113.0/24", "127.0.0.5/32, 10.1.0.0/16");
	assert_true(allowed(&e, "127.0.0.5", 80));
	assert_false(allowed(&e, "127.0.0.6", 80));
	assert_true(allowed(&e, "10.1.200.1", 80));
	assert_false(allowed(&e, "10.2.0.1", 80));
	assert_false(allowed(&e, "203.0.113.9", 443));
	assert_true(allowed(&e, "::ffff:127.0.0.5", 80));
	egress_free(&e);
}

static void
test_allow_reopens_a_default_range_only_from_inside(void **state)
{
	struct egress e;

	/* Allowing everything leaves metadata, link-local and multicast
	 * shut, but opens what deny_private and deny closed. */
	egress_init(&e, true, "192.0.2.0/24", "0.0.0.0/0, ::/0");
	assert_false(allowed(&e, "169.254.169.254", 80));
	assert_false(allowed(&e, "::ffff:169.254.169.254", 80));
	assert_false(allowed(&e, "fd00:ec2::254", 80));
	assert_false(allowed(&e, "fe80::1", 80));
	assert_false(allowed(&e, "224.0.0.1", 80));
	assert_false(allowed(&e, "0.0.0.0", 80));
	assert_true(allowed(&e, "10.0.0.1", 80));
	assert_true(allowed(&e, "192.0.2.1", 80));
	assert_true(allowed(&e, "::1", 80));
	egress_free(&e);

	/* A range inside a default-denied one reopens just that range. */
	egress_init(&e, false, "", "169.254.10.0/24");
	assert_true(allowed(&e, "169.254.10.7", 80));
	assert_false(allowed(&e, "169.254.169.254", 80));
	egress_free(&e);
	egress_init(&e, false, "", "169.254.0.0/16");
	assert_true(allowed(&e, "169.254.169.254", 80));
	egress_free(&e);
}

static void
test_own_listener_is_always_denied(void **state)
{
	struct egress e;
	uint8_t a[16];

	egress_init(&e, false, "", "127.0.0.0/8");
	addr16("127.0.0.1", a);
	egress_add_own(&e, a, 7878, false);
	assert_false(allowed(&e, "127.0.0.1", 7878));
	assert_true(allowed(&e, "127.0.0.1", 7879));
	assert_true(allowed(&e, "127.0.0.2", 7878));
	addr16("0.0.0.0", a);
	egress_add_own(&e, a, 9000, true);
	assert_false(allowed(&e, "127.0.0.9", 9000));
	assert_false(allowed(&e, "::1", 9000));
	assert_true(allowed(&e, "192.0.2.1", 9000));
	egress_free(&e);
}

static void
test_reason_names_the_range(void **state)
{
	struct egress e;
	uint8_t a[16];
	char why[200];

	egress_init(&e, false, "", "");
	addr16("169.254.169.254", a);
	assert_false(egress_allowed(&e, a, 80, why, sizeof(why)));
	assert_string_equal(
	    why, "169.254.169.254 is in the denied range 169.254.0.0/16");
	addr16("fe80::1", a);
	assert_false(egress_allowed(&e, a, 80, why, sizeof(why)));
	assert_string_equal(why, "fe80::1 is in the denied range fe80::/10");
	egress_free(&e);
}

static void
test_cidr_parsing(void **state)
{
	struct cidr c;
	char bad[64];

	assert_int_equal(egress_parse_cidr("10.0.0.0/8", &c), 0);
	assert_int_equal(c.bits, 104);
	assert_int_equal(egress_parse_cidr("10.9.9.9/8", &c), 0);
	assert_int_equal(c.addr[13], 0); /* host bits cleared */
	assert_int_equal(egress_parse_cidr("2001:db8::/32", &c), 0);
	assert_int_equal(c.bits, 32);
	assert_int_equal(egress_parse_cidr("1.2.3.4", &c), 0);
	assert_int_equal(c.bits, 128);
	assert_int_equal(egress_parse_cidr("1.2.3.4/33", &c), -1);
	assert_int_equal(egress_parse_cidr("::/129", &c), -1);
	assert_int_equal(egress_parse_cidr("1.2.3/8", &c), -1);
	assert_int_equal(egress_parse_cidr("10.0.0.0/", &c), -1);
	assert_int_equal(egress_parse_cidr("example.com", &c), -1);
	/* Found by fuzz_egress: strtol took "\r0" as 0, so "::/\r0" was ::/0,
	 * a deny-everything (or allow-everything) entry nobody wrote. */
	assert_int_equal(egress_parse_cidr("0::/\r0", &c), -1);
	assert_int_equal(egress_parse_cidr("10.0.0.0/ 8", &c), -1);
	assert_int_equal(egress_parse_cidr("10.0.0.0/+8", &c), -1);
	assert_int_equal(egress_parse_cidr("10.0.0.0/-0", &c), -1);
	assert_int_equal(egress_parse_cidr("::/0128", &c), -1);
	assert_int_equal(
	    egress_check_list("10.0.0.0/8, ::1 192.0.2.0/24", bad, sizeof(bad)),
	    0);
	assert_int_equal(
	    egress_check_list("10.0.0.0/8, nope", bad, sizeof(bad)), -1);
	assert_string_equal(bad, "nope");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_builtin_denials),
	    cmocka_unit_test(test_deny_private),
	    cmocka_unit_test(test_ipv4_inside_ipv6_is_judged_as_ipv4),
	    cmocka_unit_test(test_allow_wins_over_deny),
	    cmocka_unit_test(
	        test_allow_reopens_a_default_range_only_from_inside),
	    cmocka_unit_test(test_own_listener_is_always_denied),
	    cmocka_unit_test(test_reason_names_the_range),
	    cmocka_unit_test(test_cidr_parsing),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
