/*
 * test_htab.c - the string hash table, the arena and the growable buffer
 * that the scheduler, pool, resolver, parser and emitter are built on:
 * insert, replace, delete, growth and drop_if keep every key reachable
 * that should be; arena
 * allocations are aligned and independent; buf_printf grows as needed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "arena.h"
#include "buf.h"
#include "htab.h"

static void
count_value(void *value, void *arg)
{
	(*(int *)arg) += (int)(intptr_t)value;
}

static void
test_htab_keeps_every_key_through_growth(void **state)
{
	struct htab h = HTAB_INIT;
	char key[32];
	int i, sum = 0;

	for (i = 1; i <= 5000; i++) {
		snprintf(key, sizeof(key), "host-%d", i);
		assert_null(htab_put(&h, key, (void *)(intptr_t)i));
	}
	assert_int_equal(h.count, 5000);
	for (i = 1; i <= 5000; i++) {
		snprintf(key, sizeof(key), "host-%d", i);
		assert_int_equal((intptr_t)htab_get(&h, key), i);
	}
	htab_foreach(&h, count_value, &sum);
	assert_int_equal(sum, 5000 * 5001 / 2);
	assert_null(htab_get(&h, "host-0"));
	htab_free(&h, NULL);
}

static void
test_htab_put_replaces_and_del_removes(void **state)
{
	struct htab h = HTAB_INIT;

	assert_null(htab_get(&h, "a"));
	assert_null(htab_del(&h, "a"));
	htab_put(&h, "a", (void *)1);
	assert_ptr_equal(htab_put(&h, "a", (void *)2), (void *)1);
	assert_int_equal(h.count, 1);
	assert_ptr_equal(htab_del(&h, "a"), (void *)2);
	assert_null(htab_get(&h, "a"));
	assert_int_equal(h.count, 0);
	htab_free(&h, NULL);
}

static bool
odd_value(void *value, void *arg)
{
	(*(int *)arg)++;
	return (intptr_t)value % 2 == 1;
}

static void
test_htab_drop_if_removes_what_it_is_told(void **state)
{
	struct htab h = HTAB_INIT;
	char key[32];
	int i, asked = 0, sum = 0;

	for (i = 0; i < 100; i++) {
		snprintf(key, sizeof(key), "k%d", i);
		htab_put(&h, key, (void *)(intptr_t)i);
	}
	htab_drop_if(&h, odd_value, &asked, NULL);
	assert_int_equal(asked, 100);
	assert_int_equal(h.count, 50);
	assert_null(htab_get(&h, "k1"));
	assert_int_equal((intptr_t)htab_get(&h, "k2"), 2);
	htab_foreach(&h, count_value, &sum);
	assert_int_equal(sum, 2450); /* 0 + 2 + ... + 98 */
	htab_free(&h, NULL);
}

static void
test_arena_allocations_are_aligned_and_distinct(void **state)
{
	struct arena a = ARENA_INIT;
	char *p[1000];
	char *big;
	int i;

	for (i = 0; i < 1000; i++) {
		p[i] = arena_alloc(&a, (size_t)(i % 37) + 1);
		assert_int_equal((uintptr_t)p[i] % _Alignof(max_align_t), 0);
		memset(p[i], i & 0xff, (size_t)(i % 37) + 1);
	}
	big = arena_alloc(&a, 3 * 1024 * 1024);
	memset(big, 0xab, 3 * 1024 * 1024);
	for (i = 0; i < 1000; i++)
		assert_int_equal((unsigned char)p[i][0], i & 0xff);
	assert_string_equal(arena_strndup(&a, "hello world", 5), "hello");
	arena_free(&a);
	assert_null(a.head);
}

static void
test_buf_printf_grows(void **state)
{
	struct buf b = BUF_INIT;
	int i;

	assert_string_equal(buf_cstr(&b), "");
	for (i = 0; i < 1000; i++)
		buf_printf(&b, "%04d,", i);
	assert_int_equal(b.len, 5000);
	assert_memory_equal(b.data + 4995, "0999,", 5);
	buf_reset(&b);
	assert_int_equal(b.len, 0);
	buf_adds(&b, "x");
	buf_addc(&b, 'y');
	assert_string_equal(buf_cstr(&b), "xy");
	buf_free(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_htab_keeps_every_key_through_growth),
	    cmocka_unit_test(test_htab_put_replaces_and_del_removes),
	    cmocka_unit_test(test_htab_drop_if_removes_what_it_is_told),
	    cmocka_unit_test(test_arena_allocations_are_aligned_and_distinct),
	    cmocka_unit_test(test_buf_printf_grows),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
