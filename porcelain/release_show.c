/*
 * skiff release show | list. show prints one release document for
 * people (what runs, how it is checked and rolled out, what it may touch)
 * or whole for agents; list prints the signed releases. Both read through
 * the same checks as release verify, short of the artifact bytes: a
 * release ref's record, its signature object and the signer's role, and
 * the release document under its own name. A failed check is exit 4, as
 * in show-ref: a listing never shows what it could not verify.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "objects/spec.h"
#include "porcelain/porcelain.h"
#include "porcelain/release_common.h"

/* --- text helpers ------------------------------------------------------ */

#define LABEL "%-12s"

static long long jint(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* Milliseconds as the spec writes durations: 1h30m, 10s, 250ms, 0s. */
static const char *duration(long long ms, char *buf, size_t n)
{
	static const struct {
		const char *unit;
		long long ms;
	} units[] = { { "h", 3600000 }, { "m", 60000 }, { "s", 1000 }, { "ms", 1 } };
	size_t off = 0;
	buf[0] = '\0';
	for (size_t i = 0; i < 4 && off < n; i++) {
		if (ms / units[i].ms == 0)
			continue;
		off += (size_t)snprintf(buf + off, n - off, "%lld%s", ms / units[i].ms, units[i].unit);
		ms %= units[i].ms;
	}
	if (!buf[0])
		snprintf(buf, n, "0s");
	return buf;
}

/* An argv word as a shell would need it: bare when plain, else quoted. */
static void put_word(FILE *out, const char *s)
{
	int plain = *s != '\0';
	for (const char *p = s; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"
			    "_./:=,@%+-", *p))
			plain = 0;
	if (plain) {
		fputs(s, out);
		return;
	}
	fputc('\'', out);
	for (const char *p = s; *p; p++)
		if (*p == '\'')
			fputs("'\\''", out);
		else
			fputc(*p, out);
	fputc('\'', out);
}

static void put_argv(FILE *out, const json_t *first, const json_t *rest)
{
	size_t i;
	json_t *w;
	if (first)
		put_word(out, json_string_value(first));
	json_array_foreach(rest, i, w) {
		if (first || i > 0)
			fputc(' ', out);
		put_word(out, json_string_value(w));
	}
}

/* A list of strings on one line, "none" when empty. */
static void put_list(FILE *out, const json_t *arr, const char *sep)
{
	size_t i;
	json_t *v;
	if (json_array_size(arr) == 0)
		fputs("none", out);
	json_array_foreach(arr, i, v) fprintf(out, "%s%s", i ? sep : "", json_string_value(v));
	fputc('\n', out);
}

/* --- release show ------------------------------------------------------ */

static void show_signature(FILE *out, const json_t *r)
{
	const json_t *sig = json_object_get(r, "signature");
	char t[32];
	if (!json_is_object(sig)) {
		fprintf(out, LABEL "no: skiff release sign %s %s signs it\n", "signed",
			jstr(r, "service"), jstr(r, "version"));
		return;
	}
	fprintf(out, LABEL "by %s (%s) at %s\n", "signed", jstr(sig, "signer_name"),
		jstr(sig, "signer"), sk_out_time(jint(sig, "time"), t, sizeof(t)));
	fprintf(out, LABEL "%s -> signature %s\n", "", jstr(sig, "ref"), jstr(sig, "oid"));
}

static void show_artifacts(FILE *out, const json_t *doc)
{
	size_t i;
	json_t *a;
	char b[32];
	const json_t *arts = json_object_get(doc, "artifacts");
	if (json_array_size(arts) == 0)
		fprintf(out, LABEL "none\n", "artifacts");
	json_array_foreach(arts, i, a) {
		fprintf(out, LABEL "%s  %s (%lld bytes)\n", i ? "" : "artifacts", jstr(a, "name"),
			sk_rel_human_size((uint64_t)jint(a, "size"), b, sizeof(b)), jint(a, "size"));
		fprintf(out, LABEL "  sha256 %s\n" LABEL "  file   %s\n", "", jstr(a, "sha256"), "",
			jstr(a, "file"));
	}
}

static void show_run(FILE *out, const json_t *doc)
{
	const json_t *run = json_object_get(doc, "run"), *env = json_object_get(run, "env");
	fprintf(out, LABEL, "run");
	put_argv(out, json_object_get(run, "command"), json_object_get(run, "args"));
	fprintf(out, "\n" LABEL "%lld\n", "  port", jint(run, "port"));
	const char *k;
	json_t *v;
	int first = 1;
	json_object_foreach((json_t *)env, k, v) {
		fprintf(out, LABEL "%s=", first ? "  env" : "", k);
		put_word(out, json_string_value(v));
		fputc('\n', out);
		first = 0;
	}
}

static void show_health(FILE *out, const json_t *doc)
{
	const json_t *h = json_object_get(doc, "health");
	char i[32], t[32];
	fprintf(out, LABEL "GET %s every %s, timeout %s\n", "health", jstr(h, "path"),
		duration(jint(h, "interval_ms"), i, sizeof(i)),
		duration(jint(h, "timeout_ms"), t, sizeof(t)));
	fprintf(out, LABEL "healthy after %lld passes, unhealthy after %lld failures\n", "",
		jint(h, "healthy_threshold"), jint(h, "unhealthy_threshold"));
}

static void show_gates(FILE *out, const json_t *g)
{
	char d[32];
	long long bp = jint(g, "max_error_rate_bp");
	fprintf(out, LABEL "error rate at most %lld.%02lld%%", "  gates", bp / 100, bp % 100);
	if (json_object_get(g, "max_latency_ms"))
		fprintf(out, ", p99 latency at most %s",
			duration(jint(g, "max_latency_ms"), d, sizeof(d)));
	fprintf(out, ", judged from %lld requests\n", jint(g, "min_requests"));
	size_t i;
	json_t *p;
	json_array_foreach(json_object_get(g, "log_patterns"), i, p) {
		fprintf(out, LABEL, i ? "" : "  logs");
		put_word(out, jstr(p, "pattern"));
		fprintf(out, " at most %lld per step\n", jint(p, "max"));
	}
}

static void show_canary(FILE *out, const json_t *doc)
{
	const json_t *c = json_object_get(doc, "canary");
	if (!c) {
		fprintf(out, LABEL "none: a deploy switches all traffic at once\n", "canary");
		return;
	}
	size_t i;
	json_t *s;
	char d[32];
	fprintf(out, LABEL, "canary");
	json_array_foreach(json_object_get(c, "steps"), i, s)
		fprintf(out, "%s%lld%% for %s", i ? ", " : "", jint(s, "weight"),
			duration(jint(s, "bake_s") * 1000, d, sizeof(d)));
	fputc('\n', out);
	show_gates(out, json_object_get(c, "gates"));
	fprintf(out, LABEL "%s\n", "  rollback",
		json_is_true(json_object_get(c, "auto_rollback")) ? "automatic on a failed gate"
								   : "asks on a failed gate");
}

static void show_access(FILE *out, const json_t *doc)
{
	const char *k;
	json_t *v;
	int first = 1;
	json_object_foreach(json_object_get(doc, "secrets"), k, v) {
		fprintf(out, LABEL "%s from %s\n", first ? "secrets" : "", k, json_string_value(v));
		first = 0;
	}
	if (first)
		fprintf(out, LABEL "none\n", "secrets");
	const json_t *p = json_object_get(doc, "permissions");
	fprintf(out, LABEL, "network");
	put_list(out, json_object_get(p, "network"), ", ");
	fprintf(out, LABEL, "writes");
	put_list(out, json_object_get(p, "paths"), ", ");
}

static void show_state(FILE *out, const json_t *doc)
{
	char d[32];
	fprintf(out, LABEL "%s\n", "stateful",
		json_is_true(json_object_get(doc, "stateful")) ? "yes" : "no");
	const json_t *b = json_object_get(doc, "backup"), *r = json_object_get(doc, "restore");
	if (b) {
		fprintf(out, LABEL, "backup");
		put_argv(out, NULL, json_object_get(b, "command"));
		fprintf(out, "\n" LABEL "stale after %s\n", "",
			duration(jint(b, "max_age_s") * 1000, d, sizeof(d)));
	}
	if (r) {
		fprintf(out, LABEL, "restore");
		put_argv(out, NULL, json_object_get(r, "command"));
		fputc('\n', out);
	}
	if (r && json_object_get(r, "validate")) {
		fprintf(out, LABEL "validate: ", "");
		put_argv(out, NULL, json_object_get(r, "validate"));
		fputc('\n', out);
	}
}

static void show_text(FILE *out, const json_t *r)
{
	const json_t *doc = json_object_get(r, "document"), *src = json_object_get(doc, "source");
	fprintf(out, LABEL "%s\n" LABEL "%s\n" LABEL "%s\n", "release", jstr(r, "release"),
		"service", jstr(doc, "service"), "version", jstr(doc, "version"));
	show_signature(out, r);
	fprintf(out, LABEL "commit %s, builder %s\n", "source", jstr(src, "commit"),
		jstr(src, "builder"));
	show_artifacts(out, doc);
	show_run(out, doc);
	show_health(out, doc);
	show_canary(out, doc);
	show_access(out, doc);
	show_state(out, doc);
}

static void show_result(struct sk_cli *cli, const struct sk_oid *oid, const struct sk_release *r,
			const struct sk_rel_signed *sig)
{
	json_t *res = json_pack("{s:o, s:s, s:s, s:b, s:o, s:O}", "release", sk_json_oid(oid),
				"service", r->service, "version", r->version, "signed", sig != NULL,
				"signature", sig ? sk_rel_signed_json(sig) : json_null(), "document",
				r->doc);
	if (!res)
		abort();
	sk_cli_result(cli, res, show_text);
}

/* SERVICE VERSION: the signed release, or else the one release create
 * stored for the version and nobody signed yet. */
static int show_version(struct sk_cli *cli, const char *service, const char *version,
			struct sk_err *err)
{
	struct sk_rel_signed sig;
	struct sk_release *r = NULL;
	struct sk_oid oid;
	int rc = sk_rel_load_signed(cli->repo, service, version, &sig, &r, err);
	if (rc == 0) {
		show_result(cli, &sig.sig.release, r, &sig);
		sk_release_free(r);
		return 0;
	}
	if (rc != SK_ENOTFOUND)
		return rc;
	/* not signed: a deleted ref stays "deleted"; otherwise look for what
	 * release create stored */
	struct sk_err deleted = *err;
	json_t *cands = NULL;
	rc = sk_rel_check_unsigned(cli->repo, service, version, err);
	if (rc == SK_EEXISTS) {
		*err = deleted;
		return SK_ENOTFOUND;
	}
	if (rc == 0)
		rc = sk_rel_pending_find(cli->repo, service, version, &oid, &cands, err);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, "skiff release list shows the signed releases",
				  "no release %s %s: it is not signed and was not created here",
				  service, version);
	if (rc == SK_EAMBIGUOUS) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:o}", "candidates", cands);
		snprintf(err->hint, sizeof(err->hint), "show one with skiff release show OID");
	}
	if (rc == 0 && (rc = sk_rel_read(sk_repo_odb(cli->repo), &oid, service, version, &r,
					 err)) == 0)
		show_result(cli, &oid, r, NULL);
	sk_release_free(r);
	return rc;
}

/* RELEASE-OID: the object itself (its id is the integrity check); signed
 * when its version's ref carries a valid signature of this very release. */
static int show_oid(struct sk_cli *cli, const char *name, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	struct sk_oid oid;
	struct sk_release *r = NULL, *signed_r = NULL;
	struct sk_rel_signed sig;
	if (!sk_oid_is_prefix(name))
		return sk_err_set(err, SK_EINVAL,
				  "give a release object id (8+ hex digits) or SERVICE VERSION",
				  "'%s' is not a release object id", name);
	int rc = sk_odb_resolve_prefix(odb, name, &oid, err);
	if (rc == 0)
		rc = sk_rel_read(odb, &oid, NULL, NULL, &r, err);
	int is_signed = 0;
	if (rc == 0) {
		rc = sk_rel_load_signed(cli->repo, r->service, r->version, &sig, &signed_r, err);
		is_signed = rc == 0 && sk_oid_cmp(&sig.sig.release, &oid) == 0;
		if (rc == SK_ENOTFOUND) {
			sk_err_clear(err);
			rc = 0;
		}
	}
	if (rc == 0)
		show_result(cli, &oid, r, is_signed ? &sig : NULL);
	sk_release_free(signed_r);
	sk_release_free(r);
	return rc;
}

int cmd_release_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if ((argc != 2 && argc != 3) || argv[1][0] == '-' || (argc == 3 && argv[2][0] == '-'))
		return sk_cli_usage(cli, err, "release show takes SERVICE VERSION or RELEASE-OID");
	return argc == 3 ? show_version(cli, argv[1], argv[2], err) : show_oid(cli, argv[1], err);
}

/* --- release list [SERVICE] -------------------------------------------- */

/* refs/releases/<svc>/<version> into its two parts; 0 when the ref has
 * another shape. */
static int split_ref(const char *ref, char *svc, char *ver)
{
	static const char prefix[] = "refs/releases/";
	const char *p = ref + sizeof(prefix) - 1, *slash;
	if (strncmp(ref, prefix, sizeof(prefix) - 1) != 0 || !(slash = strchr(p, '/')) ||
	    strchr(slash + 1, '/') || (size_t)(slash - p) > SK_SPEC_NAME_MAX ||
	    strlen(slash + 1) > SK_RELEASE_VERSION_MAX)
		return 0;
	memcpy(svc, p, (size_t)(slash - p));
	svc[slash - p] = '\0';
	strcpy(ver, slash + 1);
	return 1;
}

/* One ref: its record, its signature and role, and the release it names. */
static int list_one(struct sk_repo *repo, const struct sk_trust *policy,
		    const struct sk_refrecord *rec, json_t *rows, struct sk_err *err)
{
	char svc[SK_SPEC_NAME_MAX + 1], ver[SK_RELEASE_VERSION_MAX + 1];
	struct sk_rel_signed sig;
	struct sk_release *r = NULL;
	if (!split_ref(rec->ref, svc, ver))
		return sk_err_set(err, SK_ECORRUPT, NULL,
				  "%s is not a release ref (refs/releases/SERVICE/VERSION)", rec->ref);
	int rc = sk_refs_verify_record(policy, rec, err);
	if (rc == 0)
		rc = sk_rel_check_signature(repo, policy, rec->ref, &rec->oid, &sig, err);
	if (rc == 0 && (rc = sk_rel_read(sk_repo_odb(repo), &sig.sig.release, svc, ver, &r,
					 err)) < 0)
		rc = sk_rel_damaged(rc, err);
	sk_release_free(r);
	if (rc < 0)
		return rc;
	json_t *row = json_pack("{s:s, s:s, s:o, s:s, s:s, s:I, s:o, s:s}", "service", svc,
				"version", ver, "release", sk_json_oid(&sig.sig.release), "signer",
				sig.sig.signer, "signer_name", sig.signer_name, "time",
				(json_int_t)sig.sig.time, "signature", sk_json_oid(&sig.sig_oid), "ref",
				rec->ref);
	if (!row)
		abort();
	json_array_append_new(rows, row);
	return 0;
}

/* Service by name; in a service newest first (signing time, then version
 * order, 1.10 after 1.9). */
static int row_cmp(const void *a, const void *b)
{
	const json_t *x = *(json_t *const *)a, *y = *(json_t *const *)b;
	int c = strcmp(jstr(x, "service"), jstr(y, "service"));
	if (c)
		return c;
	long long tx = jint(x, "time"), ty = jint(y, "time");
	if (tx != ty)
		return tx > ty ? -1 : 1;
	return -strverscmp(jstr(x, "version"), jstr(y, "version"));
}

static json_t *sorted(json_t *rows)
{
	size_t n = json_array_size(rows);
	json_t **v = calloc(n ? n : 1, sizeof(*v)), *out = json_array();
	if (!v || !out)
		abort();
	for (size_t i = 0; i < n; i++)
		v[i] = json_array_get(rows, i);
	qsort(v, n, sizeof(*v), row_cmp);
	for (size_t i = 0; i < n; i++)
		json_array_append(out, v[i]);
	free(v);
	json_decref(rows);
	return out;
}

static void list_text(FILE *out, const json_t *r)
{
	const json_t *rows = json_object_get(r, "releases");
	size_t i, w = 7;
	json_t *row;
	char t[32];
	if (json_array_size(rows) == 0) {
		fprintf(out, "no signed releases\n");
		return;
	}
	json_array_foreach(rows, i, row) {
		size_t n = strlen(jstr(row, "service")) + 1 + strlen(jstr(row, "version"));
		if (n > w)
			w = n;
	}
	json_array_foreach(rows, i, row) {
		char name[SK_SPEC_NAME_MAX + SK_RELEASE_VERSION_MAX + 2];
		snprintf(name, sizeof(name), "%s %s", jstr(row, "service"), jstr(row, "version"));
		fprintf(out, "%-*s  %s  %.16s  %s (%s)\n", (int)w, name,
			sk_out_time(jint(row, "time"), t, sizeof(t)), jstr(row, "release"),
			jstr(row, "signer_name"), jstr(row, "signer"));
	}
}

int cmd_release_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return sk_cli_usage(cli, err, "release list takes at most a SERVICE");
	char pattern[SK_REF_MAX + 1] = "refs/releases/**";
	int rc = 0;
	if (argc == 2 &&
	    (rc = sk_spec_component_check(argv[1], SK_SPEC_NAME_MAX, "service", err)) == 0)
		snprintf(pattern, sizeof(pattern), "refs/releases/%s/*", argv[1]);
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	struct sk_trust *policy = NULL;
	if (rc == 0)
		rc = sk_refs_list(cli->repo, pattern, 0, &recs, &n, err);
	if (rc == 0)
		rc = sk_refs_load_trust(cli->repo, &policy, err);
	json_t *rows = json_array();
	for (size_t i = 0; rc == 0 && i < n; i++)
		if ((rc = list_one(cli->repo, policy, &recs[i], rows, err)) < 0)
			snprintf(err->hint, sizeof(err->hint),
				 "run `skiff fsck` for every problem; `skiff verify-ref %s` for the "
				 "record",
				 recs[i].ref);
	free(recs);
	sk_trust_free(policy);
	if (rc < 0) {
		json_decref(rows);
		return rc;
	}
	sk_cli_result(cli, json_pack("{s:o}", "releases", sorted(rows)), list_text);
	return 0;
}
