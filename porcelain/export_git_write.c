/*
 * export-git, the git side (see export_git.h). New objects go to an
 * in-memory object database first and reach the repository as one pack,
 * so a long first export leaves one pack instead of tens of thousands of
 * loose files, and a run that fails before the pack is written leaves no
 * git object behind. Then the work tree (when HEAD is main), then main
 * itself by compare-and-swap from the tip the run started from.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2/sys/odb_backend.h>

#include "objects/trust.h"
#include "porcelain/export_git.h"

#define GERR(what) sk_gitlib_err(g, err, SK_EFAIL, what)

/* Writes blob at path (dirs..., file) below tree (NULL: an empty tree)
 * and returns the new tree's id in *out. */
static int put_path(struct sk_export *x, const git_oid *tree, const char *const *path,
		    size_t depth, const git_oid *blob, git_oid *out, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_tree *t = NULL;
	git_treebuilder *tb = NULL;
	git_oid child;
	int rc = 0;
	if (tree && g->tree_lookup(&t, x->git, tree) < 0)
		return GERR("reading a tree");
	if (depth == 1) {
		child = *blob;
	} else {
		const git_tree_entry *e = t ? g->tree_entry_byname(t, path[0]) : NULL;
		git_oid sub;
		int has_sub = e && g->tree_entry_type(e) == GIT_OBJECT_TREE;
		if (has_sub)
			sub = *g->tree_entry_id(e);
		rc = put_path(x, has_sub ? &sub : NULL, path + 1, depth - 1, blob, &child, err);
	}
	if (rc == 0 && (g->treebuilder_new(&tb, x->git, t) < 0 ||
			g->treebuilder_insert(NULL, tb, path[0], &child,
					      depth == 1 ? GIT_FILEMODE_BLOB : GIT_FILEMODE_TREE) < 0 ||
			g->treebuilder_write(out, tb) < 0))
		rc = GERR("writing a tree");
	g->treebuilder_free(tb);
	g->tree_free(t);
	return rc;
}

/* The message, then the trailers that say what was exported. */
static char *message(const struct sk_export_event *e)
{
	char *buf = NULL, hex[SK_OID_HEXSZ + 1];
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	if (!f)
		return NULL;
	if (e->kind == SK_EXPORT_COMMIT) {
		size_t n = strlen(e->message);
		while (n > 0 && strchr(" \t\r\n", e->message[n - 1]))
			n--;
		if (n)
			fprintf(f, "%.*s\n\n", (int)n, e->message);
		else
			fputs("(no message)\n\n", f);
		fprintf(f, "Skiff-Ref: %s\nSkiff-Commit: %s\n", e->ref, sk_oid_tohex(&e->oid, hex));
		fprintf(f, "Skiff-Control: %s\nSkiff-Actor: %s\n", sk_oid_tohex(&e->object, hex),
			e->actor);
		if (e->op)
			fprintf(f, "Skiff-Op: %s\n", e->op);
	} else {
		fprintf(f, "release %s %s\n\n", e->service, e->version);
		fprintf(f, "Skiff-Ref: %s\nSkiff-Signature: %s\n", e->ref, sk_oid_tohex(&e->oid, hex));
		fprintf(f, "Skiff-Release: %s\nSkiff-Signer: %s\n", sk_oid_tohex(&e->object, hex),
			e->actor);
	}
	if (fclose(f) != 0) {
		free(buf);
		return NULL;
	}
	return buf;
}

/* One git commit for e on top of *tip (has_tip) with tree *root. */
static int write_commit(struct sk_export *x, const struct sk_export_event *e, const git_oid *root,
			git_oid *tip, int has_tip, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	const struct sk_trust_key *k = sk_trust_find_key(x->policy, e->actor);
	char email[SK_KEYID_HEXSZ + 8];
	snprintf(email, sizeof(email), "%s@skiff", e->actor);
	git_signature *who = NULL;
	git_tree *tree = NULL;
	git_commit *parent = NULL;
	char *msg = message(e);
	int rc = msg ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	/* git has no dates before 1970; skiff's are checked >= 0 already. */
	if (rc == 0 && g->signature_new(&who, k ? k->name : e->actor, email,
					(git_time_t)(e->time > 0 ? e->time : 0), 0) < 0)
		rc = GERR("making the author");
	if (rc == 0 && (g->tree_lookup(&tree, x->git, root) < 0 ||
			(has_tip && g->commit_lookup(&parent, x->git, tip) < 0)))
		rc = GERR("reading the new tree");
	const git_commit *parents[1] = { parent };
	if (rc == 0 && g->commit_create(tip, x->git, NULL, who, who, NULL, msg, tree, has_tip ? 1 : 0,
					parents) < 0)
		rc = GERR("writing a commit");
	g->commit_free(parent);
	g->tree_free(tree);
	g->signature_free(who);
	free(msg);
	return rc;
}

static int write_events(struct sk_export *x, git_oid *tip, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_oid root;
	int has_root = 0, has_tip = x->has_tip, rc = 0;
	*tip = x->tip;
	if (has_tip) {
		git_commit *c = NULL;
		if (g->commit_lookup(&c, x->git, tip) < 0)
			return GERR("reading refs/heads/main");
		root = *g->commit_tree_id(c);
		has_root = 1;
		g->commit_free(c);
	}
	for (size_t i = 0; rc == 0 && i < x->nevents; i++) {
		const struct sk_export_event *e = &x->events[i];
		char leaf[SK_RELEASE_VERSION_MAX + 8];
		snprintf(leaf, sizeof(leaf), "%s.json", e->version);
		const char *path[3] = { e->kind == SK_EXPORT_COMMIT ? "services" : "releases", e->service,
					e->kind == SK_EXPORT_COMMIT ? "control.json" : leaf };
		git_oid blob;
		if (g->blob_create_from_buffer(&blob, x->git, e->file, strlen(e->file)) < 0)
			return GERR("writing a blob");
		rc = put_path(x, has_root ? &root : NULL, path, 3, &blob, &root, err);
		has_root = 1;
		if (rc == 0)
			rc = write_commit(x, e, &root, tip, has_tip, err);
		has_tip = 1;
	}
	return rc;
}

/* The in-memory objects as one pack in the repository. */
static int write_pack(struct sk_export *x, git_odb *odb, git_odb_backend *mem, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_buf pack = GIT_BUF_INIT;
	git_odb_writepack *wp = NULL;
	git_indexer_progress stats;
	memset(&stats, 0, sizeof(stats));
	int rc = 0;
	if (g->mempack_dump(&pack, x->git, mem) < 0 || g->odb_write_pack(&wp, odb, NULL, NULL) < 0 ||
	    wp->append(wp, pack.ptr, pack.size, &stats) < 0 || wp->commit(wp, &stats) < 0)
		rc = GERR("writing the pack");
	if (wp)
		wp->free(wp);
	g->buf_dispose(&pack);
	return rc;
}

static int head_is_main(struct sk_export *x)
{
	git_reference *head = NULL;
	if (x->g->reference_lookup(&head, x->git, "HEAD") < 0)
		return 0;
	const char *target = x->g->reference_symbolic_target(head);
	int yes = target && strcmp(target, SK_EXPORT_BRANCH) == 0;
	x->g->reference_free(head);
	return yes;
}

/* Brings index and work tree to the new tip, before main moves: the
 * baseline is HEAD, so a file someone changed by hand is a conflict that
 * leaves the work tree alone rather than a change silently lost. */
static int update_worktree(struct sk_export *x, const git_oid *tip, const char **what,
			   struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	if (g->repository_is_bare(x->git)) {
		*what = "bare";
		return 0;
	}
	if (!head_is_main(x)) {
		*what = "not updated: HEAD is not main";
		return 0;
	}
	git_checkout_options co;
	git_commit *c = NULL;
	g->checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy = GIT_CHECKOUT_SAFE;
	if (g->commit_lookup(&c, x->git, tip) < 0)
		return GERR("reading the new tip");
	int rc = g->checkout_tree(x->git, (const git_object *)c, &co);
	g->commit_free(c);
	if (rc == GIT_ECONFLICT) {
		*what = "not updated: local changes (git checkout -f main takes the export)";
		return 0;
	}
	if (rc < 0)
		return GERR("updating the work tree");
	*what = "updated";
	return 0;
}

static int move_main(struct sk_export *x, const git_oid *tip, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_reference *ref = NULL;
	int rc = x->has_tip ? g->reference_create_matching(&ref, x->git, SK_EXPORT_BRANCH, tip, 1,
							    &x->tip, "skiff export-git")
			    : g->reference_create(&ref, x->git, SK_EXPORT_BRANCH, tip, 0,
						  "skiff export-git");
	g->reference_free(ref);
	if (rc == GIT_EMODIFIED || rc == GIT_EEXISTS || rc == GIT_ELOCKED)
		return sk_err_set(err, SK_ECONFLICT, "run the export again",
				  "%s moved while exporting (another export-git?)", SK_EXPORT_BRANCH);
	return rc < 0 ? GERR("moving " SK_EXPORT_BRANCH) : 0;
}

int sk_export_write(struct sk_export *x, git_oid *new_tip, const char **worktree,
		    struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_odb *odb = NULL;
	git_odb_backend *mem = NULL;
	*worktree = "unchanged";
	if (g->repository_odb(&odb, x->git) < 0)
		return GERR("opening the object database");
	int rc = 0;
	if (g->mempack_new(&mem) < 0 || g->odb_add_backend(odb, mem, 1000) < 0) {
		rc = GERR("preparing the object database");
		/* add_backend took no ownership on failure; free what was made */
		if (mem)
			mem->free(mem);
		g->odb_free(odb);
		return rc;
	}
	rc = write_events(x, new_tip, err);
	if (rc == 0)
		rc = write_pack(x, odb, mem, err);
	if (rc == 0 && x->set_head) {
		git_reference *head = NULL;
		if (g->reference_symbolic_create(&head, x->git, "HEAD", SK_EXPORT_BRANCH, 1,
						 "skiff export-git") < 0)
			rc = GERR("pointing HEAD at main");
		g->reference_free(head);
	}
	if (rc == 0)
		rc = update_worktree(x, new_tip, worktree, err);
	if (rc == 0)
		rc = move_main(x, new_tip, err);
	g->odb_free(odb); /* frees the in-memory backend with it */
	return rc;
}
