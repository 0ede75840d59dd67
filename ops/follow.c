/*
 * The tail of an operation's event chain (see follow.h).
 */
#include "ops/follow.h"

#include <string.h>

#include "common/cli.h"
#include "objects/odb.h"
#include "refs/refs.h"

static const char *str(const json_t *o, const char *k)
{
	return json_string_value(json_object_get(o, k));
}

/* Event seq of op, read at cur and checked to belong where it sits. */
static int read_event(struct sk_repo *repo, const struct sk_op *op, const struct sk_oid *cur,
		      long long seq, json_t **out, struct sk_err *err)
{
	json_t *e = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(repo), cur, SK_OBJ_EVENT, SK_ODB_VERIFY, &e, err);
	if (!rc)
		rc = sk_event_check(e, err);
	if (!rc && (strcmp(str(e, "op"), str(op->doc, "id")) ||
		    strcmp(str(e, "trace"), str(op->doc, "trace")) ||
		    json_integer_value(json_object_get(e, "seq")) != seq))
		rc = sk_err_set(err, SK_ECORRUPT, NULL,
				"event %lld of operation %s does not belong in its chain", seq,
				str(op->doc, "id"));
	if (rc) {
		json_decref(e);
		return rc;
	}
	*out = e;
	return 0;
}

int sk_op_events_after(struct sk_repo *repo, const struct sk_op *op, const struct sk_oid *after,
		       long long after_seq, json_t **out, struct sk_err *err)
{
	*out = NULL;
	long long n = (long long)json_integer_value(json_object_get(op->doc, "events"));
	const char *id = str(op->doc, "id");
	if (after_seq < 0 || after_seq > n)
		return sk_err_set(err, SK_ECORRUPT, NULL,
				  "operation %s has %lld events, fewer than the %lld seen", id, n,
				  after_seq);
	json_t *arr = json_array();
	struct sk_oid cur;
	memset(&cur, 0, sizeof(cur));
	int rc = n > 0 ? sk_oid_fromhex(&cur, str(op->doc, "event"), err) : 0;
	for (long long seq = n; !rc && seq > after_seq; seq--) {
		json_t *e = NULL;
		if ((rc = read_event(repo, op, &cur, seq, &e, err)))
			break;
		json_t *item = json_deep_copy(e);
		json_object_set_new(item, "id", sk_json_oid(&cur));
		json_array_insert_new(arr, 0, item);
		if (seq > 1)
			rc = sk_oid_fromhex(&cur, str(e, "prev"), err);
		else
			memset(&cur, 0, sizeof(cur));
		json_decref(e);
	}
	/* The walk (or the head, when nothing is new) must land on the event
	 * the reader saw last. */
	if (!rc && after_seq > 0 && sk_oid_cmp(&cur, after) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL,
				"operation %s: event %lld is not the one seen before", id, after_seq);
	if (rc) {
		json_decref(arr);
		return sk_err_wrap(err, "events of %s", id);
	}
	*out = arr;
	return 0;
}
