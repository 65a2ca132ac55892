#!/usr/bin/env bash
# Submit a build to an existing Ray cluster whose nodes run the project's Docker image
# (or have `pip install .` done). Every worker writes its own shards to OUT, so OUT must
# be reachable from every node: an object-store URI (s3://bucket/prefix, gs://...) or a
# volume mounted at the same path everywhere.
#   RAY_ADDRESS=http://head:8265 jobs/ray_submit.sh jobs/halo_capture.toml s3://bucket/halo_capture
set -euo pipefail
JOB="${1:-jobs/halo_capture.toml}"
OUT="${2:-/data/$(basename "$JOB" .toml)}"
WORKERS="${WORKERS:-64}"
ray job submit --address "${RAY_ADDRESS:?set RAY_ADDRESS to the cluster dashboard, e.g. http://head:8265}" \
  --working-dir . \
  -- synth build "$JOB" --out "$OUT" --workers "$WORKERS" --address auto --no-progress
