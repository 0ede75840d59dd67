/*
 * skiff release create | extract. create compiles a spec, stores the
 * artifacts as chunked `file` objects and writes the `release` object
 * that names them. Every check that can fail on the inputs (usage, names,
 * version, spec, source commit, an existing release ref, opening each
 * artifact, and with --sign the identity and its role) runs before the
 * first chunk is stored, so bad input leaves the object store as it was.
 * Without --sign, create writes no ref: the release is recorded in the
 * pending index (release_common.h) for `release sign SERVICE VERSION`.
 * extract takes a signed release by SERVICE VERSION (signature and role
 * checked first, as release verify does) or any release by object id (the
 * id is the integrity check), and leaves the verifying write to
 * sk_file_extract.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/file.h"
#include "objects/release.h"
#include "objects/spec.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "porcelain/release_common.h"
#include "refs/refs.h"

struct artifact_arg {
	const char *name; /* points into argv (the '=' overwritten) */
	const char *path;
	int fd;
};

struct create_args {
	const char *service, *spec, *version, *commit;
	struct artifact_arg arts[SK_RELEASE_MAX_ARTIFACTS];
	size_t n;
	int sign;
};

static int add_artifact(struct sk_cli *cli, struct create_args *a, char *arg,
			struct sk_err *err)
{
	char *eq = strchr(arg, '=');
	if (!eq)
		return sk_cli_usage(cli, err, "--artifact takes NAME=PATH, not '%s'", arg);
	if (a->n == SK_RELEASE_MAX_ARTIFACTS)
		return sk_err_set(err, SK_EINVAL, NULL, "more than %d artifacts",
				  SK_RELEASE_MAX_ARTIFACTS);
	*eq = '\0';
	int rc = sk_spec_component_check(arg, SK_ARTIFACT_NAME_MAX, "artifact name", err);
	if (rc < 0)
		return rc;
	if (!eq[1])
		return sk_cli_usage(cli, err, "--artifact %s= has no PATH", arg);
	for (size_t i = 0; i < a->n; i++)
		if (strcmp(a->arts[i].name, arg) == 0)
			return sk_err_set(err, SK_EINVAL, "give each artifact a distinct NAME",
					  "artifact name '%s' is given twice", arg);
	a->arts[a->n++] = (struct artifact_arg){ arg, eq + 1, -1 };
	return 0;
}

static int parse_create(struct sk_cli *cli, int argc, char **argv, struct create_args *a,
			struct sk_err *err)
{
	static const struct option lo[] = {
		{ "spec", required_argument, NULL, 's' },
		{ "version", required_argument, NULL, 'v' },
		{ "artifact", required_argument, NULL, 'a' },
		{ "source-commit", required_argument, NULL, 'c' },
		{ "sign", no_argument, NULL, 'S' },
		{ 0, 0, 0, 0 },
	};
	int c, rc;
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c == 's')
			a->spec = optarg;
		else if (c == 'v')
			a->version = optarg;
		else if (c == 'c')
			a->commit = optarg;
		else if (c == 'S')
			a->sign = 1;
		else if (c == 'a') {
			if ((rc = add_artifact(cli, a, optarg, err)) < 0)
				return rc;
		} else
			return sk_cli_usage(cli, err, "unknown or incomplete option '%s'",
					    argv[optind - 1]);
	}
	if (argc - optind != 1 || !a->spec || !a->version)
		return sk_cli_usage(cli, err, "release create takes SERVICE, --spec FILE and --version V");
	a->service = argv[optind];
	if ((rc = sk_spec_component_check(a->service, SK_SPEC_NAME_MAX, "service", err)) < 0)
		return rc;
	return sk_release_version_check(a->version, err);
}

static int compile_spec(const char *path, json_t **spec, struct sk_err *err)
{
	char *buf = NULL;
	size_t len = 0;
	int rc = sk_fs_read_file(path, SK_SPEC_MAX, &buf, &len, err);
	if (rc == SK_ETOOBIG)
		return sk_err_set(err, SK_EINVAL, "a spec is a short file; check the path",
				  "spec %s is larger than %u bytes", path, SK_SPEC_MAX);
	if (rc < 0)
		return sk_err_wrap(err, "spec");
	rc = sk_spec_compile(path, buf, len, spec, err);
	free(buf);
	return rc;
}

/* The release as it would be built, with placeholder digests: names,
 * version, service match and source commit fail here, before any store. */
static int preflight(const struct create_args *a, const json_t *spec,
		     const struct sk_release_source *src, struct sk_err *err)
{
	struct sk_release_artifact arts[SK_RELEASE_MAX_ARTIFACTS];
	memset(arts, 0, sizeof(arts));
	for (size_t i = 0; i < a->n; i++)
		snprintf(arts[i].name, sizeof(arts[i].name), "%s", a->arts[i].name);
	json_t *doc = NULL;
	int rc = sk_release_build(&doc, a->service, a->version, spec, arts, a->n, src, err);
	json_decref(doc);
	return rc;
}

/* --sign: the identity must be able to sign this version, checked before
 * anything is stored (sk_rel_sign checks it again, under the ref's lock). */
static int check_signer(struct sk_cli *cli, const struct create_args *a, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_trust *policy = NULL;
	int rc = sk_rel_ref(ref, sizeof(ref), a->service, a->version, err);
	if (rc == 0)
		rc = sk_refs_load_trust(cli->repo, &policy, err);
	if (rc == 0)
		rc = sk_refs_check_role(policy, sk_key_id(cli->key), ref, err);
	sk_trust_free(policy);
	return rc;
}

static int open_artifact(struct artifact_arg *art, struct sk_err *err)
{
	art->fd = open(art->path, O_RDONLY | O_CLOEXEC);
	if (art->fd < 0) {
		sk_err_errno(err, errno, "cannot open", art->path);
		snprintf(err->hint, sizeof(err->hint), "check the PATH of --artifact %s=PATH",
			 art->name);
		return sk_err_wrap(err, "artifact %s", art->name);
	}
	struct stat st;
	if (fstat(art->fd, &st) < 0) {
		sk_err_errno(err, errno, "cannot stat", art->path);
		return sk_err_wrap(err, "artifact %s", art->name);
	}
	if (S_ISDIR(st.st_mode))
		return sk_err_set(err, SK_EINVAL, "an artifact is one file; archive a directory first",
				  "artifact %s: %s is a directory", art->name, art->path);
	return 0;
}

static json_t *artifact_json(const struct sk_release_artifact *ra, const struct sk_file_stats *st)
{
	char hex[65];
	sk_hex(ra->sha256, 32, hex);
	return json_pack("{s:s, s:I, s:s, s:o, s:I, s:I, s:I}", "name", ra->name, "size",
			 (json_int_t)ra->size, "sha256", hex, "file", sk_json_oid(&ra->file),
			 "bytes_new", (json_int_t)st->new_bytes, "bytes_deduplicated",
			 (json_int_t)st->dedup_bytes, "chunks", (json_int_t)st->chunks);
}

/* Stores every (already opened) artifact; out_arts gets one entry each
 * for the JSON result. */
static int store_artifacts(struct sk_odb *odb, struct create_args *a,
			   struct sk_release_artifact *arts, json_t *out_arts, struct sk_err *err)
{
	for (size_t i = 0; i < a->n; i++) {
		struct sk_file_stats st;
		memset(&st, 0, sizeof(st));
		snprintf(arts[i].name, sizeof(arts[i].name), "%s", a->arts[i].name);
		int rc = sk_file_store(odb, a->arts[i].fd, &st, &arts[i].file, arts[i].sha256, err);
		if (rc < 0)
			return sk_err_wrap(err, "artifact %s (%s)", a->arts[i].name, a->arts[i].path);
		arts[i].size = st.bytes;
		json_array_append_new(out_arts, artifact_json(&arts[i], &st));
	}
	return 0;
}

static uint64_t jint(const json_t *o, const char *k)
{
	return (uint64_t)json_integer_value(json_object_get(o, k));
}

static void create_text(FILE *out, const json_t *r)
{
	char b1[32], b2[32], b3[32];
	const char *svc = json_string_value(json_object_get(r, "service"));
	const char *ver = json_string_value(json_object_get(r, "version"));
	fprintf(out, "release   %s\nservice   %s\nversion   %s\n",
		json_string_value(json_object_get(r, "release")), svc, ver);
	size_t i;
	json_t *a;
	json_array_foreach(json_object_get(r, "artifacts"), i, a) {
		fprintf(out, "artifact  %-16s %10s  sha256 %.16s…  file %.16s…\n",
			json_string_value(json_object_get(a, "name")),
			sk_rel_human_size(jint(a, "size"), b1, sizeof(b1)),
			json_string_value(json_object_get(a, "sha256")),
			json_string_value(json_object_get(a, "file")));
		uint64_t chunks = jint(a, "chunks");
		fprintf(out, "          %" PRIu64 " chunk%s, %s new, %s deduplicated\n", chunks,
			chunks == 1 ? "" : "s", sk_rel_human_size(jint(a, "bytes_new"), b2, sizeof(b2)),
			sk_rel_human_size(jint(a, "bytes_deduplicated"), b3, sizeof(b3)));
	}
	fprintf(out, "stored    %s new, %s deduplicated\n",
		sk_rel_human_size(jint(r, "bytes_new"), b1, sizeof(b1)),
		sk_rel_human_size(jint(r, "bytes_deduplicated"), b2, sizeof(b2)));
	const json_t *sig = json_object_get(r, "signature");
	if (json_is_object(sig)) {
		fprintf(out, "signed    by %s (%s)\nref       %s\nsignature %s\n",
			json_string_value(json_object_get(sig, "signer_name")),
			json_string_value(json_object_get(sig, "signer")),
			json_string_value(json_object_get(sig, "ref")),
			json_string_value(json_object_get(sig, "oid")));
		fprintf(out, "next: skiff release verify %s %s\n", svc, ver);
	} else if (jint(r, "pending") > 1) {
		fprintf(out, "note: %" PRIu64 " unsigned releases of %s %s exist; name this one\n",
			jint(r, "pending"), svc, ver);
		fprintf(out, "next: skiff release sign %s %s --release %s\n", svc, ver,
			json_string_value(json_object_get(r, "release")));
	} else {
		fprintf(out, "next: skiff release sign %s %s\n", svc, ver);
	}
}

/* Records the new release as pending, then with --sign signs it. A
 * signing failure now leaves a complete, unsigned release that
 * `release sign SERVICE VERSION` can sign later; the message says so. */
static int record_release(struct sk_cli *cli, const struct create_args *a,
			  const struct sk_oid *oid, json_t *r, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	size_t pending = 0;
	int rc = sk_rel_pending_add(cli->repo, a->service, a->version, oid, &pending, err);
	if (rc == 0 && !a->sign)
		json_object_set_new(r, "pending", sk_json_int((long long)pending));
	json_t *sig = NULL;
	if (rc == 0 && a->sign &&
	    (rc = sk_rel_sign(cli->repo, cli->key, a->service, a->version, oid, &sig, err)) < 0)
		sk_err_wrap(err, "release %s was stored but not signed", sk_oid_tohex(oid, hex));
	json_object_set_new(r, "signed", json_boolean(sig != NULL));
	json_object_set_new(r, "signature", sig ? sk_rel_signature_json(sig) : json_null());
	json_decref(sig);
	return rc;
}

static int write_release(struct sk_cli *cli, const struct create_args *a, const json_t *spec,
			 const struct sk_release_artifact *arts,
			 const struct sk_release_source *src, json_t *out_arts, struct sk_err *err)
{
	json_t *doc = NULL;
	struct sk_oid oid;
	int rc = sk_release_build(&doc, a->service, a->version, spec, arts, a->n, src, err);
	if (rc == 0)
		rc = sk_odb_write_json(sk_repo_odb(cli->repo), SK_OBJ_RELEASE, doc, &oid, err);
	json_decref(doc);
	if (rc < 0)
		return rc;
	uint64_t new_bytes = 0, dedup = 0;
	size_t i;
	json_t *o;
	json_array_foreach(out_arts, i, o) {
		new_bytes += jint(o, "bytes_new");
		dedup += jint(o, "bytes_deduplicated");
	}
	json_t *r = json_pack("{s:o, s:s, s:s, s:O, s:I, s:I}", "release", sk_json_oid(&oid),
			      "service", a->service, "version", a->version, "artifacts", out_arts,
			      "bytes_new", (json_int_t)new_bytes, "bytes_deduplicated",
			      (json_int_t)dedup);
	if ((rc = record_release(cli, a, &oid, r, err)) < 0) {
		json_decref(r);
		return rc;
	}
	sk_cli_result(cli, r, create_text);
	return 0;
}

/* --dry-run: the artifacts are read, chunked and hashed as create would
 * (sk_file_plan), so the digests, the release id and what would be new
 * against this store are exact; nothing is stored or recorded. */
static int create_dry_run(struct sk_cli *cli, struct create_args *a, const json_t *spec,
			  struct sk_release_artifact *arts, const struct sk_release_source *src,
			  struct sk_err *err)
{
	json_t *out_arts = json_array(), *doc = NULL;
	uint64_t new_bytes = 0, dedup = 0, new_chunks = 0;
	int rc = 0;
	for (size_t i = 0; i < a->n && !rc; i++) {
		struct sk_file_stats st;
		memset(&st, 0, sizeof(st));
		snprintf(arts[i].name, sizeof(arts[i].name), "%s", a->arts[i].name);
		rc = sk_file_plan(sk_repo_odb(cli->repo), a->arts[i].fd, &st, &arts[i].file,
				  arts[i].sha256, err);
		if (rc < 0) {
			sk_err_wrap(err, "artifact %s (%s)", a->arts[i].name, a->arts[i].path);
			break;
		}
		arts[i].size = st.bytes;
		new_bytes += st.new_bytes;
		dedup += st.dedup_bytes;
		new_chunks += st.new_chunks;
		json_array_append_new(out_arts, artifact_json(&arts[i], &st));
	}
	struct sk_oid oid;
	if (!rc)
		rc = sk_release_build(&doc, a->service, a->version, spec, arts, a->n, src, err);
	if (!rc)
		rc = sk_dry_json_oid(SK_OBJ_RELEASE, doc, &oid, err);
	json_decref(doc);
	if (rc) {
		json_decref(out_arts);
		return rc;
	}
	char detail[SK_ERR_MSG], b1[32], b2[32], hex[SK_OID_HEXSZ + 1], ref[SK_REF_MAX + 1];
	json_t *plan = sk_dry_plan("release create", a->service), *s;
	s = sk_dry_step(plan, "store-objects", "low", 0, NULL);
	snprintf(detail, sizeof(detail), "release %.16s…: %llu new chunk%s, %s new, %s deduplicated",
		 sk_oid_tohex(&oid, hex), (unsigned long long)new_chunks, new_chunks == 1 ? "" : "s",
		 sk_rel_human_size(new_bytes, b1, sizeof(b1)), sk_rel_human_size(dedup, b2, sizeof(b2)));
	json_object_set_new(s, "detail", sk_json_str(detail));
	if (!a->sign) {
		s = sk_dry_step(plan, "record-pending", "none", 1, NULL);
		snprintf(detail, sizeof(detail), "for: skiff release sign %s %s", a->service, a->version);
		json_object_set_new(s, "detail", sk_json_str(detail));
	} else if ((rc = sk_rel_ref(ref, sizeof(ref), a->service, a->version, err)) == 0) {
		char name[SK_REF_MAX + 16];
		snprintf(name, sizeof(name), "create-ref %s", ref);
		sk_dry_step(plan, "write-signature", "low", 1, NULL);
		s = sk_dry_step(plan, name, "medium", 0, NULL);
		json_object_set_new(s, "ref", sk_json_str(ref));
		json_object_set_new(s, "old", json_null());
		json_object_set_new(s, "detail", sk_json_str("create-only: a release never moves"));
	}
	if (rc) {
		json_decref(plan);
		json_decref(out_arts);
		return rc;
	}
	sk_dry_result(cli, plan,
		      json_pack("{s:o, s:s, s:s, s:o, s:I, s:I, s:I, s:b}", "release",
				sk_json_oid(&oid), "service", a->service, "version", a->version,
				"artifacts", out_arts, "bytes_new", (json_int_t)new_bytes,
				"bytes_deduplicated", (json_int_t)dedup, "chunks_new",
				(json_int_t)new_chunks, "sign", a->sign));
	return 0;
}

static int create(struct sk_cli *cli, struct create_args *a, struct sk_err *err)
{
	json_t *spec = NULL, *out_arts = json_array();
	struct sk_release_source src = { a->commit, NULL };
	struct sk_release_artifact *arts = calloc(a->n ? a->n : 1, sizeof(*arts));
	if (!arts || !out_arts)
		abort();
	int rc;
	if ((a->sign && (rc = sk_cli_load_identity(cli, err)) < 0) ||
	    (rc = compile_spec(a->spec, &spec, err)) < 0 ||
	    (rc = preflight(a, spec, &src, err)) < 0 ||
	    (rc = sk_rel_check_unsigned(cli->repo, a->service, a->version, err)) < 0 ||
	    (a->sign && (rc = check_signer(cli, a, err)) < 0))
		goto out;
	for (size_t i = 0; i < a->n; i++)
		if ((rc = open_artifact(&a->arts[i], err)) < 0)
			goto out;
	if (cli->dry_run) {
		rc = create_dry_run(cli, a, spec, arts, &src, err);
		goto out;
	}
	if ((rc = store_artifacts(sk_repo_odb(cli->repo), a, arts, out_arts, err)) < 0)
		goto out;
	rc = write_release(cli, a, spec, arts, &src, out_arts, err);
out:
	json_decref(out_arts);
	json_decref(spec);
	free(arts);
	return rc;
}

int cmd_release_create(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct create_args a;
	memset(&a, 0, sizeof(a));
	int rc = parse_create(cli, argc, argv, &a, err);
	if (rc == 0)
		rc = create(cli, &a, err);
	for (size_t i = 0; i < a.n; i++)
		if (a.arts[i].fd >= 0)
			close(a.arts[i].fd);
	return rc;
}

/* --- release extract (SERVICE VERSION | RELEASE-OID) NAME DEST -------- */

/* The release object by id or id prefix: the id is the integrity check,
 * and no signature is claimed. */
static int load_by_oid(struct sk_odb *odb, const char *name, struct sk_oid *oid,
		       struct sk_release **out, struct sk_err *err)
{
	if (!sk_oid_is_prefix(name))
		return sk_err_set(err, SK_EINVAL,
				  "give the release's object id (or 8+ hex digits of it), "
				  "or SERVICE VERSION NAME DEST for a signed release",
				  "'%s' is not a release object id", name);
	int rc = sk_odb_resolve_prefix(odb, name, oid, err);
	if (rc == 0)
		rc = sk_rel_read(odb, oid, NULL, NULL, out, err);
	return rc;
}

static json_t *names_json(const struct sk_release *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nartifacts; i++)
		json_array_append_new(a, sk_json_str(r->artifacts[i].name));
	return a;
}

static void extract_text(FILE *out, const json_t *r)
{
	char b[32];
	fprintf(out, "extracted %s (%s, sha256 %s) to %s\n",
		json_string_value(json_object_get(r, "name")), sk_rel_human_size(jint(r, "size"), b, sizeof(b)),
		json_string_value(json_object_get(r, "sha256")),
		json_string_value(json_object_get(r, "dest")));
	if (json_is_true(json_object_get(r, "signed")))
		fprintf(out, "release %s %s %.16s…, signed by %s (%s)\n",
			json_string_value(json_object_get(r, "service")),
			json_string_value(json_object_get(r, "version")),
			json_string_value(json_object_get(r, "release")),
			json_string_value(json_object_get(r, "signer_name")),
			json_string_value(json_object_get(r, "signer")));
}

/* sig: the verified signature when the release was named by SERVICE
 * VERSION, NULL when by id. */
static int extract(struct sk_cli *cli, const struct sk_release *r, const struct sk_oid *oid,
		   const char *name, const char *dest, const struct sk_rel_signed *sig,
		   struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	const struct sk_release_artifact *ra = sk_release_artifact(r, name);
	if (!ra) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:o}", "artifacts", names_json(r));
		return sk_err_set(err, SK_ENOTFOUND, "the release's artifacts are listed in the error",
				  "release %s %s has no artifact '%s'", r->service, r->version, name);
	}
	/* the release (id-checked or signed) names the file object: its
	 * absence is damage, not a wrong argument */
	int rc = sk_rel_check_file(odb, ra, err);
	if (rc < 0)
		return rc;
	if ((rc = sk_file_extract(odb, &ra->file, dest, err)) < 0)
		return rc;
	char hex[65];
	sk_hex(ra->sha256, 32, hex);
	json_t *res = json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:s, s:o, s:b}", "release",
				sk_json_oid(oid), "service", r->service, "version", r->version,
				"name", ra->name, "dest", dest, "size", (json_int_t)ra->size,
				"sha256", hex, "file", sk_json_oid(&ra->file), "signed", sig != NULL);
	if (sig) {
		json_object_set_new(res, "signer", sk_json_str(sig->sig.signer));
		json_object_set_new(res, "signer_name", sk_json_str(sig->signer_name));
	}
	sk_cli_result(cli, res, extract_text);
	return 0;
}

/* Four operands name a signed release (SERVICE VERSION NAME DEST), three
 * a release object (RELEASE-OID NAME DEST): no operand is optional, so
 * the count alone tells the forms apart. */
int cmd_release_extract(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if ((argc != 4 && argc != 5) || argv[1][0] == '-' || argv[2][0] == '-' ||
	    (argc == 5 && argv[3][0] == '-'))
		return sk_cli_usage(cli, err, "release extract takes SERVICE VERSION NAME DEST "
				    "or RELEASE-OID NAME DEST");
	struct sk_oid oid;
	struct sk_release *r = NULL;
	struct sk_rel_signed sig;
	int rc;
	if (argc == 5 && (rc = sk_rel_load_signed(cli->repo, argv[1], argv[2], &sig, &r, err)) == 0)
		oid = sig.sig.release;
	if (argc == 4)
		rc = load_by_oid(sk_repo_odb(cli->repo), argv[1], &oid, &r, err);
	if (rc == 0)
		rc = extract(cli, r, &oid, argv[argc - 2], argv[argc - 1], argc == 5 ? &sig : NULL,
			     err);
	sk_release_free(r);
	return rc;
}
