/*
 * skiff init [DIR]: a new repository whose trust policy makes the signing
 * identity root and operator (refs/meta/trust, seq 1, self-signed).
 * --dry-run: where the repository would be created and the policy it
 * would start with (its id is computed, not stored); nothing is created.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/keys.h"
#include "refs/refs.h"

static void init_text(FILE *out, const json_t *r)
{
	json_t *id = json_object_get(r, "identity");
	fprintf(out, "initialized %s\nroot and operator: %s (%s)\n",
		json_string_value(json_object_get(r, "path")),
		json_string_value(json_object_get(id, "name")),
		json_string_value(json_object_get(id, "id")));
	fprintf(out, "next: skiff control set SERVICE KEY=VALUE, or skiff release create SERVICE --spec FILE --version V\n");
}

/* The nearest existing ancestor of dir (dir itself when it exists) must
 * be a directory this process may write into, as sk_repo_init needs. */
static int check_creatable(const char *dir, struct sk_err *err)
{
	char *p = strdup(dir);
	if (!p)
		abort();
	while (!sk_fs_exists(p)) {
		char *slash = strrchr(p, '/');
		if (!slash) {
			strcpy(p, ".");
			break;
		}
		if (slash == p)
			slash[1] = '\0';
		else
			*slash = '\0';
	}
	int rc = 0; /* reported as the mkdir that init would try fails */
	if (!sk_fs_is_dir(p))
		rc = sk_err_errno(err, ENOTDIR, "cannot create directory", dir);
	else if (access(p, W_OK | X_OK) != 0)
		rc = sk_err_errno(err, errno, "cannot create directory", dir);
	free(p);
	return rc;
}

static int init_dry_run(struct sk_cli *cli, const char *dir, struct sk_err *err)
{
	char *skiff = sk_path_join(dir, ".skiff");
	int rc = 0;
	if (sk_fs_exists(skiff))
		rc = sk_err_set(err, SK_EEXISTS, "use the existing repository, or choose another directory",
				"a skiff repository already exists at %s", skiff);
	if (!rc)
		rc = check_creatable(dir, err);
	struct sk_trust *t = rc ? NULL
				: sk_trust_new_initial(sk_key_id(cli->key), sk_key_name(cli->key),
						       sk_key_public(cli->key));
	struct sk_oid trust;
	if (!rc && !t)
		rc = sk_err_set(err, SK_EFAIL, NULL, "cannot build the initial trust policy");
	json_t *doc = t ? sk_trust_to_json(t) : NULL;
	if (!rc)
		rc = sk_dry_json_oid(SK_OBJ_TRUST, doc, &trust, err);
	json_decref(doc);
	sk_trust_free(t);
	if (rc) {
		free(skiff);
		return rc;
	}
	/* where it would be: absolute, though dir may not exist yet */
	char *abs = realpath(dir, NULL), *cwd = dir[0] == '/' ? NULL : getcwd(NULL, 0);
	char *shown = abs ? sk_path_join(abs, ".skiff") : cwd ? sk_path_join(cwd, skiff) : NULL;
	free(cwd);
	json_t *plan = sk_dry_plan("init", NULL), *s;
	char detail[SK_ERR_MSG], hex[SK_OID_HEXSZ + 1];
	s = sk_dry_step(plan, "create-repository", "low", 1, NULL);
	snprintf(detail, sizeof(detail), "%s: objects/, refs/, config", shown ? shown : skiff);
	json_object_set_new(s, "detail", sk_json_str(detail));
	json_object_set_new(s, "path", sk_json_str(shown ? shown : skiff));
	s = sk_dry_step(plan, "sign-policy refs/meta/trust", "low", 0, NULL);
	snprintf(detail, sizeof(detail), "trust policy %.16s…, seq 1: %s (%s) is root and operator",
		 sk_oid_tohex(&trust, hex), sk_key_name(cli->key),
		 sk_key_id(cli->key));
	json_object_set_new(s, "detail", sk_json_str(detail));
	json_object_set_new(s, "ref", sk_json_str("refs/meta/trust"));
	json_object_set_new(s, "new", sk_json_oid(&trust));
	sk_dry_result(cli, plan,
		      json_pack("{s:s, s:{s:s, s:s}, s:o}", "path", shown ? shown : skiff,
				"identity", "name", sk_key_name(cli->key), "id", sk_key_id(cli->key),
				"trust", sk_json_oid(&trust)));
	free(abs);
	free(shown);
	free(skiff);
	return 0;
}

int cmd_init(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return sk_cli_usage(cli, err, "init takes at most one DIR");
	const char *dir = argc == 2 ? argv[1] : cli->dir ? cli->dir : ".";
	if (cli->dry_run)
		return init_dry_run(cli, dir, err);
	struct sk_repo *repo = NULL;
	int rc = sk_repo_init(&repo, dir, cli->key, err);
	if (rc < 0)
		return rc;
	struct sk_oid trust;
	struct sk_err ignore;
	char *abs = realpath(sk_repo_path(repo), NULL);
	json_t *r = json_pack("{s:s, s:{s:s, s:s}}", "path", abs ? abs : sk_repo_path(repo),
			      "identity", "name", sk_key_name(cli->key), "id", sk_key_id(cli->key));
	free(abs);
	if (sk_refs_resolve(repo, "refs/meta/trust", &trust, &ignore) == 0)
		json_object_set_new(r, "trust", sk_json_oid(&trust));
	sk_repo_free(repo);
	sk_cli_result(cli, r, init_text);
	return 0;
}
