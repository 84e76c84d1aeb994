#!/bin/sh
# A captured block trace replayed through none, mq-deadline, kyber and bfq on
# a simulated disk, then one chart per metric with a line per scheduler:
#
#   examples/replay-schedulers.sh [OUTDIR] [TRACE...]   (default /tmp/iostack-replay)
#
# Without TRACE, the trace is captured first: two readers (one sequential, one
# random) and a random writer on a ram disk, as blktrace records them, at
# rates a desktop disk can almost keep up with. Give
# your own blktrace files, fio iologs or MSR Cambridge CSV files instead.
# IOSTACK names the iostack binary (default: iostack on the PATH).
set -e
out=${1:-/tmp/iostack-replay}
[ $# -gt 0 ] && shift
iostack=${IOSTACK:-iostack}
mkdir -p "$out"
if [ $# -eq 0 ]; then
  rm -rf "$out/capture"
  "$iostack" run --trace="$out/capture" --output=/dev/null --filename=ram:512M \
    --ioengine=io_uring --direct=1 --runtime=3 --time_based \
    --name=seq --rw=read --bs=128k --iodepth=4 --rate_iops=60 \
    --name=rand --rw=randread --bs=4k --iodepth=8 --rate_iops=60 \
    --name=writer --rw=randwrite --bs=16k --iodepth=4 --rate_iops=30
  set -- "$out/capture"
fi
for s in none mq-deadline kyber bfq; do
  "$iostack" replay "$@" --filename=hdd:512M,preset=desktop7200 --ioscheduler="$s" \
    --output-format=json --output="$out/$s.json"
done
"$iostack" plot "$out/none.json" "$out/mq-deadline.json" "$out/kyber.json" "$out/bfq.json" \
  --out="$out"
echo "charts in $out: clat_cdf.svg iops.svg bw.svg inflight.svg"
