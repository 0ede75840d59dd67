/*
 * skiff remote add | list | remove: named remotes (remote-s3/config.h).
 * Adding checks the URL's syntax only; the first push or fetch talks to it.
 */
#include <stdlib.h>
#include <string.h>

#include "porcelain/porcelain.h"
#include "remote-s3/config.h"

static void added_text(FILE *out, const json_t *r)
{
	fprintf(out, "added remote %s  %s\nnext: skiff push %s\n",
		json_string_value(json_object_get(r, "name")),
		json_string_value(json_object_get(r, "url")),
		json_string_value(json_object_get(r, "name")));
}

int cmd_remote_add(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 3)
		return sk_cli_usage(cli, err, "remote add needs NAME and URL");
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

int cmd_remote_remove(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2)
		return sk_cli_usage(cli, err, "remote remove needs NAME");
	int rc = sk_remote_config_remove(cli->repo, argv[1], err);
	if (rc)
		return rc;
	sk_cli_result(cli, json_pack("{s:s}", "name", argv[1]), removed_text);
	return 0;
}
