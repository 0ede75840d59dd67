/*
 * Backup documents (see backup.h).
 */
#include "objects/backup.h"

#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "objects/cjson.h"
#include "objects/oid.h"
#include "objects/release.h"
#include "objects/spec.h"

static const char *const backup_keys[] = { "id",      "kind",	 "location", "op",
					   "release", "service", "sha256",   "size",
					   "taken_at", "target", "v",	     NULL };

void sk_backup_new_id(char *id, size_t n)
{
	struct timespec ts;
	struct tm tm;
	char stamp[32], rnd[13];
	unsigned char raw[6];
	size_t got = 0;
	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	strftime(stamp, sizeof(stamp), "%Y%m%dT%H%M%S", &tm);
	while (got < sizeof(raw)) {
		ssize_t r = getrandom(raw + got, sizeof(raw) - got, 0);
		if (r > 0)
			got += (size_t)r;
	}
	sk_hex(raw, sizeof(raw), rnd);
	snprintf(id, n, "%s%03ldZ-%s", stamp, ts.tv_nsec / 1000000, rnd);
}

/* "YYYYMMDDTHHMMSSmmmZ-" then 12 lowercase hex digits. */
int sk_backup_id_check(const char *id, struct sk_err *err)
{
	static const char shape[] = "DDDDDDDDTDDDDDDDDDZ-XXXXXXXXXXXX";
	size_t n = strlen(id);
	int ok = n == SK_BACKUP_ID_LEN;
	for (size_t i = 0; ok && i < n; i++) {
		char c = id[i], s = shape[i];
		if (s == 'D')
			ok = c >= '0' && c <= '9';
		else if (s == 'X')
			ok = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
		else
			ok = c == s;
	}
	if (!ok) {
		char q[80];
		return sk_err_set(err, SK_EINVAL, "skiff backup list SERVICE lists the ids",
				  "\"%s\" is not a backup id (YYYYMMDDTHHMMSSmmmZ-12 hex digits)",
				  sk_cjson_quote(id, n, q, sizeof(q)));
	}
	return 0;
}

static int bad(struct sk_err *err, const char *field, const char *what)
{
	return sk_err_set(err, SK_EINVAL, NULL, "backup: \"%s\" must be %s", field, what);
}

static int get_str(const json_t *doc, const char *key, char *out, size_t max, struct sk_err *err)
{
	const json_t *v = json_object_get(doc, key);
	if (!json_is_string(v) || json_string_length(v) > max ||
	    strlen(json_string_value(v)) != json_string_length(v))
		return bad(err, key, "a string");
	memcpy(out, json_string_value(v), json_string_length(v) + 1);
	return 0;
}

static int get_count(const json_t *doc, const char *key, long long *out, struct sk_err *err)
{
	const json_t *v = json_object_get(doc, key);
	if (!json_is_integer(v) || json_integer_value(v) < 0)
		return bad(err, key, "a non-negative integer");
	*out = (long long)json_integer_value(v);
	return 0;
}

/* Absolute, printable, no ".." component: the path restore hands to a
 * command and hashes. */
static int check_location(const char *p, struct sk_err *err)
{
	int ok = p[0] == '/';
	for (const char *s = p; ok && *s; s++)
		ok = (unsigned char)*s >= 0x20 && *s != 0x7f;
	for (const char *s = p; ok && (s = strstr(s, "/..")) != NULL; s += 3)
		ok = s[3] != '/' && s[3] != '\0';
	return ok ? 0 : bad(err, "location", "an absolute printable path without \"..\"");
}

static int check_hex64(const char *h, struct sk_err *err)
{
	int ok = strlen(h) == 64;
	for (const char *s = h; ok && *s; s++)
		ok = (*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f');
	return ok ? 0 : bad(err, "sha256", "64 lowercase hex digits");
}

static int get_names(const json_t *doc, struct sk_backup *b, struct sk_err *err)
{
	int rc = get_str(doc, "service", b->service, SK_SPEC_NAME_MAX, err);
	if (!rc)
		rc = sk_spec_component_check(b->service, SK_SPEC_NAME_MAX, "backup service", err);
	if (!rc)
		rc = get_str(doc, "target", b->target, SK_SPEC_NAME_MAX, err);
	if (!rc)
		rc = sk_spec_component_check(b->target, SK_SPEC_NAME_MAX, "backup target", err);
	if (!rc)
		rc = get_str(doc, "release", b->release, SK_RELEASE_VERSION_MAX, err);
	if (!rc)
		rc = sk_release_version_check(b->release, err);
	if (!rc)
		rc = get_str(doc, "id", b->id, SK_BACKUP_ID_LEN, err);
	if (!rc)
		rc = sk_backup_id_check(b->id, err);
	if (!rc)
		rc = get_str(doc, "kind", b->kind, sizeof(b->kind) - 1, err);
	if (!rc && strcmp(b->kind, SK_BACKUP_KIND_MANUAL) != 0 &&
	    strcmp(b->kind, SK_BACKUP_KIND_PRE_RESTORE) != 0)
		rc = bad(err, "kind", "\"manual\" or \"pre-restore\"");
	return rc;
}

static int get_op(const json_t *doc, struct sk_backup *b, struct sk_err *err)
{
	const json_t *v = json_object_get(doc, "op");
	b->op[0] = '\0';
	if (json_is_null(v))
		return strcmp(b->kind, SK_BACKUP_KIND_PRE_RESTORE) == 0
			       ? bad(err, "op", "the restore's operation id for a pre-restore backup")
			       : 0;
	int rc = get_str(doc, "op", b->op, SK_OPID_MAX, err);
	return rc ? rc : sk_opid_check(b->op, err);
}

int sk_backup_from_json(struct sk_backup *out, const json_t *doc, struct sk_err *err)
{
	memset(out, 0, sizeof(*out));
	if (!json_is_object(doc))
		return sk_err_set(err, SK_EINVAL, NULL, "backup: not a JSON object");
	long long v = 0;
	int rc = sk_cjson_only_keys(doc, backup_keys, "backup", err);
	if (!rc && json_object_size(doc) != sizeof(backup_keys) / sizeof(backup_keys[0]) - 1)
		rc = sk_err_set(err, SK_EINVAL, NULL,
				"backup: needs id, kind, location, op, release, service, sha256, "
				"size, taken_at, target and v");
	if (!rc && !(rc = get_count(doc, "v", &v, err)) && v != 1)
		rc = bad(err, "v", "1");
	if (!rc)
		rc = get_names(doc, out, err);
	if (!rc)
		rc = get_op(doc, out, err);
	if (!rc)
		rc = get_str(doc, "location", out->location, SK_BACKUP_LOCATION_MAX, err);
	if (!rc)
		rc = check_location(out->location, err);
	if (!rc)
		rc = get_str(doc, "sha256", out->sha256, 64, err);
	if (!rc)
		rc = check_hex64(out->sha256, err);
	if (!rc)
		rc = get_count(doc, "size", &out->size, err);
	if (!rc)
		rc = get_count(doc, "taken_at", &out->taken_at, err);
	return rc;
}

json_t *sk_backup_to_json(const struct sk_backup *b)
{
	return json_pack("{s:s, s:s, s:s, s:o, s:s, s:s, s:s, s:I, s:I, s:s, s:i}", "id", b->id,
			 "kind", b->kind, "location", b->location, "op",
			 b->op[0] ? json_string(b->op) : json_null(), "release", b->release,
			 "service", b->service, "sha256", b->sha256, "size", (json_int_t)b->size,
			 "taken_at", (json_int_t)b->taken_at, "target", b->target, "v", 1);
}
