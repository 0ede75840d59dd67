/*
 * Service state (see service.h): one read path that verifies, one write
 * path that stores objects before it moves the ref.
 */
#include "refs/service.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "objects/cjson.h"
#include "objects/spec.h"

static void service_ref(char *buf, size_t n, const char *service)
{
	snprintf(buf, n, "refs/services/%s", service);
}

int sk_service_read_commit(struct sk_repo *repo, const struct sk_oid *oid, struct sk_commit *out,
			   json_t **control, struct sk_err *err)
{
	json_t *doc = NULL;
	int rc = sk_odb_read_json(sk_repo_odb(repo), oid, SK_OBJ_COMMIT, SK_ODB_VERIFY, &doc, err);
	if (!rc)
		rc = sk_commit_from_json(out, doc, err);
	json_decref(doc);
	if (rc || !control)
		return rc;
	rc = sk_odb_read_json(sk_repo_odb(repo), &out->control, SK_OBJ_CONTROL, SK_ODB_VERIFY,
			      control, err);
	if (!rc && (rc = sk_control_check(*control, err)) == 0 &&
	    strcmp(json_string_value(json_object_get(*control, "service")), out->service) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "commit for %s points at another service's control",
				out->service);
	if (rc) {
		json_decref(*control);
		*control = NULL;
	}
	return rc;
}

int sk_service_load(struct sk_repo *repo, const char *service, struct sk_service_state *out,
		    struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	int rc = sk_spec_component_check(service, SK_SPEC_NAME_MAX, "service", err);
	if (rc)
		return rc;
	snprintf(out->service, sizeof(out->service), "%s", service);
	char ref[SK_REF_MAX + 1];
	service_ref(ref, sizeof(ref), service);
	rc = sk_refs_verify(repo, ref, 0, NULL, err);
	if (rc == SK_ENOTFOUND) {
		sk_err_clear(err);
		out->control = sk_control_new(service);
		return out->control ? 0 : sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	}
	if (!rc)
		rc = sk_refs_resolve(repo, ref, &out->head, err);
	if (!rc)
		rc = sk_service_read_commit(repo, &out->head, &out->commit, &out->control, err);
	if (!rc && strcmp(out->commit.service, service) != 0)
		rc = sk_err_set(err, SK_ECORRUPT, NULL, "%s points at a commit of service %s", ref,
				out->commit.service);
	if (rc) {
		sk_service_state_clear(out);
		return sk_err_wrap(err, "%s", ref);
	}
	out->has_head = 1;
	return 0;
}

void sk_service_state_clear(struct sk_service_state *st)
{
	json_decref(st->control);
	st->control = NULL;
}

static int build_commit(const struct sk_key *key, const struct sk_service_state *base,
			const char *message, const char *op, struct sk_commit *c,
			struct sk_err *err)
{
	memset(c, 0, sizeof(*c));
	if (strlen(message) > SK_COMMIT_MESSAGE_MAX)
		return sk_err_set(err, SK_EINVAL, NULL, "the message is longer than %d bytes",
				  SK_COMMIT_MESSAGE_MAX);
	if (op && sk_opid_check(op, err) < 0)
		return SK_EINVAL;
	snprintf(c->service, sizeof(c->service), "%s", base->service);
	c->has_parent = base->has_head;
	c->parent = base->head;
	snprintf(c->op, sizeof(c->op), "%s", op ? op : "");
	snprintf(c->actor, sizeof(c->actor), "%s", sk_key_id(key));
	c->time = (int64_t)time(NULL);
	snprintf(c->message, sizeof(c->message), "%s", message);
	return 0;
}

/* The canonical bytes of doc and their id as an object of type t. */
static int encode(const json_t *doc, enum sk_otype t, char **bytes, size_t *len,
		  struct sk_oid *id, struct sk_err *err)
{
	int rc = sk_cjson_dump(doc, bytes, len, err);
	if (!rc)
		sk_oid_hash(id, t, *bytes, *len);
	return rc;
}

int sk_service_commit(struct sk_repo *repo, const struct sk_key *key,
		      const struct sk_service_state *base, const json_t *control,
		      const char *message, const char *op, int plan, struct sk_oid *out,
		      struct sk_err *err)
{
	struct sk_commit c;
	int rc = sk_control_check(control, err);
	if (!rc && strcmp(json_string_value(json_object_get(control, "service")), base->service))
		rc = sk_err_set(err, SK_EINVAL, NULL, "the control names another service");
	if (!rc)
		rc = build_commit(key, base, message, op, &c, err);
	if (rc)
		return rc;
	char *cbytes = NULL, *mbytes = NULL;
	size_t clen = 0, mlen = 0;
	json_t *doc = NULL;
	rc = encode(control, SK_OBJ_CONTROL, &cbytes, &clen, &c.control, err);
	if (!rc && !(doc = sk_commit_to_json(&c)))
		rc = sk_err_set(err, SK_ENOMEM, NULL, "out of memory");
	if (!rc)
		rc = encode(doc, SK_OBJ_COMMIT, &mbytes, &mlen, out, err);
	char ref[SK_REF_MAX + 1];
	service_ref(ref, sizeof(ref), base->service);
	struct sk_ref_update up = { .ref = ref, .new_oid = *out, .op = op, .pending = 1 };
	up.expect = base->has_head ? SK_EXPECT_OID : SK_EXPECT_ABSENT;
	up.old_oid = base->head;
	struct sk_refrecord rec;
	/* Every refusal (role, a moved ref, a lock) comes before anything is
	 * stored, so a refused change leaves the store as it was. */
	if (!rc)
		rc = sk_refs_update_plan(repo, key, &up, 1, &rec, err);
	if (!rc && !plan) {
		up.pending = 0;
		if (!(rc = sk_odb_write(sk_repo_odb(repo), SK_OBJ_CONTROL, cbytes, clen, NULL, err)) &&
		    !(rc = sk_odb_write(sk_repo_odb(repo), SK_OBJ_COMMIT, mbytes, mlen, NULL, err)))
			rc = sk_refs_update(repo, key, &up, 1, &rec, err);
	}
	free(cbytes);
	free(mbytes);
	json_decref(doc);
	return rc;
}
