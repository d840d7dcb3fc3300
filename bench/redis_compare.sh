#!/usr/bin/env bash
# redis_compare.sh: Redis 7 XADD with appendfsync always against kp-bench-signup's realistic run,
# alternating on the same machine (A/B/A/B), and the ratios (issue 15).
#
# Usage (from the repository root, release build made; run it on an otherwise idle machine):
#     bench/redis_compare.sh [--rounds N] [--requests N] [-- kp-bench-signup flags...]
#
# What it does:
#  1. if redis-server or redis-benchmark is missing, says so and exits 0 (a bench, not a test);
#  2. starts redis-server on 127.0.0.1 (port $REDIS_PORT, default 17379) in a temporary
#     directory with appendonly yes and appendfsync always (every write fsynced before the
#     reply: the same promise as the suite's commit before ack), no RDB snapshots;
#  3. per round: A = redis-benchmark XADD of the sign-up fields (event_id, source,
#     external_id, name, email, role, language, random values through __rand_int__) with 50
#     clients, then the same pipelined (-P 16); B = kp-bench-signup (default: realistic, its
#     own defaults) on a work directory kept in the temporary directory, so that only the first
#     round prefills;
#  4. prints every rate and, per round and over all rounds, kp / redis.
# Environment: KP_BENCH (default build/release/bench/kp-bench-signup), REDIS_PORT.
# The Redis stream grows over the rounds as the suite's store does; XADD appends to a radix
# tree of ascending ids, so its cost does not depend on what the stream holds.
set -euo pipefail
cd "$(dirname "$0")/.."

rounds=2
requests=200000
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --requests) requests="$2"; shift 2 ;;
    --) shift; break ;;
    -h|--help) sed -n '2,22p' "$0"; exit 0 ;;
    *) echo "redis_compare: unknown argument $1 (see --help)" >&2; exit 2 ;;
  esac
done
bench_args=("$@")

if ! command -v redis-server >/dev/null || ! command -v redis-benchmark >/dev/null; then
  echo "redis_compare: redis-server / redis-benchmark not installed; nothing compared"
  exit 0
fi
kp_bench="${KP_BENCH:-build/release/bench/kp-bench-signup}"
if [ ! -x "$kp_bench" ]; then
  echo "redis_compare: $kp_bench not built (cmake --build --preset release)" >&2
  exit 2
fi

port="${REDIS_PORT:-17379}"
tmp="$(mktemp -d "${TMPDIR:-/tmp}/kp-redis-compare-XXXXXX")"
redis_pid=""
cleanup() {
  if [ -n "$redis_pid" ]; then
    kill "$redis_pid" 2>/dev/null || true
    wait "$redis_pid" 2>/dev/null || true
  fi
  rm -rf "$tmp"
}
trap cleanup EXIT

redis-server --port "$port" --bind 127.0.0.1 --dir "$tmp" --appendonly yes \
  --appendfsync always --save '' --daemonize no --logfile "$tmp/redis.log" &
redis_pid=$!
for _ in $(seq 100); do
  redis-cli -p "$port" ping >/dev/null 2>&1 && break
  sleep 0.1
done
redis-cli -p "$port" ping >/dev/null
echo "redis    $(redis-server --version | cut -d' ' -f3) on 127.0.0.1:$port, appendonly yes," \
  "appendfsync $(redis-cli -p "$port" config get appendfsync | tail -1), dir $tmp"

# One sign-up as an XADD: the fields kp-bench-signup sends, random where it is random.
xadd=(XADD kp:signups '*' event_id __rand_int__ source publisher-01
  external_id __rand_int__-4a1b-8c2d-__rand_int__ name "Bench Participant"
  email aino.korhonen.__rand_int__@gmail.com role 1 language fi)

# Prints "rps p50_ms p99_ms" of one redis-benchmark run.
redis_run() {
  redis-benchmark -h 127.0.0.1 -p "$port" -r 1000000000000 -n "$requests" --csv "$@" "${xadd[@]}" |
    awk -F'","' 'NR == 2 { print $2, $5, $7 }'
}

# Prints "rate p50_ms p99_ms" of one kp-bench-signup run (its RESULT line), its output kept.
kp_run() {
  local out="$tmp/kp-$1.out"
  "$kp_bench" --data-dir "$tmp/kp" "${bench_args[@]}" >"$out" 2>&1 || {
    echo "redis_compare: kp-bench-signup failed; its output:" >&2
    tail -20 "$out" >&2
    return 1
  }
  grep '^prefill\|^rate\|^latency\|^cpu\|^store' "$out" | sed 's/^/         /' >&2
  awk '/^RESULT/ { for (i = 2; i <= NF; i++) { split($i, kv, "="); r[kv[1]] = kv[2] }
                   print r["signups_per_s"], r["p50_ms"], r["p99_ms"] }' "$out"
}

sum_c50=0 sum_p16=0 sum_kp=0
for round in $(seq "$rounds"); do
  read -r c50 c50_p50 c50_p99 < <(redis_run -c 50)
  echo "round $round A redis XADD -c 50        ${c50}/s  p50 ${c50_p50} ms  p99 ${c50_p99} ms"
  read -r p16 p16_p50 p16_p99 < <(redis_run -c 50 -P 16)
  echo "round $round A redis XADD -c 50 -P 16  ${p16}/s  p50 ${p16_p50} ms  p99 ${p16_p99} ms"
  kp_line="$(kp_run "$round")"
  read -r kp kp_p50 kp_p99 <<<"$kp_line"
  echo "round $round B kp-bench-signup ${bench_args[*]:-(realistic defaults)}  ${kp}/s" \
    " p50 ${kp_p50} ms  p99 ${kp_p99} ms"
  awk -v k="$kp" -v a="$c50" -v b="$p16" -v r="$round" 'BEGIN {
    printf "round %s ratio kp/redis: %.2f (50 clients), %.2f (pipelined -P 16)\n", r, k / a, k / b }'
  sum_c50=$(awk -v s="$sum_c50" -v x="$c50" 'BEGIN { print s + x }')
  sum_p16=$(awk -v s="$sum_p16" -v x="$p16" 'BEGIN { print s + x }')
  sum_kp=$(awk -v s="$sum_kp" -v x="$kp" 'BEGIN { print s + x }')
done
awk -v k="$sum_kp" -v a="$sum_c50" -v b="$sum_p16" -v n="$rounds" 'BEGIN {
  printf "RESULT rounds=%d kp_per_s=%.0f redis_c50_per_s=%.0f redis_p16_per_s=%.0f ", n, k / n, a / n, b / n
  printf "ratio_c50=%.2f ratio_p16=%.2f\n", k / a, k / b }'
