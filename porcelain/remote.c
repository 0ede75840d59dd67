/*
 * skiff remote add | list | remove: named remotes (remote-s3/config.h).
 * Adding checks the URL's syntax only; the first push or fetch talks to it.
 * --dry-run runs the same checks and says what would be added or removed.
 */
#include <stdlib.h>
#include <string.h>

#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/refs.h"
#include "remote-s3/config.h"

static void added_text(FILE *out, const json_t *r)
{
	fprintf(out, "added remote %s  %s\nnext: skiff push %s\n",
		json_string_value(json_object_get(r, "name")),
		json_string_value(json_object_get(r, "url")),
		json_string_value(json_object_get(r, "name")));
}

static int add_dry_run(struct sk_cli *cli, const char *name, const char *url,
		       struct sk_err *err)
{
	int rc = sk_remote_config_add_check(cli->repo, name, url, err);
	if (rc)
		return rc;
	char comp[128];
	snprintf(comp, sizeof(comp), "skiff remote remove %s", name);
	json_t *plan = sk_dry_plan("remote add", NULL);
	json_t *s = sk_dry_step(plan, "add-remote", "low", 1, comp);
	json_object_set_new(s, "detail", json_sprintf("%s  %s", name, url));
	sk_dry_result(cli, plan, json_pack("{s:s, s:s}", "name", name, "url", url));
	return 0;
}

int cmd_remote_add(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3)
		return sk_cli_usage(cli, err, "remote add needs NAME and URL");
	if (cli->dry_run)
		return add_dry_run(cli, argv[1], argv[2], err);
	int rc = sk_remote_config_add(cli->repo, argv[1], argv[2], err);
	if (rc)
		return rc;
	sk_cli_result(cli, json_pack("{s:s, s:s}", "name", argv[1], "url", argv[2]), added_text);
	return 0;
}

static void list_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "remotes"), i, e)
		fprintf(out, "%-16s %s\n", json_string_value(json_object_get(e, "name")),
			json_string_value(json_object_get(e, "url")));
}

int cmd_remote_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 1)
		return sk_cli_usage(cli, err, "remote list takes no arguments");
	json_t *all = NULL;
	int rc = sk_remote_config_list(cli->repo, &all, err);
	if (rc) {
		json_decref(all);
		return rc;
	}
	sk_cli_result(cli, json_pack("{s:o}", "remotes", all), list_text);
	return 0;
}

static void removed_text(FILE *out, const json_t *r)
{
	fprintf(out, "removed remote %s and its remote-tracking refs\n",
		json_string_value(json_object_get(r, "name")));
}

/* The remote-tracking refs remove would delete: refs/remotes/NAME/…. */
static int tracking_refs(struct sk_cli *cli, const char *name, json_t **out, struct sk_err *err)
{
	char pattern[SK_REF_MAX + 16];
	struct sk_refrecord *recs = NULL;
	size_t n = 0;
	snprintf(pattern, sizeof(pattern), "%s%s/**", SK_REFS_REMOTES, name);
	int rc = sk_refs_list(cli->repo, pattern, 1, &recs, &n, err);
	*out = json_array();
	for (size_t i = 0; !rc && i < n; i++) /* the records carry the remote's names */
		json_array_append_new(*out, json_sprintf("%s%s/%s", SK_REFS_REMOTES, name,
							 recs[i].ref + strlen("refs/")));
	free(recs);
	return rc;
}

static int remove_dry_run(struct sk_cli *cli, const char *name, struct sk_err *err)
{
	char *url = NULL;
	json_t *refs = NULL;
	int rc = sk_remote_config_remove_check(cli->repo, name, &url, err);
	if (!rc)
		rc = tracking_refs(cli, name, &refs, err);
	if (rc) {
		free(url);
		json_decref(refs);
		return rc;
	}
	char comp[SK_ERR_MSG];
	snprintf(comp, sizeof(comp), "skiff remote add %s URL, then skiff fetch %s", name, name);
	json_t *plan = sk_dry_plan("remote remove", NULL);
	json_t *s = sk_dry_step(plan, "remove-remote", "low", 1, comp);
	json_object_set_new(s, "detail", json_sprintf("%s  %s, and %zu remote-tracking ref%s", name,
						      url, json_array_size(refs),
						      json_array_size(refs) == 1 ? "" : "s"));
	sk_dry_result(cli, plan, json_pack("{s:s, s:s, s:o}", "name", name, "url", url,
					   "tracking_refs", refs));
	free(url);
	return 0;
}

int cmd_remote_remove(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2)
		return sk_cli_usage(cli, err, "remote remove needs NAME");
	if (cli->dry_run)
		return remove_dry_run(cli, argv[1], err);
	int rc = sk_remote_config_remove(cli->repo, argv[1], err);
	if (rc)
		return rc;
	sk_cli_result(cli, json_pack("{s:s}", "name", argv[1]), removed_text);
	return 0;
}
