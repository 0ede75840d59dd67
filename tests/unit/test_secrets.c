/*
 * Secrets as references: the secretref document (round trip, every
 * rejection rule), reference shapes per provider, the report's "secrets"
 * member, the file: and env: providers (modes, owner, links, size, NUL,
 * a value never in a message), revocation (hook and record), and loading
 * a workload's secrets from pins in a repository (refs/secretrefs.c).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "objects/cjson.h"
#include "objects/report.h"
#include "objects/secretref.h"
#include "refs/keys.h"
#include "refs/secretrefs.h"
#include "runner/secrets.h"
#include "tests/unit/helpers.h"

#define OID_A "8aec4e4876f854f688d0ebfc8f37598f38e5fd6903cccc850ca36591175aeb60"
#define VALUE "v4lue-never-shown-91c"

static const char *v2_doc =
	"{\"actor\":\"0123456789abcdef\",\"created\":1700000100,\"name\":\"API_TOKEN\","
	"\"prev\":\"" OID_A "\",\"provider\":\"env\",\"ref\":\"API_TOKEN_SRC\","
	"\"revoke_hook\":[\"/usr/local/bin/revoke\",\"--now\"],\"service\":\"api\",\"v\":1,"
	"\"version\":2}";

static int from_text(const char *text, struct sk_secretref *s, struct sk_err *err)
{
	json_t *doc = json_loads(text, 0, NULL);
	assert_non_null(doc);
	int rc = sk_secretref_from_json(s, doc, err);
	json_decref(doc);
	return rc;
}

static void test_roundtrip(void **state)
{
	(void)state;
	struct sk_secretref s;
	struct sk_err err;
	char *out = NULL;
	size_t len = 0;
	th_must(from_text(v2_doc, &s, &err), &err);
	assert_string_equal(s.provider, "env");
	assert_int_equal(s.version, 2);
	assert_true(s.has_prev);
	assert_int_equal(json_array_size(s.hook), 2);
	json_t *back = sk_secretref_to_json(&s);
	th_must(sk_cjson_dump(back, &out, &len, &err), &err);
	assert_string_equal(out, v2_doc);
	free(out);
	json_decref(back);
	sk_secretref_clear(&s);
}

/* v2_doc with from replaced by to, which must be rejected. */
static void rejected(const char *from, const char *to)
{
	char buf[2048];
	const char *at = strstr(v2_doc, from);
	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - v2_doc), v2_doc, to, at + strlen(from));
	struct sk_secretref s;
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	if (from_text(buf, &s, &err) == 0)
		fail_msg("accepted: %s", buf);
	assert_true(err.message[0] != '\0');
	assert_null(s.hook);
}

static void test_rejects(void **state)
{
	(void)state;
	rejected("\"version\":2", "\"version\":1");                 /* prev on version 1 */
	rejected("\"prev\":\"" OID_A "\"", "\"prev\":null");         /* no prev on version 2 */
	rejected("\"version\":2", "\"version\":0");
	rejected("\"provider\":\"env\"", "\"provider\":\"vault\"");
	rejected("\"ref\":\"API_TOKEN_SRC\"", "\"ref\":\"9BAD\"");   /* env: a variable name */
	rejected("\"provider\":\"env\",\"ref\":\"API_TOKEN_SRC\"",
		 "\"provider\":\"file\",\"ref\":\"etc/x\"");         /* file: absolute */
	rejected("\"provider\":\"env\",\"ref\":\"API_TOKEN_SRC\"",
		 "\"provider\":\"file\",\"ref\":\"/etc/../x\"");
	rejected("\"provider\":\"env\",\"ref\":\"API_TOKEN_SRC\"",
		 "\"provider\":\"file\",\"ref\":\"/etc/x y\"");
	rejected("\"/usr/local/bin/revoke\"", "\"revoke\"");         /* hook: absolute */
	rejected("[\"/usr/local/bin/revoke\",\"--now\"]", "[]");
	rejected("\"name\":\"API_TOKEN\"", "\"name\":\"API-TOKEN\"");
	rejected("\"service\":\"api\"", "\"service\":\"../x\"");
	rejected("\"v\":1", "\"v\":2");
	rejected("\"v\":1", "\"v\":1,\"value\":\"x\"");              /* no unknown key */
	rejected(",\"revoke_hook\":[\"/usr/local/bin/revoke\",\"--now\"]", ""); /* all keys */
	rejected("\"actor\":\"0123456789abcdef\"", "\"actor\":\"0123\"");
}

static void test_parse_spec(void **state)
{
	(void)state;
	char p[8], r[SK_SECRETREF_REF_MAX + 1];
	struct sk_err err;
	th_must(sk_secretref_parse_spec("file:/etc/skiff/db", p, r, &err), &err);
	assert_string_equal(p, "file");
	assert_string_equal(r, "/etc/skiff/db");
	th_must(sk_secretref_parse_spec("env:DB_PASS", p, r, &err), &err);
	th_must(sk_secretref_parse_spec("aws-sm:prod/db", p, r, &err), &err);
	assert_int_equal(sk_secretref_parse_spec("vault:x", p, r, &err), SK_EUSAGE);
	assert_int_equal(sk_secretref_parse_spec("nocolon", p, r, &err), SK_EUSAGE);
	assert_int_equal(sk_secretref_parse_spec(":x", p, r, &err), SK_EUSAGE);
	assert_int_equal(sk_secretref_parse_spec("file:rel/x", p, r, &err), SK_EINVAL);
	assert_int_equal(sk_secretref_parse_spec("file:/a//b", p, r, &err), SK_EINVAL);
	assert_int_equal(sk_secretref_parse_spec("file:/a/.", p, r, &err), SK_EINVAL);
	assert_int_equal(sk_secretref_parse_spec("env:1X", p, r, &err), SK_EINVAL);
	assert_int_equal(sk_secretref_parse_spec("env:", p, r, &err), SK_EINVAL);
	assert_non_null(sk_secret_provider_find("file"));
	assert_non_null(sk_secret_provider_find("env"));
	assert_null(sk_secret_provider_find("aws-sm")); /* reserved, not in this build */
}

static const char *report_doc =
	"{\"addr\":\"127.0.0.1:8080\",\"health\":{\"fails\":0,\"last_ms\":3,\"passes\":2},"
	"\"logs\":{\"lines\":10,\"patterns\":[]},\"pid\":1234,\"prev\":null,\"reason\":\"\","
	"\"release\":\"1.0\",\"release_oid\":\"" OID_A "\",\"restarts\":0,"
	"\"secrets\":{\"DB\":{\"oid\":\"" OID_A "\",\"version\":3}},"
	"\"service\":\"api\",\"state\":\"healthy\",\"target\":\"t1\",\"time_ms\":1,\"trace\":null,"
	"\"v\":1}";

static int report_from(const char *from, const char *to)
{
	char buf[2048];
	const char *at = strstr(report_doc, from);
	assert_non_null(at);
	snprintf(buf, sizeof(buf), "%.*s%s%s", (int)(at - report_doc), report_doc, to,
		 at + strlen(from));
	json_t *doc = json_loads(buf, 0, NULL);
	assert_non_null(doc);
	struct sk_report *r = NULL;
	struct sk_err err;
	int rc = sk_report_from_json(&r, doc, &err);
	if (rc == 0) {
		char *out = NULL;
		size_t len = 0;
		json_t *back = sk_report_to_json(r);
		th_must(sk_cjson_dump(back, &out, &len, &err), &err);
		assert_string_equal(out, buf); /* reader and builder agree */
		free(out);
		json_decref(back);
	}
	sk_report_free(r);
	json_decref(doc);
	return rc;
}

static void test_report_secrets(void **state)
{
	(void)state;
	assert_int_equal(report_from("\"v\":1", "\"v\":1"), 0);
	/* a report of before secrets stays valid */
	assert_int_equal(report_from("\"secrets\":{\"DB\":{\"oid\":\"" OID_A "\",\"version\":3}},",
				     ""),
			 0);
	assert_int_equal(report_from("{\"DB\":{\"oid\"", "{\"BAD-NAME\":{\"oid\""), SK_EINVAL);
	assert_int_equal(report_from("\"version\":3", "\"version\":0"), SK_EINVAL);
	assert_int_equal(report_from("\"version\":3", "\"version\":3,\"value\":\"x\""), SK_EINVAL);
	assert_int_equal(report_from("\"secrets\":{\"DB\":{\"oid\":\"" OID_A "\",\"version\":3}}",
				     "\"secrets\":{}"),
			 SK_EINVAL);
	assert_int_equal(report_from("\"oid\":\"" OID_A "\"", "\"oid\":\"8aec\""), SK_EINVAL);
}

/* --- providers ---------------------------------------------------------- */

struct fix {
	struct th_repo t;
	char path[256];
};

static int setup(void **state)
{
	struct fix *f = calloc(1, sizeof(*f));
	if (!f || th_setup_repo(&f->t, "secrets", "owner") < 0)
		return -1;
	snprintf(f->path, sizeof(f->path), "%s/secret", f->t.root);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fix *f = *state;
	unsetenv("TH_SECRET_SRC");
	th_teardown_repo(&f->t);
	free(f);
	return 0;
}

static void write_file(const char *path, const char *text, size_t len, mode_t mode)
{
	FILE *fp = fopen(path, "w");
	assert_non_null(fp);
	assert_int_equal(fwrite(text, 1, len, fp), len);
	fclose(fp);
	assert_int_equal(chmod(path, mode), 0);
}

static void test_file_provider(void **state)
{
	struct fix *f = *state;
	const struct sk_secret_provider *p = sk_secret_provider_find("file");
	struct sk_secret_value v = { 0 };
	struct sk_err err;
	write_file(f->path, VALUE "\n", strlen(VALUE) + 1, 0600);
	th_must(p->resolve(f->path, &v, &err), &err);
	assert_string_equal(v.buf, VALUE); /* the trailing newline is not the value */
	assert_int_equal(v.len, strlen(VALUE));
	sk_secret_wipe(&v);
	assert_null(v.buf);
	/* readable by others: refused, and the message never holds the value */
	assert_int_equal(chmod(f->path, 0640), 0);
	assert_int_equal(p->resolve(f->path, &v, &err), SK_EKEYPERM);
	assert_non_null(strstr(err.message, "readable by group or others"));
	assert_null(strstr(err.message, VALUE));
	assert_null(v.buf);
	/* a link, a directory, an absent file, NUL inside, too large */
	char link[300];
	snprintf(link, sizeof(link), "%s/link", f->t.root);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(symlink(f->path, link), 0);
	assert_true(p->resolve(link, &v, &err) < 0);
	assert_true(p->resolve(f->t.root, &v, &err) < 0);
	snprintf(link, sizeof(link), "%s/absent", f->t.root);
	assert_true(p->resolve(link, &v, &err) < 0);
	write_file(f->path, "a\0b", 3, 0600);
	assert_int_equal(p->resolve(f->path, &v, &err), SK_EFAIL);
	char *big = calloc(1, SK_SECRET_VALUE_MAX + 1);
	memset(big, 'x', SK_SECRET_VALUE_MAX + 1);
	write_file(f->path, big, SK_SECRET_VALUE_MAX + 1, 0600);
	free(big);
	assert_int_equal(p->resolve(f->path, &v, &err), SK_EFAIL);
	assert_null(v.buf);
	assert_int_equal(p->resolve("relative", &v, &err), SK_EINVAL);
}

static void test_env_provider(void **state)
{
	(void)state;
	const struct sk_secret_provider *p = sk_secret_provider_find("env");
	struct sk_secret_value v = { 0 };
	struct sk_err err;
	unsetenv("TH_SECRET_SRC");
	assert_int_equal(p->resolve("TH_SECRET_SRC", &v, &err), SK_ENOTFOUND);
	setenv("TH_SECRET_SRC", VALUE, 1);
	th_must(p->resolve("TH_SECRET_SRC", &v, &err), &err);
	assert_string_equal(v.buf, VALUE);
	sk_secret_wipe(&v);
	assert_int_equal(p->resolve("1BAD", &v, &err), SK_EINVAL);
}

static void test_revoke(void **state)
{
	struct fix *f = *state;
	struct sk_secretref s;
	struct sk_err err;
	json_t *facts = NULL;
	memset(&s, 0, sizeof(s));
	strcpy(s.provider, "file");
	strcpy(s.ref, "/etc/old");
	strcpy(s.name, "DB");
	s.version = 4;
	const struct sk_secret_provider *p = sk_secret_provider_find("file");
	/* no hook: recorded only */
	th_must(p->revoke(&s, &facts, &err), &err);
	assert_false(json_is_true(json_object_get(facts, "hook")));
	assert_string_equal(json_string_value(json_object_get(facts, "revoked")), "file:/etc/old");
	json_decref(facts);
	/* a hook: argv without a shell of ours, the old reference in its env */
	s.hook = json_pack("[s, s, s, s]", "/bin/sh", "-c", "printf %s \"$SKIFF_SECRET_REF\" >\"$0\"",
			   f->path);
	th_must(p->revoke(&s, &facts, &err), &err);
	assert_int_equal(json_integer_value(json_object_get(facts, "exit")), 0);
	json_decref(facts);
	char *text = NULL;
	size_t len = 0;
	FILE *fp = fopen(f->path, "r");
	assert_non_null(fp);
	text = calloc(1, 64);
	len = fread(text, 1, 63, fp);
	fclose(fp);
	assert_int_equal(len, strlen("file:/etc/old"));
	assert_string_equal(text, "file:/etc/old");
	free(text);
	json_decref(s.hook);
	/* a failing hook: SK_EFAIL, its status in the facts */
	s.hook = json_pack("[s, s, s]", "/bin/sh", "-c", "exit 3");
	assert_int_equal(p->revoke(&s, &facts, &err), SK_EFAIL);
	assert_int_equal(json_integer_value(json_object_get(facts, "exit")), 3);
	json_decref(facts);
	json_decref(s.hook);
}

/* --- a workload's secrets from pins --------------------------------------- */

static void version(struct fix *f, struct sk_secretref *s, const char *name, const char *provider,
		    const char *ref)
{
	memset(s, 0, sizeof(*s));
	strcpy(s->service, "api");
	snprintf(s->name, sizeof(s->name), "%s", name);
	snprintf(s->provider, sizeof(s->provider), "%s", provider);
	snprintf(s->ref, sizeof(s->ref), "%s", ref);
	strcpy(s->actor, sk_key_id(f->t.key));
	s->version = 1;
	s->created = 1700000000;
}

static void test_load_pins(void **state)
{
	struct fix *f = *state;
	struct sk_secretref s, t, head;
	struct sk_oid oid, oid2, got;
	struct sk_err err;
	char hex[SK_OID_HEXSZ + 1], hex2[SK_OID_HEXSZ + 1];
	int has = 0;
	write_file(f->path, VALUE, strlen(VALUE), 0600);
	setenv("TH_SECRET_SRC", "tok", 1);
	version(f, &s, "DB", "file", f->path);
	th_must(sk_secretrefs_write(f->t.repo, f->t.key, &s, NULL, NULL, 0, &oid, &err), &err);
	/* a second version 1 of the same secret loses the CAS */
	assert_int_equal(sk_secretrefs_write(f->t.repo, f->t.key, &s, NULL, NULL, 0, &oid2, &err),
			 SK_ECONFLICT);
	th_must(sk_secretrefs_head(f->t.repo, "api", "DB", &has, &got, &head, &err), &err);
	assert_true(has);
	assert_int_equal(sk_oid_cmp(&got, &oid), 0);
	sk_secretref_clear(&head);
	th_must(sk_secretrefs_head(f->t.repo, "api", "NONE", &has, &got, &head, &err), &err);
	assert_false(has);
	version(f, &t, "TOKEN", "env", "TH_SECRET_SRC");
	th_must(sk_secretrefs_write(f->t.repo, f->t.key, &t, NULL, NULL, 0, &oid2, &err), &err);

	json_t *pins = json_pack("{s:s}", "DB", sk_oid_tohex(&oid, hex));
	json_t *rel = json_pack("{s:s, s:s}", "DB", "env:IGNORED", "EXTRA", "env:TH_SECRET_SRC");
	struct sk_secret_env e;
	th_must(sk_secrets_load(f->t.repo, "api", pins, rel, &e, &err), &err);
	assert_int_equal(e.n, 2);
	assert_string_equal(e.name[0], "DB"); /* the pin wins over the release's reference */
	assert_string_equal(e.value[0].buf, VALUE);
	assert_string_equal(e.name[1], "EXTRA");
	assert_string_equal(e.value[1].buf, "tok");
	assert_int_equal(json_integer_value(json_object_get(json_object_get(e.loaded, "DB"),
							    "version")),
			 1);
	assert_null(json_object_get(e.loaded, "EXTRA"));
	sk_secrets_env_clear(&e);
	/* a pin naming another secret's version is refused */
	json_object_set_new(pins, "DB", json_string(sk_oid_tohex(&oid2, hex2)));
	assert_int_equal(sk_secrets_load(f->t.repo, "api", pins, NULL, &e, &err), SK_EVERIFY);
	/* a reference that does not resolve names the secret, never a value */
	assert_int_equal(chmod(f->path, 0644), 0);
	json_object_set_new(pins, "DB", json_string(hex));
	assert_int_equal(sk_secrets_load(f->t.repo, "api", pins, NULL, &e, &err), SK_EFAIL);
	assert_non_null(strstr(err.message, "secret DB (file:"));
	assert_null(strstr(err.message, VALUE));
	/* effective pins: the target's over the service's */
	json_t *ctl = json_pack("{s:{s:s, s:s}, s:{s:{s:{s:s}}, s:{}}}", "secrets", "DB", hex,
				"TOKEN", hex, "targets", "t1", "secrets", "DB", hex2, "t2");
	json_t *p1 = sk_secrets_pins(ctl, "t1"), *p2 = sk_secrets_pins(ctl, "t2");
	assert_string_equal(json_string_value(json_object_get(p1, "DB")), hex2);
	assert_string_equal(json_string_value(json_object_get(p1, "TOKEN")), hex);
	assert_string_equal(json_string_value(json_object_get(p2, "DB")), hex);
	json_decref(p1);
	json_decref(p2);
	json_decref(ctl);
	json_decref(pins);
	json_decref(rel);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_roundtrip),
		cmocka_unit_test(test_rejects),
		cmocka_unit_test(test_parse_spec),
		cmocka_unit_test(test_report_secrets),
		cmocka_unit_test_setup_teardown(test_file_provider, setup, teardown),
		cmocka_unit_test_setup_teardown(test_env_provider, setup, teardown),
		cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
		cmocka_unit_test_setup_teardown(test_load_pins, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
