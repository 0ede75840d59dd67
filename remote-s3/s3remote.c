/*
 * s3:// remotes: the remote interface on the S3 client. Objects go up
 * with If-None-Match: * (a 412 means the object is already there, which
 * for content-addressed bytes is success); refs move with If-Match on the
 * ETag that was read, or If-None-Match: * to create.
 */
#include "remote-s3/remote_int.h"

#include <stdlib.h>
#include <string.h>

#include "refs/refs.h"
#include "remote-s3/s3.h"

static struct sk_s3 *client(struct sk_remote *r) { return r->impl; }

static int s_ref_get(struct sk_remote *r, const char *ref, char **bytes, size_t *len,
		     char *tag, struct sk_err *err)
{
	struct sk_s3_meta meta;
	unsigned char *data = NULL;
	int rc = sk_s3_get(client(r), ref, SK_REMOTE_RECORD_MAX, &data, len, &meta, err);
	if (rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "%s has no ref %s", r->url, ref);
	if (rc == SK_ETOOBIG)
		return sk_err_set(err, SK_ECORRUPT, NULL, "remote ref %s is larger than any record",
				  ref);
	if (rc)
		return rc;
	*bytes = (char *)data;
	snprintf(tag, SK_REMOTE_TAG_MAX, "%s", meta.etag);
	return 0;
}

static int s_ref_put(struct sk_remote *r, const char *ref, const void *bytes, size_t len,
		     const char *expect, char *new_tag, struct sk_err *err)
{
	struct sk_s3_meta meta;
	int rc = sk_s3_put(client(r), ref, bytes, len, expect ? SK_S3_IF_MATCH : SK_S3_IF_ABSENT,
			   expect, &meta, err);
	if (rc == SK_ECONFLICT)
		return sk_err_set(err, SK_ECONFLICT, "fetch, then push again",
				  expect ? "remote ref %s moved since it was read"
					 : "remote ref %s already exists",
				  ref);
	if (rc == 0)
		snprintf(new_tag, SK_REMOTE_TAG_MAX, "%s", meta.etag);
	return rc;
}

static int s_ref_list(struct sk_remote *r, char ***names, size_t *n, struct sk_err *err)
{
	struct sk_s3_list l = { NULL, 0 };
	size_t cap = 0;
	int rc = sk_s3_list(client(r), "refs/", 0, 0, &l, err);
	for (size_t i = 0; rc == 0 && i < l.n; i++) {
		struct sk_err ignore;
		if (sk_ref_name_check(l.entries[i].key, &ignore) == 0)
			rc = sk_remote_names_add(names, n, &cap, l.entries[i].key, err);
	}
	sk_s3_list_free(&l);
	return rc;
}

/* Runs one request per object; keys live in one array beside them. */
static int run_objects(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
		       enum sk_s3_method m, size_t max, struct sk_s3_req **out,
		       struct sk_err *err)
{
	struct sk_s3_req *reqs = calloc(n, sizeof(*reqs));
	char (*keys)[80] = calloc(n, sizeof(*keys));
	if (!reqs || !keys) {
		free(reqs);
		free(keys);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		sk_remote_object_key(&objs[i].oid, keys[i]);
		reqs[i].method = m;
		reqs[i].key = keys[i];
		reqs[i].body = objs[i].z;
		reqs[i].body_len = objs[i].zlen;
		reqs[i].cond = SK_S3_IF_ABSENT;
		reqs[i].max_bytes = max;
	}
	struct sk_err ignore;
	/* Per-request results are inspected by the caller: a missing object
	 * or an object already present is not a failure of the batch. */
	sk_s3_run(client(r), reqs, n, r->jobs, &ignore);
	free(keys);
	for (size_t i = 0; i < n; i++)
		reqs[i].key = NULL;
	*out = reqs;
	return 0;
}

static int first_failure(struct sk_remote *r, struct sk_s3_req *reqs, size_t n, int ok_code,
			 struct sk_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (reqs[i].rc && reqs[i].rc != ok_code) {
			if (err)
				*err = reqs[i].err;
			return reqs[i].rc;
		}
	return 0;
}

static int s_objects_exist(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			   struct sk_err *err)
{
	struct sk_s3_req *reqs;
	int rc = run_objects(r, objs, n, SK_S3_HEAD, 0, &reqs, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		objs[i].present = reqs[i].rc == 0;
		objs[i].rc = reqs[i].rc == SK_ENOTFOUND ? 0 : reqs[i].rc;
	}
	rc = first_failure(r, reqs, n, SK_ENOTFOUND, err);
	free(reqs);
	return rc;
}

static int s_objects_put(struct sk_remote *r, struct sk_remote_obj *objs, size_t n,
			 struct sk_err *err)
{
	struct sk_s3_req *reqs;
	int rc = run_objects(r, objs, n, SK_S3_PUT, 0, &reqs, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		objs[i].present = reqs[i].rc == SK_ECONFLICT;
		objs[i].rc = reqs[i].rc == SK_ECONFLICT ? 0 : reqs[i].rc;
	}
	rc = first_failure(r, reqs, n, SK_ECONFLICT, err);
	free(reqs);
	return rc;
}

static int s_objects_get(struct sk_remote *r, struct sk_remote_obj *objs, size_t n, size_t max,
			 struct sk_err *err)
{
	struct sk_s3_req *reqs;
	int rc = run_objects(r, objs, n, SK_S3_GET, max, &reqs, err);
	if (rc)
		return rc;
	for (size_t i = 0; i < n; i++) {
		objs[i].rc = reqs[i].rc;
		objs[i].z = reqs[i].data;
		objs[i].zlen = reqs[i].len;
		objs[i].present = reqs[i].rc == 0;
	}
	rc = first_failure(r, reqs, n, SK_ENOTFOUND, err);
	if (rc == SK_ETOOBIG)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "a remote object is larger than its cap");
	free(reqs);
	return rc;
}

/* "objects/ab/<62 hex>" → its id; -1 for any other key. */
static int object_key_oid(const char *key, struct sk_oid *oid)
{
	char hex[SK_OID_HEXSZ + 1];
	struct sk_err ignore;
	if (strlen(key) != 11 + SK_OID_HEXSZ - 2 || strncmp(key, "objects/", 8) != 0 || key[10] != '/')
		return -1;
	memcpy(hex, key + 8, 2);
	memcpy(hex + 2, key + 11, SK_OID_HEXSZ - 2);
	hex[SK_OID_HEXSZ] = '\0';
	return sk_oid_fromhex(oid, hex, &ignore) == 0 ? 0 : -1;
}

/* Sixteen listings in parallel, one per first hex digit of the ids. */
static int s_objects_list(struct sk_remote *r, struct sk_remote_listed **out, size_t *n,
			  struct sk_err *err)
{
	char names[16][16];
	const char *prefixes[16];
	struct sk_s3_list ls[16];
	for (int i = 0; i < 16; i++) {
		snprintf(names[i], sizeof(names[i]), "objects/%x", i);
		prefixes[i] = names[i];
	}
	*out = NULL;
	*n = 0;
	/* a million objects at most: beyond that a listing costs more
	 * round trips than it can save */
	int rc = sk_s3_list_many(client(r), prefixes, 16, 0, 1000000 / 16, ls, err);
	if (rc)
		return rc;
	size_t total = 0;
	for (int i = 0; i < 16; i++)
		total += ls[i].n;
	*out = calloc(total ? total : 1, sizeof(**out));
	if (!*out)
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	for (int i = 0; i < 16; i++) {
		for (size_t j = 0; !rc && j < ls[i].n; j++)
			if (object_key_oid(ls[i].entries[j].key, &(*out)[*n].oid) == 0)
				(*out)[(*n)++].size = ls[i].entries[j].size;
		sk_s3_list_free(&ls[i]);
	}
	return rc;
}

static unsigned long s_requests(const struct sk_remote *r)
{
	return sk_s3_requests(r->impl);
}

static void s_free(struct sk_remote *r)
{
	sk_s3_free(r->impl);
}

static const struct sk_remote_ops s3_ops = {
	s_ref_get, s_ref_put, s_ref_list, s_objects_exist, s_objects_put, s_objects_get, s_requests,
	s_free, s_objects_list,
};

int sk_remote_s3_open(struct sk_remote *r, struct sk_err *err)
{
	struct sk_s3_opts o = { .jobs = r->jobs };
	struct sk_s3 *c = NULL;
	int rc = sk_s3_new(&c, r->url, &o, err);
	if (rc)
		return rc;
	r->impl = c;
	r->ops = &s3_ops;
	return 0;
}
