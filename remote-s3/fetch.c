/*
 * skiff fetch (see sync.h). Nothing from the remote is trusted: the trust
 * policy chain is verified forward from the local policy, each ref's head
 * record against the resulting policy (signature, role, seq memory), each
 * record chain link by link, and each object against its id before it is
 * stored. Refs move only after everything they reach is stored.
 *
 * An object stored here implies that everything it reaches is stored too
 * (local writers store children first). Fetch keeps that true, so that a
 * fetch cut short -- by a corrupt object, a dropped connection, a kill --
 * leaves nothing that a later fetch would take as complete and skip:
 * objects that reach nothing are stored as they arrive; the others, and
 * the record chains, are held in memory and stored children first once
 * everything they reach is stored.
 *
 * A dry run (sk_fetch_plan) goes through the same steps, but "storing"
 * keeps the verified bytes in memory (struct dry), every lookup of the
 * local store looks there too, ref moves are noted instead of made, and
 * artifact chunks are counted from their file objects, not downloaded.
 */
#include <stdlib.h>
#include <string.h>

#include "objects/cjson.h"
#include "objects/file.h"
#include "objects/trust.h"
#include "refs/refs.h"
#include "remote-s3/sync.h"
#include "remote-s3/walk.h"

#define FETCH_WINDOW 64
#define FETCH_OBJECT_MAX ((size_t)256 << 20)
#define TRUST_REF "refs/meta/trust"
/* A record chain comes one round trip per link; after this many, fetch
 * lists the remote once and takes its small objects in parallel
 * (sk_remote_prefetch). */
#define PREFETCH_AFTER 16

struct fetch {
	struct sk_repo *repo;
	struct sk_remote *remote;
	const char *name; /* for refs/remotes/<name>/ */
	int reset;
	struct sk_trust *policy;
	json_t *refs;
	uint64_t objects, bytes;
	int may_list;       /* fetch may list the bucket; --direct may not */
	unsigned links;     /* records downloaded one by one so far */
	struct dry *dry;    /* sk_fetch_plan: what would be stored; NULL otherwise */
};

/* A dry run's store: objects verified and "stored" (bytes kept, in
 * memory), chunks counted, ref moves noted. */
struct dry {
	struct sk_oidset ids;
	struct { unsigned char *z; size_t zlen; } *v; /* parallel to ids */
	size_t cap;
	struct sk_oidset chunks;
	uint64_t chunk_bytes;
	json_t *moves;
};

static void dry_free(struct dry *d)
{
	for (size_t i = 0; i < d->ids.n; i++)
		free(d->v[i].z);
	free(d->v);
	sk_oidset_free(&d->ids);
	sk_oidset_free(&d->chunks);
	json_decref(d->moves);
}

static long dry_find(const struct dry *d, const struct sk_oid *oid)
{
	for (size_t i = d ? d->ids.n : 0; i-- > 0;)
		if (sk_oid_cmp(&d->ids.v[i], oid) == 0)
			return (long)i;
	return -1;
}

/* Stored here, or (dry run) as good as stored. */
static int have(struct fetch *f, const struct sk_oid *oid)
{
	return sk_odb_exists(sk_repo_odb(f->repo), oid) || dry_find(f->dry, oid) >= 0;
}

static int dry_store(struct dry *d, const struct sk_oid *oid, const void *z, size_t zlen,
		     struct sk_err *err)
{
	if (d->ids.n == d->cap) {
		size_t nc = d->cap ? d->cap * 2 : 64;
		void *nv = realloc(d->v, nc * sizeof(*d->v));
		if (!nv)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		d->v = nv;
		d->cap = nc;
	}
	unsigned char *copy = malloc(zlen ? zlen : 1);
	if (!copy)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	memcpy(copy, z, zlen);
	int rc = sk_oidset_add(&d->ids, oid, err);
	if (rc) {
		free(copy);
		return rc;
	}
	d->v[d->ids.n - 1].z = copy;
	d->v[d->ids.n - 1].zlen = zlen;
	return 0;
}

/* sk_odb_read of an object stored here or (dry run) held in memory. */
static int read_obj(struct fetch *f, const struct sk_oid *oid, enum sk_otype expect,
		    unsigned char **payload, size_t *len, struct sk_err *err)
{
	long i = dry_find(f->dry, oid);
	if (i < 0 || sk_odb_exists(sk_repo_odb(f->repo), oid))
		return sk_odb_read(sk_repo_odb(f->repo), oid, expect, 0, NULL, payload, len, err);
	enum sk_otype t;
	int rc = sk_obj_decode(f->dry->v[i].z, f->dry->v[i].zlen, oid, &t, payload, len, err);
	if (!rc && t != expect) {
		free(*payload);
		*payload = NULL;
		rc = sk_err_set(err, SK_EINVAL, NULL, "object is a %s, not a %s", sk_otype_name(t),
				sk_otype_name(expect));
	}
	return rc;
}

/* Moves ref name to rr's record; expect is the current record's id (NULL:
 * the ref is absent), cur that record. A dry run notes the move. */
struct remote_ref;
static int move_ref(struct fetch *f, const char *name, const struct remote_ref *rr,
		    const struct sk_refrecord *cur, const struct sk_oid *expect,
		    struct sk_err *err);

/* --- objects ------------------------------------------------------------ */

/* A verified object waiting for what it reaches to be stored. */
struct held {
	struct sk_oid oid;
	unsigned char *z;
	size_t zlen;
	struct sk_oidset kids; /* those missing here when it arrived */
	int stored;
};

struct heldset {
	struct held *v;
	size_t n, cap;
};

static void heldset_free(struct heldset *h)
{
	for (size_t i = 0; i < h->n; i++) {
		free(h->v[i].z);
		sk_oidset_free(&h->v[i].kids);
	}
	free(h->v);
	memset(h, 0, sizeof(*h));
}

/* Verifies downloaded bytes against the id they were asked for. The
 * message is copied first: err is both the source and the target. */
static int verify_object(struct fetch *f, const struct sk_remote_obj *o, enum sk_otype *t,
			 unsigned char **payload, size_t *len, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1], why[SK_ERR_MSG];
	if (o->rc == SK_ENOTFOUND)
		return sk_err_set(err, SK_ECORRUPT, "the remote is incomplete; push it again from a "
						    "complete repository",
				  "the remote lacks object %s, which its refs reach",
				  sk_oid_tohex(&o->oid, hex));
	int rc = sk_obj_decode(o->z, o->zlen, &o->oid, t, payload, len, err);
	if (rc) {
		snprintf(why, sizeof(why), "%s", err ? err->message : "corrupt");
		return sk_err_set(err, SK_ECORRUPT, "the bucket was altered or damaged; nothing of "
						    "this object was stored",
				  "object %s from %s does not verify: %s", sk_oid_tohex(&o->oid, hex),
				  sk_remote_url(f->remote), why);
	}
	return 0;
}

static int store(struct fetch *f, const struct sk_oid *oid, const void *z, size_t zlen,
		 struct sk_err *err)
{
	int rc = f->dry ? dry_store(f->dry, oid, z, zlen, err)
			: sk_odb_write_raw(sk_repo_odb(f->repo), oid, z, zlen, err);
	if (!rc) {
		f->objects++;
		f->bytes += zlen;
	}
	return rc;
}

/* Dry run: the chunks of a file object that are not stored here are
 * counted, with their sizes, as what fetch would download. */
static int dry_count_chunks(struct fetch *f, const unsigned char *payload, size_t len,
			    struct sk_err *err)
{
	json_t *doc = NULL;
	struct sk_file *file = NULL;
	int rc = sk_cjson_parse(payload, len, &doc, err);
	if (!rc)
		rc = sk_file_from_json(&file, doc, err);
	json_decref(doc);
	for (size_t i = 0; !rc && i < file->nchunks; i++) {
		const struct sk_file_chunk *c = &file->chunks[i];
		if (sk_odb_exists(sk_repo_odb(f->repo), &c->oid) ||
		    sk_oidset_has(&f->dry->chunks, &c->oid))
			continue;
		rc = sk_oidset_add(&f->dry->chunks, &c->oid, err);
		f->dry->chunk_bytes += c->size;
	}
	sk_file_free(file);
	return rc;
}

/* Takes one downloaded object: verified; stored at once when it reaches
 * nothing missing here, else held (owning o->z). Its missing children
 * go to kids. */
static int take_object(struct fetch *f, struct sk_remote_obj *o, struct heldset *held,
		       struct sk_oidset *kids, struct sk_err *err)
{
	enum sk_otype t;
	unsigned char *payload = NULL;
	size_t len = 0;
	struct sk_oidset mine = { 0 }, missing = { 0 };
	int rc = verify_object(f, o, &t, &payload, &len, err);
	if (!rc && f->dry && t == SK_OBJ_FILE)
		rc = dry_count_chunks(f, payload, len, err); /* and download none */
	else if (!rc)
		rc = sk_walk_children(t, payload, len, &mine, err);
	free(payload);
	for (size_t i = 0; !rc && i < mine.n; i++)
		if (!have(f, &mine.v[i]))
			rc = sk_oidset_add(&missing, &mine.v[i], err);
	sk_oidset_free(&mine);
	for (size_t i = 0; !rc && i < missing.n; i++)
		if (!sk_oidset_has(kids, &missing.v[i]))
			rc = sk_oidset_add(kids, &missing.v[i], err);
	if (!rc && missing.n == 0)
		rc = store(f, &o->oid, o->z, o->zlen, err);
	else if (!rc && held->n == held->cap) {
		size_t nc = held->cap ? held->cap * 2 : 64;
		struct held *nv = realloc(held->v, nc * sizeof(*nv));
		if (!nv)
			rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		else {
			held->v = nv;
			held->cap = nc;
		}
	}
	if (!rc && missing.n) {
		held->v[held->n++] = (struct held){ o->oid, o->z, o->zlen, missing, 0 };
		o->z = NULL;
		return 0;
	}
	sk_oidset_free(&missing);
	return rc;
}

/* Downloads ids[0..n) (all missing here) and takes each. */
static int get_window(struct fetch *f, const struct sk_oid *ids, size_t n, struct heldset *held,
		      struct sk_oidset *kids, struct sk_err *err)
{
	struct sk_remote_obj objs[FETCH_WINDOW];
	memset(objs, 0, sizeof(objs));
	for (size_t i = 0; i < n; i++)
		objs[i].oid = ids[i];
	int rc = sk_remote_objects_get(f->remote, objs, n, FETCH_OBJECT_MAX, err);
	for (size_t i = 0; i < n; i++) {
		if (!rc)
			rc = take_object(f, &objs[i], held, kids, err);
		free(objs[i].z);
	}
	return rc;
}

/* Stores the held objects children first: passes newest-found first (the
 * usual order of a DAG found level by level), each storing those whose
 * children are all stored now. Ids are verified, so there is no cycle; a
 * pass without progress would mean a child that never arrived. */
static int store_held(struct fetch *f, struct heldset *held, struct sk_err *err)
{
	size_t left = held->n;
	int rc = 0;
	while (!rc && left) {
		size_t before = left;
		for (size_t i = held->n; !rc && i-- > 0;) {
			struct held *h = &held->v[i];
			size_t k = 0;
			while (!h->stored && k < h->kids.n && have(f, &h->kids.v[k]))
				k++;
			if (h->stored || k < h->kids.n)
				continue;
			rc = store(f, &h->oid, h->z, h->zlen, err);
			h->stored = 1;
			left--;
		}
		if (!rc && left == before)
			rc = sk_err_set(err, SK_ECORRUPT, NULL,
					"objects from %s reach objects that never arrived",
					sk_remote_url(f->remote));
	}
	return rc;
}

/* Fetches roots and everything they reach that is not stored here, one
 * level at a time: each level's objects download in parallel (a file's
 * chunks are one level). */
static int fetch_closure(struct fetch *f, const struct sk_oidset *roots, struct sk_err *err)
{
	struct sk_oidset level = { 0 }, seen = { 0 };
	struct heldset held = { 0 };
	int rc = 0;
	for (size_t i = 0; i < roots->n && !rc; i++)
		if (!have(f, &roots->v[i]) && !sk_oidset_has(&level, &roots->v[i]))
			rc = sk_oidset_add(&level, &roots->v[i], err);
	while (!rc && level.n) {
		struct sk_oidset kids = { 0 }, next = { 0 };
		for (size_t i = 0; i < level.n && !rc; i++)
			rc = sk_oidset_add(&seen, &level.v[i], err);
		for (size_t i = 0; i < level.n && !rc; i += FETCH_WINDOW)
			rc = get_window(f, level.v + i,
					level.n - i < FETCH_WINDOW ? level.n - i : FETCH_WINDOW, &held,
					&kids, err);
		for (size_t i = 0; i < kids.n && !rc; i++)
			if (!sk_oidset_has(&seen, &kids.v[i]) && !have(f, &kids.v[i]))
				rc = sk_oidset_add(&next, &kids.v[i], err);
		sk_oidset_free(&kids);
		sk_oidset_free(&level);
		level = next;
	}
	if (!rc)
		rc = store_held(f, &held, err);
	heldset_free(&held);
	sk_oidset_free(&level);
	sk_oidset_free(&seen);
	return rc;
}

/* --- record chains ------------------------------------------------------ */

/* The records of a chain below its head, newest first; z (when not NULL)
 * is a downloaded record not stored yet. */
struct link {
	struct sk_refrecord rec;
	struct sk_oid id;
	unsigned char *z;
	size_t zlen;
};

struct chain {
	struct link *v;
	size_t n, cap;
};

static void chain_free(struct chain *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->v[i].z);
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static int have_object(const struct sk_oid *oid, void *repo)
{
	return sk_odb_exists(sk_repo_odb(repo), oid);
}

/* A long chain ahead: prefetch. Its failure costs only speed. */
static void prefetch_maybe(struct fetch *f)
{
	struct sk_err ignore;
	if (f->may_list && ++f->links == PREFETCH_AFTER)
		sk_remote_prefetch(f->remote, have_object, f->repo, &ignore);
}

/* The record id from the local store, or downloaded and verified. */
static int get_link(struct fetch *f, const struct sk_oid *id, int *stored, struct link *l,
		    struct sk_err *err)
{
	unsigned char *payload = NULL;
	size_t len = 0;
	enum sk_otype t = SK_OBJ_REFRECORD;
	char hex[SK_OID_HEXSZ + 1];
	int rc;
	memset(l, 0, sizeof(*l));
	l->id = *id;
	*stored = have(f, id);
	if (*stored) {
		rc = read_obj(f, id, SK_OBJ_REFRECORD, &payload, &len, err);
	} else {
		struct sk_remote_obj o = { .oid = *id };
		prefetch_maybe(f);
		rc = sk_remote_objects_get(f->remote, &o, 1, SK_REMOTE_RECORD_MAX, err);
		if (!rc)
			rc = verify_object(f, &o, &t, &payload, &len, err);
		if (!rc && t != SK_OBJ_REFRECORD)
			rc = sk_err_set(err, SK_ECORRUPT, "the bucket was altered",
					"object %s on the remote should be a ref record",
					sk_oid_tohex(id, hex));
		if (!rc) {
			l->z = o.z;
			l->zlen = o.zlen;
		} else {
			free(o.z);
		}
	}
	if (!rc)
		rc = sk_refrecord_parse(&l->rec, payload, len, err);
	free(payload);
	if (rc) {
		free(l->z);
		l->z = NULL;
	}
	return rc;
}

/* Gathers the records of head's chain below it, down to seq floor + 1:
 * with through_local 0 it stops at the first record stored here (which
 * reaches everything older); with 1 it goes on through stored records
 * (the trust chain, checked link by link from floor). Each record must
 * link to the next (same ref, seq up by one; the id is its hash).
 * targets receives what the records point at. */
static int fetch_chain(struct fetch *f, const struct sk_refrecord *head, uint64_t floor,
		       int through_local, struct chain *c, struct sk_oidset *targets,
		       struct sk_err *err)
{
	struct sk_refrecord cur = *head;
	int rc = cur.has_oid ? sk_oidset_add(targets, &cur.oid, err) : 0;
	while (!rc && cur.has_prev && cur.seq > floor + 1) {
		if (!through_local && have(f, &cur.prev))
			break;
		if (c->n == c->cap) {
			size_t nc = c->cap ? c->cap * 2 : 16;
			struct link *nv = realloc(c->v, nc * sizeof(*nv));
			if (!nv)
				return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
			c->v = nv;
			c->cap = nc;
		}
		int stored;
		struct link *l = &c->v[c->n];
		rc = get_link(f, &cur.prev, &stored, l, err);
		if (rc)
			break;
		c->n++;
		if (strcmp(l->rec.ref, cur.ref) != 0 || l->rec.seq + 1 != cur.seq)
			rc = sk_err_set(err, SK_ECORRUPT, "the bucket was altered",
					"record %llu of %s on the remote does not link to its predecessor",
					(unsigned long long)cur.seq, cur.ref);
		if (!rc && l->rec.has_oid)
			rc = sk_oidset_add(targets, &l->rec.oid, err);
		cur = l->rec;
	}
	return rc;
}

/* Stores the downloaded records of c oldest first (after their targets). */
static int store_chain(struct fetch *f, struct chain *c, struct sk_err *err)
{
	int rc = 0;
	for (size_t i = c->n; !rc && i-- > 0;)
		if (c->v[i].z)
			rc = store(f, &c->v[i].id, c->v[i].z, c->v[i].zlen, err);
	return rc;
}

/* Whether the chain below head (stored here) holds record want at seq. */
static int chain_reaches(struct fetch *f, const struct sk_refrecord *head, const struct sk_oid *want,
			 uint64_t seq, int *found, struct sk_err *err)
{
	struct sk_refrecord cur = *head;
	int rc = 0;
	*found = 0;
	while (!rc && cur.has_prev && cur.seq > seq + 1) {
		unsigned char *p = NULL;
		size_t len = 0;
		uint64_t above = cur.seq;
		rc = read_obj(f, &cur.prev, SK_OBJ_REFRECORD, &p, &len, err);
		if (!rc)
			rc = sk_refrecord_parse(&cur, p, len, err);
		free(p);
		if (!rc && cur.seq + 1 != above)
			rc = sk_err_set(err, SK_ECORRUPT, NULL, "the record chain of %s does not link",
					cur.ref);
	}
	if (!rc && cur.has_prev && cur.seq == seq + 1)
		*found = sk_oid_cmp(&cur.prev, want) == 0;
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
	char tag[SK_REMOTE_TAG_MAX], why[SK_ERR_MSG];
	memset(rr, 0, sizeof(*rr));
	rr->name = name;
	int rc = sk_remote_ref_get(f->remote, name, &rr->bytes, &rr->len, tag, err);
	if (!rc && sk_refrecord_parse(&rr->rec, rr->bytes, rr->len, err) != 0) {
		snprintf(why, sizeof(why), "%s", err ? err->message : "");
		rc = sk_err_set(err, SK_ECORRUPT, "the bucket was altered",
				"remote ref %s does not hold a valid record: %s", name, why);
	}
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
static int adopt(struct fetch *f, const char *name, const struct remote_ref *rr,
		 struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int rc = sk_refs_read_record(f->repo, name, &cur, &cur_id, NULL, NULL, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		return move_ref(f, name, rr, NULL, NULL, err);
	}
	if (rc || sk_oid_cmp(&cur_id, &rr->id) == 0)
		return rc;
	return move_ref(f, name, rr, &cur, &cur_id, err);
}

static json_t *target_json(const struct sk_refrecord *r)
{
	char hex[SK_OID_HEXSZ + 1];
	return r && r->has_oid ? json_string(sk_oid_tohex(&r->oid, hex)) : json_null();
}

static int move_ref(struct fetch *f, const char *name, const struct remote_ref *rr,
		    const struct sk_refrecord *cur, const struct sk_oid *expect,
		    struct sk_err *err)
{
	if (!f->dry)
		return sk_refs_adopt(f->repo, name, rr->bytes, rr->len, expect, err);
	int rc = sk_ref_name_check(name, err);
	if (!rc)
		json_array_append_new(f->dry->moves,
				      json_pack("{s:s, s:o, s:o, s:I}", "ref", name, "old",
						target_json(cur), "new", target_json(&rr->rec), "seq",
						(json_int_t)rr->rec.seq));
	return rc;
}

struct find_ctx {
	struct sk_oid want;
	uint64_t floor;
	int found;
};

/* Stops at want, or below its seq (it cannot be further back). */
static int find_record(const struct sk_refrecord *r, const struct sk_oid *id, void *arg)
{
	struct find_ctx *c = arg;
	if (sk_oid_cmp(id, &c->want) == 0) {
		c->found = 1;
		return 1;
	}
	return r->seq <= c->floor ? 1 : 0;
}

/* Where the local ref stands against the remote's record rr, whose chain
 * is stored here now: absent or behind (rr's chain holds the local
 * record) fast-forwards; ahead (the local chain holds rr) stays; anything
 * else diverged, and is reset to rr with --reset. */
static const char *follow_local(struct fetch *f, const struct remote_ref *rr, int *rc,
				struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int behind = 0;
	*rc = sk_refs_read_record(f->repo, rr->name, &cur, &cur_id, NULL, NULL, err);
	if (*rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		*rc = move_ref(f, rr->name, rr, NULL, NULL, err);
		return "fast-forward";
	}
	if (*rc || sk_oid_cmp(&cur_id, &rr->id) == 0)
		return "up-to-date";
	if (cur.seq < rr->rec.seq &&
	    (*rc = chain_reaches(f, &rr->rec, &cur_id, cur.seq, &behind, err)) == 0 && behind) {
		*rc = move_ref(f, rr->name, rr, &cur, &cur_id, err);
		return "fast-forward";
	}
	struct find_ctx fc = { rr->id, rr->rec.seq, 0 };
	if (!*rc && cur.seq > rr->rec.seq &&
	    (*rc = sk_refs_walk(f->repo, rr->name, 0, find_record, &fc, err)) == 0 && fc.found)
		return "ahead";
	if (*rc || !f->reset)
		return "diverged";
	*rc = move_ref(f, rr->name, rr, &cur, &cur_id, err);
	return "reset";
}

static int fetch_ref(struct fetch *f, struct remote_ref *rr, struct sk_err *err)
{
	struct sk_oidset targets = { 0 };
	struct chain c = { 0 };
	int rc = sk_refs_verify_record(f->policy, &rr->rec, err);
	if (!rc)
		rc = check_seq(f, rr, err);
	/* A record stored here reaches everything it needs (see the top). */
	if (!rc && !have(f, &rr->id))
		rc = fetch_chain(f, &rr->rec, 0, 0, &c, &targets, err);
	if (!rc)
		rc = fetch_closure(f, &targets, err);
	if (!rc)
		rc = store_chain(f, &c, err);
	sk_oidset_free(&targets);
	chain_free(&c);
	char tname[SK_REF_MAX + 64];
	tracking_name(f, rr->name, tname, sizeof(tname));
	if (!rc && strlen(tname) > SK_REF_MAX)
		rc = sk_err_set(err, SK_EINVAL, NULL, "%s is too long a name", tname);
	if (!rc)
		rc = adopt(f, tname, rr, err);
	const char *status = NULL;
	if (!rc)
		status = follow_local(f, rr, &rc, err);
	if (!rc && !f->dry)
		rc = sk_refs_seen_note(f->repo, sk_remote_key(f->remote), rr->name, rr->rec.seq, err);
	if (!rc)
		json_array_append_new(f->refs, json_pack("{s:s, s:s, s:I}", "ref", rr->name, "status",
							 status, "seq", (json_int_t)rr->rec.seq));
	return rc ? sk_err_wrap(err, "fetching %s", rr->name) : 0;
}

/* --- the trust policy ---------------------------------------------------- */

static int load_policy(struct fetch *f, const struct sk_oid *oid, struct sk_trust **out,
		       struct sk_err *err)
{
	json_t *doc = NULL;
	unsigned char *p = NULL;
	size_t len = 0;
	int rc;
	if (dry_find(f->dry, oid) < 0) {
		rc = sk_odb_read_json(sk_repo_odb(f->repo), oid, SK_OBJ_TRUST, SK_ODB_VERIFY, &doc, err);
	} else if ((rc = read_obj(f, oid, SK_OBJ_TRUST, &p, &len, err)) == 0) {
		rc = sk_cjson_parse(p, len, &doc, err); /* decoded and id-checked */
		free(p);
	}
	if (!rc)
		rc = sk_trust_from_json(out, doc, err);
	json_decref(doc);
	return rc;
}

/* Verifies the remote trust chain from the local head forward: record
 * seq k+1 must be signed by a root of the policy record k installed.
 * Without a local policy (a fresh --direct cache) the chain is verified
 * from seq 1, whose policy is trusted on first use, as at init. */
static int verify_trust_chain(struct fetch *f, const struct remote_ref *rr,
			      const struct sk_refrecord *local, const struct sk_oid *local_id,
			      struct sk_err *err)
{
	uint64_t base = local ? local->seq : 0;
	struct chain c = { 0 };
	struct sk_oidset targets = { 0 };
	int rc = fetch_chain(f, &rr->rec, base, 1, &c, &targets, err);
	/* c holds the records below the head, newest first, down to base+1. */
	const struct sk_refrecord *oldest = c.n ? &c.v[c.n - 1].rec : &rr->rec;
	if (!rc && oldest->seq != base + 1)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "the remote's trust chain does not link");
	if (!rc && local && (!oldest->has_prev || sk_oid_cmp(&oldest->prev, local_id) != 0))
		rc = sk_err_set(err, SK_EVERIFY, "the two policies have separate histories",
				"the remote's trust policy does not descend from this repository's");
	if (!rc)
		rc = fetch_closure(f, &targets, err);
	sk_oidset_free(&targets);
	struct sk_trust *prev = NULL;
	if (!rc)
		rc = oldest->has_oid ? load_policy(f, local ? &local->oid : &oldest->oid, &prev, err)
				     : sk_err_set(err, SK_EVERIFY, NULL, "the remote deleted %s",
						  TRUST_REF);
	for (size_t i = c.n + 1; !rc && i-- > 0;) {
		const struct sk_refrecord *r = i ? &c.v[i - 1].rec : &rr->rec;
		rc = sk_refs_verify_record(prev, r, err);
		sk_trust_free(prev);
		prev = NULL;
		if (!rc && !r->has_oid)
			rc = sk_err_set(err, SK_EVERIFY, NULL, "the remote deleted %s", TRUST_REF);
		if (!rc)
			rc = load_policy(f, &r->oid, &prev, err);
	}
	if (!rc)
		rc = store_chain(f, &c, err);
	chain_free(&c);
	if (!rc) {
		sk_trust_free(f->policy);
		f->policy = prev;
	} else {
		sk_trust_free(prev);
	}
	return rc;
}

/* Brings the remote's refs/meta/trust in: verified forward from the local
 * policy (or from seq 1 when there is none and mirror is set). */
static int fetch_trust(struct fetch *f, int mirror, struct sk_err *err)
{
	struct remote_ref rr;
	struct sk_refrecord local;
	struct sk_oid local_id;
	int have_local = 1;
	int rc = sk_refs_read_record(f->repo, TRUST_REF, &local, &local_id, NULL, NULL, err);
	if (rc == SK_ENOTFOUND && mirror) {
		sk_err_clear(err);
		have_local = 0;
		rc = 0;
	} else if (!rc) {
		rc = sk_refs_load_trust(f->repo, &f->policy, err);
	}
	if (!rc)
		rc = get_record(f, TRUST_REF, &rr, err);
	if (rc == SK_ENOTFOUND && have_local && !mirror) {
		sk_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	rc = check_seq(f, &rr, err);
	const char *status = "up-to-date";
	if (!rc && !have_local) {
		rc = verify_trust_chain(f, &rr, NULL, NULL, err);
		status = "fast-forward";
	} else if (!rc && sk_oid_cmp(&local_id, &rr.id) != 0) {
		struct find_ctx fc = { rr.id, rr.rec.seq, 0 };
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
	char tname[SK_REF_MAX + 64];
	tracking_name(f, TRUST_REF, tname, sizeof(tname));
	if (!rc && !mirror)
		rc = adopt(f, tname, &rr, err);
	if (!rc && strcmp(status, "fast-forward") == 0)
		rc = move_ref(f, TRUST_REF, &rr, have_local ? &local : NULL,
			      have_local ? &local_id : NULL, err);
	if (!rc && !f->dry)
		rc = sk_refs_seen_note(f->repo, sk_remote_key(f->remote), TRUST_REF, rr.rec.seq, err);
	if (!rc)
		json_array_append_new(f->refs, json_pack("{s:s, s:s, s:I}", "ref", TRUST_REF, "status",
							 status, "seq", (json_int_t)rr.rec.seq));
	free(rr.bytes);
	return rc ? sk_err_wrap(err, "fetching %s", TRUST_REF) : 0;
}

/* --direct: the remote's current record of name becomes the cache's own
 * (verified: trust chain, signature, role, seq memory). Objects are not
 * fetched here; the cache fetches and verifies them when they are read. */
int sk_fetch_mirror_ref(struct sk_repo *repo, struct sk_remote *remote, const char *name,
			struct sk_err *err)
{
	struct fetch f = { .repo = repo, .remote = remote, .refs = json_array() };
	f.name = sk_remote_key(remote);
	int rc;
	if (strcmp(name, TRUST_REF) == 0) {
		rc = fetch_trust(&f, 1, err);
	} else {
		struct remote_ref rr = { 0 };
		rc = sk_refs_load_trust(repo, &f.policy, err);
		if (!rc)
			rc = get_record(&f, name, &rr, err);
		if (!rc)
			rc = sk_refs_verify_record(f.policy, &rr.rec, err);
		if (!rc)
			rc = check_seq(&f, &rr, err);
		if (!rc)
			rc = adopt(&f, name, &rr, err);
		if (!rc)
			rc = sk_refs_seen_note(repo, f.name, name, rr.rec.seq, err);
		free(rr.bytes);
	}
	json_decref(f.refs);
	sk_trust_free(f.policy);
	return rc;
}

/* --- all of it ------------------------------------------------------------ */

static int fetch_run(struct fetch *f, struct sk_err *err)
{
	char **names = NULL;
	size_t n = 0;
	int rc = fetch_trust(f, 0, err);
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

static int fetch_main(struct sk_repo *repo, struct sk_remote *remote, const char *name,
		      int reset, struct dry *dry, json_t **report, struct sk_err *err)
{
	struct fetch f = { .repo = repo, .remote = remote, .reset = reset, .refs = json_array() };
	f.name = name ? name : sk_remote_key(remote);
	f.may_list = 1;
	f.dry = dry;
	int rc = fetch_run(&f, err);
	*report = json_pack("{s:s, s:o, s:I, s:I, s:I}", "remote", sk_remote_url(remote), "refs",
			    f.refs, "objects", (json_int_t)f.objects, "bytes", (json_int_t)f.bytes,
			    "requests", (json_int_t)sk_remote_requests(remote));
	if (dry) {
		json_object_set_new(*report, "objects",
				    json_integer((json_int_t)(f.objects + dry->chunks.n)));
		json_object_set_new(*report, "chunks", json_integer((json_int_t)dry->chunks.n));
		json_object_set_new(*report, "chunk_bytes", json_integer((json_int_t)dry->chunk_bytes));
		json_object_set(*report, "moves", dry->moves);
	}
	sk_trust_free(f.policy);
	return rc;
}

int sk_fetch(struct sk_repo *repo, struct sk_remote *remote, const char *name, int reset,
	     json_t **report, struct sk_err *err)
{
	return fetch_main(repo, remote, name, reset, NULL, report, err);
}

int sk_fetch_plan(struct sk_repo *repo, struct sk_remote *remote, const char *name, int reset,
		  json_t **report, struct sk_err *err)
{
	struct dry d = { .moves = json_array() };
	int rc = fetch_main(repo, remote, name, reset, &d, report, err);
	dry_free(&d);
	return rc;
}
