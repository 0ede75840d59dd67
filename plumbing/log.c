/*
 * skiff log REF [-n N] [--records]: history, newest first. For a
 * service (refs/services/<svc>) that is its state commits: actor, time,
 * message and operation of each change, following parents. For any other
 * ref, or with --records, it is the ref's signed record chain. Every
 * object is read with hash verification, so a log that prints is a chain
 * whose links hold.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "plumbing/plumbing.h"
#include "refs/refs.h"
#include "refs/service.h"

struct log_ctx {
	json_t *records;
	const struct sk_trust *policy;
};

static int add_record(const struct sk_refrecord *r, const struct sk_oid *rid, void *arg)
{
	struct log_ctx *c = arg;
	const struct sk_trust_key *k = c->policy ? sk_trust_find_key(c->policy, r->signer) : NULL;
	json_array_append_new(
		c->records,
		json_pack("{s:o, s:I, s:o, s:o, s:I, s:s, s:s?, s:o}", "record", sk_json_oid(rid),
			  "seq", (json_int_t)r->seq, "oid",
			  r->has_oid ? sk_json_oid(&r->oid) : json_null(), "prev",
			  r->has_prev ? sk_json_oid(&r->prev) : json_null(), "time",
			  (json_int_t)r->time, "signer", r->signer, "signer_name", k ? k->name : NULL,
			  "op", r->op[0] ? sk_json_str(r->op) : json_null()));
	return 0;
}

static void log_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "records"), i, e) {
		char tbuf[32];
		const char *oid = json_string_value(json_object_get(e, "oid"));
		const char *who = json_string_value(json_object_get(e, "signer_name"));
		const char *op = json_string_value(json_object_get(e, "op"));
		fprintf(out, "%6" JSON_INTEGER_FORMAT "  %s  %-12s  %s%s%s\n",
			json_integer_value(json_object_get(e, "seq")),
			sk_out_time(json_integer_value(json_object_get(e, "time")), tbuf, sizeof(tbuf)),
			who ? who : json_string_value(json_object_get(e, "signer")),
			oid ? oid : "deleted", op ? "  op " : "", op ? op : "");
	}
}

static json_t *commit_json(const struct sk_oid *id, const struct sk_commit *c,
			   const struct sk_trust *policy)
{
	const struct sk_trust_key *k = policy ? sk_trust_find_key(policy, c->actor) : NULL;
	return json_pack("{s:o, s:o, s:o, s:I, s:s, s:s?, s:s, s:o}", "commit", sk_json_oid(id),
			 "parent", c->has_parent ? sk_json_oid(&c->parent) : json_null(), "control",
			 sk_json_oid(&c->control), "time", (json_int_t)c->time, "actor", c->actor,
			 "actor_name", k ? k->name : NULL, "message", c->message, "op",
			 c->op[0] ? sk_json_str(c->op) : json_null());
}

/* Follows parents from the service's head commit. */
static int walk_commits(struct sk_repo *repo, const char *ref, long max,
			const struct sk_trust *policy, json_t *out, struct sk_err *err)
{
	struct sk_oid id;
	int rc = sk_refs_resolve(repo, ref, &id, err);
	const char *svc = ref + strlen("refs/services/");
	for (long n = 0; rc == 0 && (max == 0 || n < max); n++) {
		struct sk_commit c;
		if ((rc = sk_service_read_commit(repo, &id, &c, NULL, err)) < 0)
			break;
		if (strcmp(c.service, svc) != 0)
			return sk_err_set(err, SK_ECORRUPT, NULL, "%s reaches a commit of service %s",
					  ref, c.service);
		json_array_append_new(out, commit_json(&id, &c, policy));
		if (!c.has_parent)
			break;
		id = c.parent;
	}
	return rc;
}

static void commits_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "commits"), i, e) {
		char tbuf[32];
		const char *who = json_string_value(json_object_get(e, "actor_name"));
		const char *op = json_string_value(json_object_get(e, "op"));
		const char *msg = json_string_value(json_object_get(e, "message"));
		fprintf(out, "commit %s\nActor:  %s (%s)\nDate:   %s\n%s%s%s\n    %s\n\n",
			json_string_value(json_object_get(e, "commit")), who ? who : "unknown key",
			json_string_value(json_object_get(e, "actor")),
			sk_out_time(json_integer_value(json_object_get(e, "time")), tbuf, sizeof(tbuf)),
			op ? "Op:     " : "", op ? op : "", op ? "\n" : "", *msg ? msg : "(no message)");
	}
}

int cmd_log(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "records", no_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	long max = 0;
	int c, records = 0;
	while ((c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		char *end;
		if (c == 'r') {
			records = 1;
			continue;
		}
		if (c != 'n')
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		max = strtol(optarg, &end, 10);
		if (*end || max <= 0)
			return sk_cli_usage(cli, err, "-n needs a positive number");
	}
	if (argc - optind != 1)
		return sk_cli_usage(cli, err, "log needs exactly one REF");
	const char *ref = argv[optind];
	int rc = sk_ref_name_check(ref, err);
	if (rc < 0)
		return rc;
	/* The head record verifies before its history is shown; the walk
	 * checks each older record's hash and link (verify-ref --chain also
	 * checks their signatures). */
	if ((rc = sk_refs_verify(cli->repo, ref, 0, NULL, err)) < 0)
		return rc;
	struct sk_trust *policy = NULL;
	if ((rc = sk_refs_load_trust(cli->repo, &policy, err)) < 0)
		return rc;
	struct log_ctx ctx = { json_array(), policy };
	int commits = !records && strncmp(ref, "refs/services/", 14) == 0;
	rc = commits ? walk_commits(cli->repo, ref, max, policy, ctx.records, err)
		     : sk_refs_walk(cli->repo, ref, (size_t)max, add_record, &ctx, err);
	sk_trust_free(policy);
	if (rc < 0) {
		json_decref(ctx.records);
		return rc;
	}
	sk_cli_result(cli, json_pack("{s:s, s:o}", "ref", ref, commits ? "commits" : "records",
				     ctx.records),
		      commits ? commits_text : log_text);
	return 0;
}
