/*
 * Test helper: writes one runner report as a runner would (sk_reports_write,
 * signed by KEY), its "prev" set to the target's current report.
 *   report-write REPO-DIR KEY < REPORT-JSON   (the document without "prev")
 */
#include <stdio.h>

#include "common/cli.h"
#include "refs/keys.h"
#include "refs/refs.h"
#include "refs/reports.h"

int main(int argc, char **argv)
{
	struct sk_err err;
	struct sk_repo *repo = NULL;
	struct sk_key *key = NULL;
	sk_err_clear(&err);
	if (argc != 3) {
		fprintf(stderr, "usage: report-write REPO-DIR KEY < REPORT-JSON\n");
		return 2;
	}
	json_error_t je;
	json_t *doc = json_loadf(stdin, 0, &je);
	if (!doc) {
		fprintf(stderr, "report-write: %s\n", je.text);
		return 2;
	}
	const char *svc = json_string_value(json_object_get(doc, "service"));
	const char *tgt = json_string_value(json_object_get(doc, "target"));
	int has = 0, rc;
	struct sk_oid head;
	if ((rc = sk_repo_open(&repo, argv[1], &err)) == 0 &&
	    (rc = sk_key_load(&key, argv[2], &err)) == 0 &&
	    (rc = sk_reports_head(repo, svc ? svc : "", tgt ? tgt : "", &has, &head, &err)) == 0) {
		json_object_set_new(doc, "prev", has ? sk_json_oid(&head) : json_null());
		rc = sk_reports_write(repo, key, doc, &err);
	}
	if (rc)
		fprintf(stderr, "report-write: %s\n", err.message);
	json_decref(doc);
	sk_key_free(key);
	sk_repo_free(repo);
	return rc ? 1 : 0;
}
