#!/bin/sh
# floe's demo job: a pretend training loop. It prints one metric line per step (FloydHub's
# {"metric": …} convention) and leaves its "model" in /output, which floe returns as a CID.
set -e
loss=100
for step in 1 2 3 4 5; do
  loss=$((loss * 6 / 10))
  echo "{\"metric\": \"loss\", \"value\": 0.$(printf %02d "$loss"), \"step\": $step}"
  sleep 0.2
done
echo "trained on $(nproc) CPU(s) as uid $(id -u)" > /output/model.txt
cp data.csv /output/
echo "done: /output holds model.txt and data.csv"
