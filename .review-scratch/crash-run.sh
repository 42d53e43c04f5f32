#!/bin/bash
cd /work/main
for r in $(seq 1 15); do
  d=/tmp/rv-crash-$r; rm -rf $d
  node --import tsx .review-scratch/crash-child.ts $d > /dev/null 2>&1 &
  pid=$!
  sleep $(awk -v s=$RANDOM 'BEGIN{print 1.5 + (s%1000)/1000}')
  kill -KILL $pid; wait $pid 2>/dev/null
  rm -f $d/LOCK
  node --import tsx .review-scratch/crash-check.ts $d
done
