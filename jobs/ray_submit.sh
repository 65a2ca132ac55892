#!/usr/bin/env bash
# Submit a build to an existing Ray cluster whose nodes run the project's Docker image
# (or have `pip install .` done). OUT must be storage every node can reach only if you
# change the writer; by default the driver (the job's entrypoint) writes all shards, so
# a local path on the head node, or a mounted shared volume, works.
#   RAY_ADDRESS=http://head:8265 jobs/ray_submit.sh jobs/halo_capture.toml /data/halo_capture
set -euo pipefail
JOB="${1:-jobs/halo_capture.toml}"
OUT="${2:-/data/$(basename "$JOB" .toml)}"
WORKERS="${WORKERS:-64}"
ray job submit --address "${RAY_ADDRESS:?set RAY_ADDRESS to the cluster dashboard, e.g. http://head:8265}" \
  --working-dir . \
  -- synth build "$JOB" --out "$OUT" --workers "$WORKERS" --address auto --no-progress
