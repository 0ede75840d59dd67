/*
 * Fuzz target for the workload log lines `skiff logs` reads (runner
 * output on disk, untrusted: anything may have written the file).
 * Invariants: no crash or leak; a rejected line carries a message and no
 * object; an accepted one is an object whose "target" is the one asked
 * for, whose "line" is a string and whose "time_ms" is an integer, and it
 * passes or fails a filter without crashing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "observe/logs.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size > SK_LOGS_LINE_MAX + 16)
		return 0;
	json_t *line = NULL;
	struct sk_err err;
	memset(&err, 0, sizeof(err));
	if (sk_logs_line_parse((const char *)data, size, "t1", &line, &err) != 0) {
		if (err.message[0] == '\0' || line)
			abort();
		return 0;
	}
	const char *t = json_string_value(json_object_get(line, "target"));
	if (!json_is_object(line) || !t || strcmp(t, "t1") != 0 ||
	    !json_is_string(json_object_get(line, "line")) ||
	    !json_is_integer(json_object_get(line, "time_ms")))
		abort();
	struct sk_logs_filter f = { "t1", "v1", NULL };
	(void)sk_logs_match(line, &f);
	json_decref(line);
	return 0;
}
