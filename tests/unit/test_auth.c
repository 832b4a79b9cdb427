/*
 * test_auth.c - bearer tokens: parsing the tokens file (comments, blank
 * lines, surrounding blanks), checking "Authorization: Bearer <token>",
 * and a tokens file that would lock everyone out being refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "auth.h"

static void
test_no_tokens_means_no_auth(void **state)
{
	struct auth a = {NULL, 0};

	assert_true(auth_check(&a, NULL));
	assert_true(auth_check(&a, "Bearer anything"));
}

static void
test_tokens_file_format(void **state)
{
	const char *text = "# tokens\n\n  alpha  \r\nbeta\n#gamma\n";
	struct auth a = {NULL, 0};

	auth_parse(&a, text, strlen(text));
	assert_int_equal(a.n, 2);
	assert_true(auth_check(&a, "Bearer alpha"));
	assert_true(auth_check(&a, "bearer beta"));
	assert_false(auth_check(&a, "Bearer gamma"));
	assert_false(auth_check(&a, "Bearer alph"));
	assert_false(auth_check(&a, "Bearer alphaa"));
	assert_false(auth_check(&a, "Basic alpha"));
	assert_false(auth_check(&a, "alpha"));
	assert_false(auth_check(&a, NULL));
	auth_free(&a);
}

static void
test_load_replaces_and_refuses_empty_files(void **state)
{
	char path[] = "/tmp/fanoutd-auth-XXXXXX";
	int fd = mkstemp(path);
	struct auth a = {NULL, 0};
	char why[256];

	assert_true(fd >= 0);
	assert_int_equal(write(fd, "one\n", 4), 4);
	assert_int_equal(auth_load(&a, path, why, sizeof(why)), 0);
	assert_true(auth_check(&a, "Bearer one"));
	/* A file with no token keeps the old ones. */
	assert_int_equal(ftruncate(fd, 0), 0);
	assert_int_equal(auth_load(&a, path, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "no token"));
	assert_true(auth_check(&a, "Bearer one"));
	close(fd);
	unlink(path);
	assert_int_equal(auth_load(&a, path, why, sizeof(why)), -1);
	assert_non_null(strstr(why, "cannot open"));
	auth_free(&a);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_no_tokens_means_no_auth),
	    cmocka_unit_test(test_tokens_file_format),
	    cmocka_unit_test(test_load_replaces_and_refuses_empty_files),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
