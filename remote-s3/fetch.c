/*
 * skiff fetch (see sync.h). Nothing from the remote is trusted: the trust
 * policy chain is verified forward from the local policy, each ref's head
 * record against the resulting policy (signature, role, seq memory), each
 * record chain link by link, and each object against its id before it is
 * stored. Refs move only after everything they reach is stored.
 */
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/trust.h"
#include "refs/refs.h"
#include "remote-s3/sync.h"
#include "remote-s3/walk.h"

#define FETCH_WINDOW 64
#define FETCH_OBJECT_MAX ((size_t)256 << 20)
#define TRUST_REF "refs/meta/trust"

struct fetch {
	struct sk_repo *repo;
	struct sk_remote *remote;
	const char *name; /* for refs/remotes/<name>/ */
	int reset;
	struct sk_trust *policy;
	json_t *refs;
	uint64_t objects, bytes;
};

/* --- objects ------------------------------------------------------------ */

/* Verifies one downloaded object against its id and stores it; its
 * children (for JSON types) go to kids. */
static int take_object(struct fetch *f, struct sk_remote_obj *o, int is_blob,
		       struct sk_oidset *kids, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	enum sk_otype t;
	unsigned char *payload = NULL;
	size_t len = 0;
	if (o->rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ECORRUPT, "the remote is incomplete; push it again from a "
						    "complete repository",
				  "the remote lacks object %s, which its refs reach",
				  sk_oid_tohex(&o->oid, hex));
	int rc = sk_obj_decode(o->z, o->zlen, &o->oid, &t, is_blob ? NULL : &payload,
			       is_blob ? NULL : &len, err);
	if (rc)
		return sk_err_set(err, SK_ECORRUPT, "the bucket was altered or damaged; nothing of "
						    "this object was stored",
				  "object %s from %s does not verify: %s", sk_oid_tohex(&o->oid, hex),
				  sk_remote_url(f->remote), err ? err->message : "corrupt");
	if (is_blob && t != SK_OBJ_BLOB)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "object %s should be a chunk blob",
				sk_oid_tohex(&o->oid, hex));
	if (!rc && !is_blob)
		rc = sk_walk_children(t, payload, len, kids, err);
	free(payload);
	if (!rc)
		rc = sk_odb_write_raw(sk_repo_odb(f->repo), &o->oid, o->z, o->zlen, err);
	if (!rc) {
		f->objects++;
		f->bytes += o->zlen;
	}
	return rc;
}

/* Downloads ids[0..n) (all missing locally), verifies and stores them. */
static int get_window(struct fetch *f, const struct sk_oid *ids, size_t n, int blobs,
		      struct sk_oidset *kids, struct sk_err *err)
{
	struct sk_remote_obj objs[FETCH_WINDOW];
	memset(objs, 0, sizeof(objs));
	for (size_t i = 0; i < n; i++)
		objs[i].oid = ids[i];
	int rc = sk_remote_objects_get(f->remote, objs, n, FETCH_OBJECT_MAX, err);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = take_object(f, &objs[i], blobs, kids, err);
		free(objs[i].z);
	}
	return rc;
}

/* Fetches roots and everything they reach that is not stored here, one
 * level at a time: each level's objects download in parallel (a file's
 * chunks are one level). */
static int fetch_closure(struct fetch *f, const struct sk_oidset *roots, struct sk_err *err)
{
	struct sk_oidset level = { 0 };
	int rc = 0;
	for (size_t i = 0; i < roots->n && !rc; i++)
		if (!sk_odb_exists(sk_repo_odb(f->repo), &roots->v[i]) &&
		    !sk_oidset_has(&level, &roots->v[i]))
			rc = sk_oidset_add(&level, &roots->v[i], err);
	while (!rc && level.n) {
		struct sk_oidset kids = { 0 }, next = { 0 };
		for (size_t i = 0; i < level.n && !rc; i += FETCH_WINDOW)
			rc = get_window(f, level.v + i,
					level.n - i < FETCH_WINDOW ? level.n - i : FETCH_WINDOW, 0, &kids,
					err);
		for (size_t i = 0; i < kids.n && !rc; i++)
			if (!sk_odb_exists(sk_repo_odb(f->repo), &kids.v[i]) &&
			    !sk_oidset_has(&next, &kids.v[i]))
				rc = sk_oidset_add(&next, &kids.v[i], err);
		sk_oidset_free(&kids);
		sk_oidset_free(&level);
		level = next;
	}
	sk_oidset_free(&level);
	return rc;
}

/* --- record chains ------------------------------------------------------ */

/* Downloads the record objects of ref's chain from head back to the first
 * one stored here; each is verified and linked (same ref, seq down by one).
 * *stop receives the id where the walk met the local store (has_stop 0
 * when it went back to seq 1). targets receives the new records' targets. */
static int fetch_chain(struct fetch *f, const struct sk_refrecord *head, struct sk_oidset *targets,
		       struct sk_oid *stop, int *has_stop, struct sk_err *err)
{
	struct sk_refrecord cur = *head;
	*has_stop = 0;
	int rc = cur.has_oid ? sk_oidset_add(targets, &cur.oid, err) : 0;
	while (!rc && cur.has_prev) {
		if (sk_odb_exists(sk_repo_odb(f->repo), &cur.prev)) {
			*stop = cur.prev;
			*has_stop = 1;
			return 0;
		}
		struct sk_remote_obj o = { .oid = cur.prev };
		struct sk_oidset none = { 0 };
		struct sk_refrecord older;
		unsigned char *payload = NULL;
		size_t len = 0;
		rc = sk_remote_objects_get(f->remote, &o, 1, SK_REMOTE_RECORD_MAX, err);
		if (!rc)
			rc = take_object(f, &o, 0, &none, err);
		free(o.z);
		if (!rc)
			rc = sk_odb_read(sk_repo_odb(f->repo), &cur.prev, SK_OBJ_REFRECORD, 0, NULL,
					 &payload, &len, err);
		if (!rc)
			rc = sk_refrecord_parse(&older, payload, len, err);
		free(payload);
		if (!rc && (strcmp(older.ref, cur.ref) != 0 || older.seq + 1 != cur.seq))
			rc = sk_err_set(err, SK_ECORRUPT, NULL,
					"record %llu of %s on the remote does not link to its predecessor",
					(unsigned long long)cur.seq, cur.ref);
		if (!rc && older.has_oid)
			rc = sk_oidset_add(targets, &older.oid, err);
		cur = older;
	}
	return rc;
}

/* --- one ref ------------------------------------------------------------- */

struct remote_ref {
	const char *name;
	char *bytes;
	size_t len;
	struct sk_refrecord rec;
	struct sk_oid id;
};

static int get_record(struct fetch *f, const char *name, struct remote_ref *rr,
		      struct sk_err *err)
{
	char tag[SK_REMOTE_TAG_MAX];
	memset(rr, 0, sizeof(*rr));
	rr->name = name;
	int rc = sk_remote_ref_get(f->remote, name, &rr->bytes, &rr->len, tag, err);
	if (!rc && sk_refrecord_parse(&rr->rec, rr->bytes, rr->len, err) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "remote ref %s does not hold a valid record: %s",
				name, err ? err->message : "");
	if (!rc && strcmp(rr->rec.ref, name) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, "the bucket was altered",
				"remote ref %s holds a record of %s", name, rr->rec.ref);
	if (!rc)
		sk_oid_hash(&rr->id, SK_OBJ_REFRECORD, rr->bytes, rr->len);
	return rc;
}

static int check_seq(struct fetch *f, const struct remote_ref *rr, struct sk_err *err)
{
	uint64_t seen = 0;
	int rc = sk_refs_seen_get(f->repo, sk_remote_key(f->remote), rr->name, &seen, err);
	if (!rc && rr->rec.seq < seen)
		rc = sk_err_set(err, SK_EROLLBACK,
				"the remote replays an old record: someone rolled the bucket back",
				"remote ref %s is at seq %llu, but seq %llu was seen from %s before",
				rr->name, (unsigned long long)rr->rec.seq, (unsigned long long)seen,
				sk_remote_url(f->remote));
	return rc;
}

static void tracking_name(const struct fetch *f, const char *ref, char *buf, size_t n)
{
	snprintf(buf, n, "%s%s/%s", SK_REFS_REMOTES, f->name, ref + strlen("refs/"));
}

/* Moves name to the record in rr when it is not already there. */
static int adopt(struct fetch *f, const char *name, const struct remote_ref *rr, int *moved,
		 struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int rc = sk_refs_read_record(f->repo, name, &cur, &cur_id, NULL, NULL, err);
	*moved = 0;
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		*moved = 1;
		return sk_refs_adopt(f->repo, name, rr->bytes, rr->len, NULL, err);
	}
	if (rc || sk_oid_cmp(&cur_id, &rr->id) == 0)
		return rc;
	*moved = 1;
	return sk_refs_adopt(f->repo, name, rr->bytes, rr->len, &cur_id, err);
}

struct find_ctx {
	struct sk_oid want;
	int found;
};

static int find_record(const struct sk_refrecord *r, const struct sk_oid *id, void *arg)
{
	struct find_ctx *c = arg;
	(void)r;
	if (sk_oid_cmp(id, &c->want) == 0) {
		c->found = 1;
		return 1;
	}
	return 0;
}

/* The local ref follows the remote when it is absent or behind. */
static const char *follow_local(struct fetch *f, const struct remote_ref *rr, int has_stop,
				const struct sk_oid *stop, int *rc, struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int moved = 0;
	*rc = sk_refs_read_record(f->repo, rr->name, &cur, &cur_id, NULL, NULL, err);
	if (*rc == SK_ENOTFOUND || (*rc == 0 && has_stop && sk_oid_cmp(&cur_id, stop) == 0)) {
		sk_err_clear(err);
		*rc = adopt(f, rr->name, rr, &moved, err);
		return "fast-forward";
	}
	if (*rc || sk_oid_cmp(&cur_id, &rr->id) == 0)
		return "up-to-date";
	struct find_ctx fc = { rr->id, 0 };
	if ((*rc = sk_refs_walk(f->repo, rr->name, 0, find_record, &fc, err)) != 0 || fc.found)
		return "ahead";
	if (!f->reset)
		return "diverged";
	*rc = adopt(f, rr->name, rr, &moved, err);
	return "reset";
}

static int fetch_ref(struct fetch *f, struct remote_ref *rr, struct sk_err *err)
{
	struct sk_oidset targets = { 0 };
	struct sk_oid stop;
	int has_stop = 0, moved = 0;
	int rc = sk_refs_verify_record(f->policy, &rr->rec, err);
	if (!rc)
		rc = check_seq(f, rr, err);
	if (!rc && !sk_odb_exists(sk_repo_odb(f->repo), &rr->id))
		rc = fetch_chain(f, &rr->rec, &targets, &stop, &has_stop, err);
	else if (!rc) {
		has_stop = 1;
		stop = rr->id;
	}
	if (!rc)
		rc = fetch_closure(f, &targets, err);
	sk_oidset_free(&targets);
	char tname[SK_REF_MAX + 64];
	tracking_name(f, rr->name, tname, sizeof(tname));
	if (!rc && strlen(tname) > SK_REF_MAX)
		rc = sk_err_set(err, SK_EINVAL, NULL, "%s is too long a name", tname);
	if (!rc)
		rc = adopt(f, tname, rr, &moved, err);
	const char *status = NULL;
	if (!rc && strcmp(rr->name, TRUST_REF) != 0)
		status = follow_local(f, rr, has_stop, &stop, &rc, err);
	if (!rc)
		rc = sk_refs_seen_note(f->repo, sk_remote_key(f->remote), rr->name, rr->rec.seq, err);
	if (!rc && status)
		json_array_append_new(f->refs, json_pack("{s:s, s:s, s:I}", "ref", rr->name, "status",
							 status, "seq", (json_int_t)rr->rec.seq));
	return rc ? sk_err_wrap(err, "fetching %s", rr->name) : 0;
}

/* --- the trust policy ---------------------------------------------------- */

static int load_policy(struct fetch *f, const struct sk_oid *oid, struct sk_trust **out,
		       struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(f->repo), oid, SK_OBJ_TRUST, SK_ODB_VERIFY, &doc, err);
	if (!rc)
		rc = sk_trust_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

/* Verifies the remote trust chain from the local head forward: record
 * seq k+1 must be signed by a root of the policy record k installed. */
static int verify_trust_chain(struct fetch *f, const struct remote_ref *rr,
			      const struct sk_refrecord *local, const struct sk_oid *local_id,
			      struct sk_err *err)
{
	/* Collect the new records newest first, then check oldest first. */
	struct sk_refrecord *chain = calloc(rr->rec.seq - local->seq, sizeof(*chain));
	if (!chain)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	struct sk_oidset targets = { 0 };
	struct sk_oid stop;
	int has_stop = 0;
	int rc = fetch_chain(f, &rr->rec, &targets, &stop, &has_stop, err);
	if (!rc && (!has_stop || sk_oid_cmp(&stop, local_id) != 0))
		rc = sk_err_set(err, SK_EVERIFY, "the two policies have separate histories",
				"the remote's trust policy does not descend from this repository's");
	if (!rc)
		rc = fetch_closure(f, &targets, err);
	sk_oidset_free(&targets);
	size_t n = 0;
	struct sk_refrecord cur = rr->rec;
	while (!rc && cur.seq > local->seq) {
		chain[n++] = cur;
		unsigned char *p = NULL;
		size_t len = 0;
		if (cur.seq - 1 == local->seq)
			break;
		rc = sk_odb_read(sk_repo_odb(f->repo), &cur.prev, SK_OBJ_REFRECORD, 0, NULL, &p, &len,
				 err);
		if (!rc)
			rc = sk_refrecord_parse(&cur, p, len, err);
		free(p);
	}
	struct sk_trust *prev = NULL;
	rc = rc ? rc : load_policy(f, &local->oid, &prev, err);
	for (size_t i = n; !rc && i-- > 0;) {
		rc = sk_refs_verify_record(prev, &chain[i], err);
		sk_trust_free(prev);
		prev = NULL;
		if (!rc && !chain[i].has_oid)
			rc = sk_err_set(err, SK_EVERIFY, NULL, "the remote deleted %s", TRUST_REF);
		if (!rc)
			rc = load_policy(f, &chain[i].oid, &prev, err);
	}
	free(chain);
	if (!rc) {
		sk_trust_free(f->policy);
		f->policy = prev;
	} else {
		sk_trust_free(prev);
	}
	return rc;
}

static int fetch_trust(struct fetch *f, struct sk_err *err)
{
	struct remote_ref rr;
	int rc = sk_refs_load_trust(f->repo, &f->policy, err);
	if (rc)
		return rc;
	rc = get_record(f, TRUST_REF, &rr, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		return 0;
	}
	struct sk_refrecord local;
	struct sk_oid local_id;
	if (!rc)
		rc = check_seq(f, &rr, err);
	if (!rc)
		rc = sk_refs_read_record(f->repo, TRUST_REF, &local, &local_id, NULL, NULL, err);
	const char *status = "up-to-date";
	if (!rc && sk_oid_cmp(&local_id, &rr.id) != 0) {
		struct find_ctx fc = { rr.id, 0 };
		if (rr.rec.seq > local.seq) {
			rc = verify_trust_chain(f, &rr, &local, &local_id, err);
			status = "fast-forward";
		} else if ((rc = sk_refs_walk(f->repo, TRUST_REF, 0, find_record, &fc, err)) == 0) {
			status = "ahead";
			if (!fc.found)
				rc = sk_err_set(err, SK_EVERIFY, "the two policies have separate histories",
						"the remote's trust policy does not descend from this "
						"repository's");
		}
	}
	int moved;
	char tname[SK_REF_MAX + 64];
	tracking_name(f, TRUST_REF, tname, sizeof(tname));
	if (!rc)
		rc = adopt(f, tname, &rr, &moved, err);
	if (!rc && strcmp(status, "fast-forward") == 0)
		rc = sk_refs_adopt(f->repo, TRUST_REF, rr.bytes, rr.len, &local_id, err);
	if (!rc)
		rc = sk_refs_seen_note(f->repo, sk_remote_key(f->remote), TRUST_REF, rr.rec.seq, err);
	if (!rc)
		json_array_append_new(f->refs, json_pack("{s:s, s:s, s:I}", "ref", TRUST_REF, "status",
							 status, "seq", (json_int_t)rr.rec.seq));
	free(rr.bytes);
	return rc ? sk_err_wrap(err, "fetching %s", TRUST_REF) : 0;
}

/* --- all of it ------------------------------------------------------------ */

static int fetch_run(struct fetch *f, struct sk_err *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc = fetch_trust(f, err);
	if (!rc)
		rc = sk_remote_ref_list(f->remote, &names, &n, err);
	for (size_t i = 0; !rc && i < n; i++) {
		if (strcmp(names[i], TRUST_REF) == 0 ||
		    strncmp(names[i], SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) == 0)
			continue;
		struct remote_ref rr;
		rc = get_record(f, names[i], &rr, err);
		if (!rc)
			rc = fetch_ref(f, &rr, err);
		free(rr.bytes);
	}
	sk_remote_names_free(names, n);
	return rc;
}

int sk_fetch(struct sk_repo *repo, struct sk_remote *remote, const char *name, int reset,
	     json_t **report, struct sk_err *err)
{
	struct fetch f = { .repo = repo, .remote = remote, .reset = reset, .refs = json_array() };
	f.name = name ? name : sk_remote_key(remote);
	int rc = fetch_run(&f, err);
	*report = json_pack("{s:s, s:o, s:I, s:I, s:I}", "remote", sk_remote_url(remote), "refs",
			    f.refs, "objects", (json_int_t)f.objects, "bytes", (json_int_t)f.bytes,
			    "requests", (json_int_t)sk_remote_requests(remote));
	sk_trust_free(f.policy);
	return rc;
}
