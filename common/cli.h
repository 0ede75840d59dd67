/*
 * The command-line contract shared by every command: parsed global
 * options, the command table entry, and the one rendering path. A command
 * builds one JSON value and hands it to sk_cli_result with an optional text
 * renderer; skiff.c prints it as JSON (--format=json, exactly one document
 * on stdout, errors included) or as text for people.
 */
#ifndef SK_CLI_H
#define SK_CLI_H

#include <jansson.h>
#include <stdio.h>

#include "common/err.h"

struct sk_repo;
struct sk_key;
struct sk_direct;

enum sk_format { SK_FMT_TEXT = 0, SK_FMT_JSON };

/* Flags in the command table; set-up follows from them in skiff.c, so no
 * command can forget a check. */
enum {
	SK_CMD_REPO = 1 << 0,     /* opens the repository (-C, SKIFF_DIR, search up) */
	SK_CMD_IDENTITY = 1 << 1, /* loads the signing key */
	SK_CMD_MUTATES = 1 << 2,  /* changes state: refused with --direct */
	SK_CMD_DIRECT_OK = 1 << 3,/* may run with --direct against a remote */
	SK_CMD_DRY_RUN = 1 << 4,  /* implements --dry-run itself */
};

typedef void (*sk_text_fn)(FILE *out, const json_t *result);

struct sk_cli {
	/* global options */
	const char *dir;
	enum sk_format format;
	const char *identity;
	const char *remote;
	int direct, dry_run, yes;
	int color;
	/* set up from the command's flags */
	struct sk_repo *repo;
	struct sk_key *key;
	const struct sk_cmd *cmd;
	/* output */
	json_t *result;
	sk_text_fn text;
	/* facts merged into the error object on failure (e.g. fsck problems,
	 * the refs of a push conflict); owned */
	json_t *error_details;
	/* --direct: the verified cache of the remote that cli->repo points
	 * into (owned; freed with it) */
	struct sk_direct *direct_cache;
};

typedef int (*sk_cmd_fn)(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);

struct sk_cmd {
	const char *name;
	sk_cmd_fn fn;
	unsigned flags;
	const char *risk;    /* none|low|medium|high: default risk of the command */
	const char *usage;   /* synopsis lines, shown by --help and on usage errors */
	const char *summary; /* one line for `skiff help` */
};

/* Takes ownership of result. text may be NULL (generic aligned rendering). */
void sk_cli_result(struct sk_cli *cli, json_t *result, sk_text_fn text);

/* Prints a result (JSON or text) to stdout. */
void sk_out_result(const struct sk_cli *cli);
/* Prints an error: JSON document on stdout in JSON mode, else to stderr. */
void sk_out_error(const struct sk_cli *cli, const struct sk_err *err);
/* Generic text rendering: objects as aligned "key  value" lines, arrays of
 * objects as aligned tables, scalars as is. */
void sk_out_text_generic(FILE *out, const json_t *v);
/* Formats epoch seconds as RFC 3339 UTC into buf (>= 32 bytes). */
const char *sk_out_time(long long t, char *buf, size_t n);

/* Loads the signing key into cli->key as SK_CMD_IDENTITY does (--identity,
 * SKIFF_IDENTITY, the repository's identity, the only key), for a command
 * that needs one only with some option (release create --sign). In
 * skiff.c. */
int sk_cli_load_identity(struct sk_cli *cli, struct sk_err *err);

/* Usage error for the current command, with its synopsis as the hint. */
int sk_cli_usage(struct sk_cli *cli, struct sk_err *err, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* json helpers that abort on OOM (a CLI has nothing better to do) */
json_t *sk_json_str(const char *s);
json_t *sk_json_int(long long v);
json_t *sk_json_oid(const void *oid); /* const struct sk_oid * → hex string */

#endif
