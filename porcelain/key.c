/*
 * skiff key list: the identities in the keys directory (public parts only).
 */
#include <string.h>

#include "porcelain/porcelain.h"
#include "refs/keys.h"

static void key_list_text(FILE *out, const json_t *r)
{
	json_t *keys = json_object_get(r, "keys"), *k;
	size_t i;
	if (json_array_size(keys) == 0) {
		fprintf(out, "no keys; create one with: skiff keygen NAME\n");
		return;
	}
	json_array_foreach(keys, i, k)
		fprintf(out, "%-20s %s  %s\n", json_string_value(json_object_get(k, "name")),
			json_string_value(json_object_get(k, "id")),
			json_string_value(json_object_get(k, "public")));
}

int cmd_key_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 1)
		return sk_cli_usage(cli, err, "key list takes no arguments");
	json_t *keys = NULL;
	int rc = sk_key_list(&keys, err);
	if (rc < 0)
		return rc;
	sk_cli_result(cli, json_pack("{s:o}", "keys", keys), key_list_text);
	return 0;
}
