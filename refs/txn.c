/*
 * Ref updates: compare-and-swap transactions over one or more refs.
 *
 * Protocol, per transaction (refs sorted by name so every writer takes
 * locks in the same order):
 *   1. Validate names, roles (against the trust policy) and that every new
 *      target object is in the store -- all before touching a lock.
 *   2. For each ref: create <ref>.lock with O_EXCL (a present lock is
 *      SK_ELOCKED), then read the current record and check the caller's
 *      expectation. The read happens under the lock, which is what makes
 *      the check a compare-and-swap. Build, sign and store the new record
 *      as a refrecord object (objects before refs), then write it into the
 *      lock.
 *   3. Commit. One ref (commit_single): the lock gets a second name,
 *      .skiff/txn/<random>.ref, its journal; the audit entry is appended;
 *      then one barrier (syncfs, see barrier()) makes the record object,
 *      the lock and its journal name, the entry and every object written
 *      before durable: the commit point. Rename the lock over the ref and
 *      remove the journal name, with no barrier after: a rename lost to a
 *      power cut is redone from the journal. Several refs (commit_many):
 *      one barrier for the records and locks, then the journal
 *      .skiff/txn/<random> naming each ref and its record id is written
 *      and synced (the commit point), every lock renamed, their
 *      directories synced, the journal removed, the audit entries
 *      appended.
 * Any failure before the commit point removes every lock this call made,
 * so nothing becomes visible. A failure or crash after it leaves the
 * journal, and the next sk_repo_open rolls the renames forward. A lone
 * ref's journal name can outlive a power cut during its barrier without
 * the target object: recovery checks it first (finish_lone).
 *
 * Why recovery is safe next to a live writer:
 *  - The writer holds an exclusive flock(2) on the journal from before it
 *    is visible (it is locked while still a temp file, then renamed; a
 *    lone ref's lock is locked before it gets its journal name) until
 *    after it has renamed every lock and unlinked it. Recovery only acts on
 *    a journal whose flock it wins without waiting, so it never runs
 *    beside the journal's own writer, and two recoveries exclude each
 *    other the same way. flock locks die with their process, so a dead
 *    writer's journal is always recoverable. (flock is reliable on local
 *    file systems, which is where a repository lives.)
 *  - Recovery renames a lock only when its bytes hash to the journaled
 *    record id. That id commits to ref, seq and prev: while the journaled
 *    lock exists nobody else can create that lock, and once it is renamed
 *    any later writer's record has a higher seq. So a matching lock is the
 *    journaled one and nothing else; recovery never publishes another
 *    writer's half-made record.
 *  - A lone journal name is the lock itself, so recovery acts on the lock
 *    only while the lock's name still leads to that same file: never on a
 *    later writer's lock.
 *  - A journal found after its writer finished (unlinked, nlink 0) or
 *    whose locks are gone is simply removed.
 */
#include "refs/internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"

/* txn/<16 hex> plus this: a lone ref's journal, a second name of its lock */
#define LONE_SUFFIX ".ref"

struct txn_item {
	const struct sk_ref_update *up;
	size_t index; /* position in the caller's array */
	char *path;   /* the ref file */
	char *lock;   /* path.lock */
	int locked;   /* this call created the lock */
	struct sk_refrecord rec;
	struct sk_oid rec_oid;
	int has_old; /* what the ref pointed at before, for the audit journal */
	struct sk_oid old;
};

/* --- checks before any lock ------------------------------------------ */

static int validate(const struct sk_ref_update *ups, size_t n, struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sk_ref_name_check(ups[i].ref, err);
		if (rc < 0)
			return rc;
		if (ups[i].op && (rc = sk_opid_check(ups[i].op, err)) < 0)
			return rc;
		if (strncmp(ups[i].ref, SK_REFS_REMOTES, strlen(SK_REFS_REMOTES)) == 0)
			return sk_err_set(err, SK_EINVAL, "skiff fetch updates them",
					  "%s holds a remote's records; it is not signed here",
					  ups[i].ref);
		if (ups[i].delete && strcmp(ups[i].ref, SK_REFS_TRUST_REF) == 0)
			return sk_err_set(err, SK_EINVAL, "change the policy with a trust update instead",
					  "%s cannot be deleted", SK_REFS_TRUST_REF);
		for (size_t j = 0; j < i; j++)
			if (strcmp(ups[i].ref, ups[j].ref) == 0)
				return sk_err_set(err, SK_EINVAL, NULL,
						  "ref %s appears twice in one transaction", ups[i].ref);
	}
	return 0;
}

/* A new trust policy must parse and keep at least one root key, or
 * refs/meta/trust could never move again. */
static int check_new_policy(struct sk_repo *repo, const struct sk_oid *oid, struct sk_err *err)
{
	struct sk_trust *t = NULL;
	int rc = sk_refs_load_policy_at(repo, oid, &t, err);
	if (rc < 0)
		return rc;
	int has_root = 0;
	for (size_t i = 0; i < t->nkeys && !has_root; i++)
		has_root = sk_refs_is_root(t, t->keys[i].id, SK_REFS_TRUST_REF);
	sk_trust_free(t);
	if (!has_root)
		return sk_err_set(err, SK_EINVAL, "keep at least one key with the root role",
				  "the new trust policy has no root key; %s could never change again",
				  SK_REFS_TRUST_REF);
	return 0;
}

static int check_targets(struct sk_repo *repo, const struct sk_ref_update *ups, size_t n,
			 struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		if (ups[i].delete || ups[i].pending)
			continue;
		char hex[SK_OID_HEXSZ + 1];
		if (!sk_odb_exists(repo->odb, &ups[i].new_oid))
			return sk_err_set(err, SK_ENOTFOUND,
					  "write the object first (objects before refs)",
					  "cannot point %s at %s: no such object", ups[i].ref,
					  sk_oid_tohex(&ups[i].new_oid, hex));
		if (strcmp(ups[i].ref, SK_REFS_TRUST_REF) == 0) {
			int rc = check_new_policy(repo, &ups[i].new_oid, err);
			if (rc < 0)
				return rc;
		}
	}
	return 0;
}

static int check_roles(const struct sk_trust *policy, const struct sk_key *key,
		       const struct sk_ref_update *ups, size_t n, struct sk_err *err)
{
	for (size_t i = 0; i < n; i++) {
		int rc = sk_refs_check_role(policy, sk_key_id(key), ups[i].ref, err);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* --- locking ---------------------------------------------------------- */

/* The lock file of the ref file path (malloc'd). */
static char *lock_path(const char *path)
{
	size_t len = strlen(path) + sizeof(".lock");
	char *lock = malloc(len);
	if (!lock)
		abort();
	snprintf(lock, len, "%s.lock", path);
	return lock;
}

/* The first proper prefix of name that is a ref file, or NULL (malloc'd). */
static char *file_prefix(struct sk_repo *repo, const char *name)
{
	for (const char *s = strchr(name + 5, '/'); s; s = strchr(s + 1, '/')) {
		char *prefix = strndup(name, (size_t)(s - name));
		if (!prefix)
			abort();
		char *path = sk_refs_file(repo, prefix);
		struct stat st;
		int is_file = lstat(path, &st) == 0 && !S_ISDIR(st.st_mode);
		free(path);
		if (is_file)
			return prefix;
		free(prefix);
	}
	return NULL;
}

/* A clash with an existing ref file explains a failed mkdir or lock
 * creation as a conflict; otherwise the original error stands. */
static int prefix_conflict(struct sk_repo *repo, const char *name, const struct sk_err *orig,
			   struct sk_err *err)
{
	char *prefix = file_prefix(repo, name);
	if (!prefix) {
		if (err)
			*err = *orig;
		return orig->code;
	}
	sk_err_set(err, SK_ECONFLICT, "choose a ref name that is not below an existing ref",
		   "cannot create %s: %s is a ref, so it cannot also hold refs", name, prefix);
	free(prefix);
	return SK_ECONFLICT;
}

static int locked_error(const struct txn_item *it, struct sk_err *err)
{
	struct stat st;
	long age = lstat(it->lock, &st) == 0 ? (long)(time(NULL) - st.st_mtime) : 0;
	char hint[SK_ERR_HINT];
	snprintf(hint, sizeof(hint),
		 "another skiff process is updating %s; retry. If none is running, the lock is "
		 "stale: remove %s",
		 it->up->ref, it->lock);
	return sk_err_set(err, SK_ELOCKED, hint, "ref %s is locked by %s (created %lds ago)",
			  it->up->ref, it->lock, age < 0 ? 0 : age);
}

static int take_lock(struct sk_repo *repo, struct txn_item *it, struct sk_err *err)
{
	struct sk_err tmp;
	sk_err_clear(&tmp);
	if (sk_fs_mkdirs_for(it->path, &tmp) < 0)
		return prefix_conflict(repo, it->up->ref, &tmp, err);
	int fd = sk_fs_open(it->lock, O_WRONLY | O_CREAT | O_EXCL, 0644);
	if (fd < 0) {
		if (errno == EEXIST)
			return locked_error(it, err);
		int e = errno;
		sk_err_errno(&tmp, e, "cannot create lock", it->lock);
		if (e == ENOTDIR || e == ENOENT)
			return prefix_conflict(repo, it->up->ref, &tmp, err);
		if (err)
			*err = tmp;
		return tmp.code;
	}
	it->locked = 1;
	return fd;
}

/* --- expectation and the new record ---------------------------------- */

static int check_expect(const struct sk_ref_update *up, const struct sk_refrecord *cur,
			struct sk_err *err)
{
	char a[SK_OID_HEXSZ + 1], b[SK_OID_HEXSZ + 1];
	const char *hint = "re-read the ref and retry against what it points at now";
	int live = cur && cur->has_oid;
	if (up->expect == SK_EXPECT_ABSENT && live)
		return sk_err_set(err, SK_ECONFLICT, hint, "ref %s already exists (at %s)", up->ref,
				  sk_oid_tohex(&cur->oid, a));
	if (up->expect == SK_EXPECT_OID && !live)
		return sk_err_set(err, SK_ECONFLICT, hint, "ref %s moved: expected %s, found %s",
				  up->ref, sk_oid_tohex(&up->old_oid, a),
				  cur ? "a deletion" : "no ref");
	if (up->expect == SK_EXPECT_OID && sk_oid_cmp(&cur->oid, &up->old_oid) != 0)
		return sk_err_set(err, SK_ECONFLICT, hint, "ref %s moved: expected %s, found %s",
				  up->ref, sk_oid_tohex(&up->old_oid, a), sk_oid_tohex(&cur->oid, b));
	if (up->delete && !live)
		return sk_err_set(err, SK_ENOTFOUND, NULL, "cannot delete %s: it %s", up->ref,
				  cur ? "is already deleted" : "does not exist");
	return 0;
}

/* Reads the current record under the lock; *have is 0 for a new ref. */
static int read_current(struct sk_repo *repo, const struct txn_item *it, struct sk_refrecord *cur,
			struct sk_oid *cur_id, int *have, struct sk_err *err)
{
	int is_dir = 0;
	int rc = sk_refs_read_head(repo, it->up->ref, cur, cur_id, &is_dir, err);
	*have = rc == 0;
	if (rc == SK_ENOTFOUND && is_dir)
		return sk_err_set(err, SK_ECONFLICT, "choose a ref name that is not a prefix of others",
				  "cannot create %s: refs exist below it (%s/...)", it->up->ref,
				  it->up->ref);
	if (rc == SK_ENOTFOUND)
		return 0;
	return rc;
}

static int sign_record(struct sk_refrecord *r, const struct sk_key *key, struct sk_err *err)
{
	char *body = NULL;
	size_t len = 0;
	int rc = sk_refrecord_dump(r, 0, &body, &len, err);
	if (rc < 0)
		return rc;
	rc = sk_key_sign(key, SK_SIGN_DOMAIN_REFRECORD, body, len, r->sig);
	free(body);
	if (rc < 0)
		return sk_err_set(err, rc, NULL, "cannot sign the record for %s", r->ref);
	r->has_sig = 1;
	return 0;
}

static void build_record(struct txn_item *it, const struct sk_key *key,
			 const struct sk_refrecord *cur, const struct sk_oid *cur_id)
{
	struct sk_refrecord *r = &it->rec;
	memset(r, 0, sizeof(*r));
	snprintf(r->ref, sizeof(r->ref), "%s", it->up->ref);
	r->has_oid = !it->up->delete;
	if (r->has_oid)
		r->oid = it->up->new_oid;
	if (cur) {
		r->has_prev = 1;
		r->prev = *cur_id;
		r->seq = cur->seq + 1;
	} else {
		r->seq = 1;
	}
	r->time = (int64_t)time(NULL);
	snprintf(r->signer, sizeof(r->signer), "%s", sk_key_id(key));
	snprintf(r->op, sizeof(r->op), "%s", it->up->op ? it->up->op : "");
}

/* Stores the signed record as an object, then writes it into the lock.
 * Neither is fsynced here: barrier() makes both durable, with every
 * object the caller wrote before, before any lock is renamed. */
static int write_record(struct sk_repo *repo, struct txn_item *it, int fd, struct sk_err *err)
{
	char *bytes = NULL;
	size_t len = 0;
	int rc = sk_refrecord_dump(&it->rec, 1, &bytes, &len, err);
	if (rc == 0)
		rc = sk_odb_write(repo->odb, SK_OBJ_REFRECORD, bytes, len, &it->rec_oid, err);
	if (rc == 0 && sk_fs_write_all(fd, bytes, len) < 0)
		rc = sk_err_errno(err, errno, "cannot write lock", it->lock);
	free(bytes);
	return rc;
}

/* The policy that authorised this transaction must still be the one in
 * force when refs/meta/trust is replaced under its lock. */
static int check_policy_current(const struct txn_item *it, const struct sk_oid *policy_oid,
				const struct sk_refrecord *cur, struct sk_err *err)
{
	if (strcmp(it->up->ref, SK_REFS_TRUST_REF) != 0)
		return 0;
	if (!policy_oid ? cur == NULL : cur && cur->has_oid && !sk_oid_cmp(&cur->oid, policy_oid))
		return 0;
	return sk_err_set(err, SK_ECONFLICT, "reload the trust policy and retry",
			  "%s changed while this update was being prepared", SK_REFS_TRUST_REF);
}

/* Reads the current record, checks it against the caller's expectation
 * and the policy, and builds the new record, unsigned. Under the lock this
 * is the compare of the compare-and-swap; without it, a plan. */
static int plan_item(struct sk_repo *repo, const struct sk_key *key,
		     const struct sk_oid *policy_oid, struct txn_item *it, struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int have = 0;
	int rc = read_current(repo, it, &cur, &cur_id, &have, err);
	if (rc == 0)
		rc = check_expect(it->up, have ? &cur : NULL, err);
	if (rc == 0)
		rc = check_policy_current(it, policy_oid, have ? &cur : NULL, err);
	if (rc == 0)
		build_record(it, key, have ? &cur : NULL, &cur_id);
	it->has_old = rc == 0 && have && cur.has_oid;
	if (it->has_old)
		it->old = cur.oid;
	return rc;
}

static int prepare_item(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_oid *policy_oid, struct txn_item *it, struct sk_err *err)
{
	int fd = take_lock(repo, it, err);
	if (fd < 0)
		return fd;
	int rc = plan_item(repo, key, policy_oid, it, err);
	if (rc == 0)
		rc = sign_record(&it->rec, key, err);
	if (rc == 0)
		rc = write_record(repo, it, fd, err);
	if (close(fd) < 0 && rc == 0)
		rc = sk_err_errno(err, errno, "cannot write lock", it->lock);
	return rc;
}

static void unlock_all(struct txn_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (items[i].locked && unlink(items[i].lock) == 0)
			items[i].locked = 0;
}

/* --- commit ------------------------------------------------------------ */

/* The one durability barrier before the commit point: syncfs of the file
 * system holding the objects -- every new object (ours, and any another
 * process wrote that a ref of ours may point at) and every lock's record
 * -- and of the refs' file system when it is another one. One syncfs
 * costs about what one fsync does, where per-file fsyncs of the record
 * object, its directory and the lock were three to five. */
static int barrier(struct sk_repo *repo, struct sk_err *err)
{
	int rc = sk_odb_flush(repo->odb, err);
	char *refs = sk_path_join(repo->path, "refs");
	if (!repo->fs_known) { /* once per process: the layout does not move */
		struct stat a, b;
		char *objects = sk_path_join(repo->path, "objects");
		repo->refs_elsewhere = stat(objects, &a) == 0 && stat(refs, &b) == 0 &&
				       a.st_dev != b.st_dev;
		repo->fs_known = 1;
		free(objects);
	}
	if (rc == 0 && repo->refs_elsewhere) {
		int fd = sk_fs_open(refs, O_RDONLY | O_DIRECTORY, 0);
		if (fd < 0 || sk_fs_syncfs(fd) < 0)
			rc = sk_err_errno(err, errno, "cannot sync", refs);
		if (fd >= 0)
			close(fd);
	}
	free(refs);
	return rc;
}

/* Moves an adopted record (sk_refs_adopt) into place. */
static int commit_one(struct txn_item *it, struct sk_err *err)
{
	if (sk_fs_rename(it->lock, it->path) < 0) {
		int rc = sk_err_errno(err, errno, "cannot move ref into place", it->path);
		unlink(it->lock);
		it->locked = 0;
		return rc;
	}
	it->locked = 0;
	return 0;
}

static json_t *journal_doc(const struct txn_item *items, size_t n)
{
	json_t *entries = json_array();
	for (size_t i = 0; i < n; i++) {
		char hex[SK_OID_HEXSZ + 1];
		json_array_append_new(entries,
				      json_pack("{s:s, s:s}", "record",
						sk_oid_tohex(&items[i].rec_oid, hex), "ref",
						items[i].up->ref));
	}
	return json_pack("{s:o, s:i}", "entries", entries, "v", 1);
}

static char *journal_path(struct sk_repo *repo, const char *suffix)
{
	unsigned char r[8];
	if (getrandom(r, sizeof(r), 0) != sizeof(r))
		for (size_t i = 0; i < sizeof(r); i++)
			r[i] = (unsigned char)rand();
	char name[32];
	snprintf(name, sizeof(name), "txn/%02x%02x%02x%02x%02x%02x%02x%02x%s", r[0], r[1], r[2],
		 r[3], r[4], r[5], r[6], r[7], suffix);
	return sk_path_join(repo->path, name);
}

/* Writes the journal under an flock held until *fd is closed; returns 0
 * once the journal is durable (the commit point). On failure nothing of
 * it remains. */
static int journal_write(struct sk_repo *repo, const struct txn_item *items, size_t n,
			 char **path_out, int *fd_out, struct sk_err *err)
{
	char *dir = sk_path_join(repo->path, "txn");
	int rc = sk_fs_mkdirs(dir, 0, err);
	char *body = NULL;
	size_t len = 0;
	json_t *doc = journal_doc(items, n);
	if (rc == 0)
		rc = sk_cjson_dump(doc, &body, &len, err);
	json_decref(doc);
	char *path = journal_path(repo, ""), *tmp = sk_fs_temp_name(path);
	int fd = -1, visible = 0;
	if (rc == 0 && (fd = sk_fs_open(tmp, O_WRONLY | O_CREAT | O_EXCL, 0644)) < 0)
		rc = sk_err_errno(err, errno, "cannot create journal", tmp);
	if (rc == 0 && flock(fd, LOCK_EX) < 0)
		rc = sk_err_errno(err, errno, "cannot lock journal", tmp);
	if (rc == 0 && (sk_fs_write_all(fd, body, len) < 0 || sk_fs_fsync(fd) < 0))
		rc = sk_err_errno(err, errno, "cannot write journal", tmp);
	if (rc == 0 && sk_fs_rename(tmp, path) < 0)
		rc = sk_err_errno(err, errno, "cannot commit journal", path);
	else if (rc == 0)
		visible = 1;
	if (rc == 0)
		rc = sk_fs_fsync_dir(dir, err);
	if (rc < 0) {
		/* Still under our flock, so no recovery has acted on it. */
		unlink(visible ? path : tmp);
		if (fd >= 0)
			close(fd);
		free(path);
	} else {
		*path_out = path;
		*fd_out = fd;
	}
	free(tmp);
	free(body);
	free(dir);
	return rc;
}

/* Syncs the distinct directories holding the items' ref files. */
static int fsync_ref_dirs(struct txn_item *items, size_t n, struct sk_err *err)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *slash = strrchr(items[i].path, '/');
		size_t dl = (size_t)(slash - items[i].path);
		int seen = 0;
		for (size_t j = 0; j < i && !seen; j++)
			seen = strncmp(items[j].path, items[i].path, dl + 1) == 0 &&
			       !strchr(items[j].path + dl + 1, '/');
		if (!seen)
			rc = sk_fs_fsync_parent(items[i].path, err);
	}
	return rc;
}

/* A failure after the commit point: the journal stays, and recovery
 * finishes the job. */
static void hint_committed(struct sk_err *err)
{
	if (err)
		snprintf(err->hint, sizeof(err->hint), "%s",
			 "the update is committed; it completes the next time the repository is "
			 "opened (any skiff command)");
}

static int commit_many(struct sk_repo *repo, struct txn_item *items, size_t n,
		       struct sk_err *err)
{
	char *journal = NULL;
	int jfd = -1;
	int rc = journal_write(repo, items, n, &journal, &jfd, err);
	if (rc < 0) {
		unlock_all(items, n);
		return rc;
	}
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (sk_fs_rename(items[i].lock, items[i].path) < 0)
			rc = sk_err_errno(err, errno, "cannot move ref into place", items[i].path);
		else
			items[i].locked = 0;
	}
	if (rc == 0)
		rc = fsync_ref_dirs(items, n, err);
	if (rc == 0)
		unlink(journal);
	else
		hint_committed(err);
	close(jfd); /* releases the flock: recovery may now finish the job */
	free(journal);
	return rc;
}

/* --- the transaction --------------------------------------------------- */

static int cmp_items(const void *a, const void *b)
{
	const struct txn_item *x = a, *y = b;
	return strcmp(x->up->ref, y->up->ref);
}

static struct txn_item *make_items(struct sk_repo *repo, const struct sk_ref_update *ups,
				   size_t n)
{
	struct txn_item *items = calloc(n, sizeof(*items));
	if (!items)
		abort();
	for (size_t i = 0; i < n; i++) {
		items[i].up = &ups[i];
		items[i].index = i;
		items[i].path = sk_refs_file(repo, ups[i].ref);
		items[i].lock = lock_path(items[i].path);
	}
	qsort(items, n, sizeof(*items), cmp_items);
	return items;
}

static void free_items(struct txn_item *items, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(items[i].path);
		free(items[i].lock);
	}
	free(items);
}

/* Everything checked before any lock: names, roles and targets. */
static int check_updates(struct sk_repo *repo, const struct sk_trust *policy,
			 const struct sk_key *key, const struct sk_ref_update *ups, size_t n,
			 struct sk_err *err)
{
	int rc = validate(ups, n, err);
	if (rc == 0)
		rc = check_roles(policy, key, ups, n, err);
	if (rc == 0)
		rc = check_targets(repo, ups, n, err);
	return rc;
}

/* One audit entry per ref, once every ref has moved (refs/audit.c says
 * why a journal failure then only warns). */
static void audit_items(struct sk_repo *repo, const struct sk_trust *policy,
			const struct sk_key *key, const struct txn_item *items, size_t n, int sync)
{
	struct sk_audit_move *moves = calloc(n, sizeof(*moves));
	if (!moves)
		abort();
	for (size_t i = 0; i < n; i++)
		moves[i] = (struct sk_audit_move){ .action = "update", .ref = items[i].up->ref,
						   .has_old = items[i].has_old, .old = items[i].old,
						   .rec = &items[i].rec, .record = items[i].rec_oid };
	sk_audit_record(repo, policy, sk_key_name(key), moves, n, sync);
	free(moves);
}

/* The commit of one ref, with one barrier. Its journal is a second name
 * for the lock file, txn/<16 hex>.ref, made under an flock on the lock
 * held until the end; the audit entry is appended next. The barrier then
 * makes the record object, the lock and its journal name, the entry and
 * every object written before durable together: the commit point. The
 * rename after it needs no barrier of its own: if a power cut loses it,
 * the journal name is still there and recovery renames the lock
 * (recover_lone). Objects this process wrote deferred before the update
 * get a barrier of their own first, since recovery checks only the
 * record's own target. Returns 1, having done nothing, when the journal
 * name cannot be made (refs on another file system): the caller commits
 * with a written journal instead. */
static int commit_single(struct sk_repo *repo, const struct sk_trust *policy,
			 const struct sk_key *key, struct txn_item *it, size_t pending,
			 struct sk_err *err)
{
	char *name = journal_path(repo, LONE_SUFFIX);
	int fd = -1, rc = pending ? barrier(repo, err) : 0;
	if (rc == 0 && ((fd = sk_fs_open(it->lock, O_RDONLY, 0)) < 0 || flock(fd, LOCK_EX) < 0))
		rc = sk_err_errno(err, errno, "cannot lock", it->lock);
	if (rc == 0 && sk_fs_link(it->lock, name) < 0)
		rc = errno == EXDEV ? 1 : sk_err_errno(err, errno, "cannot write journal", name);
	if (rc == 0)
		audit_items(repo, policy, key, it, 1, 0);
	if (rc == 0)
		rc = barrier(repo, err);
	if (rc == 0 && sk_fs_rename(it->lock, it->path) < 0) {
		rc = sk_err_errno(err, errno, "cannot move ref into place", it->path);
		hint_committed(err);
	} else if (rc == 0) {
		it->locked = 0;
		unlink(name);
	} else if (rc < 0) {
		/* Still under our flock: no recovery has acted on it. */
		unlink(name);
		unlock_all(it, 1);
	}
	if (fd >= 0)
		close(fd); /* releases the flock */
	free(name);
	return rc;
}

/* Several refs, or one whose journal cannot be a second name: a barrier,
 * then the written journal (commit_many), then the audit entries. */
static int commit_journaled(struct sk_repo *repo, const struct sk_trust *policy,
			    const struct sk_key *key, struct txn_item *items, size_t n,
			    struct sk_err *err)
{
	int rc = barrier(repo, err);
	if (rc < 0)
		unlock_all(items, n);
	else if ((rc = commit_many(repo, items, n, err)) == 0)
		audit_items(repo, policy, key, items, n, 1);
	return rc;
}

/* Hands the records back in the caller's order. */
static void give_records(const struct txn_item *items, size_t n, struct sk_refrecord *records)
{
	if (records)
		for (size_t i = 0; i < n; i++)
			records[items[i].index] = items[i].rec;
}

int sk_refs_update_with(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_trust *policy, const struct sk_oid *policy_oid,
			const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
			struct sk_err *err)
{
	if (n == 0)
		return 0;
	int rc = check_updates(repo, policy, key, ups, n, err);
	if (rc < 0)
		return rc;
	struct txn_item *items = make_items(repo, ups, n);
	size_t pending = sk_odb_pending(repo->odb);
	int deferred = sk_odb_defer(repo->odb, 1);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = prepare_item(repo, key, policy_oid, &items[i], err);
	sk_odb_defer(repo->odb, deferred);
	if (rc < 0) {
		unlock_all(items, n);
	} else {
		rc = n == 1 ? commit_single(repo, policy, key, items, pending, err) : 1;
		if (rc == 1) /* several refs, or one whose lock cannot be linked */
			rc = commit_journaled(repo, policy, key, items, n, err);
	}
	if (rc == 0)
		give_records(items, n, records);
	free_items(items, n);
	return rc;
}

/* Everything sk_refs_update_with checks, without a lock or a write: the
 * records it would write (unsigned, with the time of the check). A later
 * update may still lose a race; the plan says what holds now. */
static int plan_with(struct sk_repo *repo, const struct sk_key *key,
		     const struct sk_trust *policy, const struct sk_oid *policy_oid,
		     const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
		     struct sk_err *err)
{
	int rc = check_updates(repo, policy, key, ups, n, err);
	if (rc < 0)
		return rc;
	struct txn_item *items = make_items(repo, ups, n);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = plan_item(repo, key, policy_oid, &items[i], err);
	if (rc == 0)
		give_records(items, n, records);
	free_items(items, n);
	return rc;
}

typedef int (*with_policy_fn)(struct sk_repo *, const struct sk_key *, const struct sk_trust *,
			      const struct sk_oid *, const struct sk_ref_update *, size_t,
			      struct sk_refrecord *, struct sk_err *);

/* Runs fn under the policy in force. The names are checked before the
 * policy is read, so a bad name is reported as such, first. */
static int with_current_policy(with_policy_fn fn, struct sk_repo *repo,
			       const struct sk_key *key, const struct sk_ref_update *ups, size_t n,
			       struct sk_refrecord *records, struct sk_err *err)
{
	if (n == 0)
		return 0;
	int rc = validate(ups, n, err);
	if (rc < 0)
		return rc;
	struct sk_trust *policy = NULL;
	struct sk_oid policy_oid;
	rc = sk_refs_load_trust_at(repo, &policy, &policy_oid, err);
	if (rc == 0)
		rc = fn(repo, key, policy, &policy_oid, ups, n, records, err);
	sk_trust_free(policy);
	return rc;
}

int sk_refs_update_plan(struct sk_repo *repo, const struct sk_key *key,
			const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
			struct sk_err *err)
{
	return with_current_policy(plan_with, repo, key, ups, n, records, err);
}

int sk_refs_update(struct sk_repo *repo, const struct sk_key *key,
		   const struct sk_ref_update *ups, size_t n, struct sk_refrecord *records,
		   struct sk_err *err)
{
	for (size_t i = 0; i < n; i++)
		if (ups[i].pending)
			return sk_err_set(err, SK_EINVAL, NULL,
					  "%s: a pending target is for plans only", ups[i].ref);
	return with_current_policy(sk_refs_update_with, repo, key, ups, n, records, err);
}

/* --- adopting a record from a remote --------------------------------- */

static int check_adopted(const char *name, const void *bytes, size_t len,
			 struct sk_refrecord *rec, struct sk_err *err)
{
	char buf[SK_REF_MAX + 1];
	int rc = sk_ref_name_check(name, err);
	if (!rc)
		rc = sk_refrecord_parse(rec, bytes, len, err);
	if (!rc && !rec->has_sig)
		rc = sk_err_set(err, SK_EVERIFY, NULL, "an unsigned record cannot be stored");
	if (!rc && strcmp(rec->ref, sk_refs_record_name(name, buf, sizeof(buf))) != 0)
		rc = sk_err_set(err, SK_EINVAL, NULL, "a record of %s cannot be stored as %s",
				rec->ref, name);
	return rc;
}

static int check_adopt_expect(struct sk_repo *repo, struct txn_item *it,
			      const struct sk_oid *expect, struct sk_err *err)
{
	struct sk_refrecord cur;
	struct sk_oid cur_id;
	int have = 0;
	int rc = read_current(repo, it, &cur, &cur_id, &have, err);
	if (rc)
		return rc;
	it->has_old = have && cur.has_oid;
	if (it->has_old)
		it->old = cur.oid;
	if (!expect && have && cur.has_oid)
		return sk_err_set(err, SK_ECONFLICT, "run it again", "ref %s appeared meanwhile",
				  it->up->ref);
	if (expect && (!have || sk_oid_cmp(&cur_id, expect) != 0))
		return sk_err_set(err, SK_ECONFLICT, "run it again", "ref %s moved meanwhile",
				  it->up->ref);
	return 0;
}

int sk_refs_adopt(struct sk_repo *repo, const char *name, const void *bytes, size_t len,
		  const struct sk_oid *expect, struct sk_err *err)
{
	struct sk_ref_update up = { .ref = name };
	struct txn_item it = { .up = &up };
	int rc = check_adopted(name, bytes, len, &it.rec, err);
	if (!rc)
		rc = sk_odb_write(repo->odb, SK_OBJ_REFRECORD, bytes, len, &it.rec_oid, err);
	if (rc)
		return rc;
	it.path = sk_refs_file(repo, name);
	it.lock = lock_path(it.path);
	int fd = take_lock(repo, &it, err);
	rc = fd < 0 ? fd : check_adopt_expect(repo, &it, expect, err);
	if (fd >= 0 && !rc && (sk_fs_write_all(fd, bytes, len) < 0 || sk_fs_fsync(fd) < 0))
		rc = sk_err_errno(err, errno, "cannot write lock", it.lock);
	if (fd >= 0 && close(fd) < 0 && !rc)
		rc = sk_err_errno(err, errno, "cannot write lock", it.lock);
	if (!rc)
		rc = commit_one(&it, err);
	else if (it.locked)
		unlink(it.lock);
	if (!rc) {
		struct sk_audit_move m = { .action = "fetch", .ref = name, .has_old = it.has_old,
					   .old = it.old, .rec = &it.rec, .record = it.rec_oid };
		sk_audit_record(repo, NULL, NULL, &m, 1, 1);
	}
	free(it.path);
	free(it.lock);
	return rc;
}

/* --- recovery ---------------------------------------------------------- */

/* Renames lock over path and makes the rename durable: recovery runs
 * rarely, and nothing after it would sync the name. */
static int publish(const char *lock, const char *path, struct sk_err *err)
{
	if (sk_fs_rename(lock, path) < 0)
		return sk_err_errno(err, errno, "cannot move ref into place", path);
	return sk_fs_fsync_parent(path, err);
}

/* Renames ref's lock into place when it holds exactly the journaled record.
 * Returns 0 (done or nothing to do) or an error. */
static int roll_forward(struct sk_repo *repo, const char *ref, const struct sk_oid *want,
			struct sk_err *err)
{
	char *path = sk_refs_file(repo, ref);
	char *lock = lock_path(path);
	char *bytes = NULL;
	size_t len = 0;
	int rc = 0;
	struct stat before, now;
	if (lstat(lock, &before) == 0 && S_ISREG(before.st_mode) &&
	    sk_fs_read_file(lock, SK_REFS_RECORD_MAX, &bytes, &len, NULL) == 0) {
		struct sk_oid got;
		sk_oid_hash(&got, SK_OBJ_REFRECORD, bytes, len);
		/* Same inode still in place: nobody swapped the lock meanwhile. */
		int same = lstat(lock, &now) == 0 && now.st_ino == before.st_ino &&
			   now.st_dev == before.st_dev;
		if (sk_oid_cmp(&got, want) == 0 && same)
			rc = publish(lock, path, err);
	}
	free(bytes);
	free(lock);
	free(path);
	return rc;
}

static int replay_journal(struct sk_repo *repo, const char *buf, size_t len, struct sk_err *err)
{
	json_t *doc = NULL;
	if (sk_cjson_parse(buf, len, &doc, NULL) < 0)
		return 1; /* not a journal this code wrote: leave it */
	json_t *entries = json_object_get(doc, "entries");
	int rc = json_is_array(entries) ? 0 : 1;
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		const char *ref = json_string_value(json_object_get(e, "ref"));
		const char *hex = json_string_value(json_object_get(e, "record"));
		struct sk_oid want;
		if (rc != 0 || !ref || !hex || sk_ref_name_check(ref, NULL) < 0 ||
		    sk_oid_fromhex(&want, hex, NULL) < 0) {
			rc = rc ? rc : 1;
			break;
		}
		rc = roll_forward(repo, ref, &want, err);
	}
	json_decref(doc);
	return rc;
}

/* A journal whose writer is gone: opened, its flock won without waiting,
 * read whole. Returns the descriptor (holding the flock) with *st, *buf
 * and *len set, or -1: its writer is alive, it is already finished
 * (nlink 0), or it is not a regular file of at most max bytes (left
 * alone). */
static int take_journal(const char *path, size_t max, struct stat *st, char **buf, size_t *len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return -1;
	*buf = NULL;
	if (flock(fd, LOCK_EX | LOCK_NB) == 0 && fstat(fd, st) == 0 && st->st_nlink > 0 &&
	    S_ISREG(st->st_mode) && (size_t)st->st_size <= max) {
		*buf = malloc((size_t)st->st_size + 1);
		if (!*buf)
			abort();
		*len = (size_t)st->st_size;
		if (pread(fd, *buf, *len, 0) == st->st_size)
			return fd;
	}
	free(*buf);
	close(fd);
	return -1;
}

static int recover_journal(struct sk_repo *repo, const char *path, struct sk_err *err)
{
	struct stat st;
	char *buf;
	size_t len;
	int fd = take_journal(path, SK_CJSON_MAX, &st, &buf, &len);
	if (fd < 0)
		return 0;
	int rc = replay_journal(repo, buf, len, err);
	if (rc == 0)
		unlink(path);
	free(buf);
	close(fd);
	return rc < 0 ? rc : 0;
}

/* A lone ref's journal (commit_single) is its lock under a second name,
 * and made durable by the same barrier as the record's target object and
 * the record object; a power cut during that barrier can keep the names
 * and the lock's bytes but not those objects. The update never reported
 * success then, and may go either way: it goes forward only when the
 * target verifies, with the record object written again from the lock's
 * bytes (a torn copy is replaced) and made durable before the rename;
 * otherwise the lock goes. A complete record names its ref; the lock is
 * the journal's only while both names are the same file. */
/* The record object again, from the record's bytes: a deferred write
 * replaces a torn copy; then synced. */
static int rewrite_record(struct sk_repo *repo, const char *bytes, size_t len,
			  struct sk_err *err)
{
	struct sk_oid id;
	int deferred = sk_odb_defer(repo->odb, 1);
	int rc = sk_odb_write(repo->odb, SK_OBJ_REFRECORD, bytes, len, &id, err);
	sk_odb_defer(repo->odb, deferred);
	return rc ? rc : sk_odb_flush(repo->odb, err);
}

static int finish_lone(struct sk_repo *repo, const char *bytes, size_t len,
		       const struct stat *st, struct sk_err *err)
{
	struct sk_refrecord rec;
	struct stat lst;
	if (sk_refrecord_parse(&rec, bytes, len, NULL) < 0 || sk_ref_name_check(rec.ref, NULL) < 0)
		return 0; /* torn: its lock, if any, stays for fsck to report */
	char *path = sk_refs_file(repo, rec.ref), *lock = lock_path(path);
	int rc = 0;
	if (lstat(lock, &lst) == 0 && lst.st_ino == st->st_ino && lst.st_dev == st->st_dev) {
		int target_ok = !rec.has_oid || sk_odb_stream(repo->odb, &rec.oid, SK_OBJ_NONE, NULL,
							       NULL, NULL, NULL, NULL) == 0;
		if (!target_ok)
			unlink(lock);
		else if ((rc = rewrite_record(repo, bytes, len, err)) == 0)
			rc = publish(lock, path, err);
	}
	free(lock);
	free(path);
	return rc;
}

static int recover_lone(struct sk_repo *repo, const char *path, struct sk_err *err)
{
	struct stat st;
	char *buf;
	size_t len;
	int fd = take_journal(path, SK_REFS_RECORD_MAX, &st, &buf, &len);
	if (fd < 0)
		return 0;
	int rc = finish_lone(repo, buf, len, &st, err);
	if (rc == 0)
		unlink(path);
	free(buf);
	close(fd);
	return rc;
}

/* A temp journal whose flock is free belongs to a writer that died before
 * its commit point: garbage. A young one may be a writer between creating
 * the file and locking it, so only old ones go. */
static void remove_dead_temp(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return;
	struct stat st;
	if (fstat(fd, &st) == 0 && time(NULL) - st.st_mtime > 60 &&
	    flock(fd, LOCK_EX | LOCK_NB) == 0)
		unlink(path);
	close(fd);
}

int sk_refs_recover(struct sk_repo *repo, struct sk_err *err)
{
	char *dir = sk_path_join(repo->path, "txn");
	if (access(dir, W_OK) != 0) { /* read-only repository: leave it be */
		free(dir);
		return 0;
	}
	int rc = 0;
	DIR *d = opendir(dir);
	struct dirent *de;
	while (d && rc == 0 && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		char *path = sk_path_join(dir, de->d_name);
		size_t nl = strlen(de->d_name), sl = strlen(LONE_SUFFIX);
		if (strstr(de->d_name, ".tmp."))
			remove_dead_temp(path);
		else if (nl > sl && strcmp(de->d_name + nl - sl, LONE_SUFFIX) == 0)
			rc = recover_lone(repo, path, err);
		else
			rc = recover_journal(repo, path, err);
		if (rc < 0)
			sk_err_wrap(err, "recovering transaction %s", path);
		free(path);
	}
	if (d)
		closedir(d);
	free(dir);
	return rc;
}
