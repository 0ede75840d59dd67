/*
 * skiff export-git, shared by its three files: export_git.c (the command,
 * the target directory and what was exported before), export_git_collect.c
 * (the skiff side: verified reads of what is new, in export order) and
 * export_git_write.c (the git side, through libgit2).
 *
 * The export is one linear history on refs/heads/main. Each state commit
 * of refs/services/<svc> becomes a git commit writing
 * services/<svc>/control.json; each signed release
 * refs/releases/<svc>/<version> becomes a git commit writing
 * releases/<svc>/<version>.json. A run appends what is new, ordered by
 * (time, skiff ref) with each service's commits kept in parent order, and
 * everything that makes a git id (tree, parent, author, committer,
 * message) comes from the skiff objects, so the same state exported twice
 * gives the same git ids. What was exported is in the trailers of the git
 * commits (Skiff-Ref plus Skiff-Commit or Skiff-Signature); the file
 * .git/skiff-export.json caches the newest id per ref together with the
 * git head it describes, and is rebuilt from the trailers when it does not
 * match refs/heads/main.
 */
#ifndef SK_EXPORT_GIT_H
#define SK_EXPORT_GIT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "common/cli.h"
#include "common/gitlib.h"
#include "objects/release.h"
#include "objects/trust.h"
#include "refs/refs.h"

#define SK_EXPORT_BRANCH "refs/heads/main"

enum sk_export_kind { SK_EXPORT_COMMIT, SK_EXPORT_RELEASE };

/* One git commit to write. */
struct sk_export_event {
	enum sk_export_kind kind;
	int64_t time;
	char ref[SK_REF_MAX + 1];
	char service[SK_RELEASE_VERSION_MAX + 1];
	char version[SK_RELEASE_VERSION_MAX + 1]; /* releases */
	struct sk_oid oid;                       /* the state commit, or the signature */
	struct sk_oid object;                    /* its control, or the release */
	char actor[SK_KEYID_HEXSZ + 1];          /* the commit's actor, or the signer */
	char *message;                           /* commits; may be "" */
	char *op;                                /* commits; NULL when none */
	char *file;                              /* the tree file: pretty JSON */
};

struct sk_export {
	struct sk_repo *repo;
	struct sk_gitlib *g;
	const char *dir;
	char **patterns; /* --ref; none: every service and release */
	size_t npatterns;
	/* git side */
	git_repository *git; /* NULL until opened or created */
	int create;          /* DIR is to be made a git repository */
	int set_head;        /* HEAD is to point at main (a new export) */
	int has_tip;
	git_oid tip;      /* refs/heads/main before this run */
	json_t *exported; /* {skiff ref: hex id of the newest exported} */
	int state_stale;  /* .git/skiff-export.json is to be rewritten */
	/* skiff side */
	struct sk_trust *policy;
	struct sk_export_event *events; /* what to write, in order */
	size_t nevents;
	size_t commits, releases;
	json_t *refs; /* [{ref, kind, new}] for refs with something new */
};

/* Reads what is new under the matching refs, verifying every record and
 * object, into x->events. Nothing is written anywhere. */
int sk_export_collect(struct sk_export *x, struct sk_err *err);
void sk_export_events_free(struct sk_export *x);

/* Writes x->events as git commits on main (one pack), updates the work
 * tree when HEAD is main, and moves main by compare-and-swap. *worktree
 * receives what happened to the work tree (a static string). */
int sk_export_write(struct sk_export *x, git_oid *new_tip, const char **worktree,
		    struct sk_err *err);

#endif
