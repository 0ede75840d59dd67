/*
 * skiff export-git DIR [--ref PATTERN]...: mirrors service histories and
 * signed releases into a git repository at DIR, for reviewers who read
 * change as git history (`git log -p`). Incremental: a run appends only
 * what is new since the last one. The design is in export_git.h.
 *
 * This file is the command: which directory, what was exported before,
 * and the result. Every skiff object is read and verified before the
 * first byte reaches DIR, so a verification failure (exit 4) leaves the
 * git repository as it was; a new DIR is created only then, too.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "common/fs.h"
#include "porcelain/export_git.h"
#include "porcelain/porcelain.h"

#define STATE_FILE "skiff-export.json"
#define STATE_MAX (64u << 20)
#define GERR(what) sk_gitlib_err(x->g, err, SK_EFAIL, what)

/* The cache's path inside the git directory (malloc'd). */
static char *state_path(const struct sk_export *x)
{
	return sk_path_join(x->g->repository_path(x->git), STATE_FILE);
}

static int dir_is_empty(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	int empty = d != NULL;
	while (d && (e = readdir(d)) != NULL)
		if (strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0)
			empty = 0;
	if (d)
		closedir(d);
	return empty;
}

static int foreign(const struct sk_export *x, const char *why, struct sk_err *err)
{
	return sk_err_set(err, SK_EEXISTS,
			  "give a new or empty directory, or one that export-git wrote before",
			  "%s is a git repository export-git did not write (%s)", x->dir, why);
}

/* The cache, when it describes the current tip: {v, head, refs}. */
static json_t *read_state(struct sk_export *x)
{
	char *path = state_path(x), *buf = NULL, hex[GIT_OID_HEXSZ + 1];
	size_t len = 0;
	int rc = sk_fs_read_file(path, STATE_MAX, &buf, &len, NULL);
	free(path);
	json_t *doc = rc == 0 ? json_loadb(buf, len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	free(buf);
	snprintf(hex, sizeof(hex), "%s", x->g->oid_tostr_s(&x->tip));
	json_t *refs = json_object_get(doc, "refs");
	const char *head = json_string_value(json_object_get(doc, "head")), *k;
	json_t *v;
	int ok = json_integer_value(json_object_get(doc, "v")) == 1 && head &&
		 strcmp(head, hex) == 0 && json_is_object(refs);
	json_object_foreach(refs, k, v) {
		struct sk_oid id;
		if (!json_is_string(v) || sk_oid_fromhex(&id, json_string_value(v), NULL) < 0 ||
		    sk_ref_name_check(k, NULL) < 0)
			ok = 0;
	}
	json_t *out = ok ? json_incref(refs) : NULL;
	json_decref(doc);
	return out;
}

/* Rebuilds the cache from the trailers of main's history: the newest git
 * commit naming a ref names what was exported last for it. */
static int rebuild_state(struct sk_export *x, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	git_oid id = x->tip;
	int rc = 0;
	for (size_t n = 0;; n++) {
		git_commit *c = NULL;
		git_message_trailer_array tr;
		memset(&tr, 0, sizeof(tr));
		if (g->commit_lookup(&c, x->git, &id) < 0)
			return GERR("reading main's history");
		const char *ref = NULL, *oid = NULL;
		if (g->message_trailers(&tr, g->commit_message(c)) == 0)
			for (size_t i = 0; i < tr.count; i++) {
				if (strcmp(tr.trailers[i].key, "Skiff-Ref") == 0)
					ref = tr.trailers[i].value;
				else if (strcmp(tr.trailers[i].key, "Skiff-Commit") == 0 ||
					 strcmp(tr.trailers[i].key, "Skiff-Signature") == 0)
					oid = tr.trailers[i].value;
			}
		struct sk_oid parsed;
		int ours = ref && oid && sk_ref_name_check(ref, NULL) == 0 &&
			   sk_oid_fromhex(&parsed, oid, NULL) == 0;
		if (ours && !json_object_get(x->exported, ref))
			json_object_set_new(x->exported, ref, json_string(oid));
		if (n == 0 && !ours)
			rc = foreign(x, "main's newest commit has no Skiff-Ref trailer", err);
		int more = rc == 0 && g->commit_parentcount(c) > 0;
		if (more)
			id = *g->commit_parent_id(c, 0);
		g->message_trailer_array_free(&tr);
		g->commit_free(c);
		if (!more)
			return rc;
	}
}

/* A git repository with no refs and an unborn HEAD (whatever branch
 * name `git init` gave it). */
static int no_history(struct sk_export *x)
{
	git_strarray refs = { NULL, 0 };
	int none = x->g->repository_head_unborn(x->git) == 1 &&
		   x->g->reference_list(&refs, x->git) == 0 && refs.count == 0;
	x->g->strarray_dispose(&refs);
	return none;
}

/* Opens DIR if it is a git repository and learns what was exported; a
 * DIR that does not exist or is empty is to be created. */
static int open_dir(struct sk_export *x, struct sk_err *err)
{
	const struct sk_gitlib *g = x->g;
	struct stat st;
	x->exported = json_object();
	if (stat(x->dir, &st) < 0) {
		if (errno != ENOENT)
			return sk_err_errno(err, errno, "reading", x->dir);
		x->create = x->set_head = 1;
		return 0;
	}
	if (!S_ISDIR(st.st_mode))
		return sk_err_set(err, SK_EEXISTS, "give a directory", "%s is not a directory", x->dir);
	int rc = g->repository_open_ext(&x->git, x->dir, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL);
	if (rc == GIT_ENOTFOUND) {
		if (!dir_is_empty(x->dir))
			return sk_err_set(err, SK_EEXISTS,
					  "give a new or empty directory, or one that export-git wrote before",
					  "%s is not empty and not a git repository", x->dir);
		x->create = x->set_head = 1;
		return 0;
	}
	if (rc < 0)
		return GERR(x->dir);
	rc = g->reference_name_to_id(&x->tip, x->git, SK_EXPORT_BRANCH);
	if (rc == GIT_ENOTFOUND) {
		/* A fresh `git init`: fine, the export starts main. */
		if (!no_history(x))
			return foreign(x, "it has no branch main", err);
		x->set_head = 1;
		return 0;
	}
	if (rc < 0)
		return GERR("reading " SK_EXPORT_BRANCH);
	x->has_tip = 1;
	json_t *cached = read_state(x);
	if (cached) {
		json_decref(x->exported);
		x->exported = cached;
		return 0;
	}
	x->state_stale = 1;
	return rebuild_state(x, err);
}

static int create_repo(struct sk_export *x, struct sk_err *err)
{
	git_repository_init_options o;
	x->g->repository_init_options_init(&o, GIT_REPOSITORY_INIT_OPTIONS_VERSION);
	o.flags = GIT_REPOSITORY_INIT_MKPATH | GIT_REPOSITORY_INIT_NO_REINIT;
	o.initial_head = "main";
	if (x->g->repository_init_ext(&x->git, x->dir, &o) < 0)
		return GERR("creating a git repository");
	x->set_head = 0; /* initial_head did it */
	return 0;
}

/* The cache after a run: what was exported before plus what is new. */
static int write_state(struct sk_export *x, const git_oid *tip, struct sk_err *err)
{
	char hex[SK_OID_HEXSZ + 1];
	for (size_t i = 0; i < x->nevents; i++)
		json_object_set_new(x->exported, x->events[i].ref,
				    json_string(sk_oid_tohex(&x->events[i].oid, hex)));
	json_t *doc = json_pack("{s:i, s:s, s:O}", "v", 1, "head", x->g->oid_tostr_s(tip), "refs",
				x->exported);
	char *s = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_SORT_KEYS) : NULL;
	char *path = state_path(x);
	int rc = s ? sk_fs_write_atomic(path, s, strlen(s), 0644, err)
		   : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	free(path);
	free(s);
	json_decref(doc);
	return rc;
}

static void export_text(FILE *out, const json_t *r)
{
	const char *head = json_string_value(json_object_get(r, "head"));
	const char *dir = json_string_value(json_object_get(r, "dir"));
	json_int_t c = json_integer_value(json_object_get(r, "commits"));
	json_int_t rel = json_integer_value(json_object_get(r, "releases"));
	if (c + rel == 0)
		fprintf(out, "up to date  %s\n", dir);
	else
		fprintf(out, "exported  %" JSON_INTEGER_FORMAT " commit%s, %" JSON_INTEGER_FORMAT
			     " release%s into %s\n",
			c, c == 1 ? "" : "s", rel, rel == 1 ? "" : "s", dir);
	fprintf(out, "head      %s\nworktree  %s\n", head ? head : "(no commits yet)",
		json_string_value(json_object_get(r, "worktree")));
	if (head)
		fprintf(out, "\nnext: git -C %s log -p\n", dir);
}

static int parse_args(struct sk_cli *cli, int argc, char **argv, struct sk_export *x,
		      struct sk_err *err)
{
	static const struct option lo[] = { { "ref", required_argument, NULL, 'r' },
					    { 0, 0, 0, 0 } };
	int c;
	x->patterns = calloc((size_t)argc, sizeof(*x->patterns));
	if (!x->patterns)
		return sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		if (c != 'r')
			return sk_cli_usage(cli, err, "unknown or incomplete option '%s'",
					    argv[optind - 1]);
		if (sk_trust_pattern_check(optarg, err) < 0)
			return sk_cli_usage(cli, err, "--ref %s: %s", optarg, err->message);
		x->patterns[x->npatterns++] = optarg;
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "export-git needs exactly one DIR");
	x->dir = argv[optind];
	return 0;
}

static json_t *result(const struct sk_export *x, const git_oid *tip, int has_tip,
		      const char *worktree)
{
	char prev[GIT_OID_HEXSZ + 1] = "";
	if (x->has_tip)
		snprintf(prev, sizeof(prev), "%s", x->g->oid_tostr_s(&x->tip));
	return json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:O, s:s}", "dir", x->dir, "branch",
			 SK_EXPORT_BRANCH, "head",
			 has_tip ? json_string(x->g->oid_tostr_s(tip)) : json_null(),
			 "previous_head", x->has_tip ? json_string(prev) : json_null(), "commits",
			 (json_int_t)x->commits, "releases", (json_int_t)x->releases, "refs",
			 x->refs, "worktree", worktree);
}

static int run(struct sk_cli *cli, struct sk_export *x, struct sk_err *err)
{
	git_oid tip = x->tip;
	const char *worktree = "unchanged";
	int rc = open_dir(x, err);
	if (rc == 0)
		rc = sk_export_collect(x, err);
	if (rc == 0 && x->create)
		rc = create_repo(x, err);
	if (rc == 0 && x->nevents > 0)
		rc = sk_export_write(x, &tip, &worktree, err);
	else
		tip = x->tip;
	int has_tip = x->has_tip || x->nevents > 0;
	if (rc == 0 && has_tip && (x->nevents > 0 || x->state_stale))
		rc = write_state(x, &tip, err);
	if (rc == 0)
		sk_cli_result(cli, result(x, &tip, has_tip, worktree), export_text);
	return rc;
}

int cmd_export_git(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_export x;
	memset(&x, 0, sizeof(x));
	x.repo = cli->repo;
	int rc = parse_args(cli, argc, argv, &x, err);
	if (rc == 0)
		rc = sk_gitlib_open(&x.g, err);
	if (rc == 0)
		rc = run(cli, &x, err);
	sk_export_events_free(&x);
	if (x.git)
		x.g->repository_free(x.git);
	sk_gitlib_close(x.g);
	sk_trust_free(x.policy);
	json_decref(x.exported);
	json_decref(x.refs);
	free(x.patterns);
	return rc;
}
