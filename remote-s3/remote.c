/*
 * The remote interface (remote.h): URL dispatch and what both kinds share.
 */
#include "remote-s3/remote_int.h"

#include <stdlib.h>
#include <string.h>

#include "refs/refs.h"
#include "remote-s3/s3.h"

static int file_path(const char *url, const char **path, struct sk_err *err)
{
	const char *p = url + strlen("file://");
	if (p[0] != '/' || p[1] == '\0')
		return sk_err_set(err, SK_EINVAL, "write file:///absolute/path/to/dir",
				  "remote URL %s: a file remote needs an absolute path", url);
	if (strstr(p, "/../") || strstr(p, "/./") || strstr(p, "//") ||
	    (strlen(p) >= 3 && strcmp(p + strlen(p) - 3, "/..") == 0))
		return sk_err_set(err, SK_EINVAL, "write the path without '.', '..' or '//'",
				  "remote URL %s: the path is not normalised", url);
	*path = p;
	return 0;
}

int sk_remote_url_check(const char *url, struct sk_err *err)
{
	if (strncmp(url, "file://", 7) == 0) {
		const char *p;
		return file_path(url, &p, err);
	}
	if (strncmp(url, "s3://", 5) == 0) {
		struct sk_s3_url u;
		int rc = sk_s3_url_parse(url, &u, err);
		if (rc == 0)
			sk_s3_url_free(&u);
		return rc;
	}
	return sk_err_set(err, SK_EINVAL,
			  "use s3://bucket/prefix?endpoint=URL&region=R or file:///path",
			  "unsupported remote URL '%.200s'", url);
}

static void url_key(const char *url, char key[18])
{
	struct sk_oid h;
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_hash(&h, SK_OBJ_BLOB, url, strlen(url));
	key[0] = 'u';
	memcpy(key + 1, sk_oid_tohex(&h, hex), 16);
	key[17] = '\0';
}

int sk_remote_open(struct sk_remote **out, const char *url, const struct sk_remote_opts *o,
		   struct sk_err *err)
{
	*out = NULL;
	int rc = sk_remote_url_check(url, err);
	if (rc)
		return rc;
	struct sk_remote *r = calloc(1, sizeof(*r));
	if (!r || !(r->url = strdup(url))) {
		free(r);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	r->jobs = o && o->jobs ? o->jobs : 16;
	url_key(url, r->key);
	if (strncmp(url, "file://", 7) == 0)
		rc = sk_remote_file_open(r, url + 7, err);
	else
		rc = sk_remote_s3_open(r, err);
	if (rc) {
		free(r->url);
		free(r);
		return rc;
	}
	*out = r;
	return 0;
}

void sk_remote_free(struct sk_remote *r)
{
	if (!r)
		return;
	if (r->ops)
		r->ops->free(r);
	for (size_t i = 0; i < r->npre; i++)
		free(r->pre[i].z);
	free(r->pre);
	free(r->url);
	free(r);
}

const char *sk_remote_url(const struct sk_remote *r) { return r->url; }
const char *sk_remote_key(const struct sk_remote *r) { return r->key; }

unsigned long sk_remote_requests(const struct sk_remote *r)
{
	return r->ops->requests ? r->ops->requests(r) : r->requests;
}

int sk_remote_ref_get(struct sk_remote *r, const char *ref, char **bytes, size_t *len,
		      char tag[SK_REMOTE_TAG_MAX], struct sk_err *err)
{
	int rc = sk_ref_name_check(ref, err);
	return rc ? rc : r->ops->ref_get(r, ref, bytes, len, tag, err);
}

int sk_remote_ref_put(struct sk_remote *r, const char *ref, const void *bytes, size_t len,
		      const char *expect_tag, char new_tag[SK_REMOTE_TAG_MAX], struct sk_err *err)
{
	char tmp[SK_REMOTE_TAG_MAX];
	int rc = sk_ref_name_check(ref, err);
	if (rc == 0 && len > SK_REMOTE_RECORD_MAX)
		rc = sk_err_set(err, SK_ETOOBIG, NULL, "record for %s is too large", ref);
	return rc ? rc : r->ops->ref_put(r, ref, bytes, len, expect_tag, new_tag ? new_tag : tmp, err);
}

int sk_remote_ref_list(struct sk_remote *r, char ***names, size_t *n, struct sk_err *err)
{
	*names = NULL;
	*n = 0;
	int rc = r->ops->ref_list(r, names, n, err);
	if (rc == 0)
		sk_remote_names_sort(*names, *n);
	return rc;
}

int sk_remote_objects_exist(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			    struct sk_err *err)
{
	return n ? r->ops->objects_exist(r, objs, n, err) : 0;
}

int sk_remote_objects_put(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			  struct sk_err *err)
{
	return n ? r->ops->objects_put(r, objs, n, err) : 0;
}

static int cmp_obj(const void *a, const void *b)
{
	return sk_oid_cmp(&((const struct sk_remote_obj *)a)->oid,
			  &((const struct sk_remote_obj *)b)->oid);
}

/* Serves objs[i] from the prefetched objects when it is there: 1. */
static int take_prefetched(struct sk_remote *r, struct sk_remote_obj *o, size_t max)
{
	struct sk_remote_obj *p = r->npre ? bsearch(o, r->pre, r->npre, sizeof(*p), cmp_obj) : NULL;
	if (!p || !p->z || p->zlen > max)
		return 0;
	o->z = p->z;
	o->zlen = p->zlen;
	o->rc = 0;
	o->present = 1;
	p->z = NULL;
	return 1;
}

int sk_remote_objects_get(struct sk_remote *r, struct sk_remote_obj *objs, size_t n, size_t max,
			  struct sk_err *err)
{
	if (!n)
		return 0;
	if (!r->npre)
		return r->ops->objects_get(r, objs, n, max, err);
	/* The rest go out in one batch; their results are copied back. */
	size_t *at = malloc(n * sizeof(*at)), m = 0;
	struct sk_remote_obj *rest = calloc(n, sizeof(*rest));
	int rc = at && rest ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; !rc && i < n; i++)
		if (!take_prefetched(r, &objs[i], max)) {
			at[m] = i;
			rest[m++].oid = objs[i].oid;
		}
	if (!rc && m)
		rc = r->ops->objects_get(r, rest, m, max, err);
	for (size_t j = 0; !rc && j < m; j++)
		objs[at[j]] = rest[j];
	for (size_t j = 0; rc && rest && j < m; j++)
		free(rest[j].z);
	free(at);
	free(rest);
	return rc;
}

int sk_remote_prefetch(struct sk_remote *r, int (*have)(const struct sk_oid *oid, void *arg),
		       void *arg, struct sk_err *err)
{
	if (!r->ops->objects_list || r->prefetched)
		return 0;
	r->prefetched = 1;
	struct sk_remote_listed *l = NULL;
	size_t n = 0, k = 0;
	uint64_t total = 0;
	int rc = r->ops->objects_list(r, &l, &n, err);
	struct sk_remote_obj *objs = rc ? NULL : calloc(n ? n : 1, sizeof(*objs));
	if (!rc && !objs)
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (size_t i = 0; !rc && i < n; i++)
		if (l[i].size <= SK_REMOTE_PREFETCH_OBJECT_MAX &&
		    total + l[i].size <= SK_REMOTE_PREFETCH_MAX && !have(&l[i].oid, arg)) {
			objs[k++].oid = l[i].oid;
			total += l[i].size;
		}
	free(l);
	if (!rc && k)
		rc = r->ops->objects_get(r, objs, k, SK_REMOTE_PREFETCH_OBJECT_MAX, err);
	/* Keep what came (an object deleted since the listing did not). */
	size_t m = 0;
	for (size_t i = 0; objs && i < k; i++) {
		if (!rc && objs[i].rc == 0 && objs[i].z)
			objs[m++] = objs[i];
		else
			free(objs[i].z);
	}
	if (rc || !m) {
		free(objs);
		return rc;
	}
	qsort(objs, m, sizeof(*objs), cmp_obj);
	r->pre = objs;
	r->npre = m;
	return 0;
}

void sk_remote_object_key(const struct sk_oid *oid, char *buf)
{
	char hex[SK_OID_HEXSZ + 1];
	sk_oid_tohex(oid, hex);
	snprintf(buf, 76, "objects/%.2s/%s", hex, hex + 2);
}

int sk_remote_names_add(char ***names, size_t *n, size_t *cap, const char *name,
			struct sk_err *err)
{
	if (*n == *cap) {
		size_t nc = *cap ? *cap * 2 : 64;
		char **nn = realloc(*names, nc * sizeof(*nn));
		if (!nn)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		*names = nn;
		*cap = nc;
	}
	if (!((*names)[*n] = strdup(name)))
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	(*n)++;
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void sk_remote_names_sort(char **names, size_t n)
{
	if (n > 1)
		qsort(names, n, sizeof(*names), cmp_names);
}

void sk_remote_names_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
