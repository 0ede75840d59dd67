/*
 * skiff audit [--since TIME] [--until TIME] [--service S] [--actor KEY]
 * [--ref PATTERN] [-n N]: the audit journal (refs/audit.h), oldest first.
 * Every entry printed is first checked against the signed refrecord
 * object it names; a mismatch stops the listing with exit 4, since an
 * audit trail that may have been edited must not read as a clean one.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "porcelain/porcelain.h"
#include "refs/audit.h"
#include "refs/refs.h"

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

/* The first 8 hex digits of an id, or "-" for null. */
static const char *short_id(const json_t *o, const char *k, char *buf)
{
	const char *s = json_string_value(json_object_get(o, k));
	snprintf(buf, 9, "%s", s ? s : "-");
	return buf;
}

static int width(const json_t *entries, const char *k, int min)
{
	int w = min;
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		int l = (int)strlen(jstr(e, k));
		if (l > w)
			w = l;
	}
	return w;
}

static void audit_text(FILE *out, const json_t *r)
{
	const json_t *entries = json_object_get(r, "entries");
	if (json_array_size(entries) == 0) {
		fprintf(out, "no audit entries\n");
		return;
	}
	int wn = width(entries, "name", 5), wr = width(entries, "ref", 3);
	fprintf(out, "%-20s  %-*s  %-6s  %-*s  %-20s  %s\n", "TIME", wn, "ACTOR", "RISK", wr, "REF",
		"OLD -> NEW", "OP");
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		char t[32], a[9], b[9];
		fprintf(out, "%-20s  %-*s  %-6s  %-*s  %-8s -> %-8s  %s\n",
			sk_out_time((long long)json_integer_value(json_object_get(e, "time")), t,
				    sizeof(t)),
			wn, jstr(e, "name"), jstr(e, "risk"), wr, jstr(e, "ref"), short_id(e, "old", a),
			short_id(e, "new", b), jstr(e, "op"));
	}
}

/* --actor NAME: the key id the trust policy gives that name, if any. */
static char *actor_id(struct sk_repo *repo, const char *actor)
{
	struct sk_trust *t = NULL;
	char *id = NULL;
	if (sk_refs_load_trust(repo, &t, NULL) < 0)
		return NULL;
	for (size_t i = 0; i < t->nkeys && !id; i++)
		if (t->keys[i].name && strcmp(t->keys[i].name, actor) == 0)
			id = strdup(t->keys[i].id);
	sk_trust_free(t);
	return id;
}

static int parse_args(struct sk_cli *cli, int argc, char **argv, struct sk_audit_query *q,
		      struct sk_err *err)
{
	static const struct option opts[] = { { "since", required_argument, NULL, 's' },
					      { "until", required_argument, NULL, 'u' },
					      { "service", required_argument, NULL, 'S' },
					      { "actor", required_argument, NULL, 'a' },
					      { "ref", required_argument, NULL, 'r' },
					      { NULL, 0, NULL, 0 } };
	int64_t now = (int64_t)time(NULL);
	int c, rc = 0;
	char *end;
	while (rc == 0 && (c = getopt_long(argc, argv, "n:", opts, NULL)) != -1) {
		switch (c) {
		case 's':
			q->has_since = 1;
			rc = sk_audit_parse_time(optarg, now, &q->since, err);
			break;
		case 'u':
			q->has_until = 1;
			rc = sk_audit_parse_time(optarg, now, &q->until, err);
			break;
		case 'S': q->service = optarg; break;
		case 'a': q->actor = optarg; break;
		case 'r': q->ref_pattern = optarg; break;
		case 'n':
			q->limit = (size_t)strtoul(optarg, &end, 10);
			if (*end || !*optarg || *optarg == '-' || q->limit == 0)
				rc = sk_cli_usage(cli, err, "-n needs a positive number");
			break;
		default: rc = sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
		}
	}
	if (rc == 0 && optind != argc)
		rc = sk_cli_usage(cli, err, "audit takes no arguments");
	return rc;
}

int cmd_audit(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	struct sk_audit_query q = { 0 };
	int rc = parse_args(cli, argc, argv, &q, err);
	if (rc)
		return rc;
	char *id = q.actor ? actor_id(cli->repo, q.actor) : NULL;
	q.actor_id = id;
	json_t *entries = NULL;
	rc = sk_audit_query(cli->repo, &q, &entries, err);
	free(id);
	size_t i;
	json_t *e;
	json_array_foreach(entries, i, e) {
		if ((rc = sk_audit_verify_entry(cli->repo, e, err)) < 0) {
			cli->error_details = json_pack("{s:O}", "entry", e);
			break;
		}
	}
	if (rc) {
		json_decref(entries);
		return rc;
	}
	sk_cli_result(cli, json_pack("{s:o}", "entries", entries), audit_text);
	return 0;
}
