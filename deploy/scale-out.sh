#!/usr/bin/env bash
# deploy/scale-out.sh: the scale-out of docs/streaming.md by hand, against a
# real Kafka broker: what TestScaleOutProcesses (cmd/tapsettle) does with an
# embedded one.
#
#   KAFKA_ADDR=host:9092 REDIS_ADDR=host:6379 deploy/scale-out.sh
#
# It generates a day of taps (no late and no malformed records, so that the
# stream and the batch job agree byte for byte), settles it with
# "tapsettle settle" as the reference, creates a new topic of PARTITIONS
# partitions, starts INSTANCES "tapsettle run" processes in one consumer
# group with their state in Redis and an output folder each, publishes
# two thirds of the day, kills the first instance with SIGKILL once it has
# checkpointed its partitions, waits for the others to take them over,
# starts a replacement on the killed instance's folder, publishes the rest
# with the close-day message, stops every instance with SIGTERM once every
# part of every day is written, merges the folders with "tapsettle clear"
# and compares every file of the merged days with settle's (cmp), then runs
# "tapsettle verify". Exit 0 when they are identical.
#
# Settings (environment):
#   KAFKA_ADDR    bootstrap broker host:port (required)
#   REDIS_ADDR    Redis host:port for the shared state (default localhost:6379)
#   TAPSETTLE     the binary (default: built from this tree with go build)
#   TAPS          taps in the generated day (default 200000)
#   PARTITIONS    partitions of the new topic (default 6)
#   INSTANCES     run processes (default 3)
#   METRICS_BASE  instance i serves /metrics on 127.0.0.1:METRICS_BASE+i
#                 (default 9464, as deploy/prometheus.yml scrapes)
#   WORK          working folder (default a new one under $TMPDIR; kept)
#   TOPIC         topic to create (default taps-scaleout-<time>; must not exist)
#   TIMEOUT       seconds to wait for each step (default 300)
set -euo pipefail

: "${KAFKA_ADDR:?set KAFKA_ADDR to a Kafka broker host:port}"
REDIS_ADDR=${REDIS_ADDR:-localhost:6379}
TAPS=${TAPS:-200000}
PARTITIONS=${PARTITIONS:-6}
INSTANCES=${INSTANCES:-3}
METRICS_BASE=${METRICS_BASE:-9464}
TOPIC=${TOPIC:-taps-scaleout-$(date +%s)}
TIMEOUT=${TIMEOUT:-300}
WORK=${WORK:-$(mktemp -d "${TMPDIR:-/tmp}/tapsettle-scale-out.XXXXXX")}
repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
mkdir -p "$WORK"
cd "$WORK"

say() { printf '%s %s\n' "$(date +%H:%M:%S)" "$*"; }
fail() { say "FAIL: $*"; exit 1; }

if [ -z "${TAPSETTLE:-}" ]; then
  say "building tapsettle from $repo"
  (cd "$repo" && go build -o "$WORK/tapsettle" ./cmd/tapsettle)
  TAPSETTLE=$WORK/tapsettle
fi

# Only this script's settings reach tapsettle.
unset $(env | grep -o '^TAPSETTLE_[A-Z_]*' || true)
export TAPSETTLE_KAFKA_BROKERS=$KAFKA_ADDR TAPSETTLE_KAFKA_TOPIC=$TOPIC TAPSETTLE_KAFKA_GROUP=$TOPIC

# wait_until SECONDS WHAT COMMAND...: poll COMMAND every half second.
wait_until() {
  local limit=$1 what=$2
  shift 2
  local end=$((SECONDS + limit))
  until "$@"; do
    [ "$SECONDS" -lt "$end" ] || fail "waited ${limit}s for $what (logs: $WORK/*.log)"
    sleep 0.5
  done
}

say "work folder $WORK; topic $TOPIC ($PARTITIONS partitions) on $KAFKA_ADDR; state in Redis at $REDIS_ADDR"
"$TAPSETTLE" gen --taps "$TAPS" --seed 18 --day 2025-03-03 --late 0 --malformed 0 -o day.csv
"$TAPSETTLE" settle --ledger --out settled day.csv >settle.txt
days=$(cd settled && ls -d 20??-??-?? | sort)
last=$(echo "$days" | tail -n 1)
say "settled the reference: days $(echo $days)"
# Two thirds of the day before the kill, the rest after it.
head -n 1 day.csv >empty.csv
cut=$((TAPS * 2 / 3 + 1))
head -n "$cut" day.csv >head.csv
{ head -n 1 day.csv; tail -n +"$((cut + 1))" day.csv; } >tail.csv
"$TAPSETTLE" produce --create --partitions "$PARTITIONS" empty.csv

pids=()
# start NAME OUT PORT: a run process with its log in NAME.log.
start() {
  TAPSETTLE_STATE_BACKEND=redis TAPSETTLE_REDIS_ADDR=$REDIS_ADDR TAPSETTLE_REDIS_PREFIX="tapsettle-scale-out" \
    TAPSETTLE_OUTPUT_DIR=$2 TAPSETTLE_OUTPUT_LEDGER=true TAPSETTLE_METRICS_LISTEN=127.0.0.1:$3 \
    TAPSETTLE_KAFKA_SESSION_TIMEOUT=3s TAPSETTLE_CLEARING_INTERVAL=0 \
    "$TAPSETTLE" run >"$1.log" 2>&1 &
  pids+=($!)
  say "started $1 (pid $!, output $2, metrics http://127.0.0.1:$3/metrics)"
}
trap 'kill "${pids[@]}" 2>/dev/null || true' EXIT

# generation LOG: the last generation the instance joined and its
# partitions, "GEN P P ...".
generation() {
  grep 'msg="feed: joined generation"' "$1" 2>/dev/null | tail -n 1 |
    sed -E 's/.* generation=([0-9]+) .* partitions="?\[([0-9 ]*)\].*/\1 \2/'
}
# shared LOG...: the instances are in one generation and own every
# partition between them, each at least one.
shared() {
  local gen="" all=()
  for log in "$@"; do
    read -r g parts <<<"$(generation "$log")"
    [ -n "${g:-}" ] && [ -n "${parts:-}" ] || return 1
    [ -z "$gen" ] || [ "$g" = "$gen" ] || return 1
    gen=$g
    all+=($parts)
  done
  [ "$(printf '%s\n' "${all[@]}" | sort -u | wc -l)" -eq "$PARTITIONS" ] && [ "${#all[@]}" -eq "$PARTITIONS" ]
}

outs=()
logs=()
for i in $(seq 0 $((INSTANCES - 1))); do
  outs+=("out/i$i")
  logs+=("i$i.log")
  start "i$i" "out/i$i" $((METRICS_BASE + i))
done
wait_until "$TIMEOUT" "the instances to share the partitions" shared "${logs[@]}"
read -r _ owned <<<"$(generation i0.log)"
say "the group shares the $PARTITIONS partitions; i0 owns $owned"

"$TAPSETTLE" produce head.csv
# checkpointed: i0 has written a segment of each of its partitions (a
# segment is written just before the checkpoint that commits it), and
# more than a checkpoint interval (2 s) has passed since.
checkpointed() {
  for p in $owned; do
    ls out/i0/segments/"$(printf 'p%04d' "$p")"/*.seg >/dev/null 2>&1 || return 1
  done
}
wait_until "$TIMEOUT" "i0 to checkpoint its partitions" checkpointed
sleep 3
kill -KILL "${pids[0]}"
wait "${pids[0]}" 2>/dev/null || true
say "killed i0 (SIGKILL) mid-stream"

# taken_over: every partition i0 owned was restored by another instance.
taken_over() {
  for p in $owned; do
    cat "${logs[@]:1}" | grep -q "msg=\"partition restored\" partition=$p " || return 1
  done
}
wait_until "$TIMEOUT" "the others to take i0's partitions over" taken_over
say "the others took partitions $owned over from their checkpoints"
mv i0.log i0.killed.log
start i0 out/i0 "$METRICS_BASE"
wait_until "$TIMEOUT" "the replacement to join" shared "${logs[@]}"
say "the replacement of i0 joined the group, on i0's output folder"

"$TAPSETTLE" produce --close-day "$last" tail.csv
# complete: every partition's part of every day is in one of the folders.
complete() {
  for d in $days; do
    [ "$(ls "${outs[@]/%//parts/$d}" 2>/dev/null | grep '^p.*\.json$' | sort -u | wc -l)" -ge "$PARTITIONS" ] || return 1
  done
}
wait_until "$TIMEOUT" "every part of every day" complete
kill -TERM "${pids[@]:1}"
for pid in "${pids[@]:1}"; do
  wait "$pid" || fail "an instance exited with status $? after SIGTERM"
done
pids=()
! grep -l -e 'level=ERROR' -e 'without a final checkpoint' "${logs[@]}" || fail "an instance logged an error or missed its final checkpoint"
say "stopped the instances (SIGTERM); clearing"

for d in $days; do
  "$TAPSETTLE" clear --ledger --day "$d" --out cleared "${outs[@]}"
done
differ=0
files=0
while IFS= read -r f; do
  files=$((files + 1))
  cmp -s "settled/$f" "cleared/$f" || { say "differs: $f"; differ=1; }
done < <(cd settled && find $days -type f | sort)
[ "$(cd cleared && find $days -type f | wc -l)" -eq "$files" ] || { say "the cleared days hold other files than settle's"; differ=1; }
[ "$differ" -eq 0 ] || fail "the cleared days differ from settle's"
"$TAPSETTLE" verify cleared
say "PASS: $files files of $(echo "$days" | wc -w) day(s), cleared from $INSTANCES instances (one killed and replaced), byte-identical to settle's"
