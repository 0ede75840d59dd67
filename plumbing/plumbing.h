/*
 * Plumbing commands: one file each, stable JSON (fields are only ever
 * added). Each parses its arguments, calls the library and hands one JSON
 * value to sk_cli_result; no object or ref logic lives here.
 */
#ifndef SK_PLUMBING_H
#define SK_PLUMBING_H

#include <stdint.h>

#include "common/cli.h"
#include "objects/oid.h"

int cmd_hash_object(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_cat_object(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_update_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_show_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_rev_parse(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_verify_ref(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_log(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_fsck(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_diff(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);

/* Shared by commands that accept an object name: a full id, a prefix of
 * at least 8 hex digits, or a ref (refs/… or a name under refs/). ref
 * (may be NULL) receives the ref name when one was used (static buffer of
 * the caller, SK_REF_MAX + 1 bytes). Lives in rev-parse.c. */
struct sk_repo;
struct sk_oid;
int sk_plumbing_resolve(struct sk_repo *repo, const char *name, struct sk_oid *out, char *ref,
			struct sk_err *err);

/* Reads an object for show and diff: type and payload size from its
 * header and, for every type but blob, the document, read with hash
 * verification and checked by its type's strict reader (a document that
 * reader rejects is SK_ECORRUPT). A blob is not read (*doc = NULL). Lives
 * in show.c. */
int sk_plumbing_read_doc(struct sk_repo *repo, const struct sk_oid *oid, enum sk_otype *type,
			 uint64_t *size, json_t **doc, struct sk_err *err);

#endif
