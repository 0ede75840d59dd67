/*
 * sk_file_plan, the --dry-run of sk_file_store (release create
 * --dry-run): the same file id, digest and counts as a real store, a
 * chunk already stored counted as deduplicated, and nothing written to
 * the object store, not even a temp file.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/file.h"
#include "objects/odb.h"
#include "tests/unit/helpers.h"

#define MIB ((size_t)1 << 20)

struct fx {
	char root[64];
	char *objdir, *input;
	struct sk_odb *odb;
};

static int setup(void **state)
{
	struct fx *fx = calloc(1, sizeof(*fx));
	if (!fx || th_tmpdir(fx->root, sizeof(fx->root), "fileplan") < 0)
		return -1;
	th_isolate_env(NULL);
	fx->objdir = sk_path_join(fx->root, "objects");
	fx->input = sk_path_join(fx->root, "input");
	mkdir(fx->objdir, 0777);
	struct sk_err err;
	if (sk_odb_open(&fx->odb, fx->objdir, &err) != 0)
		return -1;
	*state = fx;
	return 0;
}

static int teardown(void **state)
{
	struct fx *fx = *state;
	sk_odb_free(fx->odb);
	th_rmtree(fx->root);
	free(fx->objdir);
	free(fx->input);
	free(fx);
	th_isolate_env(NULL);
	return 0;
}

static void write_input(struct fx *fx, const unsigned char *data, size_t n)
{
	FILE *f = fopen(fx->input, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	assert_int_equal(fclose(f), 0);
}

/* Runs sk_file_plan (dry) or sk_file_store on the input. */
static void run(struct fx *fx, int dry, struct sk_file_stats *st, struct sk_oid *oid,
		unsigned char sha[32])
{
	struct sk_err err;
	int fd = open(fx->input, O_RDONLY);
	assert_true(fd >= 0);
	memset(st, 0, sizeof(*st));
	th_must(dry ? sk_file_plan(fx->odb, fd, st, oid, sha, &err)
		    : sk_file_store(fx->odb, fd, st, oid, sha, &err),
		&err);
	close(fd);
}

static int count_one(const struct sk_oid *oid, void *arg)
{
	(void)oid;
	(*(size_t *)arg)++;
	return 0;
}

/* Every entry under objects/, temp files included. */
static size_t entries(struct fx *fx)
{
	size_t n = 0;
	struct sk_err err;
	json_t *tmp = NULL;
	th_must(sk_odb_foreach(fx->odb, count_one, &n, &err), &err);
	th_must(sk_odb_list_temp(fx->odb, &tmp, &err), &err);
	n += json_array_size(tmp);
	json_decref(tmp);
	return n;
}

static void test_plan_matches_store_and_writes_nothing(void **state)
{
	struct fx *fx = *state;
	unsigned char *data = th_random_bytes(9 * MIB + 123, 7);
	write_input(fx, data, 9 * MIB + 123);
	struct sk_file_stats ps, ss;
	struct sk_oid poid, soid;
	unsigned char psha[32], ssha[32], want[32];
	run(fx, 1, &ps, &poid, psha);
	assert_int_equal(entries(fx), 0);
	assert_false(sk_odb_exists(fx->odb, &poid));
	run(fx, 0, &ss, &soid, ssha);
	assert_memory_equal(&poid, &soid, sizeof(poid));
	sk_sha256(data, 9 * MIB + 123, want);
	assert_memory_equal(psha, want, 32);
	assert_memory_equal(ssha, want, 32);
	assert_int_equal(ps.bytes, ss.bytes);
	assert_int_equal(ps.chunks, ss.chunks);
	assert_int_equal(ps.new_chunks, ss.new_chunks);
	assert_int_equal(ps.new_bytes, 9 * MIB + 123);
	assert_int_equal(ps.new_bytes, ss.new_bytes);
	free(data);
}

static void test_plan_counts_stored_chunks_as_deduplicated(void **state)
{
	struct fx *fx = *state;
	size_t n = 6 * MIB;
	unsigned char *data = th_random_bytes(n, 11);
	struct sk_file_stats st;
	struct sk_oid oid;
	unsigned char sha[32];
	write_input(fx, data, n);
	run(fx, 0, &st, &oid, sha);
	size_t stored = entries(fx);
	data[n / 2] ^= 0xff; /* one edit: a chunk or two are new */
	write_input(fx, data, n);
	run(fx, 1, &st, &oid, sha);
	assert_int_equal(entries(fx), stored);
	assert_true(st.new_bytes > 0 && st.new_bytes < n / 2);
	assert_int_equal(st.new_bytes + st.dedup_bytes, n);
	assert_true(st.new_chunks >= 1 && st.new_chunks < st.chunks);
	free(data);
}

static void test_plan_of_an_empty_input(void **state)
{
	struct fx *fx = *state;
	struct sk_file_stats st;
	struct sk_oid oid;
	unsigned char sha[32], want[32];
	write_input(fx, (const unsigned char *)"", 0);
	run(fx, 1, &st, &oid, sha);
	sk_sha256("", 0, want);
	assert_memory_equal(sha, want, 32);
	assert_int_equal(st.chunks, 0);
	assert_int_equal(entries(fx), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_plan_matches_store_and_writes_nothing, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_counts_stored_chunks_as_deduplicated, setup,
						teardown),
		cmocka_unit_test_setup_teardown(test_plan_of_an_empty_input, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
