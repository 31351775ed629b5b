#!/usr/bin/env bash
# Continue the long training runs whose folders are kept here (see README.md).
# Each run trains from a worktree pinned to the commit it started at, so that
# later changes cannot alter a run halfway; the run folders live in
# benchmarks/training/<run>/ and are resumed in place (--resume).
#
#   bash benchmarks/training/resume.sh RUN [MINUTES]
#
# RUN: x3_t91_paper_tanh | x3_t91_paper_relu | x3_t91_srcnn915
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
run=${1:?"name a run: x3_t91_paper_tanh | x3_t91_paper_relu | x3_t91_srcnn915"}
minutes=${2:-600}
data=${DATA:-../shared/data}
case $run in
  x3_t91_paper_tanh) commit=06e9d50; flags="--activation tanh --epochs 2000 --patience 2000" ;;
  x3_t91_paper_relu) commit=06e9d50; flags="--activation relu --epochs 2000 --patience 2000" ;;
  x3_t91_srcnn915)   commit=ad36127; flags="--arch srcnn-915 --epochs 600 --patience 600" ;;
  *) echo "unknown run $run" >&2; exit 2 ;;
esac
wt=$root/../pin-$commit
if [ ! -d "$wt" ]; then
  git worktree add --detach "$wt" "$commit"
fi
if [ ! -x "$wt/.venv/bin/espcn-ref" ]; then
  python3 -m venv "$wt/.venv" && "$wt/.venv/bin/pip" install --quiet -e "$wt"
fi
out=$root/benchmarks/training/$run
resume=""; [ -f "$out/checkpoint.npz" ] && resume=--resume
cd "$wt"
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice -n 19 .venv/bin/espcn-ref train --data "$data" --scale 3 \
  --stride 13 $flags --minutes "$minutes" --quiet --out "$out" $resume
