/*
 * The one rendering path. Commands hand a JSON value to sk_cli_result;
 * this file prints it as exactly one JSON document (agents) or as short
 * aligned text (people). Errors take the same path, so text and JSON
 * never disagree about what happened.
 */
#include "common/cli.h"

#include <stdarg.h>
#include <string.h>
#include <time.h>

#include "objects/oid.h"

static json_t *must(json_t *v)
{
	if (!v) {
		fputs("skiff: out of memory\n", stderr);
		abort();
	}
	return v;
}

json_t *sk_json_str(const char *s) { return s ? must(json_string(s)) : json_null(); }
json_t *sk_json_int(long long v) { return must(json_integer(v)); }

json_t *sk_json_oid(const void *oid)
{
	char hex[SK_OID_HEXSZ + 1];
	if (!oid)
		return json_null();
	return sk_json_str(sk_oid_tohex(oid, hex));
}

void sk_cli_result(struct sk_cli *cli, json_t *result, sk_text_fn text)
{
	json_decref(cli->result);
	cli->result = result;
	cli->text = text;
}

const char *sk_out_time(long long t, char *buf, size_t n)
{
	time_t tt = (time_t)t;
	struct tm tm;
	if (!gmtime_r(&tt, &tm) || strftime(buf, n, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		snprintf(buf, n, "%lld", t);
	return buf;
}

static void print_scalar(FILE *out, const json_t *v)
{
	switch (json_typeof(v)) {
	case JSON_STRING:
		fputs(json_string_value(v), out);
		break;
	case JSON_INTEGER:
		fprintf(out, "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		break;
	case JSON_TRUE:
		fputs("yes", out);
		break;
	case JSON_FALSE:
		fputs("no", out);
		break;
	case JSON_NULL:
		fputs("-", out);
		break;
	default: {
		char *s = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
		fputs(s ? s : "?", out);
		free(s);
	}
	}
}

static int is_table(const json_t *arr)
{
	size_t i;
	json_t *e;
	if (json_array_size(arr) == 0)
		return 0;
	json_array_foreach(arr, i, e) if (!json_is_object(e)) return 0;
	return 1;
}

/* A table cell as text (truncated to n - 1 bytes). */
static const char *cell_text(const json_t *row, const char *key, char *buf, size_t n)
{
	json_t *cell = json_object_get(row, key);
	FILE *m = fmemopen(buf, n - 1, "w");
	buf[0] = '\0';
	if (m) {
		if (cell)
			print_scalar(m, cell);
		fclose(m);
	}
	return buf;
}

/* Columns are the keys of the first row, in its (sorted) order. */
static void print_table(FILE *out, const json_t *arr, int indent)
{
	const json_t *first = json_array_get(arr, 0);
	const char *key;
	json_t *val;
	size_t ncol = json_object_size(first), i, c;
	size_t *width = calloc(ncol ? ncol : 1, sizeof(size_t));
	if (!width)
		abort();
	json_t *row;
	json_array_foreach(arr, i, row) {
		c = 0;
		json_object_foreach((json_t *)first, key, val) {
			char buf[256];
			size_t w = strlen(cell_text(row, key, buf, sizeof(buf)));
			if (w > width[c])
				width[c] = w;
			c++;
		}
	}
	json_array_foreach(arr, i, row) {
		c = 0;
		fprintf(out, "%*s", indent, "");
		json_object_foreach((json_t *)first, key, val) {
			char buf[256];
			cell_text(row, key, buf, sizeof(buf));
			if (c + 1 < ncol)
				fprintf(out, "%-*s  ", (int)width[c], buf);
			else
				fputs(buf, out);
			c++;
		}
		fputc('\n', out);
	}
	free(width);
}

static void print_object(FILE *out, const json_t *obj, int indent)
{
	const char *key;
	json_t *val;
	size_t w = 0;
	json_object_foreach((json_t *)obj, key, val) if (strlen(key) > w) w = strlen(key);
	json_object_foreach((json_t *)obj, key, val) {
		fprintf(out, "%*s%-*s  ", indent, "", (int)w, key);
		if (json_is_object(val) && json_object_size(val) > 0) {
			fputc('\n', out);
			print_object(out, val, indent + 2);
		} else if (json_is_array(val) && is_table(val)) {
			fputc('\n', out);
			print_table(out, val, indent + 2);
		} else {
			print_scalar(out, val);
			fputc('\n', out);
		}
	}
}

void sk_out_text_generic(FILE *out, const json_t *v)
{
	if (json_is_object(v))
		print_object(out, v, 0);
	else if (json_is_array(v) && is_table(v))
		print_table(out, v, 0);
	else {
		print_scalar(out, v);
		fputc('\n', out);
	}
}

void sk_out_result(const struct sk_cli *cli)
{
	if (!cli->result)
		return;
	if (cli->format == SK_FMT_JSON) {
		json_dumpf(cli->result, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
	} else if (cli->text) {
		cli->text(stdout, cli->result);
	} else {
		sk_out_text_generic(stdout, cli->result);
	}
	fflush(stdout);
}

void sk_out_error(const struct sk_cli *cli, const struct sk_err *err)
{
	int code = err->code ? err->code : SK_EFAIL;
	if (cli->format == SK_FMT_JSON) {
		json_t *e = json_pack("{s:s, s:s, s:b, s:i}", "code", sk_err_name(code), "message",
				      err->message[0] ? err->message : sk_err_name(code), "retryable",
				      sk_err_retryable(code), "exit", sk_err_exit_code(code));
		if (err->hint[0])
			json_object_set_new(e, "hint", sk_json_str(err->hint));
		if (cli->cmd)
			json_object_set_new(e, "command", sk_json_str(cli->cmd->name));
		if (json_is_object(cli->error_details))
			json_object_update_missing(e, cli->error_details);
		json_t *doc = json_pack("{s:o}", "error", must(e));
		json_dumpf(doc, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
		fflush(stdout);
		json_decref(doc);
		return;
	}
	fprintf(stderr, "skiff: %s\n", err->message[0] ? err->message : sk_err_name(code));
	if (err->hint[0])
		fprintf(stderr, "hint: %s\n", err->hint);
}

int sk_cli_usage(struct sk_cli *cli, struct sk_err *err, const char *fmt, ...)
{
	char msg[SK_ERR_MSG];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	char hint[SK_ERR_HINT] = "";
	if (cli && cli->cmd)
		snprintf(hint, sizeof(hint), "usage: %s", cli->cmd->usage);
	return sk_err_set(err, SK_EUSAGE, hint, "%s", msg);
}
