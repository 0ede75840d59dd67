/*
 * skiff push (see sync.h). Objects before refs, always: every object the
 * new records reach is on the remote before the first ref moves. Small
 * objects go up create-only without asking (a 412 says the remote has
 * it); chunk blobs, which can be large, are asked about first (HEAD), so a
 * release that shares most chunks with the last uploads only what changed.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "refs/audit.h"
#include "refs/refs.h"
#include "remote-s3/sync.h"
#include "remote-s3/walk.h"

/* Objects read and uploaded per round: bounds memory (chunks are at most
 * a few MiB compressed) while keeping the connections busy. */
#define PUSH_WINDOW 64
#define PUSH_OBJECT_MAX ((size_t)256 << 20)

struct push_ref {
	char name[SK_REF_MAX + 1];
	char *bytes; /* local head record */
	size_t len;
	struct sk_refrecord local;
	int remote_exists;
	char tag[SK_REMOTE_TAG_MAX];
	struct sk_oid stop; /* the remote head record's target, when it has one */
	int has_stop;
	size_t t_begin, t_end; /* this ref's new records' targets in push.targets */
	const char *status;
	const char *reason;
};

struct push {
	struct sk_repo *repo;
	struct sk_remote *remote;
	struct push_ref *refs;
	size_t nrefs;
	struct sk_oidset records; /* new refrecord objects */
	struct sk_oidset targets; /* what the new records point at */
	struct sk_oidset objects; /* everything else to send */
	struct sk_oidset blobs;   /* chunks: asked about before sending */
	uint64_t sent_objects, sent_bytes;
	int dry; /* sk_push_plan: ask, count, send and move nothing */
};

static int matches(const char *ref, char **patterns, size_t np)
{
	if (np == 0)
		return 1;
	for (size_t i = 0; i < np; i++)
		if (strcmp(patterns[i], ref) == 0 || sk_ref_pattern_match(patterns[i], ref))
			return 1;
	return 0;
}

/* The refs to push, refs/meta/trust first: a reader verifying records
 * against the remote's policy must find the keys that signed them. */
static int select_refs(struct push *p, char **patterns, size_t np, struct sk_err *err)
{
	struct sk_refrecord *all = NULL;
	size_t n = 0;
	int rc = sk_refs_list(p->repo, NULL, 1, &all, &n, err);
	if (rc)
		return rc;
	p->refs = calloc(n ? n : 1, sizeof(*p->refs));
	if (!p->refs) {
		free(all);
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++) {
			int trust = strcmp(all[i].ref, "refs/meta/trust") == 0;
			if (trust != (pass == 0) || !matches(all[i].ref, patterns, np) ||
			    strncmp(all[i].ref, SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) == 0)
				continue;
			snprintf(p->refs[p->nrefs++].name, SK_REF_MAX + 1, "%s", all[i].ref);
		}
	free(all);
	return 0;
}

struct chain_find {
	struct sk_oid want;
	int found;
	struct sk_oidset *records, *targets;
	struct sk_err *err;
};

static int collect_record(const struct sk_refrecord *r, const struct sk_oid *id, void *arg)
{
	struct chain_find *c = arg;
	if (c->found == 0 && sk_oid_cmp(id, &c->want) == 0) {
		c->found = 1;
		return 1;
	}
	int rc = sk_oidset_add(c->records, id, c->err);
	if (!rc && r->has_oid)
		rc = sk_oidset_add(c->targets, &r->oid, c->err);
	return rc;
}

/* Compares the local ref with the remote's record and collects the new
 * local records. Sets status for refs with nothing to do or a conflict. */
static int plan_ref(struct push *p, struct push_ref *pr, struct sk_err *err)
{
	struct sk_oid local_id;
	int rc = sk_refs_read_record(p->repo, pr->name, &pr->local, &local_id, &pr->bytes, &pr->len,
				     err);
	char *rbytes = NULL;
	size_t rlen = 0;
	if (!rc)
		rc = sk_remote_ref_get(p->remote, pr->name, &rbytes, &rlen, pr->tag, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		rc = 0;
	} else if (!rc) {
		pr->remote_exists = 1;
	}
	if (rc)
		return rc;
	struct chain_find cf = { .records = &p->records, .targets = &p->targets, .err = err };
	if (pr->remote_exists) {
		struct sk_refrecord rr;
		struct sk_err perr;
		sk_oid_hash(&cf.want, SK_OBJ_REFRECORD, rbytes, rlen);
		int same = rlen == pr->len && memcmp(rbytes, pr->bytes, rlen) == 0;
		int parsed = sk_refrecord_parse(&rr, rbytes, rlen, &perr) == 0;
		free(rbytes);
		if (same) {
			pr->status = "up-to-date";
			return 0;
		}
		if (!parsed) {
			pr->status = "conflict";
			pr->reason = "the remote holds something that is not a ref record here";
			return 0;
		}
		if (strncmp(pr->name, "refs/releases/", 14) == 0) {
			pr->status = "conflict";
			pr->reason = "the remote has another record for this release; a release never "
				     "moves";
			return 0;
		}
		pr->has_stop = rr.has_oid;
		pr->stop = rr.oid;
	}
	size_t before = p->records.n;
	pr->t_begin = p->targets.n;
	rc = sk_refs_walk(p->repo, pr->name, 0, collect_record, &cf, err);
	pr->t_end = p->targets.n;
	if (rc)
		return rc;
	if (pr->remote_exists && !cf.found) {
		p->records.n = before;
		p->targets.n = pr->t_end = pr->t_begin;
		pr->status = "conflict";
		pr->reason = "the remote moved on (someone else pushed): fetch, then push again";
	}
	return 0;
}

/* Adds oid and what it reaches to the send sets, stopping at stop. */
static int collect_objects(struct push *p, const struct sk_oid *root, const struct sk_oid *stop,
			   struct sk_err *err)
{
	struct sk_oidset todo = { 0 };
	int rc = sk_oidset_add(&todo, root, err);
	while (!rc && todo.n) {
		struct sk_oid id = todo.v[--todo.n];
		if ((stop && sk_oid_cmp(&id, stop) == 0) || sk_oidset_has(&p->objects, &id))
			continue;
		enum sk_otype t;
		unsigned char *payload = NULL;
		size_t len = 0;
		rc = sk_odb_read(sk_repo_odb(p->repo), &id, SK_OBJ_NONE, 0, &t, &payload, &len, err);
		if (!rc)
			rc = sk_oidset_add(&p->objects, &id, err);
		struct sk_oidset kids = { 0 };
		if (!rc)
			rc = sk_walk_children(t, payload, len, &kids, err);
		free(payload);
		for (size_t i = 0; !rc && i < kids.n; i++)
			rc = t == SK_OBJ_FILE ? (sk_oidset_has(&p->blobs, &kids.v[i])
							 ? 0
							 : sk_oidset_add(&p->blobs, &kids.v[i], err))
					      : sk_oidset_add(&todo, &kids.v[i], err);
		sk_oidset_free(&kids);
		if (rc)
			sk_err_wrap(err, "reading what the pushed refs reach");
	}
	sk_oidset_free(&todo);
	return rc;
}

/* Reads the stored bytes of ids[0..n) and uploads them create-only. */
static int send_window(struct push *p, const struct sk_oid *ids, size_t n, struct sk_err *err)
{
	struct sk_remote_obj objs[PUSH_WINDOW];
	int rc = 0;
	memset(objs, 0, sizeof(objs));
	for (size_t i = 0; i < n && !rc; i++) {
		char *path = sk_odb_path(sk_repo_odb(p->repo), &ids[i]), *buf = NULL;
		objs[i].oid = ids[i];
		rc = sk_fs_read_file(path, PUSH_OBJECT_MAX, &buf, &objs[i].zlen, err);
		objs[i].z = (unsigned char *)buf;
		free(path);
	}
	if (!rc)
		rc = sk_remote_objects_put(p->remote, objs, n, err);
	for (size_t i = 0; i < n; i++) {
		if (!rc && !objs[i].present) {
			p->sent_objects++;
			p->sent_bytes += objs[i].zlen;
		}
		free(objs[i].z);
	}
	return rc;
}

static int send_all(struct push *p, const struct sk_oidset *s, struct sk_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < s->n && !rc; i += PUSH_WINDOW)
		rc = send_window(p, s->v + i, s->n - i < PUSH_WINDOW ? s->n - i : PUSH_WINDOW, err);
	return rc;
}

/* Chunks: ask first, send only the missing ones. */
static int send_blobs(struct push *p, struct sk_err *err)
{
	struct sk_oidset missing = { 0 };
	int rc = 0;
	for (size_t i = 0; i < p->blobs.n && !rc; i += PUSH_WINDOW * 4) {
		size_t n = p->blobs.n - i < PUSH_WINDOW * 4 ? p->blobs.n - i : PUSH_WINDOW * 4;
		struct sk_remote_obj *objs = calloc(n, sizeof(*objs));
		if (!objs)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		for (size_t j = 0; j < n; j++)
			objs[j].oid = p->blobs.v[i + j];
		rc = sk_remote_objects_exist(p->remote, objs, n, err);
		for (size_t j = 0; j < n && !rc; j++)
			if (!objs[j].present)
				rc = sk_oidset_add(&missing, &objs[j].oid, err);
		free(objs);
	}
	if (!rc)
		rc = send_all(p, &missing, err);
	sk_oidset_free(&missing);
	return rc;
}

/* Whether the remote holds exactly our record: an S3 conditional PUT
 * retried after a lost response reports 412 for its own earlier success
 * (remote-s3/s3.h), which is no conflict. */
static int remote_holds(struct push *p, const struct push_ref *pr)
{
	char *now = NULL, tag[SK_REMOTE_TAG_MAX];
	size_t len = 0;
	struct sk_err ignore;
	int same = sk_remote_ref_get(p->remote, pr->name, &now, &len, tag, &ignore) == 0 &&
		   len == pr->len && memcmp(now, pr->bytes, len) == 0;
	free(now);
	return same;
}

static int move_ref(struct push *p, struct push_ref *pr, struct sk_err *err)
{
	int rc = sk_remote_ref_put(p->remote, pr->name, pr->bytes, pr->len,
				   pr->remote_exists ? pr->tag : NULL, NULL, err);
	if (rc == SK_ECONFLICT && remote_holds(p, pr)) {
		sk_err_clear(err);
		rc = 0;
	}
	if (rc == SK_ECONFLICT || rc == SK_ELOCKED) {
		pr->status = "conflict";
		pr->reason = rc == SK_ELOCKED ? "the remote ref is locked by another writer"
					      : "the remote moved on while pushing: fetch, then push again";
		sk_err_clear(err);
		return 0;
	}
	if (rc)
		return rc;
	pr->status = pr->remote_exists ? "updated" : "created";
	/* The remote's ref moved: journaled here, with the remote's name. */
	struct sk_audit_move m = { .action = "push", .ref = pr->name, .has_old = pr->has_stop,
				   .old = pr->stop, .rec = &pr->local };
	sk_oid_hash(&m.record, SK_OBJ_REFRECORD, pr->bytes, pr->len);
	sk_audit_record(p->repo, NULL, NULL, &m, 1, 1);
	/* What we wrote is what this remote has shown us now. */
	return sk_refs_seen_note(p->repo, sk_remote_key(p->remote), pr->name, pr->local.seq, err);
}

/* --dry-run: which of s the remote lacks (asked, as chunks are before
 * a push), counted with their stored sizes as if sent. */
static int count_missing(struct push *p, const struct sk_oidset *s, struct sk_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < s->n && !rc; i += PUSH_WINDOW * 4) {
		size_t n = s->n - i < PUSH_WINDOW * 4 ? s->n - i : PUSH_WINDOW * 4;
		struct sk_remote_obj *objs = calloc(n, sizeof(*objs));
		if (!objs)
			return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
		for (size_t j = 0; j < n; j++)
			objs[j].oid = s->v[i + j];
		rc = sk_remote_objects_exist(p->remote, objs, n, err);
		for (size_t j = 0; j < n && !rc; j++) {
			struct stat st;
			char *path = sk_odb_path(sk_repo_odb(p->repo), &objs[j].oid);
			if (!objs[j].present) {
				p->sent_objects++;
				p->sent_bytes += stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
			}
			free(path);
		}
		free(objs);
	}
	return rc;
}

/* --dry-run: what each ref's move would be, old → new target. */
static void add_move(json_t *e, const struct push_ref *pr)
{
	char hex[SK_OID_HEXSZ + 1];
	json_object_set_new(e, "old", pr->has_stop ? json_string(sk_oid_tohex(&pr->stop, hex))
						   : json_null());
	json_object_set_new(e, "new", pr->local.has_oid
					      ? json_string(sk_oid_tohex(&pr->local.oid, hex))
					      : json_null());
	json_object_set_new(e, "remote_exists", json_boolean(pr->remote_exists));
}

static json_t *report_json(const struct push *p)
{
	json_t *refs = json_array();
	for (size_t i = 0; i < p->nrefs; i++) {
		const struct push_ref *pr = &p->refs[i];
		if (!pr->status)
			continue;
		json_t *e = json_pack("{s:s, s:s, s:I}", "ref", pr->name, "status", pr->status, "seq",
				      (json_int_t)pr->local.seq);
		if (pr->reason)
			json_object_set_new(e, "reason", json_string(pr->reason));
		if (p->dry)
			add_move(e, pr);
		json_array_append_new(refs, e);
	}
	return json_pack("{s:s, s:o, s:I, s:I, s:I}", "remote", sk_remote_url(p->remote), "refs",
			 refs, "objects", (json_int_t)p->sent_objects, "bytes",
			 (json_int_t)p->sent_bytes, "requests",
			 (json_int_t)sk_remote_requests(p->remote));
}

static int push_run(struct push *p, char **patterns, size_t np, struct sk_err *err)
{
	int rc = select_refs(p, patterns, np, err);
	for (size_t i = 0; !rc && i < p->nrefs; i++)
		rc = plan_ref(p, &p->refs[i], err);
	for (size_t i = 0; !rc && i < p->nrefs; i++) {
		struct push_ref *pr = &p->refs[i];
		for (size_t t = pr->t_begin; !pr->status && !rc && t < pr->t_end; t++)
			rc = collect_objects(p, &p->targets.v[t], pr->has_stop ? &pr->stop : NULL, err);
	}
	if (p->dry) {
		if (!rc)
			rc = count_missing(p, &p->blobs, err);
		if (!rc)
			rc = count_missing(p, &p->objects, err);
		if (!rc)
			rc = count_missing(p, &p->records, err);
		for (size_t i = 0; !rc && i < p->nrefs; i++)
			if (!p->refs[i].status)
				p->refs[i].status = p->refs[i].remote_exists ? "update" : "create";
		return rc;
	}
	if (!rc)
		rc = send_blobs(p, err);
	if (!rc)
		rc = send_all(p, &p->objects, err);
	if (!rc)
		rc = send_all(p, &p->records, err);
	for (size_t i = 0; !rc && i < p->nrefs; i++)
		if (!p->refs[i].status)
			rc = move_ref(p, &p->refs[i], err);
	return rc;
}

static int push_main(struct sk_repo *repo, struct sk_remote *remote, char **patterns,
		     size_t np, int dry, json_t **report, struct sk_err *err)
{
	struct push p = { .repo = repo, .remote = remote, .dry = dry };
	int rc = push_run(&p, patterns, np, err);
	*report = report_json(&p);
	size_t conflicts = 0;
	char names[SK_ERR_MSG] = "";
	for (size_t i = 0; i < p.nrefs; i++) {
		if (p.refs[i].status && strcmp(p.refs[i].status, "conflict") == 0) {
			size_t used = strlen(names);
			snprintf(names + used, sizeof(names) - used, "%s%s", conflicts ? ", " : "",
				 p.refs[i].name);
			conflicts++;
		}
		free(p.refs[i].bytes);
	}
	if (!rc && np && p.nrefs == 0)
		rc = sk_err_set(err, SK_ENOTFOUND, "skiff show-ref lists the refs",
				"no ref matches the patterns given");
	/* Text mode shows only the error, so it names the refs. */
	if (!rc && conflicts)
		rc = sk_err_set(err, SK_ECONFLICT,
				"fetch, then push again (a release on the remote never moves)",
				"%zu ref%s not pushed, the remote holds other records: %s", conflicts,
				conflicts == 1 ? "" : "s", names);
	free(p.refs);
	sk_oidset_free(&p.records);
	sk_oidset_free(&p.targets);
	sk_oidset_free(&p.objects);
	sk_oidset_free(&p.blobs);
	return rc;
}

int sk_push(struct sk_repo *repo, struct sk_remote *remote, char **patterns, size_t np,
	    json_t **report, struct sk_err *err)
{
	return push_main(repo, remote, patterns, np, 0, report, err);
}

int sk_push_plan(struct sk_repo *repo, struct sk_remote *remote, char **patterns, size_t np,
		 json_t **report, struct sk_err *err)
{
	return push_main(repo, remote, patterns, np, 1, report, err);
}
