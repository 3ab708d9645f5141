#!/usr/bin/env bash
# The transfusion study on a Slurm cluster: one preparation job, a job array that splits the run grid
# with --shard I/N, and a final analyze + report job that merges whatever finished.
#
#   cd /shared/transfusion            # the repository, on a filesystem every node mounts
#   bash docs/slurm-array.sh submit                 # CPU nodes
#   GPUS=1 bash docs/slurm-array.sh submit          # one GPU per training task (add --device to STUDY)
#
# Edit STUDY below (data folder, weights, output folder on the shared filesystem). Every stage reads and
# writes the same --out folder; each folder has one writer at a time (a .lock file: a second writer is
# refused with "... is being written by PID N on HOST since ..."), result and checkpoint writes are atomic,
# and each run resumes from its last checkpoint. So a failed, preempted or cancelled array task is simply
# resubmitted, with a new report after it:
#   bash docs/slurm-array.sh resubmit 3             # shard 3 again (or 3,5 or 2-4), then analyze + report
# The split depends only on the configuration and SHARDS, so SHARDS must not change between submissions
# (which is why the shard count is SHARDS, not SLURM_ARRAY_TASK_COUNT: that is 1 for a single resubmitted task).
#
# Signals: every stage runs the Deno binary itself (resolved once, on the login node, and passed to the jobs
# as DENO_BIN), never npx, whose npm/sh wrappers do not pass signals on. scancel's SIGTERM reaches deno:
# training stops at once, keeps its last checkpoint, releases its locks and exits with one line; Slurm then
# reports the task CANCELLED and nothing of it runs on.
#
#SBATCH --job-name=transfusion
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=2-00:00:00
#SBATCH --output=slurm-%x-%A_%a.out
set -euo pipefail

# --- edit here -------------------------------------------------------------------------------------------
OUT=/shared/transfusion-out
STUDY=(
  --preset paper
  --data /shared/data/kaggle-dr # trainLabels.csv + train/*.jpeg
  --weights resnet50=/shared/weights/resnet50.onnx,inception_v3=/shared/weights/inception_v3.onnx
  --out "$OUT"
)
SHARDS=6                  # array size: at most the number of runs (paper: 2 × 3 × 3 = 18)
GPUS=${GPUS:-}            # GPUs per training task; empty: none requested (CPU clusters have no gpu gres)
# ---------------------------------------------------------------------------------------------------------

# sbatch runs a copy of this script from a spool folder: work from where it was submitted.
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
stage=${1:-submit}
SELF=docs/slurm-array.sh

# Runs one Deno task in the background and passes SIGTERM / SIGINT on to it (bash defers its own traps
# while a foreground child runs, so a plain call would leave deno running after the job step ended).
deno_task() {
  "$DENO_BIN" task "$@" &
  local pid=$!
  trap 'kill -TERM "$pid" 2>/dev/null; wait "$pid"; exit 143' TERM INT
  wait "$pid"
  trap - TERM INT
}

# The report job: after the given jobs end, whether they succeeded or not (the report names missing runs).
submit_report() {
  sbatch --parsable --job-name="$1" --kill-on-invalid-dep=yes --dependency="afterany:$2" \
    --export="ALL,DENO_BIN=$DENO_BIN" "$SELF" finish
}

case "$stage" in
  submit | resubmit)
    [ -f deno.json ] || { echo "run this from the repository root" >&2; exit 1; }
    # The Deno binary, resolved once here (npx fetches it into ~/.npm, which the nodes must see), then the
    # locked npm packages, so compute nodes need no network.
    DENO_BIN=${DENO_BIN:-$(npx -y deno@2.9.6 eval 'console.log(Deno.execPath())')}
    [ -x "$DENO_BIN" ] || { echo "no Deno binary at '$DENO_BIN'" >&2; exit 1; }
    "$DENO_BIN" install --frozen
    gres=()
    [ -n "$GPUS" ] && gres=(--gres="gpu:$GPUS")
    if [ "$stage" = submit ]; then
      prep=$(sbatch --parsable --job-name=transfusion-prep --export="ALL,DENO_BIN=$DENO_BIN" "$SELF" prepare)
      # --kill-on-invalid-dep: a failed prepare job cancels the array instead of leaving it pending for good
      train=$(sbatch --parsable --job-name=transfusion-train ${gres[@]+"${gres[@]}"} --kill-on-invalid-dep=yes \
        --dependency="afterok:$prep" --array="0-$((SHARDS - 1))" --export="ALL,DENO_BIN=$DENO_BIN" \
        "$SELF" train)
      final=$(submit_report transfusion-report "$train")
      echo "submitted: prepare $prep, train array $train (${SHARDS} shards), report $final"
    else
      shards=${2:?usage: bash $SELF resubmit SHARDS (e.g. 3, 3,5 or 2-4)}
      train=$(sbatch --parsable --job-name=transfusion-train-resubmit ${gres[@]+"${gres[@]}"} --array="$shards" \
        --export="ALL,DENO_BIN=$DENO_BIN" "$SELF" train)
      final=$(submit_report transfusion-report-resubmit "$train")
      echo "resubmitted: train shards $shards as $train, report $final"
    fi
    ;;
  prepare)
    : "${DENO_BIN:?submit with: bash $SELF submit}"
    # Data (synthesis or ingest, and the preprocessed cache) and, for presets with a source task, pretraining: once.
    deno_task data "${STUDY[@]}"
    deno_task pretrain "${STUDY[@]}"
    ;;
  train)
    : "${DENO_BIN:?submit with: bash $SELF submit}"
    : "${SLURM_ARRAY_TASK_ID:?train runs as an array task: bash $SELF resubmit N}"
    # Shards count from 0, as the array does. exec: the task is this job step's process, signals included.
    exec "$DENO_BIN" task train "${STUDY[@]}" --threads "${SLURM_CPUS_PER_TASK:-0}" \
      --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}"
    ;;
  finish)
    : "${DENO_BIN:?submit with: bash $SELF submit}"
    deno_task analyze "${STUDY[@]}"
    deno_task report "${STUDY[@]}"
    echo "report: $OUT/report.md"
    ;;
  *)
    echo "usage: bash $SELF [submit|resubmit SHARDS|prepare|train|finish]" >&2
    exit 2
    ;;
esac
