/*
 * Progress for people while an operation runs (skiff deploy, promote):
 * in text mode the engine runs in a child process and this one follows
 * the operation's verified events, one line each; on a terminal it also
 * keeps one status line with the current step, the traffic split and the
 * live signals of a bake (<repo>/ops-live/<id>.json), redrawn as they
 * change. JSON mode runs the operation in this process and prints
 * nothing until the one result document.
 */
#ifndef SK_PORCELAIN_PROGRESS_H
#define SK_PORCELAIN_PROGRESS_H

#include "common/cli.h"
#include "ops/engine.h"

/* sk_op_run(cli->repo, cli->key, op, err) with progress as above. */
int sk_progress_run(struct sk_cli *cli, struct sk_op *op, struct sk_err *err);

#endif
