/*
 * Refs: init, open, compare-and-swap updates, locks, all-or-nothing
 * transactions under injected I/O failures and crash recovery, record
 * chains, rollback memory, and a multi-process CAS race.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/err.h"
#include "common/fs.h"
#include "objects/odb.h"
#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "tests/unit/helpers.h"

static int setup(void **state)
{
	struct th_repo *fx = calloc(1, sizeof(*fx));
	*state = fx;
	return th_setup_repo(fx, "refs", "alice");
}

static int teardown(void **state)
{
	th_teardown_repo(*state);
	free(*state);
	return 0;
}

static int update1(struct sk_repo *repo, const struct sk_key *key, const char *ref,
		   const struct sk_oid *to, enum sk_ref_expect expect, const struct sk_oid *old,
		   struct sk_refrecord *rec, struct sk_err *err)
{
	struct sk_ref_update up = { .ref = ref, .expect = expect };
	if (to)
		up.new_oid = *to;
	else
		up.delete = 1;
	if (old)
		up.old_oid = *old;
	return sk_refs_update(repo, key, &up, 1, rec, err);
}

static size_t count_entries(const char *dir, const char *contains)
{
	DIR *d = opendir(dir);
	size_t n = 0;
	struct dirent *de;
	while (d && (de = readdir(d)))
		if (de->d_name[0] != '.' && (!contains || strstr(de->d_name, contains)))
			n++;
	if (d)
		closedir(d);
	return n;
}

static size_t stale_locks(struct sk_repo *repo)
{
	json_t *locks = NULL;
	struct sk_err err;
	th_must(sk_refs_stale_locks(repo, &locks, &err), &err);
	size_t n = json_array_size(locks);
	json_decref(locks);
	return n;
}

static struct sk_oid record_id_of_file(struct th_repo *fx, const char *ref)
{
	char *path = sk_path_join(fx->skiff, ref), *bytes = NULL;
	size_t len = 0;
	struct sk_err err;
	th_must(sk_fs_read_file(path, 65536, &bytes, &len, &err), &err);
	struct sk_oid id;
	sk_oid_hash(&id, SK_OBJ_REFRECORD, bytes, len);
	free(bytes);
	free(path);
	return id;
}

/* --- init and open ----------------------------------------------------- */

static void test_init_layout(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	static const char *const dirs[] = { "objects", "refs", "txn", "seen" };
	for (size_t i = 0; i < 4; i++) {
		char *d = sk_path_join(fx->skiff, dirs[i]);
		assert_true(sk_fs_is_dir(d));
		free(d);
	}
	char *cfg = sk_path_join(fx->skiff, "config"), *body = NULL;
	th_must(sk_fs_read_file(cfg, 4096, &body, NULL, &err), &err);
	assert_string_equal(body, "{\"identity\":\"alice\",\"v\":1}");
	free(body);
	free(cfg);
	assert_string_equal(sk_repo_identity(fx->repo), "alice");
	assert_string_equal(sk_repo_path(fx->repo), fx->skiff);
	assert_int_equal(count_entries(fx->repo_dir, ".tmp."), 0);

	struct sk_refrecord r;
	th_must(sk_refs_read(fx->repo, "refs/meta/trust", &r, &err), &err);
	assert_int_equal(r.seq, 1);
	assert_false(r.has_prev);
	assert_true(r.has_oid);
	assert_string_equal(r.signer, sk_key_id(fx->key));
	json_t *info = NULL;
	th_must(sk_refs_verify(fx->repo, "refs/meta/trust", 1, &info, &err), &err);
	assert_string_equal(json_string_value(json_object_get(info, "signer_name")), "alice");
	assert_int_equal(json_integer_value(json_object_get(info, "records_checked")), 1);
	json_decref(info);

	struct sk_trust *t = NULL;
	th_must(sk_refs_load_trust(fx->repo, &t, &err), &err);
	const struct sk_trust_key *k = sk_trust_find_key(t, sk_key_id(fx->key));
	assert_non_null(k);
	assert_string_equal(k->name, "alice");
	sk_trust_free(t);

	struct sk_repo *again = NULL;
	assert_int_equal(sk_repo_init(&again, fx->repo_dir, fx->key, &err), SK_EEXISTS);
	assert_null(again);
	assert_int_equal(count_entries(fx->repo_dir, ".tmp."), 0);
}

/* A failed init leaves nothing: no .skiff, no temp directory. */
static void test_init_fault_leaves_nothing(void **state)
{
	struct th_repo *fx = *state;
	static const char *const ops[] = { "open", "write", "fsync", "rename" };
	char *dir = sk_path_join(fx->root, "fresh");
	char *skiff = sk_path_join(dir, ".skiff");
	for (size_t o = 0; o < 4; o++) {
		int done = 0;
		for (int n = 1; n < 200 && !done; n++) {
			th_rmtree(dir);
			pid_t pid = fork();
			if (pid == 0) {
				char spec[32];
				snprintf(spec, sizeof(spec), "%s:%d", ops[o], n);
				setenv("SKIFF_FAULT", spec, 1);
				struct sk_repo *r = NULL;
				int rc = sk_repo_init(&r, dir, fx->key, NULL);
				_exit(rc == 0 ? 0 : 1);
			}
			int st = 0;
			waitpid(pid, &st, 0);
			assert_true(WIFEXITED(st));
			done = WEXITSTATUS(st) == 0;
			/* A failed init leaves no .skiff, except when only the final
			 * directory fsync failed, after the rename: then it is whole. */
			if (done || sk_fs_exists(skiff)) {
				struct sk_repo *r = NULL;
				struct sk_err err;
				th_must(sk_repo_open(&r, dir, &err), &err);
				th_must(sk_refs_verify(r, "refs/meta/trust", 1, NULL, &err), &err);
				sk_repo_free(r);
			}
			assert_int_equal(count_entries(dir, ".tmp."), 0);
		}
		assert_true(done);
	}
	th_rmtree(dir);
	free(dir);
	free(skiff);
}

static void test_open(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_repo *r = NULL;
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	assert_string_equal(sk_repo_path(r), fx->skiff);
	sk_repo_free(r);

	assert_int_equal(sk_repo_open(&r, fx->root, &err), SK_ENOREPO);
	assert_null(r);
	assert_non_null(strstr(err.hint, "skiff init"));

	/* SKIFF_DIR: the directory holding .skiff, or .skiff itself */
	setenv("SKIFF_DIR", fx->repo_dir, 1);
	th_must(sk_repo_open(&r, NULL, &err), &err);
	assert_string_equal(sk_repo_path(r), fx->skiff);
	sk_repo_free(r);
	setenv("SKIFF_DIR", fx->skiff, 1);
	th_must(sk_repo_open(&r, NULL, &err), &err);
	assert_string_equal(sk_repo_path(r), fx->skiff);
	sk_repo_free(r);
	setenv("SKIFF_DIR", fx->root, 1);
	assert_int_equal(sk_repo_open(&r, NULL, &err), SK_ENOREPO);
	unsetenv("SKIFF_DIR");

	/* search upward */
	char cwd[PATH_MAX];
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	char *sub = sk_path_join(fx->repo_dir, "a/b/c");
	th_must(sk_fs_mkdirs(sub, 0, &err), &err);
	assert_int_equal(chdir(sub), 0);
	int rc = sk_repo_open(&r, NULL, &err);
	char path[PATH_MAX];
	snprintf(path, sizeof(path), "%s", rc == 0 ? sk_repo_path(r) : err.message);
	sk_repo_free(r);
	assert_int_equal(chdir(fx->root), 0);
	int rc2 = sk_repo_open(&r, NULL, &err);
	assert_int_equal(chdir(cwd), 0);
	assert_int_equal(rc, 0);
	assert_string_equal(path, fx->skiff);
	assert_int_equal(rc2, SK_ENOREPO);
	free(sub);
}

/* --- compare-and-swap ---------------------------------------------------- */

static void test_create_update_delete(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_refrecord rec, r;
	const char *ref = "refs/services/payments-api";
	struct sk_oid a = th_blob(fx->repo, "a"), b = th_blob(fx->repo, "b");
	struct sk_oid c = th_blob(fx->repo, "c");

	assert_int_equal(sk_refs_read(fx->repo, ref, &r, &err), SK_ENOTFOUND);
	th_must(update1(fx->repo, fx->key, ref, &a, SK_EXPECT_ABSENT, NULL, &rec, &err), &err);
	assert_int_equal(rec.seq, 1);
	assert_false(rec.has_prev);
	assert_true(rec.has_sig);
	assert_string_equal(rec.signer, sk_key_id(fx->key));
	assert_true(llabs((long long)(rec.time - time(NULL))) < 60);
	th_must(sk_refs_read(fx->repo, ref, &r, &err), &err);
	assert_int_equal(sk_oid_cmp(&r.oid, &a), 0);
	struct sk_oid id1 = record_id_of_file(fx, ref);
	/* the record is stored as an object too */
	assert_true(sk_odb_exists(sk_repo_odb(fx->repo), &id1));

	/* create on an existing ref */
	assert_int_equal(update1(fx->repo, fx->key, ref, &b, SK_EXPECT_ABSENT, NULL, NULL, &err),
			 SK_ECONFLICT);
	assert_non_null(strstr(err.message, ref));

	/* CAS */
	th_must(update1(fx->repo, fx->key, ref, &b, SK_EXPECT_OID, &a, &rec, &err), &err);
	assert_int_equal(rec.seq, 2);
	assert_true(rec.has_prev);
	assert_int_equal(sk_oid_cmp(&rec.prev, &id1), 0);

	/* conflict on a moved ref: names the ref and both oids, ref unchanged */
	char ha[65], hb[65];
	sk_oid_tohex(&a, ha);
	sk_oid_tohex(&b, hb);
	assert_int_equal(update1(fx->repo, fx->key, ref, &c, SK_EXPECT_OID, &a, NULL, &err),
			 SK_ECONFLICT);
	assert_non_null(strstr(err.message, ref));
	assert_non_null(strstr(err.message, ha));
	assert_non_null(strstr(err.message, hb));
	assert_int_equal(sk_err_exit_code(err.code), 3);
	struct sk_oid cur;
	th_must(sk_refs_resolve(fx->repo, ref, &cur, &err), &err);
	assert_int_equal(sk_oid_cmp(&cur, &b), 0);
	assert_int_equal(stale_locks(fx->repo), 0);

	/* SK_EXPECT_ANY */
	th_must(update1(fx->repo, fx->key, ref, &c, SK_EXPECT_ANY, NULL, &rec, &err), &err);
	assert_int_equal(rec.seq, 3);

	/* delete: a tombstone continues the chain */
	struct sk_oid id3 = record_id_of_file(fx, ref);
	th_must(update1(fx->repo, fx->key, ref, NULL, SK_EXPECT_OID, &c, &rec, &err), &err);
	assert_int_equal(rec.seq, 4);
	assert_false(rec.has_oid);
	assert_int_equal(sk_oid_cmp(&rec.prev, &id3), 0);
	assert_int_equal(sk_refs_resolve(fx->repo, ref, &cur, &err), SK_ENOTFOUND);
	th_must(sk_refs_read(fx->repo, ref, &r, &err), &err);
	assert_false(r.has_oid);
	assert_int_equal(update1(fx->repo, fx->key, ref, NULL, SK_EXPECT_ANY, NULL, NULL, &err),
			 SK_ENOTFOUND);
	assert_int_equal(update1(fx->repo, fx->key, ref, &a, SK_EXPECT_OID, &c, NULL, &err),
			 SK_ECONFLICT);

	/* listing skips the tombstone unless asked */
	struct sk_refrecord *list = NULL;
	size_t n = 0;
	th_must(sk_refs_list(fx->repo, "refs/services/*", 0, &list, &n, &err), &err);
	assert_int_equal(n, 0);
	free(list);
	th_must(sk_refs_list(fx->repo, "refs/services/*", 1, &list, &n, &err), &err);
	assert_int_equal(n, 1);
	free(list);

	/* recreate after delete: seq keeps growing */
	struct sk_oid id4 = record_id_of_file(fx, ref);
	th_must(update1(fx->repo, fx->key, ref, &a, SK_EXPECT_ABSENT, NULL, &rec, &err), &err);
	assert_int_equal(rec.seq, 5);
	assert_int_equal(sk_oid_cmp(&rec.prev, &id4), 0);
	th_must(sk_refs_verify(fx->repo, ref, 1, NULL, &err), &err);
}

static void test_update_refusals(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a"), missing;
	sk_oid_hash(&missing, SK_OBJ_BLOB, "nope", 4);

	assert_int_equal(update1(fx->repo, fx->key, "refs/a/../b", &a, SK_EXPECT_ANY, NULL, NULL,
				 &err), SK_EINVAL);
	assert_int_equal(update1(fx->repo, fx->key, "refs/x.lock", &a, SK_EXPECT_ANY, NULL, NULL,
				 &err), SK_EINVAL);
	/* objects before refs */
	assert_int_equal(update1(fx->repo, fx->key, "refs/services/x", &missing, SK_EXPECT_ANY,
				 NULL, NULL, &err), SK_ENOTFOUND);
	struct sk_refrecord none;
	assert_int_equal(sk_refs_read(fx->repo, "refs/services/x", &none, &err), SK_ENOTFOUND);
	/* duplicates in one transaction */
	struct sk_ref_update ups[2] = {
		{ .ref = "refs/services/x", .new_oid = a },
		{ .ref = "refs/services/x", .new_oid = a },
	};
	assert_int_equal(sk_refs_update(fx->repo, fx->key, ups, 2, NULL, &err), SK_EINVAL);
	/* bad operation id */
	ups[0].op = "-bad";
	assert_int_equal(sk_refs_update(fx->repo, fx->key, ups, 1, NULL, &err), SK_EINVAL);
	ups[0].op = "op-1";
	struct sk_refrecord rec;
	th_must(sk_refs_update(fx->repo, fx->key, ups, 1, &rec, &err), &err);
	assert_string_equal(rec.op, "op-1");
	/* refs/meta/trust cannot be deleted nor pointed at a non-policy */
	assert_int_equal(update1(fx->repo, fx->key, "refs/meta/trust", NULL, SK_EXPECT_ANY, NULL,
				 NULL, &err), SK_EINVAL);
	assert_int_equal(update1(fx->repo, fx->key, "refs/meta/trust", &a, SK_EXPECT_ANY, NULL,
				 NULL, &err) < 0, 1);
	th_must(sk_refs_verify(fx->repo, "refs/meta/trust", 1, NULL, &err), &err);
}

static void test_file_dir_clash(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a");
	th_must(update1(fx->repo, fx->key, "refs/services/a", &a, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	assert_int_equal(update1(fx->repo, fx->key, "refs/services/a/b", &a, SK_EXPECT_ABSENT,
				 NULL, NULL, &err), SK_ECONFLICT);
	assert_non_null(strstr(err.message, "refs/services/a"));
	assert_int_equal(update1(fx->repo, fx->key, "refs/services/a/b/c", &a, SK_EXPECT_ANY,
				 NULL, NULL, &err), SK_ECONFLICT);
	th_must(update1(fx->repo, fx->key, "refs/backups/x/y", &a, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	assert_int_equal(update1(fx->repo, fx->key, "refs/backups/x", &a, SK_EXPECT_ANY, NULL,
				 NULL, &err), SK_ECONFLICT);
	assert_int_equal(stale_locks(fx->repo), 0);
	struct sk_refrecord *list = NULL;
	size_t n = 0;
	th_must(sk_refs_list(fx->repo, NULL, 0, &list, &n, &err), &err);
	assert_int_equal(n, 3);
	assert_string_equal(list[0].ref, "refs/backups/x/y");
	assert_string_equal(list[1].ref, "refs/meta/trust");
	assert_string_equal(list[2].ref, "refs/services/a");
	free(list);
}

static void test_locked(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	const char *ref = "refs/services/api";
	struct sk_oid a = th_blob(fx->repo, "a"), b = th_blob(fx->repo, "b");
	th_must(update1(fx->repo, fx->key, ref, &a, SK_EXPECT_ABSENT, NULL, NULL, &err), &err);
	struct sk_oid before = record_id_of_file(fx, ref);
	char *lock = sk_path_join(fx->skiff, "refs/services/api.lock");
	int fd = open(lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	assert_true(fd >= 0);
	close(fd);

	assert_int_equal(update1(fx->repo, fx->key, ref, &b, SK_EXPECT_OID, &a, NULL, &err),
			 SK_ELOCKED);
	assert_non_null(strstr(err.message, lock));
	assert_non_null(strstr(err.hint, lock));
	assert_non_null(strstr(err.hint, "another skiff process"));
	assert_true(sk_err_retryable(err.code));
	struct sk_oid after = record_id_of_file(fx, ref);
	assert_int_equal(sk_oid_cmp(&before, &after), 0);
	assert_true(sk_fs_exists(lock)); /* someone else's lock is never removed */

	json_t *locks = NULL;
	th_must(sk_refs_stale_locks(fx->repo, &locks, &err), &err);
	assert_int_equal(json_array_size(locks), 1);
	assert_string_equal(json_string_value(json_array_get(locks, 0)), ref);
	json_decref(locks);
	/* the lock is not a ref */
	struct sk_refrecord *list = NULL;
	size_t n = 0;
	th_must(sk_refs_list(fx->repo, "refs/services/**", 0, &list, &n, &err), &err);
	assert_int_equal(n, 1);
	free(list);

	assert_int_equal(unlink(lock), 0);
	th_must(update1(fx->repo, fx->key, ref, &b, SK_EXPECT_OID, &a, NULL, &err), &err);
	free(lock);
}

/* --- transactions ---------------------------------------------------------- */

static void test_txn_all_or_nothing(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a"), b = th_blob(fx->repo, "b");
	struct sk_ref_update create[3] = {
		{ .ref = "refs/services/c", .new_oid = a, .expect = SK_EXPECT_ABSENT },
		{ .ref = "refs/services/a", .new_oid = a, .expect = SK_EXPECT_ABSENT },
		{ .ref = "refs/services/b", .new_oid = a, .expect = SK_EXPECT_ABSENT },
	};
	struct sk_refrecord recs[3];
	th_must(sk_refs_update(fx->repo, fx->key, create, 3, recs, &err), &err);
	/* records come back in the caller's order */
	assert_string_equal(recs[0].ref, "refs/services/c");
	assert_string_equal(recs[1].ref, "refs/services/a");
	assert_string_equal(recs[2].ref, "refs/services/b");

	struct sk_ref_update move[3] = {
		{ .ref = "refs/services/a", .new_oid = b, .expect = SK_EXPECT_OID, .old_oid = a },
		{ .ref = "refs/services/b", .new_oid = b, .expect = SK_EXPECT_OID, .old_oid = b },
		{ .ref = "refs/services/c", .new_oid = b, .expect = SK_EXPECT_OID, .old_oid = a },
	};
	assert_int_equal(sk_refs_update(fx->repo, fx->key, move, 3, NULL, &err), SK_ECONFLICT);
	assert_non_null(strstr(err.message, "refs/services/b"));
	static const char *const names[] = { "refs/services/a", "refs/services/b",
					     "refs/services/c" };
	for (size_t i = 0; i < 3; i++) {
		struct sk_refrecord r;
		th_must(sk_refs_read(fx->repo, names[i], &r, &err), &err);
		assert_int_equal(r.seq, 1);
		assert_int_equal(sk_oid_cmp(&r.oid, &a), 0);
	}
	assert_int_equal(stale_locks(fx->repo), 0);
	char *txn = sk_path_join(fx->skiff, "txn");
	assert_int_equal(count_entries(txn, NULL), 0);

	move[1].old_oid = a;
	th_must(sk_refs_update(fx->repo, fx->key, move, 3, recs, &err), &err);
	for (size_t i = 0; i < 3; i++) {
		struct sk_refrecord r;
		th_must(sk_refs_read(fx->repo, names[i], &r, &err), &err);
		assert_int_equal(r.seq, 2);
		assert_int_equal(sk_oid_cmp(&r.oid, &b), 0);
	}
	assert_int_equal(count_entries(txn, NULL), 0);
	free(txn);
}

struct ref_state {
	struct sk_oid oid;
	uint64_t seq;
};

/* Runs one update in a child process with SKIFF_FAULT=spec; returns the
 * child's result (0 or the negated error code). */
static int faulty_update(struct th_repo *fx, const char *spec, const struct sk_ref_update *ups,
			 size_t n)
{
	pid_t pid = fork();
	if (pid == 0) {
		setenv("SKIFF_FAULT", spec, 1);
		struct sk_repo *r = NULL;
		int rc = sk_repo_open(&r, fx->repo_dir, NULL);
		if (rc == 0)
			rc = sk_refs_update(r, fx->key, ups, n, NULL, NULL);
		_exit(rc == 0 ? 0 : (-rc) & 0x7f);
	}
	int st = 0;
	waitpid(pid, &st, 0);
	assert_true(WIFEXITED(st));
	return -WEXITSTATUS(st);
}

static void fault_loop(struct th_repo *fx, const char *const *names, size_t n)
{
	static const char *const ops[] = { "write", "fsync", "rename", "open", "link" };
	struct sk_err err;
	int counter = 0;
	for (size_t o = 0; o < 5; o++) {
		int done = 0;
		for (int k = 1; k < 200 && !done; k++) {
			struct ref_state old[4];
			struct sk_ref_update ups[4];
			char text[64];
			snprintf(text, sizeof(text), "content %d", ++counter);
			struct sk_oid next = th_blob(fx->repo, text);
			for (size_t i = 0; i < n; i++) {
				struct sk_refrecord r;
				th_must(sk_refs_read(fx->repo, names[i], &r, &err), &err);
				old[i].oid = r.oid;
				old[i].seq = r.seq;
				ups[i] = (struct sk_ref_update){ .ref = names[i], .new_oid = next,
								 .expect = SK_EXPECT_OID,
								 .old_oid = r.oid };
			}
			char spec[32];
			snprintf(spec, sizeof(spec), "%s:%d", ops[o], k);
			int rc = faulty_update(fx, spec, ups, n);
			done = rc == 0;

			/* reopening rolls committed transactions forward */
			struct sk_repo *r = NULL;
			th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
			size_t moved = 0;
			for (size_t i = 0; i < n; i++) {
				struct sk_refrecord now;
				th_must(sk_refs_read(r, names[i], &now, &err), &err);
				int is_old = sk_oid_cmp(&now.oid, &old[i].oid) == 0 &&
					     now.seq == old[i].seq;
				int is_new = sk_oid_cmp(&now.oid, &next) == 0 &&
					     now.seq == old[i].seq + 1;
				if (!is_old && !is_new)
					fail_msg("%s: %s left %s neither old nor new", spec, names[i],
						 names[i]);
				moved += is_new;
				th_must(sk_refs_verify(r, names[i], 1, NULL, &err), &err);
			}
			if (done && moved != n)
				fail_msg("%s: update reported success but moved %zu of %zu", spec,
					 moved, n);
			if (moved != 0 && moved != n)
				fail_msg("%s: transaction half applied (%zu of %zu)", spec, moved, n);
			assert_int_equal(stale_locks(r), 0);
			char *txn = sk_path_join(fx->skiff, "txn");
			assert_int_equal(count_entries(txn, NULL), 0);
			free(txn);
			sk_repo_free(r);
		}
		if (!done)
			fail_msg("%s never succeeded", ops[o]);
	}
}

static void test_fault_single(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a");
	th_must(update1(fx->repo, fx->key, "refs/services/one", &a, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	static const char *const names[] = { "refs/services/one" };
	fault_loop(fx, names, 1);
}

static void test_fault_transaction(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a");
	static const char *const names[] = { "refs/services/a", "refs/services/b",
					     "refs/operations/x" };
	struct sk_ref_update ups[3];
	for (size_t i = 0; i < 3; i++)
		ups[i] = (struct sk_ref_update){ .ref = names[i], .new_oid = a,
						 .expect = SK_EXPECT_ABSENT };
	th_must(sk_refs_update(fx->repo, fx->key, ups, 3, NULL, &err), &err);
	fault_loop(fx, names, 3);
}

/* A writer dies after its commit point: the journal and a lock remain.
 * While another process holds the journal's flock (a live writer),
 * recovery leaves it alone; once free, open rolls it forward. */
static void test_recovery(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a"), b = th_blob(fx->repo, "b");
	static const char *const names[] = { "refs/services/a", "refs/services/b" };
	struct sk_ref_update ups[2];
	for (size_t i = 0; i < 2; i++)
		ups[i] = (struct sk_ref_update){ .ref = names[i], .new_oid = a,
						 .expect = SK_EXPECT_ABSENT };
	th_must(sk_refs_update(fx->repo, fx->key, ups, 2, NULL, &err), &err);
	for (size_t i = 0; i < 2; i++)
		ups[i] = (struct sk_ref_update){ .ref = names[i], .new_oid = b,
						 .expect = SK_EXPECT_OID, .old_oid = a };

	/* Fail the Nth rename, for growing N, until one fails after the
	 * commit point: the journal stays, with at least one lock. */
	char *txn = sk_path_join(fx->skiff, "txn");
	char op[32];
	int k;
	for (k = 1; k < 20 && count_entries(txn, NULL) == 0; k++) {
		/* A distinct op per attempt keeps each attempt's records new:
		 * two attempts in the same second would otherwise sign
		 * identical records, find their objects stored already, make
		 * one rename fewer, and the Nth rename would never come. */
		char spec[32];
		snprintf(spec, sizeof(spec), "rename:%d", k);
		snprintf(op, sizeof(op), "attempt-%d", k);
		for (size_t i = 0; i < 2; i++)
			ups[i].op = op;
		assert_int_equal(faulty_update(fx, spec, ups, 2), SK_ENOSPC);
	}
	assert_int_equal(count_entries(txn, NULL), 1);
	struct sk_oid oa, ob;
	th_must(sk_refs_resolve(fx->repo, names[0], &oa, &err), &err);
	th_must(sk_refs_resolve(fx->repo, names[1], &ob, &err), &err);
	assert_int_equal(sk_oid_cmp(&ob, &a), 0);
	/* the uncommitted half is locked, not lost */
	assert_int_equal(update1(fx->repo, fx->key, names[1], &a, SK_EXPECT_ANY, NULL, NULL, &err),
			 SK_ELOCKED);

	/* a live writer (holding the journal's flock) is left alone */
	DIR *d = opendir(txn);
	struct dirent *de;
	char *journal = NULL;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			journal = sk_path_join(txn, de->d_name);
	closedir(d);
	assert_non_null(journal);
	int fd = open(journal, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	struct sk_repo *r = NULL;
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	th_must(sk_refs_resolve(r, names[1], &ob, &err), &err);
	assert_int_equal(sk_oid_cmp(&ob, &a), 0);
	assert_int_equal(count_entries(txn, NULL), 1);
	sk_repo_free(r);
	close(fd);

	/* the writer is gone: roll forward */
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	th_must(sk_refs_resolve(r, names[1], &ob, &err), &err);
	assert_int_equal(sk_oid_cmp(&ob, &b), 0);
	assert_int_equal(count_entries(txn, NULL), 0);
	assert_int_equal(stale_locks(r), 0);
	for (size_t i = 0; i < 2; i++) {
		json_t *info = NULL;
		th_must(sk_refs_verify(r, names[i], 1, &info, &err), &err);
		assert_int_equal(json_integer_value(json_object_get(info, "seq")), 2);
		json_decref(info);
	}
	sk_repo_free(r);
	free(journal);
	free(txn);
}

/* A journal whose locks hold other records (a later writer's) must not be
 * replayed: recovery only publishes the journaled record itself. */
static void test_recovery_ignores_foreign_lock(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "a");
	th_must(update1(fx->repo, fx->key, "refs/services/a", &a, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	struct sk_oid before = record_id_of_file(fx, "refs/services/a");
	char *journal = sk_path_join(fx->skiff, "txn/00112233aabbccdd");
	struct sk_oid bogus;
	sk_oid_hash(&bogus, SK_OBJ_REFRECORD, "x", 1);
	char hex[65], body[256];
	snprintf(body, sizeof(body),
		 "{\"entries\":[{\"record\":\"%s\",\"ref\":\"refs/services/a\"}],\"v\":1}",
		 sk_oid_tohex(&bogus, hex));
	th_must(sk_fs_write_atomic(journal, body, strlen(body), 0644, &err), &err);
	char *lock = sk_path_join(fx->skiff, "refs/services/a.lock");
	th_must(sk_fs_write_atomic(lock, "garbage", 7, 0644, &err), &err);
	struct sk_repo *r = NULL;
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	struct sk_oid after = record_id_of_file(fx, "refs/services/a");
	assert_int_equal(sk_oid_cmp(&before, &after), 0);
	assert_true(sk_fs_exists(lock));
	assert_false(sk_fs_exists(journal));
	sk_repo_free(r);
	free(lock);
	free(journal);
}

/* One ref, its rename failing after the barrier (the commit point): the
 * update reports the failure, the journal and the lock stay, and the next
 * open completes it. Returns the journal's path. */
static char *lone_left_behind(struct th_repo *fx, const char *ref, const struct sk_oid *from,
			      const struct sk_oid *to)
{
	char *txn = sk_path_join(fx->skiff, "txn"), *journal = NULL;
	struct sk_ref_update up = { .ref = ref, .new_oid = *to, .expect = SK_EXPECT_OID,
				    .old_oid = *from };
	char op[32];
	for (int k = 1; k < 20 && count_entries(txn, NULL) == 0; k++) {
		char spec[32];
		snprintf(spec, sizeof(spec), "rename:%d", k);
		snprintf(op, sizeof(op), "lone-%d", k); /* new records each attempt */
		up.op = op;
		assert_int_equal(faulty_update(fx, spec, &up, 1), SK_ENOSPC);
	}
	assert_int_equal(count_entries(txn, NULL), 1);
	DIR *d = opendir(txn);
	struct dirent *de;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			journal = sk_path_join(txn, de->d_name);
	closedir(d);
	free(txn);
	char name[300];
	snprintf(name, sizeof(name), "%s.lock", ref);
	char *lock = sk_path_join(fx->skiff, name);
	assert_true(sk_fs_exists(lock));
	free(lock);
	return journal;
}

/* the id of the record waiting in ref's lock */
static struct sk_oid lock_record_id(struct th_repo *fx, const char *ref)
{
	char name[300];
	snprintf(name, sizeof(name), "%s.lock", ref);
	return record_id_of_file(fx, name);
}

static size_t audit_entries_for(struct sk_repo *r, const struct sk_oid *record)
{
	struct sk_audit_query q = { 0 };
	json_t *all = NULL, *e;
	struct sk_err err;
	char hex[SK_OID_HEXSZ + 1];
	size_t i, n = 0;
	th_must(sk_audit_query(r, &q, &all, &err), &err);
	sk_oid_tohex(record, hex);
	json_array_foreach(all, i, e)
		n += strcmp(json_string_value(json_object_get(e, "record")), hex) == 0;
	json_decref(all);
	return n;
}

#define LONE_REF "refs/services/a"

/* LONE_REF created at blob "a"; *a and *b: blobs "a" and "b". */
static void lone_start(struct th_repo *fx, struct sk_oid *a, struct sk_oid *b)
{
	struct sk_err err;
	*a = th_blob(fx->repo, "a");
	*b = th_blob(fx->repo, "b");
	th_must(update1(fx->repo, fx->key, LONE_REF, a, SK_EXPECT_ABSENT, NULL, NULL, &err), &err);
}

/* A new handle on the repository (recovery runs), where ref is at want. */
static struct sk_repo *reopen_at(struct th_repo *fx, const char *ref, const struct sk_oid *want)
{
	struct sk_repo *r = NULL;
	struct sk_oid got;
	struct sk_err err;
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	th_must(sk_refs_resolve(r, ref, &got, &err), &err);
	assert_int_equal(sk_oid_cmp(&got, want), 0);
	return r;
}

/* A lone ref committed but not renamed (a writer killed after its barrier,
 * or a power cut that lost the rename): left alone while the writer holds
 * the journal, rolled forward by the next open, audited once. */
static void test_recovery_lone(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a, b;
	lone_start(fx, &a, &b);
	char *journal = lone_left_behind(fx, LONE_REF, &a, &b);
	struct sk_oid rec = lock_record_id(fx, LONE_REF);
	int fd = open(journal, O_RDONLY);
	assert_true(fd >= 0);
	assert_int_equal(flock(fd, LOCK_EX), 0);
	sk_repo_free(reopen_at(fx, LONE_REF, &a));
	close(fd);

	struct sk_repo *r = reopen_at(fx, LONE_REF, &b);
	struct sk_oid head = record_id_of_file(fx, LONE_REF);
	assert_int_equal(sk_oid_cmp(&head, &rec), 0);
	assert_false(sk_fs_exists(journal));
	assert_int_equal(stale_locks(r), 0);
	json_t *info = NULL;
	th_must(sk_refs_verify(r, LONE_REF, 1, &info, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(info, "seq")), 2);
	json_decref(info);
	assert_int_equal(audit_entries_for(r, &rec), 1);
	sk_repo_free(r);
	free(journal);
}

/* The same after a power cut that tore the record object (the lock and
 * the journal durable, the object not): recovery writes it again. */
static void test_recovery_lone_torn_record(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a, b;
	lone_start(fx, &a, &b);
	char *journal = lone_left_behind(fx, LONE_REF, &a, &b);
	struct sk_oid rec = lock_record_id(fx, LONE_REF);
	char *obj = sk_odb_path(sk_repo_odb(fx->repo), &rec);
	assert_int_equal(chmod(obj, 0644), 0);
	th_must(sk_fs_write_atomic(obj, "torn", 4, 0444, &err), &err);
	struct sk_repo *r = reopen_at(fx, LONE_REF, &b);
	unsigned char *payload = NULL;
	size_t len = 0;
	th_must(sk_odb_read(sk_repo_odb(r), &rec, SK_OBJ_REFRECORD, SK_ODB_VERIFY, NULL, &payload,
			    &len, &err), &err);
	free(payload);
	assert_false(sk_fs_exists(journal));
	sk_repo_free(r);
	free(obj);
	free(journal);
}

/* A power cut during the barrier can leave the journal and the lock
 * durable but not the new target object: the update never reported
 * success, and recovery drops it rather than publish a dangling ref. */
static void test_recovery_lone_target_lost(void **state)
{
	struct th_repo *fx = *state;
	struct sk_oid a, b;
	lone_start(fx, &a, &b);
	char *journal = lone_left_behind(fx, LONE_REF, &a, &b);
	char *obj = sk_odb_path(sk_repo_odb(fx->repo), &b);
	assert_int_equal(unlink(obj), 0);
	struct sk_repo *r = reopen_at(fx, LONE_REF, &a);
	assert_false(sk_fs_exists(journal));
	assert_int_equal(stale_locks(r), 0);
	sk_repo_free(r);
	free(obj);
	free(journal);
}

/* Journal names that are not a record (garbage, a record of a ref that
 * has no such lock, a directory) publish nothing and move no ref; a
 * lock that is not the journal's own file stays. */
static void test_recovery_lone_bad_input(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a, b;
	lone_start(fx, &a, &b);
	char *garbage = sk_path_join(fx->skiff, "txn/00112233aabbccdd.ref");
	char *dir = sk_path_join(fx->skiff, "txn/0011223344556677.ref");
	char *foreign = sk_path_join(fx->skiff, "txn/8899aabbccddeeff.ref");
	char *lock = sk_path_join(fx->skiff, LONE_REF ".lock");
	th_must(sk_fs_write_atomic(garbage, "{\"oid\":", 8, 0644, &err), &err);
	assert_int_equal(mkdir(dir, 0755), 0);
	char *head = NULL;
	size_t len = 0;
	char *ref_file = sk_path_join(fx->skiff, LONE_REF);
	th_must(sk_fs_read_file(ref_file, 65536, &head, &len, &err), &err);
	/* a copy of a real record, but another file than the lock */
	th_must(sk_fs_write_atomic(foreign, head, len, 0644, &err), &err);
	th_must(sk_fs_write_atomic(lock, head, len, 0644, &err), &err);
	struct sk_repo *r = reopen_at(fx, LONE_REF, &a);
	assert_false(sk_fs_exists(garbage));
	assert_false(sk_fs_exists(foreign));
	assert_true(sk_fs_exists(lock));
	assert_true(sk_fs_is_dir(dir));
	sk_repo_free(r);
	free(head);
	free(ref_file);
	free(lock);
	free(foreign);
	free(dir);
	free(garbage);
}

/* Where the journal cannot be a second name of the lock (refs on another
 * file system: EXDEV, injected here), a lone update commits through a
 * written journal, as several refs do, and leaves nothing behind. */
static void test_lone_without_link(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a, b;
	lone_start(fx, &a, &b);
	struct sk_ref_update up = { .ref = LONE_REF, .new_oid = b, .expect = SK_EXPECT_OID,
				    .old_oid = a };
	assert_int_equal(faulty_update(fx, "link:1:EXDEV", &up, 1), 0);
	struct sk_repo *r = reopen_at(fx, LONE_REF, &b);
	char *txn = sk_path_join(fx->skiff, "txn");
	assert_int_equal(count_entries(txn, NULL), 0);
	assert_int_equal(stale_locks(r), 0);
	th_must(sk_refs_verify(r, LONE_REF, 1, NULL, &err), &err);
	struct sk_oid head = record_id_of_file(fx, LONE_REF);
	assert_int_equal(audit_entries_for(r, &head), 1);
	free(txn);
	sk_repo_free(r);
}

/* --- chains ----------------------------------------------------------------- */

struct walk_acc {
	uint64_t seqs[64];
	size_t n;
};

static int collect_seq(const struct sk_refrecord *r, const struct sk_oid *id, void *arg)
{
	struct walk_acc *acc = arg;
	(void)id;
	acc->seqs[acc->n++] = r->seq;
	return 0;
}

static void test_chain_and_tamper(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	const char *ref = "refs/services/chain";
	struct sk_oid ids[11];
	struct sk_oid prev;
	for (int i = 1; i <= 10; i++) {
		char t[16];
		snprintf(t, sizeof(t), "v%d", i);
		struct sk_oid o = th_blob(fx->repo, t);
		th_must(update1(fx->repo, fx->key, ref, &o,
				i == 1 ? SK_EXPECT_ABSENT : SK_EXPECT_OID, i == 1 ? NULL : &prev,
				NULL, &err), &err);
		ids[i] = record_id_of_file(fx, ref);
		prev = o;
	}
	struct walk_acc acc = { .n = 0 };
	th_must(sk_refs_walk(fx->repo, ref, 0, collect_seq, &acc, &err), &err);
	assert_int_equal(acc.n, 10);
	for (size_t i = 0; i < 10; i++)
		assert_int_equal(acc.seqs[i], 10 - i);
	acc.n = 0;
	th_must(sk_refs_walk(fx->repo, ref, 3, collect_seq, &acc, &err), &err);
	assert_int_equal(acc.n, 3);

	json_t *info = NULL;
	th_must(sk_refs_verify(fx->repo, ref, 1, &info, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(info, "records_checked")), 10);
	assert_int_equal(json_integer_value(json_object_get(info, "seq")), 10);
	assert_string_equal(json_string_value(json_object_get(info, "signer")), sk_key_id(fx->key));
	json_decref(info);

	/* tamper with record 5: rewrite its object with other content */
	struct sk_odb *odb = sk_repo_odb(fx->repo);
	unsigned char *payload = NULL;
	size_t len = 0;
	th_must(sk_odb_read(odb, &ids[5], SK_OBJ_REFRECORD, SK_ODB_VERIFY, NULL, &payload, &len,
			    &err), &err);
	struct sk_refrecord r5;
	th_must(sk_refrecord_parse(&r5, payload, len, &err), &err);
	free(payload);
	r5.time += 1;
	char *forged = NULL;
	size_t flen = 0;
	th_must(sk_refrecord_dump(&r5, 1, &forged, &flen, &err), &err);
	unsigned char *z = NULL;
	size_t zlen = 0;
	th_must(sk_obj_encode(SK_OBJ_REFRECORD, forged, flen, &z, &zlen, &err), &err);
	char *path = sk_odb_path(odb, &ids[5]);
	unlink(path);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0444);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, z, zlen), (ssize_t)zlen);
	close(fd);

	/* head-only verification does not read the middle: still fine */
	th_must(sk_refs_verify(fx->repo, ref, 0, NULL, &err), &err);
	int rc = sk_refs_verify(fx->repo, ref, 1, NULL, &err);
	assert_int_equal(rc, SK_ECORRUPT);
	assert_int_equal(sk_err_exit_code(rc), 4);
	acc.n = 0;
	assert_int_equal(sk_refs_walk(fx->repo, ref, 0, collect_seq, &acc, &err), SK_ECORRUPT);
	assert_int_equal(acc.n, 5); /* 10..6 visited; reading record 5 fails */

	/* a missing middle record is corrupt too */
	unlink(path);
	assert_int_equal(sk_refs_verify(fx->repo, ref, 1, NULL, &err), SK_ECORRUPT);
	free(path);
	free(forged);
	free(z);
}

static void test_dangling_and_head_object(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	struct sk_oid a = th_blob(fx->repo, "dangling");
	th_must(update1(fx->repo, fx->key, "refs/services/d", &a, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	th_must(sk_refs_verify(fx->repo, "refs/services/d", 0, NULL, &err), &err);
	char *path = sk_odb_path(sk_repo_odb(fx->repo), &a);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/d", 0, NULL, &err), SK_ECORRUPT);
	assert_non_null(strstr(err.message, "dangling"));
	free(path);

	/* the head file must be stored as the object of the same id */
	struct sk_oid b = th_blob(fx->repo, "b");
	th_must(update1(fx->repo, fx->key, "refs/services/e", &b, SK_EXPECT_ABSENT, NULL, NULL,
			&err), &err);
	struct sk_oid head = record_id_of_file(fx, "refs/services/e");
	path = sk_odb_path(sk_repo_odb(fx->repo), &head);
	assert_int_equal(unlink(path), 0);
	th_must(sk_refs_verify(fx->repo, "refs/services/e", 0, NULL, &err), &err);
	assert_int_equal(sk_refs_verify(fx->repo, "refs/services/e", 1, NULL, &err), SK_ECORRUPT);
	free(path);

	/* a ref file holding a record for another ref */
	char *src = sk_path_join(fx->skiff, "refs/services/e");
	char *dst = sk_path_join(fx->skiff, "refs/services/f");
	char *bytes = NULL;
	size_t len = 0;
	th_must(sk_fs_read_file(src, 65536, &bytes, &len, &err), &err);
	th_must(sk_fs_write_atomic(dst, bytes, len, 0644, &err), &err);
	struct sk_refrecord r;
	assert_int_equal(sk_refs_read(fx->repo, "refs/services/f", &r, &err), SK_ECORRUPT);
	/* a non-canonical ref file */
	th_must(sk_fs_write_atomic(dst, "{ }", 3, 0644, &err), &err);
	assert_int_equal(sk_refs_read(fx->repo, "refs/services/f", &r, &err), SK_ECORRUPT);
	free(bytes);
	free(src);
	free(dst);
}

/* --- rollback memory ------------------------------------------------------- */

static void test_seen(void **state)
{
	struct th_repo *fx = *state;
	struct sk_err err;
	uint64_t seq = 99;
	th_must(sk_refs_seen_get(fx->repo, "origin", "refs/services/a", &seq, &err), &err);
	assert_int_equal(seq, 0);
	th_must(sk_refs_seen_note(fx->repo, "origin", "refs/services/a", 5, &err), &err);
	th_must(sk_refs_seen_get(fx->repo, "origin", "refs/services/a", &seq, &err), &err);
	assert_int_equal(seq, 5);
	th_must(sk_refs_seen_note(fx->repo, "origin", "refs/services/a", 5, &err), &err);
	assert_int_equal(sk_refs_seen_note(fx->repo, "origin", "refs/services/a", 4, &err),
			 SK_EROLLBACK);
	assert_int_equal(sk_err_exit_code(SK_EROLLBACK), 4);
	assert_non_null(strstr(err.message, "refs/services/a"));
	th_must(sk_refs_seen_note(fx->repo, "origin", "refs/services/a", 7, &err), &err);
	/* per remote */
	th_must(sk_refs_seen_note(fx->repo, "backup", "refs/services/a", 2, &err), &err);
	/* persisted across open */
	struct sk_repo *r = NULL;
	th_must(sk_repo_open(&r, fx->repo_dir, &err), &err);
	th_must(sk_refs_seen_get(r, "origin", "refs/services/a", &seq, &err), &err);
	assert_int_equal(seq, 7);
	assert_int_equal(sk_refs_seen_note(r, "origin", "refs/services/a", 6, &err), SK_EROLLBACK);
	th_must(sk_refs_seen_get(r, "backup", "refs/services/a", &seq, &err), &err);
	assert_int_equal(seq, 2);
	sk_repo_free(r);
	char *file = sk_path_join(fx->skiff, "seen/origin/refs/services/a"), *body = NULL;
	th_must(sk_fs_read_file(file, 64, &body, NULL, &err), &err);
	assert_string_equal(body, "7\n");
	free(body);
	free(file);
	/* names are checked */
	assert_int_equal(sk_refs_seen_note(fx->repo, "../x", "refs/services/a", 1, &err),
			 SK_EINVAL);
	assert_int_equal(sk_refs_seen_note(fx->repo, "origin", "refs/../a", 1, &err), SK_EINVAL);
	assert_int_equal(sk_refs_seen_get(fx->repo, "", "refs/a", &seq, &err), SK_EINVAL);
}

/* --- the race ------------------------------------------------------------------ */

#define RACERS 8
#define ROUNDS 50

static int racer(const char *dir, int id)
{
	struct sk_repo *r = NULL;
	struct sk_key *key = NULL;
	struct sk_err err;
	if (sk_repo_open(&r, dir, &err) < 0 || sk_key_load(&key, "alice", &err) < 0)
		return 1;
	const char *ref = "refs/services/race";
	srand((unsigned)getpid());
	for (int i = 0; i < ROUNDS; i++) {
		char text[64];
		snprintf(text, sizeof(text), "racer %d round %d", id, i);
		struct sk_oid o;
		if (sk_odb_write(sk_repo_odb(r), SK_OBJ_BLOB, text, strlen(text), &o, &err) < 0)
			return 2;
		for (;;) {
			struct sk_refrecord cur;
			int rc = sk_refs_read(r, ref, &cur, &err);
			if (rc < 0 && rc != SK_ENOTFOUND)
				return 3;
			struct sk_ref_update up = { .ref = ref, .new_oid = o };
			up.expect = rc == 0 ? SK_EXPECT_OID : SK_EXPECT_ABSENT;
			if (rc == 0)
				up.old_oid = cur.oid;
			rc = sk_refs_update(r, key, &up, 1, NULL, &err);
			if (rc == 0)
				break;
			if (rc != SK_ECONFLICT && rc != SK_ELOCKED) {
				fprintf(stderr, "racer %d: %s\n", id, err.message);
				return 4;
			}
			usleep((useconds_t)(rand() % 2000));
		}
	}
	sk_key_free(key);
	sk_repo_free(r);
	return 0;
}

static void test_cas_race(void **state)
{
	struct th_repo *fx = *state;
	pid_t pids[RACERS];
	for (int i = 0; i < RACERS; i++) {
		pids[i] = fork();
		assert_true(pids[i] >= 0);
		if (pids[i] == 0)
			_exit(racer(fx->repo_dir, i));
	}
	for (int i = 0; i < RACERS; i++) {
		int st = 0;
		waitpid(pids[i], &st, 0);
		assert_true(WIFEXITED(st));
		assert_int_equal(WEXITSTATUS(st), 0);
	}
	struct sk_err err;
	struct sk_refrecord r;
	th_must(sk_refs_read(fx->repo, "refs/services/race", &r, &err), &err);
	assert_int_equal(r.seq, RACERS * ROUNDS);
	json_t *info = NULL;
	th_must(sk_refs_verify(fx->repo, "refs/services/race", 1, &info, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(info, "records_checked")),
			 RACERS * ROUNDS);
	json_decref(info);
	assert_int_equal(stale_locks(fx->repo), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_init_layout, setup, teardown),
		cmocka_unit_test_setup_teardown(test_init_fault_leaves_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_open, setup, teardown),
		cmocka_unit_test_setup_teardown(test_create_update_delete, setup, teardown),
		cmocka_unit_test_setup_teardown(test_update_refusals, setup, teardown),
		cmocka_unit_test_setup_teardown(test_file_dir_clash, setup, teardown),
		cmocka_unit_test_setup_teardown(test_locked, setup, teardown),
		cmocka_unit_test_setup_teardown(test_txn_all_or_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_single, setup, teardown),
		cmocka_unit_test_setup_teardown(test_fault_transaction, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_ignores_foreign_lock, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_lone, setup, teardown),
		cmocka_unit_test_setup_teardown(test_lone_without_link, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_lone_bad_input, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_lone_torn_record, setup, teardown),
		cmocka_unit_test_setup_teardown(test_recovery_lone_target_lost, setup, teardown),
		cmocka_unit_test_setup_teardown(test_chain_and_tamper, setup, teardown),
		cmocka_unit_test_setup_teardown(test_dangling_and_head_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_seen, setup, teardown),
		cmocka_unit_test_setup_teardown(test_cas_race, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
