/*
 * skiff: the command table and the set-up every command shares. Global
 * options are parsed once; the table's flags decide whether a command
 * gets a repository, a signing key, and whether --direct or --dry-run may
 * reach it. Commands never do this set-up themselves, so none can forget
 * a check. Output and errors go through the one printer in common/out.c.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/cli.h"
#include "plumbing/plumbing.h"
#include "porcelain/porcelain.h"
#include "refs/audit.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "remote-s3/config.h"
#include "remote-s3/direct.h"

#define SKIFF_VERSION "0.1.0"

static const struct sk_cmd commands[] = {
	{ "init", cmd_init, SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low", "skiff init [DIR]",
	  "create a repository with a trust policy rooted in your key" },
	{ "keygen", cmd_keygen, SK_CMD_MUTATES | SK_CMD_DRY_RUN, "none", "skiff keygen NAME",
	  "create an ed25519 signing key" },
	{ "key list", cmd_key_list, 0, "none", "skiff key list", "list signing keys" },
	{ "trust show", cmd_trust_show, SK_CMD_REPO, "none", "skiff trust show",
	  "show the trust policy: keys, roles, rules" },
	{ "trust add-key", cmd_trust_add_key,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "high",
	  "skiff trust add-key NAME PUBKEY --role ROLE [--scope REF-PATTERN]",
	  "grant a key a role in the trust policy (root-signed)" },
	{ "trust set-threshold", cmd_trust_set_threshold,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "high",
	  "skiff trust set-threshold N",
	  "set how many approvers a high-risk step needs (root-signed)" },
	{ "release create", cmd_release_create, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff release create SERVICE --spec FILE --version V [--artifact NAME=PATH]...\n"
	  "       [--source-commit SHA] [--sign]",
	  "compile a spec and store artifacts as a release object (--sign: and sign it)" },
	{ "release sign", cmd_release_sign,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff release sign SERVICE VERSION [--release OID]",
	  "sign a release and create its create-only ref refs/releases/SERVICE/VERSION" },
	{ "release verify", cmd_release_verify, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none",
	  "skiff release verify SERVICE VERSION",
	  "verify a signed release: signature, signer role, every chunk and digest" },
	{ "release show", cmd_release_show, SK_CMD_REPO, "none",
	  "skiff release show (SERVICE VERSION | RELEASE-OID)",
	  "show a release: artifacts, run, health, canary, access, signer" },
	{ "release list", cmd_release_list, SK_CMD_REPO, "none", "skiff release list [SERVICE]",
	  "list signed releases, newest first per service" },
	{ "release extract", cmd_release_extract, SK_CMD_REPO, "low",
	  "skiff release extract SERVICE VERSION NAME DEST\n"
	  "       skiff release extract RELEASE-OID NAME DEST",
	  "write a release's artifact to DEST, verifying signature and every chunk" },
	{ "control set", cmd_control_set,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff control set [-m MESSAGE] SERVICE (KEY=VALUE | --unset KEY)...",
	  "change a service's settings as a signed state commit" },
	{ "control show", cmd_control_show, SK_CMD_REPO, "none", "skiff control show SERVICE",
	  "show a service's current control" },
	{ "deploy", cmd_deploy, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium",
	  "skiff deploy SERVICE [--release VERSION] [--canary] [--steps 5,25,50,100]\n"
	  "       [--bake DURATION] [--canary-targets T,...] [--wait DURATION]",
	  "ship a signed release: canary steps gated by live signals, then promote" },
	{ "rollback", cmd_rollback, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff rollback SERVICE",
	  "undo the service's newest deploy: releases, weights and stable release as before" },
	{ "promote", cmd_promote, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff promote SERVICE",
	  "skip an unfinished deploy's remaining canary steps and promote it" },
	{ "pause", cmd_pause, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff pause SERVICE", "pause the service's running deploy at its next check" },
	{ "drain", cmd_drain, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff drain SERVICE --target T [--timeout DURATION] [--force]",
	  "take a target out of traffic and wait for its open connections to finish" },
	{ "undrain", cmd_undrain, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff undrain SERVICE --target T [--force]",
	  "put a drained target back into traffic once it is healthy" },
	{ "backup list", cmd_backup_list, SK_CMD_REPO, "none", "skiff backup list SERVICE",
	  "list a service's backups, newest first" },
	{ "backup", cmd_backup, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "low", "skiff backup SERVICE [--target T] [--dir DIR]",
	  "run the release's backup command against a target and record a backup" },
	{ "restore", cmd_restore, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "high", "skiff restore SERVICE [--backup ID|latest] [--target T] [--wait DURATION]",
	  "put a backup's data back on a target: fresh, drained, approved, validated" },
	{ "secret set", cmd_secret_set,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff secret set SERVICE NAME --ref PROVIDER:REF [--revoke-hook CMD [ARG...]]",
	  "point a service's secret at a reference (file:, env:) and pin it for every target" },
	{ "secret list", cmd_secret_list, SK_CMD_REPO, "none", "skiff secret list SERVICE",
	  "list a service's secrets: version, reference, where pinned (never values)" },
	{ "secret show", cmd_secret_show, SK_CMD_REPO, "none", "skiff secret show SERVICE NAME",
	  "one secret's history: versions, references, who, where pinned, revoked" },
	{ "rotate", cmd_rotate, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "high",
	  "skiff rotate SERVICE NAME --to PROVIDER:REF [--canary-targets T,...] [--wait DURATION]",
	  "rotate a secret: stage, canary, roll, confirm every consumer, revoke the old one" },
	{ "target add", cmd_target_add,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff target add SERVICE TARGET --addr HOST:PORT [--group G]",
	  "add a target (where one runner's workload listens) or change its address" },
	{ "target set", cmd_target_set,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff target set SERVICE TARGET (--group G | --no-group)",
	  "put a target in a target group (what failover routes by), or in none" },
	{ "target remove", cmd_target_remove,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff target remove SERVICE TARGET", "remove a target that takes no traffic" },
	{ "target list", cmd_target_list, SK_CMD_REPO, "none", "skiff target list SERVICE",
	  "list a service's targets: address, release, weight, group, standby" },
	{ "failover", cmd_failover, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "high", "skiff failover SERVICE --to GROUP [--wait DURATION]",
	  "move traffic to a target group (approval, route, validate; routes back on failure)" },
	{ "traffic start", cmd_traffic_start, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff traffic start SERVICE --listen HOST:PORT [--health-path PATH]",
	  "put the local haproxy in front of a service's targets (start or reload it)" },
	{ "traffic stop", cmd_traffic_stop, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff traffic stop [SERVICE]",
	  "stop traffic for a service, or stop haproxy for every service" },
	{ "traffic show", cmd_traffic_show, SK_CMD_REPO, "none", "skiff traffic show SERVICE",
	  "per-target traffic: weight, status, check, requests, 5xx, response time" },
	{ "traffic apply", cmd_traffic_apply, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff traffic apply SERVICE",
	  "make haproxy's weights and servers match the service's control" },
	{ "traffic set-state", cmd_traffic_set_state,
	  SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff traffic set-state SERVICE TARGET ready|drain|maint",
	  "drain a target's server, put it in maintenance, or make it ready again" },
	{ "remote add", cmd_remote_add, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff remote add NAME URL", "name a remote (s3://bucket/prefix?endpoint=… or file:///dir)" },
	{ "remote list", cmd_remote_list, SK_CMD_REPO, "none", "skiff remote list",
	  "list the named remotes" },
	{ "remote remove", cmd_remote_remove, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff remote remove NAME", "forget a remote and its remote-tracking refs" },
	{ "push", cmd_push, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "medium",
	  "skiff push [REMOTE] [REF-PATTERN]... [--jobs N]",
	  "upload objects, then move the remote's refs by compare-and-swap" },
	{ "fetch", cmd_fetch, SK_CMD_REPO | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "low",
	  "skiff fetch [REMOTE] [--reset] [--jobs N]",
	  "download and verify a remote's refs and objects into refs/remotes/REMOTE/" },
	{ "hash-object", cmd_hash_object, SK_CMD_DIRECT_OK, "none",
	  "skiff hash-object [-w] [-t TYPE] [--canonicalize] (FILE | --stdin)",
	  "compute an object id, optionally store the object" },
	{ "cat-object", cmd_cat_object, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none",
	  "skiff cat-object (-t | -s | -p | TYPE) OBJECT", "print an object's type, size or content" },
	{ "update-ref", cmd_update_ref,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "low",
	  "skiff update-ref REF NEWOID [--old OLDOID | --create] [--op OPID]\n"
	  "       skiff update-ref --delete REF --old OLDOID [--op OPID]\n"
	  "       skiff update-ref --stdin",
	  "move refs by compare-and-swap with signed records" },
	{ "show-ref", cmd_show_ref, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none", "skiff show-ref [PATTERN]",
	  "list refs" },
	{ "rev-parse", cmd_rev_parse, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none", "skiff rev-parse NAME",
	  "resolve a ref, id or id prefix to a full id" },
	{ "verify-ref", cmd_verify_ref, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none",
	  "skiff verify-ref REF [--chain]", "verify a ref's signed record (or its whole chain)" },
	{ "log", cmd_log, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none", "skiff log REF [-n N] [--records]",
	  "show a service's commits or a ref's record chain, newest first" },
	{ "show", cmd_show, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none", "skiff show OBJECT",
	  "show any object for people: commit, control, release, signature, ..." },
	{ "diff", cmd_diff, SK_CMD_REPO | SK_CMD_DIRECT_OK, "none", "skiff diff A B",
	  "what changed between two objects of one type (two commits: their controls)" },
	{ "fsck", cmd_fsck, SK_CMD_REPO, "none", "skiff fsck",
	  "verify every object, record and chain" },
	{ "export-git", cmd_export_git, SK_CMD_REPO, "low", "skiff export-git DIR [--ref PATTERN]...",
	  "mirror service histories and signed releases into a git repository at DIR" },
	{ "op list", cmd_op_list, SK_CMD_REPO, "none", "skiff op list [--service S] [--state STATE]",
	  "list operations (sagas) with their state" },
	{ "op show", cmd_op_show, SK_CMD_REPO, "none", "skiff op show ID",
	  "show an operation: steps with risk, reversibility and state" },
	{ "op events", cmd_op_events, SK_CMD_REPO, "none", "skiff op events ID [--follow]",
	  "show an operation's verified event chain, oldest first (--follow: as it grows)" },
	{ "op test-run", cmd_op_test_run, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES, "low",
	  "skiff op test-run --steps N --ledger FILE [--fail-at K|--hang-at K|--high-at K] [--service S]",
	  "test-only (SKIFF_TEST_OPS=1): run a test operation that writes a ledger" },
	{ "approve", cmd_approve,
	  SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN, "none",
	  "skiff approve ID [--reason TEXT]",
	  "approve an operation's plan as a second person (approver role, not the requester)" },
	{ "resume", cmd_resume, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff resume ID [--dry-run]",
	  "continue an interrupted operation from its stored progress" },
	{ "cancel", cmd_cancel, SK_CMD_REPO | SK_CMD_IDENTITY | SK_CMD_MUTATES | SK_CMD_DRY_RUN,
	  "medium", "skiff cancel ID [--dry-run]",
	  "cancel an operation, compensating its done steps in reverse" },
	{ "audit", cmd_audit, SK_CMD_REPO, "none",
	  "skiff audit [--since TIME] [--until TIME] [--service S] [--actor KEY] [--ref PATTERN]\n"
	  "       [-n N]",
	  "list every ref move: who, what, where, risk, operation (verified)" },
	{ "status", cmd_status, SK_CMD_REPO, "none", "skiff status [SERVICE]",
	  "releases, traffic, target health, the operation in flight, findings, next safe steps" },
	{ "logs", cmd_logs, SK_CMD_REPO, "none",
	  "skiff logs SERVICE [--target T] [--release V] [--trace ID] [-n N] [--follow]",
	  "the workload logs of a service's targets, merged by time" },
	{ "doctor", cmd_doctor, SK_CMD_REPO, "none", "skiff doctor SERVICE",
	  "observed facts, inferred hypotheses and recommended commands for a service" },
};

/* A command that plans may also be given --dry-run after its name
 * (`skiff deploy svc --dry-run`), as people type it: the flag is taken out
 * of its arguments (up to "--") and set globally. Returns the new argc. */
static int take_dry_run(struct sk_cli *cli, int argc, char **argv)
{
	int out = 1, i = 1;
	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--dry-run") == 0)
			cli->dry_run = 1;
		else
			argv[out++] = argv[i];
	}
	for (; i < argc; i++)
		argv[out++] = argv[i];
	argv[out] = NULL;
	return out;
}

/* A command is one word ("log") or a word and a subcommand ("trust show");
 * *words receives how many argv entries the name used. */
static const struct sk_cmd *find_cmd(int argc, char **argv, int *words)
{
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++) {
		const char *name = commands[i].name, *sp = strchr(name, ' ');
		if (!sp && strcmp(name, argv[0]) == 0) {
			*words = 1;
			return &commands[i];
		}
		if (sp && argc > 1 && strncmp(name, argv[0], (size_t)(sp - name)) == 0 &&
		    argv[0][sp - name] == '\0' && strcmp(sp + 1, argv[1]) == 0) {
			*words = 2;
			return &commands[i];
		}
	}
	return NULL;
}

/* "trust" alone: the subcommands it has, for the usage message. */
static int is_group(const char *word)
{
	size_t n = strlen(word);
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		if (strncmp(commands[i].name, word, n) == 0 && commands[i].name[n] == ' ')
			return 1;
	return 0;
}

static void print_help(const struct sk_cli *cli, const struct sk_cmd *cmd)
{
	if (cli->format == SK_FMT_JSON) {
		json_t *doc;
		if (cmd) {
			doc = json_pack("{s:s, s:s, s:s, s:s}", "command", cmd->name, "usage", cmd->usage,
					"summary", cmd->summary, "risk", cmd->risk);
		} else {
			json_t *arr = json_array();
			for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
				json_array_append_new(
					arr, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "command",
						       commands[i].name, "summary", commands[i].summary,
						       "usage", commands[i].usage, "risk", commands[i].risk,
						       "mutates", !!(commands[i].flags & SK_CMD_MUTATES),
						       "dry_run", !!(commands[i].flags & SK_CMD_DRY_RUN)));
			doc = json_pack("{s:s, s:o}", "usage",
					"skiff [-C DIR] [--format=text|json] [--identity NAME|PATH] "
					"[--remote NAME|URL] [--direct] [--dry-run] [--yes] COMMAND [ARGS]",
					"commands", arr);
		}
		json_dumpf(doc, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(doc);
		return;
	}
	if (cmd) {
		char page[64];
		snprintf(page, sizeof(page), "%s", cmd->name);
		char *sp = strchr(page, ' ');
		if (sp)
			*sp = '\0';
		printf("usage: %s\n\n%s (risk: %s)\nSee skiff-%s(1).\n", cmd->usage, cmd->summary,
		       cmd->risk, page);
		return;
	}
	printf("usage: skiff [-C DIR] [--format=text|json] [--identity NAME|PATH] [--remote NAME|URL]\n"
	       "             [--direct] [--dry-run] [--yes] COMMAND [ARGS]\n\ncommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		printf("  %-14s %s\n", commands[i].name, commands[i].summary);
	printf("\n'skiff COMMAND --help' or man skiff-COMMAND for one command; man skiff for exit codes.\n");
}

static int wants_help(int argc, char **argv)
{
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--") == 0)
			return 0;
		if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
			return 1;
	}
	return 0;
}

/* --identity, then SKIFF_IDENTITY, then the repository's recorded
 * identity, then the only key in the keys directory. */
int sk_cli_load_identity(struct sk_cli *cli, struct sk_err *err)
{
	const char *id = cli->identity;
	if (!id || !*id)
		id = getenv("SKIFF_IDENTITY");
	if ((!id || !*id) && cli->repo && *sk_repo_identity(cli->repo))
		id = sk_repo_identity(cli->repo);
	if (id && *id)
		return sk_key_load(&cli->key, id, err);
	json_t *keys = NULL;
	int rc = sk_key_list(&keys, err);
	if (rc < 0)
		return rc;
	if (json_array_size(keys) == 1) {
		const char *name = json_string_value(json_object_get(json_array_get(keys, 0), "name"));
		rc = sk_key_load(&cli->key, name, err);
		json_decref(keys);
		return rc;
	}
	size_t n = json_array_size(keys);
	json_decref(keys);
	if (n == 0)
		return sk_err_set(err, SK_EIDENTITY, "create one with: skiff keygen NAME",
				  "no signing identity: there are no keys");
	return sk_err_set(err, SK_EIDENTITY, "choose one with --identity NAME or SKIFF_IDENTITY",
			  "no signing identity: %zu keys exist and none is selected", n);
}

/* --direct: the command reads a verified cache of the remote instead of a
 * local repository. A remote name needs a local repository to look it up;
 * a URL does not. */
static int setup_direct(struct sk_cli *cli, const struct sk_cmd *cmd, struct sk_err *err)
{
	if (!cli->remote)
		return sk_err_set(err, SK_EUSAGE, "add --remote NAME|URL",
				  "--direct needs --remote");
	struct sk_repo *local = NULL;
	struct sk_err ignore;
	char *url = NULL, *name = NULL;
	if (!strstr(cli->remote, "://"))
		sk_repo_open(&local, cli->dir, &ignore);
	int rc = sk_remote_config_resolve(local, cli->remote, &url, &name, err);
	sk_repo_free(local);
	if (!rc)
		rc = sk_direct_open(&cli->direct_cache, url, 0, err);
	free(url);
	free(name);
	if (rc)
		return rc;
	cli->repo = sk_direct_repo(cli->direct_cache);
	if (strcmp(cmd->name, "show-ref") == 0)
		rc = sk_direct_mirror_all(cli->direct_cache, err);
	if (!rc && (cmd->flags & SK_CMD_IDENTITY))
		rc = sk_cli_load_identity(cli, err);
	return rc;
}

static int setup(struct sk_cli *cli, const struct sk_cmd *cmd, struct sk_err *err)
{
	if (cli->direct && !(cmd->flags & SK_CMD_DIRECT_OK))
		return sk_err_set(err, SK_EUSAGE, "run it against a local repository",
				  "%s cannot run with --direct", cmd->name);
	if (cli->direct)
		return setup_direct(cli, cmd, err);
	if (cli->dry_run && (cmd->flags & SK_CMD_MUTATES) && !(cmd->flags & SK_CMD_DRY_RUN))
		return sk_err_set(err, SK_EUSAGE, "run it without --dry-run to make the change",
				  "%s does not support --dry-run; nothing was changed", cmd->name);
	int rc;
	if ((cmd->flags & SK_CMD_REPO) && (rc = sk_repo_open(&cli->repo, cli->dir, err)) < 0)
		return rc;
	if (cli->repo) /* every ref this command moves is journaled with these */
		sk_repo_set_audit(cli->repo,
				  &(struct sk_audit_ctx){ .command = cmd->name, .risk = cmd->risk });
	if ((cmd->flags & SK_CMD_IDENTITY) && (rc = sk_cli_load_identity(cli, err)) < 0)
		return rc;
	return 0;
}

static int parse_format(struct sk_cli *cli, const char *v, struct sk_err *err)
{
	if (strcmp(v, "json") == 0)
		cli->format = SK_FMT_JSON;
	else if (strcmp(v, "text") == 0)
		cli->format = SK_FMT_TEXT;
	else
		return sk_err_set(err, SK_EUSAGE, "use --format=text or --format=json",
				  "unknown format '%s'", v);
	return 0;
}

enum { OPT_FORMAT = 256, OPT_IDENTITY, OPT_REMOTE, OPT_DIRECT, OPT_DRY_RUN, OPT_YES, OPT_HELP,
       OPT_VERSION };

/* Returns the index of the command word, or a negative code. */
static int parse_global(struct sk_cli *cli, int argc, char **argv, int *want_help,
			int *want_version, struct sk_err *err)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, OPT_FORMAT },
		{ "identity", required_argument, NULL, OPT_IDENTITY },
		{ "remote", required_argument, NULL, OPT_REMOTE },
		{ "direct", no_argument, NULL, OPT_DIRECT },
		{ "dry-run", no_argument, NULL, OPT_DRY_RUN },
		{ "yes", no_argument, NULL, OPT_YES },
		{ "help", no_argument, NULL, OPT_HELP },
		{ "version", no_argument, NULL, OPT_VERSION },
		{ 0, 0, 0, 0 },
	};
	const char *env = getenv("SKIFF_FORMAT");
	if (env && *env && parse_format(cli, env, err) < 0)
		return err->code;
	opterr = 0;
	optind = 1;
	int c, rc;
	while ((c = getopt_long(argc, argv, "+C:h", opts, NULL)) != -1) {
		switch (c) {
		case 'C': cli->dir = optarg; break;
		case OPT_FORMAT:
			if ((rc = parse_format(cli, optarg, err)) < 0)
				return rc;
			break;
		case OPT_IDENTITY: cli->identity = optarg; break;
		case OPT_REMOTE: cli->remote = optarg; break;
		case OPT_DIRECT: cli->direct = 1; break;
		case OPT_DRY_RUN: cli->dry_run = 1; break;
		case OPT_YES: cli->yes = 1; break;
		case 'h':
		case OPT_HELP: *want_help = 1; break;
		case OPT_VERSION: *want_version = 1; break;
		default:
			return sk_err_set(err, SK_EUSAGE, "see skiff --help",
					  "unknown or incomplete global option '%s'", argv[optind - 1]);
		}
	}
	return optind;
}

static void version_text(FILE *out, const json_t *r)
{
	fprintf(out, "skiff %s\n", json_string_value(json_object_get(r, "version")));
}

static int show_version(struct sk_cli *cli)
{
	sk_cli_result(cli, json_pack("{s:s}", "version", SKIFF_VERSION), version_text);
	return 0;
}

static int run(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	int want_help = 0, want_version = 0;
	int idx = parse_global(cli, argc, argv, &want_help, &want_version, err);
	if (idx < 0)
		return idx;
	if (want_version)
		return show_version(cli);
	if (want_help) {
		print_help(cli, NULL);
		return 0;
	}
	if (idx >= argc)
		return sk_err_set(err, SK_EUSAGE, "see skiff --help", "no command given");
	const char *name = argv[idx];
	if (strcmp(name, "help") == 0) {
		int w;
		const struct sk_cmd *hc = idx + 1 < argc ? find_cmd(argc - idx - 1, argv + idx + 1, &w)
							 : NULL;
		if (idx + 1 < argc && !hc)
			return sk_err_set(err, SK_EUSAGE, "see skiff help", "unknown command '%s'",
					  argv[idx + 1]);
		print_help(cli, hc);
		return 0;
	}
	if (strcmp(name, "version") == 0)
		return show_version(cli);
	int words = 1;
	const struct sk_cmd *cmd = find_cmd(argc - idx, argv + idx, &words);
	if (!cmd && is_group(name))
		return sk_err_set(err, SK_EUSAGE, "see skiff help", "'%s' needs a subcommand", name);
	if (!cmd)
		return sk_err_set(err, SK_EUSAGE, "see skiff help", "unknown command '%s'", name);
	cli->cmd = cmd;
	idx += words - 1;
	if (wants_help(argc - idx, argv + idx)) {
		print_help(cli, cmd);
		return 0;
	}
	if (cmd->flags & SK_CMD_DRY_RUN)
		argc = take_dry_run(cli, argc - idx, argv + idx) + idx;
	int rc = setup(cli, cmd, err);
	if (rc < 0)
		return rc;
	optind = 0; /* GNU getopt: reinitialise for the command's own parsing */
	opterr = 0;
	return cmd->fn(cli, argc - idx, argv + idx, err);
}

int main(int argc, char **argv)
{
	struct sk_cli cli = { 0 };
	struct sk_err err;
	sk_err_clear(&err);
	cli.color = isatty(STDOUT_FILENO);
	int rc = run(&cli, argc, argv, &err);
	int status;
	/* --direct commands say how many requests they made (JSON). */
	if (cli.direct_cache) {
		json_t *n = json_integer((json_int_t)sk_direct_requests(cli.direct_cache));
		if (rc < 0) {
			if (!cli.error_details)
				cli.error_details = json_object();
			json_object_set_new(cli.error_details, "requests", n);
		} else if (json_is_object(cli.result)) {
			json_object_set_new(cli.result, "requests", n);
		} else {
			json_decref(n);
		}
	}
	if (rc < 0) {
		if (!err.code)
			err.code = rc;
		sk_out_error(&cli, &err);
		status = sk_err_exit_code(err.code);
	} else {
		sk_out_result(&cli);
		status = 0;
	}
	json_decref(cli.result);
	json_decref(cli.error_details);
	sk_key_free(cli.key);
	if (cli.direct_cache)
		sk_direct_free(cli.direct_cache); /* owns cli.repo */
	else
		sk_repo_free(cli.repo);
	if (fflush(stdout) != 0 && status == 0)
		status = 1;
	return status;
}
