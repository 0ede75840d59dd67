/*
 * --direct (see direct.h): a cache repository whose refs and objects come
 * from a remote, verified on the way in.
 */
#include "remote-s3/direct.h"

#include <stdlib.h>
#include <string.h>

#include "common/fs.h"
#include "refs/refs.h"
#include "remote-s3/remote.h"
#include "remote-s3/sync.h"

#define DIRECT_OBJECT_MAX ((size_t)256 << 20)
#define MAX_REFS_TOUCHED 4096

struct seen_ref {
	char *name;
	int rc;
};

struct sk_direct {
	struct sk_remote *remote;
	struct sk_repo *repo;
	struct seen_ref refs[MAX_REFS_TOUCHED];
	size_t nrefs;
	int local_only; /* while pushing: reads see the cache's own refs */
};

static char *cache_dir(const char *key)
{
	const char *env = getenv("SKIFF_CACHE_DIR"), *xdg = getenv("XDG_CACHE_HOME");
	char *base;
	if (env && *env)
		base = strdup(env);
	else if (xdg && *xdg)
		base = sk_path_join(xdg, "skiff/direct");
	else {
		const char *home = getenv("HOME");
		char *h = sk_path_join(home && *home ? home : "/tmp", ".cache");
		base = sk_path_join(h, "skiff/direct");
		free(h);
	}
	char *dir = sk_path_join(base, key);
	free(base);
	return dir;
}

static struct seen_ref *find_seen(struct sk_direct *d, const char *name)
{
	for (size_t i = 0; i < d->nrefs; i++)
		if (strcmp(d->refs[i].name, name) == 0)
			return &d->refs[i];
	return NULL;
}

/* Registered before the work (rc 0): mirroring reads the ref itself. */
static struct seen_ref *add_seen(struct sk_direct *d, const char *name, struct sk_err *err)
{
	if (d->nrefs == MAX_REFS_TOUCHED) {
		sk_err_set(err, SK_ETOOBIG, NULL, "too many refs for one direct command");
		return NULL;
	}
	struct seen_ref *s = &d->refs[d->nrefs];
	if (!(s->name = strdup(name))) {
		sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		return NULL;
	}
	s->rc = 0;
	d->nrefs++;
	return s;
}

/* The ref hook: once per process (or refresh) and name, mirror the
 * remote's record. */
static int direct_ref(void *ctx, struct sk_repo *repo, const char *name, struct sk_err *err)
{
	struct sk_direct *d = ctx;
	if (d->local_only)
		return 0;
	struct seen_ref *s = find_seen(d, name);
	if (s && s->rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "%s has no ref %s",
				  sk_remote_url(d->remote), name);
	if (s)
		return s->rc;
	if (!(s = add_seen(d, name, err)))
		return err ? err->code : SK_ENOMEM;
	s->rc = sk_fetch_mirror_ref(repo, d->remote, name, err);
	return s->rc;
}

/* The object hook: fetch, verify against the id, store. */
static int direct_object(void *ctx, const struct sk_oid *oid, struct sk_err *err)
{
	struct sk_direct *d = ctx;
	struct sk_remote_obj o = { .oid = *oid };
	char hex[SK_OID_HEXSZ + 1];
	int rc = sk_remote_objects_get(d->remote, &o, 1, DIRECT_OBJECT_MAX, err);
	if (!rc && o.rc == SK_ENOTFOUND)
		rc = SK_ENOTFOUND;
	if (!rc && sk_obj_decode(o.z, o.zlen, oid, NULL, NULL, NULL, err) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, "the bucket was altered or damaged",
				"object %s from %s does not verify", sk_oid_tohex(oid, hex),
				sk_remote_url(d->remote));
	if (!rc)
		rc = sk_odb_write_raw(sk_repo_odb(d->repo), oid, o.z, o.zlen, err);
	free(o.z);
	return rc;
}

static int open_cache(struct sk_direct *d, const char *at, struct sk_err *err)
{
	char *dir = at ? strdup(at) : cache_dir(sk_remote_key(d->remote));
	if (!dir)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	char *skiff = sk_path_join(dir, ".skiff");
	int rc = sk_fs_exists(skiff) ? sk_repo_open(&d->repo, dir, err)
				     : sk_repo_init(&d->repo, dir, NULL, err);
	if (rc == SK_EEXISTS) /* another direct command made it meanwhile */
		rc = sk_repo_open(&d->repo, dir, err);
	if (rc)
		sk_err_wrap(err, "direct cache %s", dir);
	free(skiff);
	free(dir);
	return rc;
}

int sk_direct_open(struct sk_direct **out, const char *url, unsigned jobs, struct sk_err *err)
{
	return sk_direct_open_at(out, url, NULL, jobs, err);
}

int sk_direct_open_at(struct sk_direct **out, const char *url, const char *dir, unsigned jobs,
		      struct sk_err *err)
{
	*out = NULL;
	struct sk_direct *d = calloc(1, sizeof(*d));
	if (!d)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	struct sk_remote_opts o = { .jobs = jobs };
	int rc = sk_remote_open(&d->remote, url, &o, err);
	if (!rc)
		rc = open_cache(d, dir, err);
	if (rc) {
		sk_direct_free(d);
		return rc;
	}
	struct sk_repo_source src = { direct_ref, d };
	sk_repo_set_source(d->repo, &src);
	sk_odb_set_miss(sk_repo_odb(d->repo), direct_object, d);
	*out = d;
	return 0;
}

void sk_direct_free(struct sk_direct *d)
{
	if (!d)
		return;
	for (size_t i = 0; i < d->nrefs; i++)
		free(d->refs[i].name);
	sk_repo_free(d->repo);
	sk_remote_free(d->remote);
	free(d);
}

struct sk_repo *sk_direct_repo(struct sk_direct *d) { return d->repo; }

unsigned long sk_direct_requests(const struct sk_direct *d)
{
	return sk_remote_requests(d->remote);
}

int sk_direct_mirror_all(struct sk_direct *d, struct sk_err *err)
{
	char **names = NULL;
	size_t n = 0;
	struct sk_refrecord rec;
	int rc = sk_remote_ref_list(d->remote, &names, &n, err);
	for (size_t i = 0; !rc && i < n; i++)
		rc = sk_refs_read(d->repo, names[i], &rec, err);
	sk_remote_names_free(names, n);
	return rc;
}

void sk_direct_refresh(struct sk_direct *d)
{
	for (size_t i = 0; i < d->nrefs; i++)
		free(d->refs[i].name);
	d->nrefs = 0;
}

int sk_direct_sync_ref(struct sk_direct *d, const char *name, struct sk_err *err)
{
	struct seen_ref *s = find_seen(d, name);
	if (!s && !(s = add_seen(d, name, err)))
		return err ? err->code : SK_ENOMEM;
	s->rc = 0;
	int rc = sk_fetch_mirror_ref(d->repo, d->remote, name, err);
	if (rc == SK_ENOTFOUND) { /* never written there: the cache's own stands */
		sk_err_clear(err);
		rc = 0;
	}
	s->rc = rc;
	return rc;
}

int sk_direct_push_ref(struct sk_direct *d, const char *name, struct sk_err *err)
{
	char *patterns[1] = { (char *)name };
	json_t *report = NULL;
	/* push lists the cache's refs: none of them is to be mirrored now */
	d->local_only = 1;
	int rc = sk_push(d->repo, d->remote, patterns, 1, &report, err);
	d->local_only = 0;
	json_t *ref = json_array_get(json_object_get(report, "refs"), 0);
	const char *why = json_string_value(json_object_get(ref, "reason"));
	if (rc == SK_ECONFLICT && why)
		sk_err_set(err, SK_ECONFLICT, NULL, "%s on %s: %s", name, sk_remote_url(d->remote),
			   why);
	json_decref(report);
	return rc;
}
