/*
 * skiff keygen NAME: a new ed25519 identity. The private key is written
 * mode 0600 and never over an existing file.
 */
#include <stdlib.h>

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

int cmd_keygen(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "keygen takes exactly one NAME");
	struct sk_key *k = NULL;
	int rc = sk_key_generate(&k, argv[1], err);
	if (rc < 0)
		return rc;
	sk_cli_result(cli, key_json(k), keygen_text);
	sk_key_free(k);
	return 0;
}
