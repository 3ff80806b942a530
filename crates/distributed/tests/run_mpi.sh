#!/usr/bin/env bash
# The multi-process tests of descent-distributed: builds examples/mpi_checks.rs with the
# `mpi` feature and runs each case under mpirun on this machine's loopback, with 1-4
# processes (3 for uneven shards). Needs Open MPI (openmpi-bin libopenmpi-dev libclang-dev).
# Each case exits 0 when it holds on every rank; the failure cases must end the job within
# a bounded time, naming the rank.
set -euo pipefail
cd "$(dirname "$0")/../../.."

cargo build -p descent-distributed --features mpi --example mpi_checks
bin="${CARGO_TARGET_DIR:-target}/debug/examples/mpi_checks"
mpirun=(mpirun --oversubscribe)
if [ "$(id -u)" = 0 ]; then mpirun+=(--allow-run-as-root); fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

for np in 1 2 3 4; do
  for case in ddp batch sampler mismatch; do
    timeout 300 "${mpirun[@]}" -np "$np" "$bin" "$case"
  done
  mkdir "$tmp/ckpt$np"
  timeout 120 "${mpirun[@]}" -np "$np" "$bin" checkpoint "$tmp/ckpt$np"
done

# A rank that hangs: the others name it after the timeout (3 s here) and abort the job.
start=$SECONDS
if DESCENT_DIST_TIMEOUT=3 timeout 120 "${mpirun[@]}" -np 3 "$bin" hang >"$tmp/hang.log" 2>&1; then
  echo "hang: the job succeeded with a hung rank"; cat "$tmp/hang.log"; exit 1
fi
grep -q 'rank \[2\] did not arrive within 3 s' "$tmp/hang.log" || { echo "hang: no error naming rank 2"; cat "$tmp/hang.log"; exit 1; }
[ $((SECONDS - start)) -lt 60 ] || { echo "hang: took $((SECONDS - start)) s"; exit 1; }
echo "hang: the others named rank 2 and stopped in $((SECONDS - start)) s"

# A rank that dies mid-run: mpirun ends the job, naming the process, with its exit code.
start=$SECONDS
if timeout 120 "${mpirun[@]}" -np 2 "$bin" die >"$tmp/die.log" 2>&1; then
  echo "die: the job succeeded with a dead rank"; cat "$tmp/die.log"; exit 1
fi
grep -q 'Exit code: *9' "$tmp/die.log" || { echo "die: mpirun did not report the exit"; cat "$tmp/die.log"; exit 1; }
echo "die: the job ended in $((SECONDS - start)) s"
echo "run_mpi.sh: all multi-process checks passed"
