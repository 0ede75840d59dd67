/*
 * skiff keygen NAME: a new ed25519 identity. The private key is written
 * mode 0600 and never over an existing file. --dry-run says where the
 * files would go and refuses what keygen would refuse; no key is made.
 */
#include <stdlib.h>

#include "common/fs.h"
#include "porcelain/dryrun.h"
#include "porcelain/porcelain.h"
#include "refs/keys.h"

static json_t *key_json(const struct sk_key *k)
{
	char *pub = sk_key_public_string(k), *path = sk_key_path(k);
	json_t *o = json_pack("{s:s, s:s, s:s, s:s}", "name", sk_key_name(k), "id", sk_key_id(k),
			      "public", pub, "path", path);
	free(pub);
	free(path);
	return o;
}

static void keygen_text(FILE *out, const json_t *r)
{
	fprintf(out, "created key %s (id %s) in %s\npublic key: %s\n",
		json_string_value(json_object_get(r, "name")),
		json_string_value(json_object_get(r, "id")),
		json_string_value(json_object_get(r, "path")),
		json_string_value(json_object_get(r, "public")));
	fprintf(out, "next: skiff init (this key becomes root), or give the public key to a root "
		     "holder for: skiff trust add-key %s PUBKEY --role ROLE\n",
		json_string_value(json_object_get(r, "name")));
}

static int keygen_dry_run(struct sk_cli *cli, const char *name, struct sk_err *err)
{
	int rc = sk_key_name_check(name, err);
	if (rc < 0)
		return rc;
	char *dir = sk_key_dir(), file[SK_KEY_NAME_MAX + 8];
	snprintf(file, sizeof(file), "%s.key", name);
	char *key = sk_path_join(dir, file);
	snprintf(file, sizeof(file), "%s.pub", name);
	char *pub = sk_path_join(dir, file);
	if (sk_fs_exists(key))
		rc = sk_err_set(err, SK_EEXISTS,
				"choose another name, or use the existing key with --identity; "
				"keys are never overwritten",
				"key %s already exists at %s", name, key);
	if (!rc) {
		json_t *plan = sk_dry_plan("keygen", NULL);
		json_t *s = sk_dry_step(plan, "create-key", "none", 1, NULL);
		char detail[SK_ERR_MSG];
		snprintf(detail, sizeof(detail), "%s (mode 0600) and %s", key, pub);
		json_object_set_new(s, "detail", sk_json_str(detail));
		sk_dry_result(cli, plan,
			      json_pack("{s:s, s:s, s:s, s:s}", "name", name, "path", key, "public_path",
					pub, "dir", dir));
	}
	free(dir);
	free(key);
	free(pub);
	return rc;
}

int cmd_keygen(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "keygen takes exactly one NAME");
	if (cli->dry_run)
		return keygen_dry_run(cli, argv[1], err);
	struct sk_key *k = NULL;
	int rc = sk_key_generate(&k, argv[1], err);
	if (rc < 0)
		return rc;
	sk_cli_result(cli, key_json(k), keygen_text);
	sk_key_free(k);
	return 0;
}
