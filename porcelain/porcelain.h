/*
 * Porcelain commands: workflows for people (and agents, through JSON).
 * One file per workflow; the work itself is in the library modules.
 */
#ifndef SK_PORCELAIN_H
#define SK_PORCELAIN_H

#include "common/cli.h"

int cmd_keygen(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_key_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_init(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_trust_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_trust_add_key(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_trust_set_threshold(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_create(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_sign(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_verify(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_control_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_control_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_deploy(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_rollback(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_promote(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_pause(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_drain(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_undrain(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_backup(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_backup_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_restore(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_target_add(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_target_remove(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_target_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_target_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_failover(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_secret_set(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_secret_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_secret_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_rotate(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_traffic_start(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_traffic_stop(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_traffic_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_traffic_apply(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_traffic_set_state(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_extract(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_release_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_export_git(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_op_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_op_show(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_op_events(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_op_test_run(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_resume(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_cancel(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_approve(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_audit(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_status(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_logs(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_doctor(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);

int cmd_remote_add(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_remote_list(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_remote_remove(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_push(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);
int cmd_fetch(struct sk_cli *cli, int argc, char **argv, struct sk_err *err);

#endif
