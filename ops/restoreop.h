/*
 * The operation type "restore": put one backup's data back on one target
 * of a stateful service (skiff restore, porcelain/restore.c).
 *
 * Params (strings): "service", "target", "backup" (a backup id of the
 * service), "prev_data" (targets[T].data when planned, "" for none),
 * "wait_s" (how long validate waits for the runner to report healthy),
 * "drain_timeout_s" (how long isolate waits for open connections).
 *
 * Steps, each safe to run again after an interruption:
 *   freshness  none    the backup's age against the target's release's
 *                      backup.max_age_s (stale: SK_ECONFLICT, exit 3) and
 *                      its file's size and SHA-256 (SK_EVERIFY, exit 4);
 *                      facts {backup, taken_at, age_s, max_age_s, ...}
 *   isolate    medium  the target drained (ops/drain.h); compensation
 *                      "undrain": back into traffic only if healthy
 *   cutover    high    (approval) a pre-restore backup of the current data
 *                      (kind pre-restore, op = this operation; reused when
 *                      it exists, so a rerun never captures restored
 *                      data), then restore.command with the backup's
 *                      location, then a state commit targets[T].data =
 *                      the backup id. A failing restore command puts the
 *                      pre-restore backup back itself and fails the step;
 *                      when that fails too, the operation pauses (the data
 *                      is in doubt; the target stays drained).
 *                      Compensation "put-back": the pre-restore backup
 *                      restored, the previous data id committed.
 *   validate   none    the runner reports healthy within wait_s, then
 *                      restore.validate (when the release has one) exits 0
 *   undrain    medium  back into traffic only if healthy; compensation
 *                      "drain"
 *   record     none    the summary facts
 * Kill points (SKIFF_OP_KILL_AT): pre-restore-recorded, restore-failed,
 * restored.
 */
#ifndef SK_OPS_RESTOREOP_H
#define SK_OPS_RESTOREOP_H

#define SK_RESTOREOP_KIND "restore"

#endif
