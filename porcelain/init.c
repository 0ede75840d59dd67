/*
 * skiff init [DIR]: a new repository whose trust policy makes the signing
 * identity root and operator (refs/meta/trust, seq 1, self-signed).
 */
#include <stdlib.h>

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

int cmd_init(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc > 2 || (argc == 2 && argv[1][0] == '-'))
		return sk_cli_usage(cli, err, "init takes at most one DIR");
	const char *dir = argc == 2 ? argv[1] : cli->dir ? cli->dir : ".";
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
