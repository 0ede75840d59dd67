/*
 * The live parts of a service's picture (live.h).
 */
#include "observe/live.h"

#include <stdio.h>
#include <string.h>

#include "cloud/traffic.h"
#include "objects/report.h"
#include "refs/refs.h"
#include "refs/reports.h"

int sk_live_report(struct sk_repo *repo, const char *service, const char *target, json_t **out,
		   struct sk_err *err)
{
	*out = NULL;
	struct sk_report *r = NULL;
	int rc = sk_reports_load(repo, service, target, &r, err);
	if (rc)
		return rc;
	*out = json_incref(r->doc);
	sk_report_free(r);
	return 0;
}

int sk_live_traffic(struct sk_repo *repo, const char *service, json_t **out, struct sk_err *err)
{
	return sk_traffic_sample(repo, service, out, err);
}

json_t *sk_live_listen(struct sk_repo *repo, const char *service)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s/traffic/services/%s.json", sk_repo_path(repo), service);
	json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, NULL);
	json_t *listen = json_object_get(doc, "listen");
	json_t *out = json_is_string(listen) && json_string_length(listen) < 300
			      ? json_incref(listen)
			      : json_null();
	json_decref(doc);
	return out;
}
