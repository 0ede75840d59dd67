/*
 * Backups: the document (round trip, every rejection rule, ids), refs
 * (write and load, create-only, list newest first, an object that names
 * another backup is damage) and the freshness check (age against the
 * limit, size and digest of the file).
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

#include "objects/backup.h"
#include "objects/cjson.h"
#include "ops/backupjob.h"
#include "refs/backups.h"
#include "tests/unit/helpers.h"

#define ID1 "20250101T120000123Z-0123456789ab"
#define ID2 "20250101T120001000Z-0123456789ab"
#define SHA "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"

static const char *full_doc =
	"{\"id\":\"" ID1 "\",\"kind\":\"manual\",\"location\":\"/var/backups/api/data\","
	"\"op\":null,\"release\":\"1.0\",\"service\":\"api\",\"sha256\":\"" SHA "\","
	"\"size\":0,\"taken_at\":1700000000,\"target\":\"t1\",\"v\":1}";

static json_t *doc_with(const char *key, json_t *value)
{
	json_t *doc = json_loads(full_doc, 0, NULL);
	assert_non_null(doc);
	if (key && value)
		json_object_set_new(doc, key, value);
	else if (key)
		json_object_del(doc, key);
	return doc;
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct sk_err err;
	struct sk_backup b;
	json_t *doc = doc_with(NULL, NULL);
	th_must(sk_backup_from_json(&b, doc, &err), &err);
	assert_string_equal(b.id, ID1);
	assert_string_equal(b.kind, "manual");
	assert_string_equal(b.op, "");
	assert_int_equal(b.taken_at, 1700000000);
	json_t *back = sk_backup_to_json(&b);
	char *out = NULL;
	size_t len = 0;
	th_must(sk_cjson_dump(back, &out, &len, &err), &err);
	assert_string_equal(out, full_doc);
	free(out);
	json_decref(back);
	json_decref(doc);
}

static void rejects(const char *key, json_t *value)
{
	struct sk_err err;
	struct sk_backup b;
	json_t *doc = doc_with(key, value);
	memset(&err, 0, sizeof(err));
	assert_int_equal(sk_backup_from_json(&b, doc, &err), SK_EINVAL);
	assert_true(err.message[0] != '\0');
	json_decref(doc);
}

static void test_rejects(void **state)
{
	(void)state;
	rejects("v", json_integer(2));
	rejects("extra", json_true());
	rejects("size", NULL);
	rejects("size", json_integer(-1));
	rejects("taken_at", json_string("1700000000"));
	rejects("kind", json_string("scheduled"));
	rejects("location", json_string("relative/data"));
	rejects("location", json_string("/var/../etc/passwd"));
	rejects("location", json_string("/var/back\nups"));
	rejects("sha256", json_string("E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
	rejects("sha256", json_string("abc"));
	rejects("service", json_string("../x"));
	rejects("target", json_string(""));
	rejects("release", json_string(".hidden"));
	rejects("id", json_string("latest"));
	rejects("id", json_string("20250101T120000123Z-0123456789AB"));
	rejects("op", json_integer(1));
	/* a pre-restore backup names its restore */
	json_t *doc = doc_with("kind", json_string("pre-restore"));
	struct sk_err err;
	struct sk_backup b;
	assert_int_equal(sk_backup_from_json(&b, doc, &err), SK_EINVAL);
	json_object_set_new(doc, "op", json_string("20250101T120000123Z-abcdefabcdef"));
	th_must(sk_backup_from_json(&b, doc, &err), &err);
	json_decref(doc);
}

static void test_ids(void **state)
{
	(void)state;
	char a[SK_BACKUP_ID_LEN + 1], b[SK_BACKUP_ID_LEN + 1];
	struct sk_err err;
	sk_backup_new_id(a, sizeof(a));
	usleep(2000);
	sk_backup_new_id(b, sizeof(b));
	th_must(sk_backup_id_check(a, &err), &err);
	th_must(sk_backup_id_check(b, &err), &err);
	assert_true(strcmp(a, b) < 0); /* later sorts after */
	assert_int_equal(sk_backup_id_check("20250101T120000123Z-0123456789a", &err), SK_EINVAL);
}

struct fx {
	struct th_repo t;
	char data[200];
};

static int setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	if (!f || th_setup_repo(&f->t, "backup", "owner") < 0)
		return -1;
	snprintf(f->data, sizeof(f->data), "%s/data", f->t.root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fx *f = *state;
	th_teardown_repo(&f->t);
	free(f);
	return 0;
}

static struct sk_backup make(const char *id, const char *location)
{
	struct sk_backup b;
	memset(&b, 0, sizeof(b));
	snprintf(b.id, sizeof(b.id), "%s", id);
	snprintf(b.kind, sizeof(b.kind), "manual");
	snprintf(b.location, sizeof(b.location), "%s", location);
	snprintf(b.release, sizeof(b.release), "1.0");
	snprintf(b.service, sizeof(b.service), "api");
	snprintf(b.sha256, sizeof(b.sha256), SHA);
	snprintf(b.target, sizeof(b.target), "t1");
	b.taken_at = 1700000000;
	return b;
}

static void test_write_load_list(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_backup b1 = make(ID1, "/x/1"), b2 = make(ID2, "/x/2"), got;
	json_t *all = NULL;
	assert_int_equal(sk_backups_load(f->t.repo, "api", ID1, &got, &err), SK_ENOTFOUND);
	th_must(sk_backups_list(f->t.repo, "api", &all, &err), &err);
	assert_int_equal(json_array_size(all), 0);
	json_decref(all);
	/* plan writes nothing */
	th_must(sk_backups_write(f->t.repo, f->t.key, &b1, NULL, 1, NULL, &err), &err);
	assert_int_equal(sk_backups_load(f->t.repo, "api", ID1, &got, &err), SK_ENOTFOUND);
	th_must(sk_backups_write(f->t.repo, f->t.key, &b1, NULL, 0, NULL, &err), &err);
	th_must(sk_backups_write(f->t.repo, f->t.key, &b2, NULL, 0, NULL, &err), &err);
	assert_int_not_equal(sk_backups_write(f->t.repo, f->t.key, &b1, NULL, 0, NULL, &err), 0);
	th_must(sk_backups_load(f->t.repo, "api", ID1, &got, &err), &err);
	assert_string_equal(got.location, "/x/1");
	th_must(sk_backups_list(f->t.repo, "api", &all, &err), &err);
	assert_int_equal(json_array_size(all), 2);
	assert_string_equal(json_string_value(json_object_get(json_array_get(all, 0), "id")), ID2);
	json_decref(all);
}

static void test_wrong_object(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	struct sk_backup b = make(ID1, "/x/1"), got;
	/* the object says ID1 but sits under ID2's ref: damage */
	json_t *doc = sk_backup_to_json(&b);
	struct sk_oid oid;
	th_must(sk_odb_write_json(sk_repo_odb(f->t.repo), SK_OBJ_BACKUP, doc, &oid, &err), &err);
	json_decref(doc);
	struct sk_ref_update up;
	memset(&up, 0, sizeof(up));
	up.ref = "refs/backups/api/" ID2;
	up.new_oid = oid;
	up.expect = SK_EXPECT_ABSENT;
	th_must(sk_refs_update(f->t.repo, f->t.key, &up, 1, NULL, &err), &err);
	assert_int_equal(sk_backups_load(f->t.repo, "api", ID2, &got, &err), SK_ECORRUPT);
}

static void write_file(const char *path, const char *text)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	fputs(text, fp);
	fclose(fp);
}

static void test_freshness(void **state)
{
	struct fx *f = *state;
	struct sk_err err;
	char hex[65];
	long long size = 0;
	json_t *facts = NULL;
	write_file(f->data, "payload");
	struct sk_backup b = make(ID1, f->data);
	th_must(sk_backupjob_hash(f->data, hex, &size, &err), &err);
	memcpy(b.sha256, hex, 65);
	b.size = size;
	th_must(sk_backupjob_freshness(&b, 3600, b.taken_at + 3600, &facts, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(facts, "age_s")), 3600);
	json_decref(facts);
	assert_int_equal(sk_backupjob_freshness(&b, 3600, b.taken_at + 3601, &facts, &err),
			 SK_ECONFLICT);
	assert_int_equal(json_integer_value(json_object_get(facts, "max_age_s")), 3600);
	assert_int_equal(json_integer_value(json_object_get(facts, "taken_at")), b.taken_at);
	json_decref(facts);
	th_must(sk_backupjob_freshness(&b, 0, b.taken_at + 99999, &facts, &err), &err);
	json_decref(facts);
	write_file(f->data, "paylaod"); /* same size, other bytes */
	assert_int_equal(sk_backupjob_freshness(&b, 3600, b.taken_at, &facts, &err), SK_EVERIFY);
	json_decref(facts);
	unlink(f->data);
	assert_int_equal(sk_backupjob_freshness(&b, 3600, b.taken_at, &facts, &err), SK_EVERIFY);
	json_decref(facts);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_ids),
		cmocka_unit_test_setup_teardown(test_write_load_list, setup, teardown),
		cmocka_unit_test_setup_teardown(test_wrong_object, setup, teardown),
		cmocka_unit_test_setup_teardown(test_freshness, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
