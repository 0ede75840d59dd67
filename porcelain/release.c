/*
 * skiff release create | extract. create compiles a spec, stores the
 * artifacts as chunked `file` objects and writes the `release` object
 * that names them. Every check that can fail on the inputs (usage, names,
 * version, spec, source commit, an existing release ref, opening each
 * artifact) runs before the first chunk is stored, so bad input leaves
 * the object store as it was. Create writes no ref: a release becomes a
 * name only when it is signed. extract takes a release by object id only
 * (the id is the integrity check until signed refs exist) and leaves the
 * verifying write to sk_file_extract.
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
#include "porcelain/porcelain.h"
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

/* Releases never move: a version that already has a ref (even a deleted
 * one) cannot be created again. */
static int check_unreleased(struct sk_repo *repo, const struct create_args *a,
			    struct sk_err *err)
{
	char ref[256];
	snprintf(ref, sizeof(ref), "refs/releases/%s/%s", a->service, a->version);
	struct sk_refrecord rec;
	int rc = sk_refs_read(repo, ref, &rec, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	return sk_err_set(err, SK_EEXISTS, "a release never moves: create a new version",
			  "release %s %s already exists (%s)", a->service, a->version, ref);
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

static const char *human(uint64_t n, char *buf, size_t len)
{
	static const char *const units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
	double v = (double)n;
	size_t u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	if (u == 0)
		snprintf(buf, len, "%" PRIu64 " B", n);
	else
		snprintf(buf, len, "%.1f %s", v, units[u]);
	return buf;
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
			human(jint(a, "size"), b1, sizeof(b1)),
			json_string_value(json_object_get(a, "sha256")),
			json_string_value(json_object_get(a, "file")));
		uint64_t chunks = jint(a, "chunks");
		fprintf(out, "          %" PRIu64 " chunk%s, %s new, %s deduplicated\n", chunks,
			chunks == 1 ? "" : "s", human(jint(a, "bytes_new"), b2, sizeof(b2)),
			human(jint(a, "bytes_deduplicated"), b3, sizeof(b3)));
	}
	fprintf(out, "stored    %s new, %s deduplicated\n",
		human(jint(r, "bytes_new"), b1, sizeof(b1)),
		human(jint(r, "bytes_deduplicated"), b2, sizeof(b2)));
	fprintf(out, "next: skiff release sign %s %s --release %s\n", svc, ver,
		json_string_value(json_object_get(r, "release")));
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
	sk_cli_result(cli, r, create_text);
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
	if ((rc = compile_spec(a->spec, &spec, err)) < 0 ||
	    (rc = preflight(a, spec, &src, err)) < 0 ||
	    (rc = check_unreleased(cli->repo, a, err)) < 0)
		goto out;
	for (size_t i = 0; i < a->n; i++)
		if ((rc = open_artifact(&a->arts[i], err)) < 0)
			goto out;
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

/* --- release extract RELEASE-OID NAME DEST ----------------------------- */

/* The release object by id or id prefix only: a ref would name a release
 * without its signature being checked, which waits for release sign. */
static int load_release(struct sk_odb *odb, const char *name, struct sk_oid *oid,
			struct sk_release **out, struct sk_err *err)
{
	if (!sk_oid_is_prefix(name))
		return sk_err_set(err, SK_EINVAL,
				  "give the release's object id (or 8+ hex digits of it); "
				  "extracting by SERVICE VERSION comes with release signing",
				  "'%s' is not a release object id", name);
	json_t *doc = NULL;
	int rc = sk_odb_resolve_prefix(odb, name, oid, err);
	if (rc == 0)
		rc = sk_odb_read_json(odb, oid, SK_OBJ_RELEASE, SK_ODB_VERIFY, &doc, err);
	if (rc == 0 && (rc = sk_release_from_json(out, doc, err)) < 0) {
		char hex[SK_OID_HEXSZ + 1];
		rc = sk_err_wrap(err, "release %s", sk_oid_tohex(oid, hex));
	}
	json_decref(doc);
	return rc;
}

static json_t *names_json(const struct sk_release *r)
{
	json_t *a = json_array();
	for (size_t i = 0; i < r->nartifacts; i++)
		json_array_append_new(a, sk_json_str(r->artifacts[i].name));
	return a;
}

/* The file object must be the one the release describes: same size and
 * whole-artifact digest (sk_file_extract then checks the bytes). */
static int check_file(struct sk_odb *odb, const struct sk_release_artifact *ra,
		      struct sk_err *err)
{
	struct sk_file *f = NULL;
	int rc = sk_file_read(odb, &ra->file, &f, err);
	if (rc == 0 && (f->size != ra->size || memcmp(f->sha256, ra->sha256, 32) != 0))
		rc = sk_err_set(err, SK_ECORRUPT, "run skiff fsck",
				"artifact %s: file object does not match the release's size and digest",
				ra->name);
	sk_file_free(f);
	return rc;
}

static void extract_text(FILE *out, const json_t *r)
{
	char b[32];
	fprintf(out, "extracted %s (%s, sha256 %s) to %s\n",
		json_string_value(json_object_get(r, "name")), human(jint(r, "size"), b, sizeof(b)),
		json_string_value(json_object_get(r, "sha256")),
		json_string_value(json_object_get(r, "dest")));
}

static int extract(struct sk_cli *cli, const struct sk_release *r, const struct sk_oid *oid,
		   const char *name, const char *dest, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(cli->repo);
	const struct sk_release_artifact *ra = sk_release_artifact(r, name);
	if (!ra) {
		json_decref(cli->error_details);
		cli->error_details = json_pack("{s:o}", "artifacts", names_json(r));
		return sk_err_set(err, SK_ENOTFOUND, "the release's artifacts are listed in the error",
				  "release %s %s has no artifact '%s'", r->service, r->version, name);
	}
	int rc = check_file(odb, ra, err);
	if (rc == 0)
		rc = sk_file_extract(odb, &ra->file, dest, err);
	if (rc < 0)
		return rc;
	char hex[65];
	sk_hex(ra->sha256, 32, hex);
	sk_cli_result(cli,
		      json_pack("{s:o, s:s, s:s, s:s, s:s, s:I, s:s, s:o}", "release",
				sk_json_oid(oid), "service", r->service, "version", r->version,
				"name", ra->name, "dest", dest, "size", (json_int_t)ra->size,
				"sha256", hex, "file", sk_json_oid(&ra->file)),
		      extract_text);
	return 0;
}

int cmd_release_extract(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 4 || argv[1][0] == '-' || argv[2][0] == '-')
		return sk_cli_usage(cli, err, "release extract takes RELEASE-OID, NAME and DEST");
	struct sk_oid oid;
	struct sk_release *r = NULL;
	int rc = load_release(sk_repo_odb(cli->repo), argv[1], &oid, &r, err);
	if (rc == 0)
		rc = extract(cli, r, &oid, argv[2], argv[3], err);
	sk_release_free(r);
	return rc;
}
