#!/bin/sh
# The job of plot-schedulers.fio under none, mq-deadline, kyber and bfq, then one
# chart per metric (latency CDF, IOPS, bandwidth, requests in flight) with
# a line per scheduler and job:
#
#   examples/plot-schedulers.sh [OUTDIR]     (default /tmp/iostack-plots)
#
# IOSTACK names the iostack binary (default: iostack on the PATH).
set -e
out=${1:-/tmp/iostack-plots}
iostack=${IOSTACK:-iostack}
here=$(dirname "$0")
mkdir -p "$out"
for s in none mq-deadline kyber bfq; do
  "$iostack" run --output-format=json --output="$out/$s.json" --ioscheduler="$s" \
    "$here/plot-schedulers.fio"
done
"$iostack" plot "$out/none.json" "$out/mq-deadline.json" "$out/kyber.json" "$out/bfq.json" --out="$out"
echo "charts in $out: clat_cdf.svg iops.svg bw.svg inflight.svg"
