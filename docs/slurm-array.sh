#!/usr/bin/env bash
# The transfusion study on a Slurm cluster: one preparation job, a job array that splits the run grid
# with --shard I/N, and a final analyze + report job that merges whatever finished.
#
#   cd /shared/transfusion            # the repository, on a filesystem every node mounts
#   bash docs/slurm-array.sh submit
#
# Edit STUDY below (data folder, weights, output folder on the shared filesystem). Every stage reads and
# writes the same --out folder; result and checkpoint writes are atomic, and each run resumes from its
# last checkpoint, so a failed or preempted array task is simply resubmitted:
#   sbatch --array=3 docs/slurm-array.sh train        # shard 3 of SHARDS again
# The split depends only on the configuration and SHARDS, so SHARDS must not change between submissions
# (which is why the shard count is SHARDS, not SLURM_ARRAY_TASK_COUNT: that is 1 for a single resubmitted task).
#
#SBATCH --job-name=transfusion
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --gres=gpu:1
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
SHARDS=6                                     # array size: at most the number of runs (paper: 2 × 3 × 3 = 18)
DENO=${DENO:-npx -y deno@2.9.6}              # or a deno 2.9.6 binary on PATH
# ---------------------------------------------------------------------------------------------------------

# sbatch runs a copy of this script from a spool folder: work from where it was submitted.
cd "${SLURM_SUBMIT_DIR:-$(pwd)}"
stage=${1:-submit}
SELF=docs/slurm-array.sh

case "$stage" in
  submit)
    [ -f deno.json ] || { echo "run this from the repository root" >&2; exit 1; }
    # Fetch Deno and the locked npm packages once, on the login node, so compute nodes need no network.
    $DENO install --frozen
    prep=$(sbatch --parsable --job-name=transfusion-prep --gres=none "$SELF" prepare)
    train=$(sbatch --parsable --job-name=transfusion-train --dependency="afterok:$prep" \
      --array="0-$((SHARDS - 1))" "$SELF" train)
    # afterany: report even when some shards failed; the report names the missing runs.
    final=$(sbatch --parsable --job-name=transfusion-report --gres=none --dependency="afterany:$train" \
      "$SELF" finish)
    echo "submitted: prepare $prep, train array $train (${SHARDS} shards), report $final"
    ;;
  prepare)
    # Data (synthesis or ingest, and the preprocessed cache) and, for presets with a source task, pretraining: once.
    $DENO task data "${STUDY[@]}"
    $DENO task pretrain "${STUDY[@]}"
    ;;
  train)
    : "${SLURM_ARRAY_TASK_ID:?train runs as an array task: sbatch --array=0-$((SHARDS - 1)) $SELF train}"
    # Shards count from 0, as the array does.
    $DENO task train "${STUDY[@]}" --threads "${SLURM_CPUS_PER_TASK:-0}" \
      --shard "${SLURM_ARRAY_TASK_ID}/${SHARDS}"
    ;;
  finish)
    $DENO task analyze "${STUDY[@]}"
    $DENO task report "${STUDY[@]}"
    echo "report: $OUT/report.md"
    ;;
  *)
    echo "usage: bash $SELF [submit|prepare|train|finish]" >&2
    exit 2
    ;;
esac
