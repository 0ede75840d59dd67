/*
 * The operations index (ops/opindex.h): the file format (round trip and
 * every rejection rule), and the listing on a real repository: the index
 * built, reused, a changed operation seen, racily clean entries re-read,
 * a corrupt or foreign index rebuilt, and always the same result as a
 * listing that reads every operation.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include <cmocka.h>

#include "common/fs.h"
#include "ops/engine.h"
#include "ops/opindex.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

#define ACTOR "630dcd2966c43366"

static struct sk_opindex_entry sample_entry(const char *name, const char *service)
{
	struct sk_opindex_entry e;
	memset(&e, 0, sizeof(e));
	snprintf(e.name, sizeof(e.name), "%s", name);
	snprintf(e.id, sizeof(e.id), "%s", name);
	snprintf(e.kind, sizeof(e.kind), "test");
	snprintf(e.service, sizeof(e.service), "%s", service);
	snprintf(e.state, sizeof(e.state), "running");
	snprintf(e.actor, sizeof(e.actor), ACTOR);
	e.sig = (struct sk_opindex_sig){ .ino = 12, .size = 440, .msec = 1700000000, .mnsec = 5,
					 .csec = 1700000001, .cnsec = 999999999 };
	e.created = 1700000000;
	e.steps = 3;
	e.done = 1;
	return e;
}

static char *sample_bytes(size_t *len)
{
	struct sk_opindex_entry v[2] = { sample_entry("20250101T000000000Z-aa", "pay"),
					 sample_entry("20250101T000000000Z-bb", "") };
	struct sk_opindex ix = { .dev = 2049, .ref_sec = 1699999998, .ref_nsec = 7, .n = 2, .v = v };
	return sk_opindex_format(&ix, len);
}

static void test_format_round_trip(void **state)
{
	(void)state;
	struct sk_err err;
	size_t len;
	char *b = sample_bytes(&len);
	struct sk_opindex ix;
	th_must(sk_opindex_parse(b, len, &ix, &err), &err);
	assert_int_equal(ix.n, 2);
	assert_int_equal(ix.dev, 2049);
	assert_int_equal(ix.ref_sec, 1699999998);
	assert_string_equal(ix.v[0].service, "pay");
	assert_string_equal(ix.v[1].service, "");
	assert_int_equal(ix.v[1].sig.cnsec, 999999999);
	size_t len2;
	char *b2 = sk_opindex_format(&ix, &len2);
	assert_int_equal(len, len2);
	assert_memory_equal(b, b2, len);
	free(b2);
	sk_opindex_clear(&ix);
	free(b);
	/* no entries at all */
	struct sk_opindex empty = { .dev = 1 };
	b = sk_opindex_format(&empty, &len);
	th_must(sk_opindex_parse(b, len, &ix, &err), &err);
	assert_int_equal(ix.n, 0);
	sk_opindex_clear(&ix);
	free(b);
}

/* The sample with the first occurrence of from replaced by to and, when
 * fix, a checksum recomputed over the result (so the line rule itself
 * must reject it). */
static void expect_rejected(const char *from, const char *to, int fix)
{
	size_t len;
	char *b = sample_bytes(&len);
	char *at = strstr(b, from);
	assert_non_null(at);
	size_t fl = strlen(from), tl = strlen(to);
	char *m = malloc(len - fl + tl + 1);
	size_t pre = (size_t)(at - b);
	memcpy(m, b, pre);
	memcpy(m + pre, to, tl);
	memcpy(m + pre + tl, at + fl, len - pre - fl);
	size_t mlen = len - fl + tl;
	m[mlen] = '\0';
	if (fix) {
		char *sum = strstr(m, "sha256 ");
		assert_non_null(sum);
		unsigned char raw[32];
		sk_sha256(m, (size_t)(sum - m), raw);
		sk_hex(raw, sizeof(raw), sum + 7);
		sum[7 + 64] = '\n';
	}
	struct sk_opindex ix;
	struct sk_err err;
	assert_int_equal(sk_opindex_parse(m, mlen, &ix, &err), SK_ECORRUPT);
	assert_non_null(strstr(err.message, "operations index"));
	sk_opindex_clear(&ix);
	free(m);
	free(b);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	expect_rejected("skiff-opindex 1", "skiff-opindex 2", 1);
	expect_rejected(" running ", " done ", 1);        /* unknown state */
	expect_rejected(" 3 1 ", " 3 4 ", 1);             /* done > steps */
	expect_rejected(" 3 1 ", " 0 0 ", 1);             /* no steps */
	expect_rejected(" 3 1 ", " 65 1 ", 1);            /* too many steps */
	expect_rejected(" test ", " ../x ", 1);           /* kind not a name */
	expect_rejected(" pay ", " -pay ", 1);            /* service not a name */
	expect_rejected(ACTOR, "630DCD2966C43366", 1);    /* actor not lowercase hex */
	expect_rejected(" 440 ", " 0440 ", 1);            /* leading zero */
	expect_rejected(" 440 ", " -440 ", 1);            /* sign */
	expect_rejected(" 440 ", "  440 ", 1);            /* empty field */
	expect_rejected(" 440 ", " 99999999999999999999999 ", 1); /* overflow */
	expect_rejected(" 999999999 ", " 1000000000 ", 1); /* nanoseconds */
	expect_rejected(ACTOR "\n", ACTOR " x\n", 1);     /* extra field */
	expect_rejected(ACTOR "\n", ACTOR " \n", 1);      /* trailing space */
	expect_rejected("aa 12", "cc 12", 1);             /* names out of order */
	expect_rejected("aa 12", "bb 12", 1);             /* duplicate name */
	expect_rejected(" 7 2\n", " 7 3\n", 1);           /* count beyond the lines */
	expect_rejected(" 7 2\n", " 7 1\n", 1);           /* count short of the lines */
	expect_rejected(" 7 2\n", " 7 99999999\n", 1);    /* count beyond the file */
	expect_rejected(" running ", " planned ", 0);     /* checksum */
	expect_rejected("sha256 ", "sha512 ", 0);
	/* truncated, empty, trailing bytes */
	size_t len;
	char *b = sample_bytes(&len);
	struct sk_opindex ix;
	struct sk_err err;
	assert_int_equal(sk_opindex_parse(b, len - 1, &ix, &err), SK_ECORRUPT);
	sk_opindex_clear(&ix);
	assert_int_equal(sk_opindex_parse(b, len / 2, &ix, &err), SK_ECORRUPT);
	sk_opindex_clear(&ix);
	assert_int_equal(sk_opindex_parse(b, 0, &ix, &err), SK_ECORRUPT);
	sk_opindex_clear(&ix);
	char *more = malloc(len + 2);
	memcpy(more, b, len);
	memcpy(more + len, "x\n", 2);
	assert_int_equal(sk_opindex_parse(more, len + 2, &ix, &err), SK_ECORRUPT);
	sk_opindex_clear(&ix);
	free(more);
	free(b);
}

/* --- on a repository --------------------------------------------------- */

struct fx {
	struct th_repo t;
	char ledger[128];
	char index[256];
	char ids[3][SK_OPID_MAX + 1];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || th_setup_repo(&f->t, "opindex", "alice") != 0)
		return -1;
	setenv("SKIFF_TEST_OPS", "1", 1);
	snprintf(f->ledger, sizeof(f->ledger), "%s/ledger", f->t.root);
	snprintf(f->index, sizeof(f->index), "%s/" SK_OPINDEX_FILE, f->t.skiff);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	unsetenv("SKIFF_TEST_OPS");
	th_teardown_repo(&f->t);
	free(f);
	return 0;
}

static struct sk_op *create(struct fx *f, int i, const char *service)
{
	struct sk_err err;
	struct sk_op *op = NULL;
	json_t *p = json_pack("{s:s, s:s}", "steps", "2", "ledger", f->ledger);
	th_must(sk_op_create(f->t.repo, f->t.key, "test", service, p, &op, &err), &err);
	json_decref(p);
	snprintf(f->ids[i], sizeof(f->ids[i]), "%s",
		 json_string_value(json_object_get(op->doc, "id")));
	return op;
}

/* Dates every operation's ref file and refs/operations/ itself an hour
 * back, so nothing is racy. */
static void age_refs(struct fx *f)
{
	struct timespec ts[2];
	char path[512];
	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	for (int i = 0; i < 3; i++) {
		snprintf(path, sizeof(path), "%s/refs/operations/%s", f->t.skiff, f->ids[i]);
		assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
	}
	snprintf(path, sizeof(path), "%s/refs/operations", f->t.skiff);
	assert_int_equal(utimensat(AT_FDCWD, path, ts, 0), 0);
}

/* Lists with the index (stats in *st) and without, for each filter, and
 * checks both agree; returns the unfiltered indexed listing. */
static json_t *list_both(struct fx *f, struct sk_opindex_stats *st)
{
	static const char *const filters[][2] = {
		{ NULL, NULL }, { "pay", NULL }, { NULL, "succeeded" }, { "pay", "planned" },
		{ "nope", NULL },
	};
	struct sk_err err;
	json_t *first = NULL;
	for (size_t i = 0; i < sizeof(filters) / sizeof(filters[0]); i++) {
		json_t *a = NULL, *b = NULL;
		struct sk_opindex_stats s;
		th_must(sk_opindex_list(f->t.repo, filters[i][0], filters[i][1], 0, &a, &s, &err),
			&err);
		th_must(sk_opindex_list(f->t.repo, filters[i][0], filters[i][1], SK_OPINDEX_NONE,
					&b, NULL, &err),
			&err);
		assert_true(json_equal(a, b));
		json_decref(b);
		if (i == 0) {
			*st = s;
			first = a;
		} else {
			json_decref(a);
		}
	}
	return first;
}

static const char *state_of(const json_t *list, size_t i)
{
	return json_string_value(json_object_get(json_array_get(list, i), "state"));
}

static void test_built_reused_changed(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_opindex_stats st;
	struct sk_op *a = create(f, 0, "pay"), *b = create(f, 1, NULL), *c = create(f, 2, "pay");
	th_must(sk_op_run(f->t.repo, f->t.key, b, &err), &err);
	age_refs(f);

	json_t *l = list_both(f, &st); /* built */
	assert_int_equal(st.refs, 3);
	assert_int_equal(st.loaded, 0);
	assert_int_equal(st.reread, 3);
	assert_int_equal(st.written, 1);
	assert_int_equal(json_array_size(l), 3);
	assert_string_equal(state_of(l, 1), "succeeded");
	assert_int_equal(json_integer_value(json_object_get(json_array_get(l, 1), "done")), 2);
	assert_true(json_is_null(json_object_get(json_array_get(l, 1), "service")));
	json_decref(l);

	l = list_both(f, &st); /* reused: nothing read or written, not even a stat */
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.dir_clean, 1);
	assert_int_equal(st.reused, 3);
	assert_int_equal(st.reread, 0);
	assert_int_equal(st.written, 0);
	json_decref(l);

	/* An operation moves (its ref's CAS; the engine never touches the
	 * index): the next listing sees it. */
	th_must(sk_op_run(f->t.repo, f->t.key, a, &err), &err);
	l = list_both(f, &st);
	assert_int_equal(st.dir_clean, 0);
	assert_int_equal(st.reused, 2);
	assert_int_equal(st.reread, 1);
	assert_int_equal(st.written, 1);
	assert_string_equal(state_of(l, 0), "succeeded");
	json_decref(l);

	/* A new operation is read; one whose mtime is not older than the
	 * index's reference (a ref that just moved) is re-read even when
	 * its signature matches. */
	th_must(sk_op_cancel(f->t.repo, f->t.key, c, &err), &err);
	l = list_both(f, &st);
	assert_string_equal(state_of(l, 2), "cancelled");
	l = (json_decref(l), list_both(f, &st));
	assert_int_equal(st.reused, 1);
	assert_int_equal(st.reread, 2); /* a and c moved within the racy margin */
	json_decref(l);
	age_refs(f);
	l = list_both(f, &st); /* signatures differ (mtime): read once more */
	json_decref(l);
	l = list_both(f, &st);
	assert_int_equal(st.dir_clean, 1);
	assert_int_equal(st.reused, 3);
	assert_int_equal(st.reread, 0);
	json_decref(l);


	/* A new operation changes the directory: seen at once. */
	struct sk_op *d = create(f, 1, "pay");
	l = list_both(f, &st);
	assert_int_equal(st.dir_clean, 0);
	assert_int_equal(json_array_size(l), 4);
	json_decref(l);
	sk_op_free(d);
	sk_op_free(a);
	sk_op_free(b);
	sk_op_free(c);
}

static void rewrite_index(struct fx *f, const char *bytes, size_t len)
{
	struct sk_err err;
	th_must(sk_fs_write_atomic(f->index, bytes, len, 0644, &err), &err);
}

static void test_corrupt_and_foreign_rebuilt(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_opindex_stats st;
	struct sk_op *ops[3] = { create(f, 0, "pay"), create(f, 1, "pay"), create(f, 2, NULL) };
	age_refs(f);
	json_decref(list_both(f, &st));
	assert_int_equal(st.written, 1);

	/* Flipped byte, garbage, truncation, a directory: ignored, rebuilt. */
	char *buf = NULL;
	size_t len = 0;
	th_must(sk_fs_read_file(f->index, SK_OPINDEX_MAX_BYTES, &buf, &len, &err), &err);
	char *bad = strstr(buf, " planned ");
	assert_non_null(bad);
	memcpy(bad, " running ", 9);
	rewrite_index(f, buf, len);
	json_t *l = list_both(f, &st);
	assert_int_equal(st.loaded, 0);
	assert_int_equal(st.reread, 3);
	assert_int_equal(st.written, 1);
	assert_string_equal(state_of(l, 0), "planned");
	json_decref(l);
	rewrite_index(f, "garbage\n", 8);
	json_decref(list_both(f, &st));
	assert_int_equal(st.loaded, 0);
	assert_int_equal(st.written, 1);
	rewrite_index(f, buf, len / 2);
	json_decref(list_both(f, &st));
	assert_int_equal(st.loaded, 0);
	json_decref(list_both(f, &st));
	assert_int_equal(st.loaded, 1);
	assert_int_equal(st.reused, 3);

	/* A well-formed index from another file system (device) is foreign. */
	struct sk_opindex ix;
	free(buf);
	th_must(sk_fs_read_file(f->index, SK_OPINDEX_MAX_BYTES, &buf, &len, &err), &err);
	th_must(sk_opindex_parse(buf, len, &ix, &err), &err);
	ix.dev++;
	snprintf(ix.v[0].state, sizeof(ix.v[0].state), "failed");
	free(buf);
	buf = sk_opindex_format(&ix, &len);
	sk_opindex_clear(&ix);
	rewrite_index(f, buf, len);
	l = list_both(f, &st);
	assert_int_equal(st.loaded, 0);
	assert_string_equal(state_of(l, 0), "planned");
	json_decref(l);
	free(buf);

	/* An index that cannot be written costs speed, not the listing. */
	assert_int_equal(remove(f->index), 0);
	char dir[300];
	snprintf(dir, sizeof(dir), "%s", f->index);
	assert_int_equal(mkdir(dir, 0755), 0);
	l = list_both(f, &st);
	assert_int_equal(st.written, 0);
	assert_int_equal(json_array_size(l), 3);
	json_decref(l);
	for (int i = 0; i < 3; i++)
		sk_op_free(ops[i]);
}

static void test_no_operations(void **state)
{
	struct fx *f = *state;
	struct sk_opindex_stats st;
	json_t *l = list_both(f, &st);
	assert_int_equal(json_array_size(l), 0);
	assert_int_equal(st.refs, 0);
	json_decref(l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_round_trip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test_setup_teardown(test_built_reused_changed, setup, teardown),
		cmocka_unit_test_setup_teardown(test_corrupt_and_foreign_rebuilt, setup, teardown),
		cmocka_unit_test_setup_teardown(test_no_operations, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
