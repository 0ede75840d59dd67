/*
 * Fuzz target for the audit journal reader: a journal line, a whole
 * journal file (read forward and by the --since binary search), and TIME
 * arguments. Invariants: an accepted line prints back to exactly its
 * bytes; whatever the file holds, a query either returns entries that all
 * parse and lie inside its window or fails with a message -- never a
 * crash, a hang or a silent skip of a bad line it read.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/fs.h"
#include "objects/cjson.h"
#include "refs/audit.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char dir[64];

static void remove_dir(void)
{
	rmdir(dir);
}

static void check_line(const uint8_t *data, size_t size)
{
	json_t *e = NULL;
	struct sk_err err;
	if (sk_audit_parse_line((const char *)data, size, &e, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	char *out = NULL;
	size_t len = 0;
	if (sk_cjson_dump(e, &out, &len, &err) != 0 || len != size || memcmp(out, data, size) != 0)
		abort();
	free(out);
	json_decref(e);
}

static void check_query(int64_t since, int has_since)
{
	struct sk_audit_query q = { .has_since = has_since, .since = since };
	json_t *arr = NULL;
	struct sk_err err;
	if (sk_audit_query_dir(dir, &q, &arr, &err) != 0) {
		if (err.message[0] == '\0' || arr)
			abort();
		return;
	}
	size_t i;
	json_t *e;
	json_array_foreach(arr, i, e)
		if (has_since && json_integer_value(json_object_get(e, "time")) < since)
			abort();
	json_decref(arr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	check_line(data, size);
	char *t = malloc(size + 1);
	memcpy(t, data, size);
	t[size] = '\0';
	int64_t when;
	sk_audit_parse_time(t, 1000000, &when, NULL);
	free(t);
	if (!dir[0]) {
		snprintf(dir, sizeof(dir), "/tmp/skiff-fuzz-audit-%d", (int)getpid());
		if (sk_fs_mkdirs(dir, 0, NULL) < 0)
			abort();
		atexit(remove_dir);
	}
	char *path = sk_path_join(dir, "2026-12-04.jsonl");
	FILE *f = fopen(path, "wb"); /* no fsync: the file is scratch */
	if (f && fwrite(data, 1, size, f) == size && fclose(f) == 0) {
		check_query(0, 0);
		check_query(1796342400 + (size ? data[0] : 0) * 300, 1);
	} else if (f) {
		fclose(f);
	}
	unlink(path);
	free(path);
	return 0;
}
