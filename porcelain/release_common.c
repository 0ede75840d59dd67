/*
 * Shared by the release commands; see release_common.h. The trust
 * decisions are the library's (refs/: sk_refs_verify, sk_refs_check_role;
 * objects/: sk_signature_verify); this file only strings them together
 * in the one order every reader of a release uses.
 */
#include "porcelain/release_common.h"

#include <dirent.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "objects/spec.h"

int sk_rel_check_unsigned(struct sk_repo *repo, const char *service, const char *version,
			  struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_refrecord rec;
	int rc = sk_rel_ref(ref, sizeof(ref), service, version, err);
	if (rc == 0)
		rc = sk_refs_read(repo, ref, &rec, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		return 0;
	}
	if (rc < 0)
		return rc;
	return sk_err_set(err, SK_EEXISTS, "a release never moves: create a new version",
			  "release %s %s already exists (%s)", service, version, ref);
}

/* --- signing ------------------------------------------------------------ */

/* The signed document, its canonical bytes and id (nothing written). */
static int build_signature(const struct sk_key *key, const struct sk_oid *rel, int64_t now,
			   char **bytes, size_t *len, struct sk_oid *oid, struct sk_err *err)
{
	struct sk_signature s;
	memset(&s, 0, sizeof(s));
	s.release = *rel;
	snprintf(s.signer, sizeof(s.signer), "%s", sk_key_id(key));
	s.time = now;
	char *msg = NULL;
	size_t mlen = 0;
	int rc = sk_signature_message(&s, &msg, &mlen, err);
	if (rc < 0)
		return rc;
	rc = sk_key_sign(key, SK_SIGN_DOMAIN_SIGNATURE, msg, mlen, s.sig);
	free(msg);
	if (rc < 0)
		return sk_err_set(err, rc, NULL, "signing the release failed");
	s.has_sig = 1;
	json_t *doc = sk_signature_to_json(&s, 1);
	rc = sk_cjson_dump(doc, bytes, len, err);
	json_decref(doc);
	if (rc == 0)
		sk_oid_hash(oid, SK_OBJ_SIGNATURE, *bytes, *len);
	return rc;
}

static int already_signed(int rc, const char *service, const char *version, const char *ref,
			  struct sk_err *err)
{
	if (rc == SK_ECONFLICT || rc == SK_EEXISTS)
		return sk_err_set(err, SK_EEXISTS, "a release never moves: create a new version",
				  "release %s %s is already signed (%s)", service, version, ref);
	return rc;
}

/* The plan runs with the release as a stand-in target (it exists; the
 * signature does not yet): names, role and create-only are checked
 * before anything is written. */
int sk_rel_sign_check(struct sk_repo *repo, const struct sk_key *key, const char *service,
		      const char *version, const struct sk_oid *rel, struct sk_err *err)
{
	char ref[SK_REF_MAX + 1];
	struct sk_release *r = NULL;
	int rc = sk_rel_ref(ref, sizeof(ref), service, version, err);
	if (rc == 0)
		rc = sk_rel_read(sk_repo_odb(repo), rel, service, version, &r, err);
	sk_release_free(r);
	if (rc == 0) /* a deleted release ref counts too: a version is signed once */
		rc = sk_rel_check_unsigned(repo, service, version, err);
	struct sk_ref_update up = { .ref = ref, .new_oid = *rel, .expect = SK_EXPECT_ABSENT };
	if (rc == 0)
		rc = sk_refs_update_plan(repo, key, &up, 1, NULL, err);
	return already_signed(rc, service, version, ref, err);
}

int sk_rel_sign(struct sk_repo *repo, const struct sk_key *key, const char *service,
		const char *version, const struct sk_oid *rel, json_t **result, struct sk_err *err)
{
	struct sk_odb *odb = sk_repo_odb(repo);
	char ref[SK_REF_MAX + 1];
	struct sk_oid sig_oid = { { 0 } };
	char *bytes = NULL;
	size_t len = 0;
	int64_t now = (int64_t)time(NULL);
	*result = NULL;
	int rc = sk_rel_ref(ref, sizeof(ref), service, version, err);
	if (rc == 0)
		rc = sk_rel_sign_check(repo, key, service, version, rel, err);
	if (rc < 0)
		return rc;
	rc = build_signature(key, rel, now, &bytes, &len, &sig_oid, err);
	if (rc == 0)
		rc = sk_odb_write(odb, SK_OBJ_SIGNATURE, bytes, len, &sig_oid, err);
	free(bytes);
	struct sk_ref_update up = { .ref = ref, .new_oid = sig_oid, .expect = SK_EXPECT_ABSENT };
	if (rc == 0)
		rc = sk_refs_update(repo, key, &up, 1, NULL, err);
	if (rc < 0)
		return already_signed(rc, service, version, ref, err);
	sk_rel_pending_clear(repo, service, version);
	*result = json_pack("{s:s, s:s, s:s, s:o, s:o, s:s, s:s, s:I}", "service", service,
			    "version", version, "ref", ref, "signature", sk_json_oid(&sig_oid),
			    "release", sk_json_oid(rel), "signer", sk_key_id(key), "signer_name",
			    sk_key_name(key), "time", (json_int_t)now);
	if (!*result)
		abort();
	return 0;
}

json_t *sk_rel_signature_json(const json_t *r)
{
	json_t *o = json_pack("{s:O, s:O, s:O, s:O, s:O}", "oid", json_object_get(r, "signature"),
			      "ref", json_object_get(r, "ref"), "signer", json_object_get(r, "signer"),
			      "signer_name", json_object_get(r, "signer_name"), "time",
			      json_object_get(r, "time"));
	if (!o)
		abort();
	return o;
}

json_t *sk_rel_signed_json(const struct sk_rel_signed *s)
{
	json_t *o = json_pack("{s:o, s:s, s:s, s:s, s:I}", "oid", sk_json_oid(&s->sig_oid), "ref",
			      s->ref, "signer", s->sig.signer, "signer_name", s->signer_name, "time",
			      (json_int_t)s->sig.time);
	if (!o)
		abort();
	return o;
}

/* --- the pending index --------------------------------------------------- */

static char *pending_dir(struct sk_repo *repo, const char *service, const char *version)
{
	size_t n = strlen(sk_repo_path(repo)) + strlen(service) + strlen(version) + 32;
	char *p = malloc(n);
	if (!p)
		abort();
	snprintf(p, n, "%s/pending/releases/%s/%s", sk_repo_path(repo), service, version);
	return p;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The release ids pending for the version, sorted (a new JSON array). A
 * name that is not an object id (a writer's temp file) is skipped. */
static int pending_list(struct sk_repo *repo, const char *service, const char *version,
			json_t **out, struct sk_err *err)
{
	char *dir = pending_dir(repo, service, version);
	DIR *d = opendir(dir);
	*out = json_array();
	if (!*out)
		abort();
	if (!d) {
		int e = errno, rc = 0;
		if (e != ENOENT)
			rc = sk_err_errno(err, e, "cannot read", dir);
		free(dir);
		return rc;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct dirent *de;
	struct sk_oid oid;
	while ((de = readdir(d)) != NULL) {
		if (strlen(de->d_name) != SK_OID_HEXSZ || sk_oid_fromhex(&oid, de->d_name, NULL) < 0)
			continue;
		if (n == cap && !(names = realloc(names, (cap = cap ? 2 * cap : 4) * sizeof(*names))))
			abort();
		if (!(names[n++] = strdup(de->d_name)))
			abort();
	}
	closedir(d);
	free(dir);
	if (n)
		qsort(names, n, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < n; i++) {
		json_array_append_new(*out, sk_json_str(names[i]));
		free(names[i]);
	}
	free(names);
	return 0;
}

int sk_rel_pending_add(struct sk_repo *repo, const char *service, const char *version,
		       const struct sk_oid *oid, size_t *count, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 2];
	char *dir = pending_dir(repo, service, version);
	/* a crash may lose a fresh directory entry: the index is a cache,
	 * and --release names the release without it */
	int rc = sk_fs_mkdirs(dir, 0, err);
	if (rc == 0) {
		char *path = sk_path_join(dir, sk_oid_tohex(oid, hex));
		strcat(hex, "\n");
		rc = sk_fs_write_new(path, hex, SK_OID_HEXSZ + 1, 0644, err);
		if (rc == SK_EEXISTS) {
			sk_err_clear(err);
			rc = 0;
		}
		free(path);
	}
	free(dir);
	json_t *list = NULL;
	if (rc == 0 && count && (rc = pending_list(repo, service, version, &list, err)) == 0)
		*count = json_array_size(list);
	json_decref(list);
	return rc;
}

int sk_rel_pending_find(struct sk_repo *repo, const char *service, const char *version,
			struct sk_oid *out, json_t **candidates, struct sk_err *err)
{
	json_t *list = NULL;
	if (candidates)
		*candidates = NULL;
	int rc = pending_list(repo, service, version, &list, err);
	if (rc < 0)
		return rc;
	size_t n = json_array_size(list);
	if (n == 1)
		rc = sk_oid_fromhex(out, json_string_value(json_array_get(list, 0)), err);
	else if (n == 0)
		rc = sk_err_set(err, SK_ENOTFOUND,
				"create it with skiff release create, or pass --release OID",
				"no unsigned release %s %s was created in this repository", service,
				version);
	else
		rc = sk_err_set(err, SK_EAMBIGUOUS,
				"pass --release OID with the id to sign (the error lists them)",
				"%zu unsigned releases %s %s were created in this repository", n,
				service, version);
	if (rc == SK_EAMBIGUOUS && candidates)
		*candidates = json_incref(list);
	json_decref(list);
	return rc;
}

void sk_rel_pending_clear(struct sk_repo *repo, const char *service, const char *version)
{
	char *dir = pending_dir(repo, service, version);
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && (de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0)
			continue;
		char *p = sk_path_join(dir, de->d_name);
		unlink(p);
		free(p);
	}
	if (d)
		closedir(d);
	rmdir(dir);
	char *slash = strrchr(dir, '/');
	*slash = '\0';
	rmdir(dir); /* the service's directory, when now empty */
	free(dir);
}

const char *sk_rel_human_size(uint64_t n, char *buf, size_t len)
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
