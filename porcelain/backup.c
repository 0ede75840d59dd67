/*
 * skiff backup SERVICE [--target T] [--dir DIR]: runs the release's backup
 * command against one target and records a `backup` object
 * (ops/backupjob.h); skiff backup list SERVICE: the backups, newest first.
 * A direct command, not an operation: one effect (the backup ref, created
 * once), audited as every ref move is.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "common/fs.h"
#include "objects/spec.h"
#include "ops/backupjob.h"
#include "porcelain/porcelain.h"
#include "refs/backups.h"

static void backup_text(FILE *out, const json_t *r)
{
	const json_t *b = json_object_get(r, "backup");
	const char *svc = json_string_value(json_object_get(b, "service"));
	if (json_is_true(json_object_get(r, "dry_run"))) {
		fprintf(out, "would back up %s from %s (%s, release %s) into %s\n", svc,
			json_string_value(json_object_get(b, "target")),
			json_string_value(json_object_get(r, "addr")),
			json_string_value(json_object_get(b, "release")),
			json_string_value(json_object_get(b, "location")));
		return;
	}
	fprintf(out, "backup %s of %s: %lld bytes from %s (release %s)\n  sha256 %s\n  at %s\n",
		json_string_value(json_object_get(b, "id")), svc,
		(long long)json_integer_value(json_object_get(b, "size")),
		json_string_value(json_object_get(b, "target")),
		json_string_value(json_object_get(b, "release")),
		json_string_value(json_object_get(b, "sha256")),
		json_string_value(json_object_get(b, "location")));
	fprintf(out, "next: skiff restore %s --backup %s\n", svc,
		json_string_value(json_object_get(b, "id")));
}

/* --dry-run: what would run and be recorded, every check of the record
 * made (role, names), nothing run or written. */
static int plan_backup(struct sk_cli *cli, const struct sk_backupjob *j, const char *dir,
		       struct sk_err *err)
{
	if (!j->backup)
		return sk_err_set(err, SK_ENOTFOUND, "add a backup section to the spec (skiff-spec(5))",
				  "release %s of %s declares no backup command", j->release,
				  j->service);
	struct sk_backup b;
	memset(&b, 0, sizeof(b));
	sk_backup_new_id(b.id, sizeof(b.id));
	char *base = sk_backupjob_dir(cli->repo, dir, j->service);
	snprintf(b.location, sizeof(b.location), "%s/%s/data", base, b.id);
	free(base);
	snprintf(b.kind, sizeof(b.kind), SK_BACKUP_KIND_MANUAL);
	snprintf(b.release, sizeof(b.release), "%s", j->release);
	snprintf(b.service, sizeof(b.service), "%s", j->service);
	snprintf(b.target, sizeof(b.target), "%s", j->target);
	memset(b.sha256, '0', 64);
	b.taken_at = (long long)time(NULL);
	int rc = sk_backups_write(cli->repo, cli->key, &b, NULL, 1, NULL, err);
	if (rc)
		return rc;
	json_t *doc = sk_backup_to_json(&b);
	json_object_del(doc, "sha256");
	json_object_del(doc, "size");
	sk_cli_result(cli,
		      json_pack("{s:b, s:o, s:s, s:O, s:s, s:b}", "dry_run", 1, "backup", doc, "addr",
				j->addr, "command", json_object_get(j->backup, "command"), "risk",
				"low", "reversible", 1),
		      backup_text);
	return 0;
}

int cmd_backup(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "target", required_argument, NULL, 't' },
					      { "dir", required_argument, NULL, 'd' },
					      { NULL, 0, NULL, 0 } };
	const char *target = NULL, *dir = NULL;
	int c;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 't': target = optarg; break;
		case 'd': dir = optarg; break;
		default: return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "backup takes one SERVICE");
	const char *service = argv[optind];
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (!rc && target)
		rc = sk_spec_component_check(target, SK_SPEC_NAME_MAX, "target", err);
	if (!rc && dir && !cli->dry_run) /* realpath needs it to exist */
		rc = sk_fs_mkdirs(dir, 1, err);
	struct sk_backupjob j;
	memset(&j, 0, sizeof(j));
	if (!rc)
		rc = sk_backupjob_load(cli->repo, service, target, &j, err);
	if (!rc && cli->dry_run) {
		rc = plan_backup(cli, &j, dir, err);
	} else if (!rc) {
		struct sk_backup b;
		json_t *facts = NULL;
		rc = sk_backupjob_take(cli->repo, cli->key, &j, dir, SK_BACKUP_KIND_MANUAL, NULL, &b,
				       &facts, err);
		if (!rc)
			sk_cli_result(cli, json_pack("{s:o, s:o}", "backup", sk_backup_to_json(&b), "run",
						     facts),
				      backup_text);
		else if (facts) {
			json_decref(cli->error_details);
			cli->error_details = json_pack("{s:o}", "run", facts);
		}
	}
	sk_backupjob_clear(&j);
	return rc;
}

static void list_text(FILE *out, const json_t *r)
{
	const json_t *all = json_object_get(r, "backups");
	if (json_array_size(all) == 0) {
		fprintf(out, "%s has no backups\nnext: skiff backup %s\n",
			json_string_value(json_object_get(r, "service")),
			json_string_value(json_object_get(r, "service")));
		return;
	}
	fprintf(out, "%-32s  %-11s  %-12s  %-10s  %10s  %s\n", "ID", "KIND", "TARGET", "RELEASE",
		"SIZE", "TAKEN");
	size_t i;
	json_t *b;
	json_array_foreach(all, i, b) {
		char when[40];
		sk_out_time((long long)json_integer_value(json_object_get(b, "taken_at")), when,
			    sizeof(when));
		fprintf(out, "%-32s  %-11s  %-12s  %-10s  %10lld  %s\n",
			json_string_value(json_object_get(b, "id")),
			json_string_value(json_object_get(b, "kind")),
			json_string_value(json_object_get(b, "target")),
			json_string_value(json_object_get(b, "release")),
			(long long)json_integer_value(json_object_get(b, "size")), when);
	}
}

int cmd_backup_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	if (argc != 2 || argv[1][0] == '-')
		return sk_cli_usage(cli, err, "backup list takes one SERVICE");
	json_t *all = NULL;
	int rc = sk_backups_list(cli->repo, argv[1], &all, err);
	if (!rc)
		sk_cli_result(cli, json_pack("{s:s, s:o}", "service", argv[1], "backups", all),
			      list_text);
	return rc;
}
