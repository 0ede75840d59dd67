/*
 * Fuzz target for `operation` and `event` documents as an executor or a
 * remote reads them. Invariants: no crash or leak; a rejected document
 * carries a message; an accepted operation has its cursor within its
 * steps and "event" null exactly when "events" is 0; an accepted event
 * has "prev" null exactly at seq 1.
 */
#include <stdint.h>
#include <stdlib.h>

#include "objects/cjson.h"
#include "ops/opdoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_operation(const json_t *doc)
{
	struct sk_err err;
	if (sk_operation_check(doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	json_int_t cursor = json_integer_value(json_object_get(doc, "cursor"));
	size_t n = json_array_size(json_object_get(doc, "steps"));
	int no_event = json_is_null(json_object_get(doc, "event"));
	if (cursor < 0 || (size_t)cursor > n || n == 0 ||
	    no_event != (json_integer_value(json_object_get(doc, "events")) == 0))
		abort();
}

static void check_event(const json_t *doc)
{
	struct sk_err err;
	if (sk_event_check(doc, &err) != 0) {
		if (err.message[0] == '\0')
			abort();
		return;
	}
	if (json_is_null(json_object_get(doc, "prev")) !=
	    (json_integer_value(json_object_get(doc, "seq")) == 1))
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > (1 << 16))
		return 0;
	json_t *doc = NULL;
	struct sk_err err;
	if (sk_cjson_parse(data, size, &doc, &err) != 0)
		return 0;
	if (json_object_get(doc, "seq"))
		check_event(doc);
	else
		check_operation(doc);
	json_decref(doc);
	return 0;
}
