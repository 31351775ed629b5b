#!/usr/bin/env bash
# Continue the long training runs whose folders are kept here (see README.md).
# Each run trains from a worktree pinned to the commit it started at, so that
# later changes cannot alter a run halfway; the run folders live in
# benchmarks/training/<run>/ and are resumed in place (--resume).
#
#   bash benchmarks/training/resume.sh RUN [MINUTES]
#
# RUN: x3_t91_paper_tanh | x3_t91_paper_relu | x3_t91_srcnn915 | x3_t91_rgb | x2_t91 | x4_t91
set -euo pipefail
cd "$(dirname "$0")/../.."
root=$(pwd)
run=${1:?"name a run: x3_t91_paper_tanh | x3_t91_paper_relu | x3_t91_srcnn915 | x3_t91_rgb | x2_t91 | x4_t91"}
minutes=${2:-600}
data=${DATA:-../shared/data}
case $run in
  x3_t91_paper_tanh) commit=06e9d50; flags="--scale 3 --stride 13 --activation tanh --epochs 2000 --patience 2000" ;;
  x3_t91_paper_relu) commit=06e9d50; flags="--scale 3 --stride 13 --activation relu --epochs 2000 --patience 2000" ;;
  x3_t91_srcnn915)   commit=ad36127; flags="--scale 3 --stride 13 --arch srcnn-915 --epochs 600 --patience 600" ;;
  # the shipped x3 recipe at x2 and x4 (issue "The best weights", item 1), its epochs scaled to the hour:
  # an x2 epoch has 2.25x the sub-images of an x3 one, an x4 epoch 0.56x
  x2_t91)            commit=3f5f466; flags="--scale 2 --stride 3 --rescale 0.9,0.8,0.7,0.6 --augment-online --init icnr --epochs 58 --decay-at 0.85 --patience 58 --average" ;;
  x4_t91)            commit=3f5f466; flags="--scale 4 --stride 3 --rescale 0.9,0.8,0.7,0.6 --augment-online --init icnr --epochs 230 --decay-at 0.85 --patience 230 --average" ;;
  # the shipped x3 recipe on RGB (issue "Deploy anywhere", item 4), 100 epochs instead of 130:
  # an RGB network does 1.37x the multiply-adds per pixel (3 input and 27 output channels)
  x3_t91_rgb)        commit=3f5f466; flags="--scale 3 --channels 3 --order crd --stride 3 --rescale 0.9,0.8,0.7,0.6 --augment-online --init icnr --epochs 100 --decay-at 0.85 --patience 100 --average" ;;
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
exec env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE nice -n 19 .venv/bin/espcn-ref train --data "$data" \
  $flags --minutes "$minutes" --quiet --out "$out" $resume
