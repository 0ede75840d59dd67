/*
 * skiff op events ID [--follow]: an operation's verified event chain,
 * oldest first. With --follow it then watches the operation's ref and
 * prints each new event as it lands, until the operation is final
 * (succeeded, compensated, cancelled) or waits for a person
 * (awaiting-approval, paused: the next command is printed), and exits 0.
 * Every new stretch of the chain is found by walking back from the
 * operation's "event" head to the last event printed, verified as the
 * whole chain is (ops/follow.h), so nothing is printed twice or skipped.
 *
 * JSON mode with --follow is the one exception to "one document": JSON
 * Lines, each event object on its own line as it lands, then
 * {"op":ID,"state":STATE[,"next":COMMAND]}; an error ends the stream
 * with the usual error document.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ops/engine.h"
#include "ops/follow.h"
#include "porcelain/porcelain.h"

/* How often --follow looks at the operation's ref. */
#define FOLLOW_POLL_NS (100 * 1000 * 1000L)

static const char *jstr(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "-";
}

static void event_line(FILE *out, const json_t *e)
{
	const json_t *step = json_object_get(e, "step");
	char *facts = json_dumps(json_object_get(e, "facts"), JSON_COMPACT | JSON_SORT_KEYS);
	char sbuf[24] = "-", t[32];
	if (json_is_integer(step))
		snprintf(sbuf, sizeof(sbuf), "%lld", (long long)json_integer_value(step) + 1);
	fprintf(out, "%4lld  %s  %-18s %-4s %s  %s\n",
		(long long)json_integer_value(json_object_get(e, "seq")),
		sk_out_time((long long)json_integer_value(json_object_get(e, "time")), t, sizeof(t)),
		jstr(e, "kind"), sbuf, jstr(e, "actor"), facts ? facts : "");
	free(facts);
}

static void events_text(FILE *out, const json_t *r)
{
	size_t i;
	json_t *e;
	json_array_foreach(json_object_get(r, "events"), i, e)
		event_line(out, e);
}

/* Prints events as they are (a line each) and notes the last one. */
static int emit(const struct sk_cli *cli, const json_t *events, struct sk_oid *last,
		long long *last_seq, struct sk_err *err)
{
	size_t i;
	json_t *e;
	json_array_foreach(events, i, e) {
		if (cli->format == SK_FMT_JSON) {
			json_dumpf(e, stdout, JSON_COMPACT | JSON_SORT_KEYS);
			fputc('\n', stdout);
		} else {
			event_line(stdout, e);
		}
		*last_seq = (long long)json_integer_value(json_object_get(e, "seq"));
		sk_oid_fromhex(last, jstr(e, "id"), NULL);
	}
	if (fflush(stdout) != 0)
		return sk_err_errno(err, errno, "cannot write", "standard output");
	return 0;
}

/* The command that moves a waiting operation on; NULL when it is not
 * waiting for a person. */
static const char *next_command(const char *state, const char *id, char *buf, size_t n)
{
	if (strcmp(state, "awaiting-approval") == 0)
		snprintf(buf, n, "skiff approve %s", id);
	else if (strcmp(state, "paused") == 0)
		snprintf(buf, n, "skiff resume %s", id);
	else
		return NULL;
	return buf;
}

static int emit_end(const struct sk_cli *cli, const char *id, const char *state,
		    const char *next, struct sk_err *err)
{
	if (cli->format == SK_FMT_JSON) {
		json_t *doc = json_pack("{s:s, s:s}", "op", id, "state", state);
		if (next)
			json_object_set_new(doc, "next", json_string(next));
		json_dumpf(doc, stdout, JSON_COMPACT | JSON_SORT_KEYS);
		fputc('\n', stdout);
		json_decref(doc);
	} else {
		printf("operation %s %s\n", id, state);
		if (next && strncmp(next, "skiff approve", 13) == 0)
			printf("next: an approver runs %s, then skiff resume %s\n", next, id);
		else if (next)
			printf("next: %s   (or skiff cancel %s)\n", next, id);
	}
	if (fflush(stdout) != 0)
		return sk_err_errno(err, errno, "cannot write", "standard output");
	return 0;
}

/* Waits until refs/operations/<id> moves off (*op)->head, then replaces
 * *op with what it points at now. */
static int wait_move(struct sk_cli *cli, const char *id, struct sk_op **op, struct sk_err *err)
{
	const struct timespec poll = { 0, FOLLOW_POLL_NS };
	for (;;) {
		nanosleep(&poll, NULL);
		struct sk_op *now = NULL;
		int rc = sk_op_load(cli->repo, id, &now, err);
		if (rc)
			return rc;
		if (sk_oid_cmp(&now->head, &(*op)->head) != 0) {
			sk_op_free(*op);
			*op = now;
			return 0;
		}
		sk_op_free(now);
	}
}

static int follow(struct sk_cli *cli, const char *id, struct sk_op **op, struct sk_err *err)
{
	struct sk_oid last;
	long long last_seq = 0;
	char buf[160];
	memset(&last, 0, sizeof(last));
	for (;;) {
		json_t *events = NULL;
		int rc = sk_op_events_after(cli->repo, *op, &last, last_seq, &events, err);
		if (!rc)
			rc = emit(cli, events, &last, &last_seq, err);
		json_decref(events);
		if (rc)
			return rc;
		const char *state = jstr((*op)->doc, "state");
		const char *next = next_command(state, id, buf, sizeof(buf));
		if (next || sk_op_state_final(state))
			return emit_end(cli, id, state, next, err);
		if ((rc = wait_move(cli, id, op, err)))
			return rc;
	}
}

int cmd_op_events(struct sk_cli *cli, int argc, char **argv, struct sk_err *err)
{
	static const struct option opts[] = { { "follow", no_argument, NULL, 'f' },
					      { NULL, 0, NULL, 0 } };
	int c, follow_mode = 0;
	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		if (c == 'f')
			follow_mode = 1;
		else
			return sk_cli_usage(cli, err, "unknown option '%s'", argv[optind - 1]);
	}
	if (optind != argc - 1)
		return sk_cli_usage(cli, err, "op events needs exactly one operation ID");
	const char *id = argv[optind];
	struct sk_op *op = NULL;
	json_t *events = NULL;
	int rc = sk_op_load(cli->repo, id, &op, err);
	if (!rc && follow_mode) {
		rc = follow(cli, id, &op, err);
	} else if (!rc && !(rc = sk_op_events(cli->repo, op, &events, err))) {
		sk_cli_result(cli,
			      json_pack("{s:s, s:s, s:o}", "op", id, "trace",
					json_string_value(json_object_get(op->doc, "trace")), "events",
					events),
			      events_text);
	}
	sk_op_free(op);
	return rc;
}
