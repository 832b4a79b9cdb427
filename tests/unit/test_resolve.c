/*
 * test_resolve.c - the special-use names of RFC 6761 that the resolver
 * answers itself and never sends to a nameserver: .invalid is NXDOMAIN
 * (§6.4), .localhost is loopback (§6.3); every other name, including
 * ones that merely end in those letters, goes to DNS.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <arpa/inet.h>

#include <cmocka.h>
#include <event2/util.h>

#include "resolve.h"

static void
test_invalid_names_are_nxdomain_without_a_query(void **state)
{
	static const char *names[] = {"invalid", "no-such-host.invalid",
	    "a.b.INVALID", "localhost.invalid"};
	struct resolve_answer ans;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(resolve_special_use(names[i], &ans), 1);
		assert_int_equal(ans.error, EVUTIL_EAI_NONAME);
		assert_int_equal(ans.naddrs, 0);
	}
}

static void
test_localhost_names_are_loopback_v4_first(void **state)
{
	static const char *names[] = {
	    "localhost", "api.localhost", "A.LocalHost", "invalid.localhost"};
	struct resolve_answer ans;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(resolve_special_use(names[i], &ans), 1);
		assert_int_equal(ans.error, 0);
		assert_int_equal(ans.naddrs, 2);
		assert_int_equal(ans.addrs[0].sa.sa_family, AF_INET);
		assert_int_equal(
		    ntohl(ans.addrs[0].sin.sin_addr.s_addr), INADDR_LOOPBACK);
		assert_int_equal(ans.addrs[0].sin.sin_port, 0);
		assert_int_equal(ans.addrs[1].sa.sa_family, AF_INET6);
		assert_memory_equal(&ans.addrs[1].sin6.sin6_addr,
		    &in6addr_loopback, sizeof(in6addr_loopback));
	}
}

static void
test_other_names_go_to_dns(void **state)
{
	static const char *names[] = {"example.org", "notinvalid",
	    "invalid.example", "xinvalid", "mylocalhost", "localhost.example",
	    "localhostx", ""};
	struct resolve_answer ans;
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		assert_int_equal(resolve_special_use(names[i], &ans), 0);
		assert_int_equal(ans.naddrs, 0);
		assert_int_equal(ans.error, 0);
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_invalid_names_are_nxdomain_without_a_query),
	    cmocka_unit_test(test_localhost_names_are_loopback_v4_first),
	    cmocka_unit_test(test_other_names_go_to_dns),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
