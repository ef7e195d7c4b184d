#!/usr/bin/env bash
# bench/run.sh: measures the ipsecoe plugin against CoreDNS's whoami, file, file+dnssec,
# template and template+dnssec with dnsperf, the server pinned to one core and dnsperf to
# another, and prints QPS, latency, resident memory, ipsecoe's first load (build time, peak
# and settled memory) and the ratios of the performance brief. See bench/README.md.
# Everything is set from the environment:
#
#   BENCH_SIZES="1000 100000"  key counts (1000000 works: allow minutes for keys and zone)
#   BENCH_ROUNDS=3             rounds; each round alternates whoami with every server, and ends with whoami
#   BENCH_SECONDS=10           seconds of dnsperf per query set
#   BENCH_SERVERS="file file+dnssec template template+dnssec ipsecoe ipsecoe+dnssec"
#   BENCH_RELOAD_SIZE=100000   size (one of BENCH_SIZES) that gets the reload-under-load test; 0: none
#   BENCH_RELOAD_SECONDS=90    length of the reload test's dnsperf run (a paced reload of 100k files takes tens of seconds)
#   BENCH_CLIENTS=4 BENCH_OUTSTANDING=100   dnsperf -c and -q
#   BENCH_SERVER_CPU=0 BENCH_CLIENT_CPU=1   cores for taskset
#   BENCH_PORT=15380           port on 127.0.0.1
#   BENCH_CACHE_CAPACITY=auto  dnssec cache_capacity of file+dnssec and template+dnssec: auto is max(10000, 2 x keys)
#   BENCH_IPSECOE_RELOAD=      ipsecoe "reload" value; empty: the plugin's default (5s)
#   BENCH_SETS=                query sets to run (hot random gw6 ipseca nodata nxdomain); empty: all
#   BENCH_BESIDE=0             1: every server also runs whoami on BENCH_PORT+1, measured before its first
#                              query set and after each; each set is also given as a ratio to the mean of
#                              the two whoami runs around it, seconds apart in the same process
#                              2: the same, but that whoami is a CoreDNS process of its own, on the same
#                              core, started with each server and idle while the server's sets run
#   BENCH_WARMUP=1             one unmeasured pass over each query set before it is measured; 0: none
#   BENCH_REPEAT=1             times each server start measures its query sets, in turn (the warm-up
#                              only before the first): more runs a round, seconds apart
#   BENCH_WARM_KEYS=1          read every key file once before each ipsecoe start, so that its first load
#                              finds them in the page cache; 0: as they are
#   BENCH_WORK=bench/.work     binaries, keys, zone files, query files, logs and results
#   BENCH_READY_TIMEOUT=900    seconds a server may take to answer after it starts
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
export PATH="$PATH:/usr/local/go/bin:/usr/sbin:/sbin"
export LC_ALL=C

SIZES=${BENCH_SIZES:-1000 100000}
ROUNDS=${BENCH_ROUNDS:-3}
DURATION=${BENCH_SECONDS:-10}
SERVERS=${BENCH_SERVERS:-file file+dnssec template template+dnssec ipsecoe ipsecoe+dnssec}
RELOAD_SIZE=${BENCH_RELOAD_SIZE:-100000}
RELOAD_SECONDS=${BENCH_RELOAD_SECONDS:-90}
CLIENTS=${BENCH_CLIENTS:-4}
OUTSTANDING=${BENCH_OUTSTANDING:-100}
SERVER_CPU=${BENCH_SERVER_CPU:-0}
CLIENT_CPU=${BENCH_CLIENT_CPU:-1}
PORT=${BENCH_PORT:-15380}
CACHE_CAPACITY=${BENCH_CACHE_CAPACITY:-auto}
IPSECOE_RELOAD=${BENCH_IPSECOE_RELOAD:-}
WARMUP=${BENCH_WARMUP:-1}
SETS=${BENCH_SETS:-}
BESIDE=${BENCH_BESIDE:-0}
REPEAT=${BENCH_REPEAT:-1}
WARM_KEYS=${BENCH_WARM_KEYS:-1}
WORK=${BENCH_WORK:-$ROOT/bench/.work}
READY_TIMEOUT=${BENCH_READY_TIMEOUT:-900}
# Seconds ipsecoe is left alone after its first load before its settled memory is read.
LOAD_SETTLE=2

die() {
  echo "bench: $*" >&2
  exit 1
}

for v in ROUNDS DURATION RELOAD_SIZE RELOAD_SECONDS CLIENTS OUTSTANDING SERVER_CPU CLIENT_CPU PORT WARMUP READY_TIMEOUT BESIDE REPEAT WARM_KEYS; do
  [[ ${!v} =~ ^[0-9]+$ ]] || die "$v must be a whole number, not '${!v}'"
done
((BESIDE <= 2)) || die "BENCH_BESIDE must be 0, 1 or 2, not $BESIDE"
((REPEAT >= 1)) || die "BENCH_REPEAT must be at least 1"
for n in $SIZES; do
  if [[ ! $n =~ ^[0-9]+$ ]] || ((n < 100 || n > 13107200)); then
    die "BENCH_SIZES: '$n' is not 100 to 13107200"
  fi
done
[[ $CACHE_CAPACITY == auto || $CACHE_CAPACITY =~ ^[0-9]+$ ]] || die "BENCH_CACHE_CAPACITY must be auto or a number"
((ROUNDS >= 1 && DURATION >= 1 && RELOAD_SECONDS >= 9)) || die "need BENCH_ROUNDS >= 1, BENCH_SECONDS >= 1, BENCH_RELOAD_SECONDS >= 9"
for s in $SERVERS; do
  case $s in
  file | file+dnssec | template | template+dnssec | ipsecoe | ipsecoe+dnssec) ;;
  *) die "BENCH_SERVERS: unknown server '$s'" ;;
  esac
done
case $WORK in /*) ;; *) WORK=$ROOT/$WORK ;; esac

# --- summary -------------------------------------------------------------------------------

summarize() {
  awk -F'\t' -v sizes="$SIZES" -v servers="whoami $SERVERS" -v rounds="$ROUNDS" -v warmup="${WARMUP:-?}" -v settle="$LOAD_SETTLE" -v beside="${BESIDE:-1}" '
    function median(src, k,   a, i, j, t) {
      if (k == 0) return ""
      for (i = 1; i <= k; i++) a[i] = src[i]
      for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    # known(x): a measured value, not "-" (not measured, or a column older results lack).
    function known(x) { return x != "-" && x != "" }
    function fmt(f, x) { return known(x) ? sprintf(f, x) : "-" }
    function verdict(ok) { return ok ? "met" : "NOT met" }
    # at1m is the verdict on a memory or first-load target, which is set at 1M keys only.
    function at1m(n, ok) { return n >= 1000000 ? verdict(ok) : ok ? "met (set at 1M)" : "above it (set at 1M only)" }
    # ratio N SERVER SET TARGET prints a same-run ratio to whoami against its target.
    function ratio(n, s, q, want) {
      if (!((n, s, q) in RATIO)) return
      printf "  %-8s %-14s %-9s / %-15s %6.3f  (>= %.1f)  %s\n", n, s, q, "whoami", RATIO[n, s, q], want, verdict(RATIO[n, s, q] >= want)
    }
    function setsof(s) {
      if (s == "whoami") return "whoami"
      if (s ~ /^file/) return "hot random nodata nxdomain"
      if (s ~ /^template/) return "hot random"
      return "hot random gw6 ipseca nodata nxdomain"
    }
    NR == 1 { next }
    {
      n = $1; r = $2; s = $3; q = $4
      key = n SUBSEP s SUBSEP q
      c = ++cnt[key]
      QPS[key, c] = $5; P99[key, c] = $14; AVG[key, c] = $10; RSS[key, c] = $15; CPU[key, c] = (NF >= 21 ? $21 : -1)
      FAIL[key] += $8; ROUND[key, c] = r
      R[key, r] = $5
      # The first load, once per server start (every row of a start repeats it); load_hwm_kib
      # and load_rss_kib ($22, $23) are missing from results made before they were added.
      if (known($20) && !((n, s, r) in FL)) {
        FL[n, s, r] = 1; k = ++nload[n, s]; LOAD[n, s] = 1
        LOADS[n, s, k] = $20; LHWM[n, s, k] = (NF >= 23 ? $22 : "-"); LRSS[n, s, k] = (NF >= 23 ? $23 : "-")
      }
      READY[n, s, ++nready[n, s]] = $19
      if (s == "whoami") { w = ++nw[n, r]; W[n, r, w] = $5 }
      # BENCH_BESIDE=1 or 2: each set of a server start between two runs of its whoami (rows in
      # the order they ran) is also taken against the mean of those two.
      sk = n SUBSEP r SUBSEP s
      if (q == "beside") {
        for (x = 1; x <= npend[sk]; x++) {
          base = (sk in LASTB) ? (LASTB[sk] + $5) / 2 : $5
          pk = n SUBSEP s SUBSEP PEND[sk, x]
          if (base > 0) PB[pk, ++npb[pk]] = PQ[sk, x] / base
        }
        npend[sk] = 0; LASTB[sk] = $5
      } else if (s != "whoami") {
        PEND[sk, ++npend[sk]] = q; PQ[sk, npend[sk]] = $5
      }
    }
    END {
      ns = split(sizes, S, " "); nsv = split(servers, SV, " ")
      # whoami of each round: the median of that round runs (whoami runs before every server
      # and after the last).
      for (i = 1; i <= ns; i++) for (r = 1; r <= rounds; r++) {
        k = 0; delete tmp
        for (w = 1; w <= nw[S[i], r]; w++) tmp[++k] = W[S[i], r, w]
        WM[S[i], r] = median(tmp, k)
      }
      printf "\n%-8s %-16s %-9s %9s %7s %8s %8s %9s %8s %8s %5s %6s\n", "size", "server", "set", "QPS", "/whoami", "p99 ms", "avg ms", "RSS MiB", "KiB/rec", "dKiB/rec", "core%", "failed"
      for (i = 1; i <= ns; i++) {
        n = S[i]
        for (j = 1; j <= nsv; j++) {
          s = SV[j]; nq = split(setsof(s), Q, " ")
          for (l = 1; l <= nq; l++) {
            key = n SUBSEP s SUBSEP Q[l]; c = cnt[key]
            if (!c) continue
            delete a; delete b; delete p; delete v; delete m; delete u
            for (x = 1; x <= c; x++) {
              a[x] = QPS[key, x]; p[x] = P99[key, x]; v[x] = AVG[key, x]; m[x] = RSS[key, x]; u[x] = CPU[key, x]
              b[x] = WM[n, ROUND[key, x]] ? QPS[key, x] / WM[n, ROUND[key, x]] : 0
            }
            rss = median(m, c)
            printf "%-8s %-16s %-9s %9.0f %7.3f %8.3f %8.3f %9.1f %8s %8s %5.0f %6d\n", n, s, Q[l], median(a, c), median(b, c),
              median(p, c), median(v, c), rss / 1024, (s == "whoami" ? "-" : sprintf("%.2f", rss / n)),
              (s == "whoami" ? "-" : sprintf("%.2f", (rss - RSSM[n, "whoami", "whoami"]) / n)), median(u, c), FAIL[key]
            RATIO[n, s, Q[l]] = median(b, c); RSSM[n, s, Q[l]] = rss
          }
        }
      }
      printf "\nQPS: median over the runs (one a round, BENCH_REPEAT a round when set). /whoami: median\n"
      printf "over the runs of QPS / the whoami QPS of the same round (median of the whoami runs of the\n"
      printf "round). p99, avg: latency at saturation (dnsperf -q outstanding), median over the runs.\n"
      printf "RSS: VmRSS after the run, median; KiB/rec = RSS / keys;\n"
      printf "dKiB/rec = (RSS - whoami RSS) / keys, the cost of the records alone.\n"
      printf "core%%: busy share of the server core (the server process, kernel packet work on that core and\n"
      printf "hypervisor steal); below 100, the server was not the bottleneck. results.tsv also has the server\n"
      printf "process alone (srv_cpu_pct) and the steal (steal_pct).\n"

      printf "\nstart-up (seconds from exec to the first answer; ipsecoe: index build time from its log line; medians):\n"
      for (i = 1; i <= ns; i++) for (j = 1; j <= nsv; j++) {
        n = S[i]; s = SV[j]; k = nready[n, s]; if (!k) continue
        delete tmp; for (x = 1; x <= k; x++) tmp[x] = READY[n, s, x]
        ld = ""
        if ((n, s) in LOAD) {
          delete t3; for (x = 1; x <= nload[n, s]; x++) t3[x] = LOADS[n, s, x]
          LOADM[n, s] = median(t3, nload[n, s]); ld = sprintf("   index built in %.3fs", LOADM[n, s])
        }
        printf "  %-8s %-16s ready %7.2fs%s\n", n, s, median(tmp, k), ld
      }

      # First load: medians over the server starts (one a round) of the build time, the peak
      # (VmHWM once loaded), the settled RSS (VmRSS settle seconds later) and their ratio.
      printf "\nfirst load (ipsecoe, before any query set: index build from its log line; peak = VmHWM, reached\n"
      printf "while loading; settled = VmRSS %s s after the load; medians over rounds):\n", settle
      printf "  %-8s %-16s %8s %9s %12s %13s  %s\n", "size", "server", "build s", "peak MiB", "settled MiB", "peak/settled", "build (< 10 s at 1M)"
      for (i = 1; i <= ns; i++) for (j = 1; j <= nsv; j++) {
        n = S[i]; s = SV[j]; k = nload[n, s]
        if (s !~ /^ipsecoe/ || !k) continue
        delete th; delete tr; delete tq; kh = 0; kq = 0
        for (x = 1; x <= k; x++) if (known(LHWM[n, s, x]) && known(LRSS[n, s, x])) {
          th[++kh] = LHWM[n, s, x]; tr[kh] = LRSS[n, s, x]
          if (LRSS[n, s, x] > 0) tq[++kq] = LHWM[n, s, x] / LRSS[n, s, x]
        }
        PEAK[n, s] = kh ? median(th, kh) / 1024 : "-"; SETTLED[n, s] = kh ? median(tr, kh) / 1024 : "-"
        PR[n, s] = kq ? median(tq, kq) : "-"
        printf "  %-8s %-16s %8.3f %9s %12s %13s  %s\n", n, s, LOADM[n, s], fmt("%.1f", PEAK[n, s]), fmt("%.1f", SETTLED[n, s]),
          fmt("%.2f", PR[n, s]), verdict(LOADM[n, s] < 10)
      }
      printf "(peak/settled target: <= 1.3; \"-\": not measured, in results made before the first-load columns)\n"

      for (i = 1; i <= ns; i++) for (j = 1; j <= nsv; j++) for (l = 1; l <= 6; l++) {
        split("hot random gw6 ipseca nodata nxdomain", T, " ")
        pk = S[i] SUBSEP SV[j] SUBSEP T[l]
        if (!npb[pk]) continue
        if (!besidehead++) {
          printf "\nagainst whoami beside (BENCH_BESIDE=%s): QPS / the mean of the two runs of the whoami beside the\n", beside
          printf "server (%s) just before and after\n",
            (beside == 2 ? "a CoreDNS process of its own, on the same core" : "in the server'"'"'s own process")
          printf "the set, median over the runs; the targets are those below:\n"
        }
        delete tmp; for (x = 1; x <= npb[pk]; x++) tmp[x] = PB[pk, x]
        x = median(tmp, npb[pk])
        want = (SV[j] == "ipsecoe+dnssec" ? (T[l] == "gw6" ? 0.5 : T[l] == "nodata" || T[l] == "nxdomain" ? 0.3 : 0.9) : SV[j] == "ipsecoe" ? 0.9 : 0)
        printf "  %-8s %-14s %-9s / %-15s %6.3f  %s  %s\n", S[i], SV[j], T[l], "whoami beside", x,
          (want ? sprintf("(>= %.1f)", want) : "        "), (want ? verdict(x >= want) : "")
      }

      printf "\ntargets (QPS: ratio to whoami in the same round, median over the runs; the QPS targets are set at 1k,\n"
      printf "100k and 1M keys, memory and the first load at 1M; other sizes are shown for the trend):\n"
      for (i = 1; i <= ns; i++) {
        n = S[i]
        split("hot random gw6 ipseca nodata nxdomain", T, " ")
        for (l = 1; l <= 6; l++) ratio(n, "ipsecoe", T[l], 0.9)
        for (l = 1; l <= 6; l++) ratio(n, "ipsecoe+dnssec", T[l], (T[l] == "gw6" ? 0.5 : T[l] == "nodata" || T[l] == "nxdomain" ? 0.3 : 0.9))
        split("hot random nodata nxdomain", T2, " ")
        for (l = 1; l <= 4; l++) for (o = 1; o <= 2; o++) {
          other = (o == 1 ? "file+dnssec" : "template+dnssec")
          ka = n SUBSEP "ipsecoe+dnssec" SUBSEP T2[l]; kb = n SUBSEP other SUBSEP T2[l]
          if (!cnt[ka] || !cnt[kb]) continue
          delete tmp; k = 0
          for (r = 1; r <= rounds; r++) if ((ka, r) in R && (kb, r) in R && R[kb, r] > 0) tmp[++k] = R[ka, r] / R[kb, r]
          if (!k) continue
          x = median(tmp, k)
          extra = (T2[l] == "hot" || T2[l] == "random") ? "(>= 1.0)" : "(extra) "
          printf "  %-8s %-14s %-9s / %-15s %6.3f  %s  %s\n", n, "ipsecoe+dnssec", T2[l], other, x, extra, verdict(x >= 1.0)
        }
        if ((n, "ipsecoe", "random") in RSSM) {
          x = RSSM[n, "ipsecoe", "random"] / n; y = (RSSM[n, "ipsecoe", "random"] - RSSM[n, "whoami", "whoami"]) / n
          printf "  %-8s ipsecoe RSS per key after the random set %6.2f KiB (%.2f KiB above whoami)  (<= 0.5)  %s\n", n, x, y, at1m(n, x <= 0.5)
        }
        if ((n, "ipsecoe", "random") in RSSM && (n, "ipsecoe+dnssec", "random") in RSSM) {
          x = (RSSM[n, "ipsecoe+dnssec", "random"] - RSSM[n, "ipsecoe", "random"]) / n
          printf "  %-8s kept signatures per key: (ipsecoe+dnssec - ipsecoe) RSS after the random set %6.3f KiB  (<= 0.25)  %s%s\n", n, x, at1m(n, x <= 0.25),
            (warmup == "0" ? "  [BENCH_WARMUP=0: owners the run did not ask hold no signature]" : warmup == "?" ? "  [warm-up not recorded]" : "")
        }
        for (j = 1; j <= nsv; j++) {
          s = SV[j]
          if (s !~ /^ipsecoe/ || !((n, s) in LOADM)) continue
          printf "  %-8s %-14s first load peak/settled %15s  (<= 1.3)  %s\n", n, s, fmt("%.2f", PR[n, s]), (known(PR[n, s]) ? at1m(n, PR[n, s] <= 1.3) : "not measured")
          printf "  %-8s %-14s index build %24.3f s  (< 10 s)  %s\n", n, s, LOADM[n, s], at1m(n, LOADM[n, s] < 10)
        }
      }
    }' "$RESULTS"

  if (($(wc -l <"$RELOADS") > 1)); then
    printf '\nreload under load (ipsecoe, random set, key directory symlink swapped to %s new keys):\n' "$RELOAD_SIZE"
    awk -F'\t' 'NR > 1 {
      printf "  n=%s round %s: steady %s qps, during reload mean %s qps = %s x steady (>= 0.8: %s), worst second %s qps = %.2f x, reload %ss (detected %ss after the swap), failed %s of %s, RSS %s MiB, peak %s MiB\n",
        $1, $2, $3, $5, $6, ($6 >= 0.8 ? "met" : "NOT met"), $4, ($3 ? $4 / $3 : 0), $7, $8, $11, $9, sprintf("%.0f", $13 / 1024), sprintf("%.0f", $14 / 1024)
    }' "$RELOADS"
  fi
}

# "bench/run.sh summary DIR" prints the tables of an earlier run again.
if [[ ${1:-} == summary ]]; then
  OUT=${2:?usage: bench/run.sh summary bench/.work/results/STAMP}
  WARMUP="?" # older settings.env files do not record it
  # shellcheck source=/dev/null
  . "$OUT/settings.env"
  RESULTS=$OUT/results.tsv RELOADS=$OUT/reload.tsv
  cat "$OUT/header.txt"
  summarize
  exit 0
fi
(($# == 0)) || die "usage: bench/run.sh [summary DIR]; settings come from BENCH_* variables"

# --- tools -------------------------------------------------------------------------------

need=()
command -v dnsperf >/dev/null 2>&1 || need+=(dnsperf)
command -v dig >/dev/null 2>&1 || need+=(bind9-dnsutils)
command -v dnssec-keygen >/dev/null 2>&1 || need+=(bind9-utils)
command -v taskset >/dev/null 2>&1 && command -v fincore >/dev/null 2>&1 || need+=(util-linux)
[[ -x /usr/bin/time ]] || need+=(time)
if ((${#need[@]})); then
  echo "installing: ${need[*]}"
  sudo=""
  [[ $(id -u) == 0 ]] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi
command -v go >/dev/null 2>&1 || die "go is needed to build the binary"
taskset -c "$SERVER_CPU" true 2>/dev/null || die "cannot run on CPU $SERVER_CPU (BENCH_SERVER_CPU)"
taskset -c "$CLIENT_CPU" true 2>/dev/null || die "cannot run on CPU $CLIENT_CPU (BENCH_CLIENT_CPU)"
[[ $SERVER_CPU != "$CLIENT_CPU" ]] || die "server and dnsperf need different cores"

# --- processes this script starts, and their cleanup ---------------------------------------

SERVER_PID=""
CLIENT_PID=""
BESIDE_PID=""
cleanup() {
  local p
  for p in $CLIENT_PID $SERVER_PID $BESIDE_PID; do
    if kill -0 "$p" 2>/dev/null; then
      pkill -TERM -P "$p" 2>/dev/null || true # dnsperf, under /usr/bin/time
      kill -TERM "$p" 2>/dev/null || true
      wait "$p" 2>/dev/null || true
    fi
  done
  SERVER_PID="" CLIENT_PID="" BESIDE_PID=""
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- build ---------------------------------------------------------------------------------

mkdir -p "$WORK/bin"
STAMP=$(date -u +%Y%m%dT%H%M%SZ)
OUT=$WORK/results/$STAMP
LOGS=$OUT/logs
mkdir -p "$LOGS"
echo "building into $WORK/bin"
# The code measured: the commit, and whether the tree outside bench/ differed from it.
CODE=$(git log -1 --format='%h %s' 2>/dev/null || echo "not a git checkout")
if [[ -n $(git status --porcelain -- . ':!bench' 2>/dev/null) ]]; then
  CODE="$CODE, with uncommitted changes: $(git status --porcelain -- . ':!bench' | awk '{ print $2 }' | tr '\n' ' ')"
fi
go build -trimpath -o "$WORK/bin/coredns" ./cmd/coredns
go build -trimpath -o "$WORK/bin/genkeys" ./bench/genkeys
BIN=$WORK/bin/coredns

# One zone key (ECDSA P-256) for 10.in-addr.arpa. dnssec signs every zone of its block
# with every key it has, so ipsecoe+dnssec signs its IPv6 gateway zone with this key too:
# the same cost as a key of its own, although a validator would not accept those RRSIGs.
ZKEYDIR=$WORK/dnssec
if ! compgen -G "$ZKEYDIR/K10.in-addr.arpa.+013+*.private" >/dev/null; then
  mkdir -p "$ZKEYDIR"
  dnssec-keygen -q -a ECDSAP256SHA256 -K "$ZKEYDIR" 10.in-addr.arpa >/dev/null
fi
ZKEY=$(compgen -G "$ZKEYDIR/K10.in-addr.arpa.+013+*.key" | head -n 1)
ZKEY=${ZKEY%.key}

# --- inputs --------------------------------------------------------------------------------

# prepare N makes (or reuses) the keys, zone, query files and Corefiles for N keys.
prepare() {
  local n=$1 d=$WORK/n$1 stamp t0
  stamp="n=$n genkeys=$(sha256sum bench/genkeys/main.go | cut -c1-16)"
  if [[ -f $d/.complete && $(cat "$d/.complete") == "$stamp" ]]; then
    echo "n=$n: reusing the keys, zone and queries in $d"
  else
    rm -rf "$d"
    mkdir -p "$d"
    echo "n=$n: generating keys, zone file and queries in $d"
    t0=$(now)
    "$WORK/bin/genkeys" -n "$n" -dir "$d/keys" -zone "$d/zone.db" -queries "$d/q" -rdata "$d/rdata"
    echo "n=$n: generated in $(elapsed "$t0" "$(now)")s"
    echo "$stamp" >"$d/.complete"
  fi
  if ((n == RELOAD_SIZE)) && [[ ! -f $d/.complete2 || $(cat "$d/.complete2") != "$stamp" ]]; then
    # A second key set with the same names, for the reload test to swap in.
    rm -rf "$d/keys2"
    echo "n=$n: generating the second key set for the reload test"
    "$WORK/bin/genkeys" -n "$n" -seed 2 -dir "$d/keys2"
    echo "$stamp" >"$d/.complete2"
  fi
  # ipsecoe reads its keys through this symlink; the reload test swaps it.
  ln -sfn keys "$d/current.new" && mv -T "$d/current.new" "$d/current"

  local cap=$CACHE_CAPACITY
  [[ $cap != auto ]] || cap=$((2 * n > 10000 ? 2 * n : 10000))
  local head=".:$PORT {
    bind 127.0.0.1"
  # With BENCH_BESIDE=1 every server but whoami carries a whoami of its own on the next port:
  # the same process, core and heap answer the baseline seconds before and after each set.
  # With 2 that whoami runs in a process of its own (see run_server).
  local beside="" block=".:$((PORT + 1)) {
    bind 127.0.0.1
    whoami
}"
  ((BESIDE != 1)) || beside=$block
  printf '%s\n' "$block" >"$d/Corefile.whoami-beside"
  local dnssec="    dnssec 10.in-addr.arpa {
        key file $ZKEY
        cache_capacity $cap
    }"
  local file="    file $d/zone.db 10.in-addr.arpa"
  local rdata template
  rdata=$(cat "$d/rdata")
  template="    template IN IPSECKEY 10.in-addr.arpa {
        answer \"{{ .Name }} 3600 IN IPSECKEY $rdata\"
    }"
  local reload=""
  [[ -z $IPSECOE_RELOAD ]] || reload="
        reload $IPSECOE_RELOAD"
  local ipsecoe="    ipsecoe 10.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa {
        keys $d/current
        gateway 2001:db8:1::/64 10.0.0.1
        ipseca 500$reload
    }"
  printf '%s\n    whoami\n}\n' "$head" >"$d/Corefile.whoami"
  printf '%s\n%s\n}\n%s\n' "$head" "$file" "$beside" >"$d/Corefile.file"
  printf '%s\n%s\n%s\n}\n%s\n' "$head" "$dnssec" "$file" "$beside" >"$d/Corefile.file+dnssec"
  printf '%s\n%s\n}\n%s\n' "$head" "$template" "$beside" >"$d/Corefile.template"
  printf '%s\n%s\n%s\n}\n%s\n' "$head" "$dnssec" "$template" "$beside" >"$d/Corefile.template+dnssec"
  printf '%s\n%s\n}\n%s\n' "$head" "$ipsecoe" "$beside" >"$d/Corefile.ipsecoe"
  # ipsecoe keeps the signatures of its answers itself: dnssec's cache keeps its default
  # size, as the plugin's documentation advises.
  local dnssec_ipsecoe="    dnssec 10.in-addr.arpa 8.b.d.0.1.0.0.2.ip6.arpa {
        key file $ZKEY
    }"
  printf '%s\n%s\n%s\n}\n%s\n' "$head" "$dnssec_ipsecoe" "$ipsecoe" "$beside" >"$d/Corefile.ipsecoe+dnssec"
}

# sets SERVER prints the query sets a server is measured with.
sets() {
  case $1 in
  whoami) echo whoami ;;
  file | file+dnssec) echo hot random nodata nxdomain ;;
  template | template+dnssec) echo hot random ;;
  ipsecoe | ipsecoe+dnssec) echo hot random gw6 ipseca nodata nxdomain ;;
  esac
}

# --- servers -------------------------------------------------------------------------------

# start_server N SERVER LOG starts the server pinned to SERVER_CPU and waits until it answers;
# it sets SERVER_PID and READY_S (seconds from start to the first answer).
start_server() {
  local n=$1 s=$2 log=$3 d=$WORK/n$1 probe t0 deadline answer
  # whoami puts its records in the additional section; the others must answer the name.
  local want='ANSWER: [1-9]'
  if [[ $s == whoami ]]; then
    probe="whoami.bench. A" want='status: NOERROR'
  else
    probe=$(head -n 1 "$d/q.hot")
  fi
  t0=$(now)
  taskset -c "$SERVER_CPU" "$BIN" -conf "$d/Corefile.$s" </dev/null >"$log" 2>&1 &
  SERVER_PID=$!
  deadline=$((SECONDS + READY_TIMEOUT))
  while :; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
      wait "$SERVER_PID" 2>/dev/null || true
      SERVER_PID=""
      cat "$log" >&2
      die "$s (n=$n) exited before answering; log above"
    fi
    # shellcheck disable=SC2086
    answer=$(dig @127.0.0.1 -p "$PORT" +norec +tries=1 +time=1 $probe 2>/dev/null || true)
    [[ ! $answer =~ $want ]] || break
    ((SECONDS < deadline)) || die "$s (n=$n) did not answer within ${READY_TIMEOUT}s"
    sleep 0.1
  done
  READY_S=$(elapsed "$t0" "$(now)")
}

stop_server() {
  [[ -n $SERVER_PID ]] || return 0
  local i
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for ((i = 0; i < 100; i++)); do
    kill -0 "$SERVER_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}

proc_status() { awk -v k="$1:" '$1 == k { print $2 }' "/proc/$SERVER_PID/status"; }
# load_seconds LOG I prints the seconds of the I-th "plugin/ipsecoe: loaded ... in N.NNNs" line.
load_seconds() { sed -n 's/.*plugin\/ipsecoe: loaded .* in \([0-9.]*\)s$/\1/p' "$1" | sed -n "$2p"; }

# first_load SERVER LOG: for ipsecoe and ipsecoe+dnssec, once the server answers, waits for
# the log line of its first load, then LOAD_SETTLE seconds, and sets LOAD_S (the index build
# time the line gives), LOAD_HWM (VmHWM: the peak, reached while loading) and LOAD_RSS
# (VmRSS: settled), before any query set runs. "-" for the other servers.
first_load() {
  local s=$1 log=$2 deadline
  LOAD_S=- LOAD_HWM=- LOAD_RSS=-
  [[ $s == ipsecoe || $s == ipsecoe+dnssec ]] || return 0
  deadline=$((SECONDS + 60))
  while :; do
    LOAD_S=$(load_seconds "$log" 1)
    [[ -z $LOAD_S ]] || break
    kill -0 "$SERVER_PID" 2>/dev/null || die "$s exited; see $log"
    if ((SECONDS >= deadline)); then
      echo "WARNING: no 'plugin/ipsecoe: loaded' line in $log 60 s after the first answer" >&2
      LOAD_S=-
      return 0
    fi
    sleep 0.1
  done
  sleep "$LOAD_SETTLE"
  LOAD_HWM=$(proc_status VmHWM)
  LOAD_RSS=$(proc_status VmRSS)
  printf '  %-16s first load: index built in %ss, peak %s KiB, settled %s KiB, key files cached %s%%\n' "$s" "$LOAD_S" "$LOAD_HWM" "$LOAD_RSS" "$KEYS_CACHED"
}
proc_cpu_ticks() { awk '{ print $14 + $15 }' "/proc/$SERVER_PID/stat"; }
# core_ticks CPU prints the busy, steal and total jiffies of one core (busy: all but idle and iowait).
core_ticks() { awk -v c="cpu$1" '$1 == c { print $2 + $3 + $4 + $7 + $8 + $9, $9, $2 + $3 + $4 + $5 + $6 + $7 + $8 + $9 }' /proc/stat; }

# dnsperf_run QUERYFILE OUTFILE [ARGS...] runs dnsperf pinned to CLIENT_CPU, DO set on every
# query (-D, so EDNS too). OUTFILE.rusage gets its voluntary context switches: how often it
# slept waiting for an answer, which the server's send then had to wake it from.
dnsperf_run() {
  local q=$1 out=$2 rc=0
  shift 2
  taskset -c "$CLIENT_CPU" /usr/bin/time -f '%w' -o "$out.rusage" \
    dnsperf -s 127.0.0.1 -p "${DNSPERF_PORT:-$PORT}" -d "$q" -D -c "$CLIENTS" -q "$OUTSTANDING" "$@" \
    </dev/null >"$out" 2>"$out.err" &
  CLIENT_PID=$!
  wait "$CLIENT_PID" || rc=$?
  CLIENT_PID=""
  if ((rc != 0)); then
    cat "$out.err" >&2
    die "dnsperf failed ($rc) on $q"
  fi
}

# parse_dnsperf FILE prints: qps sent lost failed rcodes avg_ms max_ms sd_ms p50_ms p99_ms.
# Latency percentiles come from dnsperf -v, which prints every response's latency (dnsperf
# 2.10 has no histogram option); failed counts lost queries and every rcode but NOERROR and
# NXDOMAIN.
parse_dnsperf() {
  awk '
    /^> / {
      if ($2 == "T" || $2 == "I") next
      if ($NF ~ /^[0-9]+\.[0-9]+$/) { b = int($NF * 1e6 + 0.5); h[b]++; if (b > maxb) maxb = b; nlat++ }
      next
    }
    /Queries sent:/ { sent = $3 }
    /Queries lost:/ { lost = $3 }
    /Response codes:/ {
      s = $0; sub(/.*Response codes: */, "", s)
      k = split(s, parts, /, /)
      for (i = 1; i <= k; i++) {
        split(parts[i], f, " ")
        rc = rc (rc == "" ? "" : ",") f[1] ":" f[2]
        if (f[1] != "NOERROR" && f[1] != "NXDOMAIN") bad += f[2]
      }
    }
    /Queries per second:/ { qps = $4 }
    /Average Latency \(s\):/ { avg = $4; mx = $8; gsub(/[(),]/, "", mx) }
    /Latency StdDev \(s\):/ { sd = $4 }
    END {
      c = 0; p50 = -1; p99 = -1
      for (b = 0; b <= maxb && nlat > 0; b++) {
        if (!(b in h)) continue
        c += h[b]
        if (p50 < 0 && c >= 0.50 * nlat) p50 = b
        if (p99 < 0 && c >= 0.99 * nlat) { p99 = b; break }
      }
      if (rc == "") rc = "-"
      printf "%.0f\t%d\t%d\t%d\t%s\t%.3f\t%.3f\t%.3f\t%.3f\t%.3f\n", qps, sent, lost, lost + bad, rc,
        avg * 1000, mx * 1000, sd * 1000, (p50 < 0 ? 0 : p50 / 1000), (p99 < 0 ? 0 : p99 / 1000)
    }' "$1"
}

RESULTS=$OUT/results.tsv
BESIDE_RUNS=0
RELOADS=$OUT/reload.tsv
printf 'size\tround\tserver\tset\tqps\tsent\tlost\tfailed\trcodes\tavg_ms\tmax_ms\tsd_ms\tp50_ms\tp99_ms\trss_kib\thwm_kib\tsrv_cpu_pct\tsteal_pct\tready_s\tload_s\tcore_busy_pct\tload_hwm_kib\tload_rss_kib\tclient_sleeps_per_q\tkeys_cached_pct\n' >"$RESULTS"
printf 'size\tround\tsteady_qps\tmin_qps_during\tmean_qps_during\tratio_mean\treload_s\tdetect_s\tsent\tlost\tfailed\trcodes\trss_kib\thwm_kib\n' >"$RELOADS"
printf 'SIZES="%s"\nSERVERS="%s"\nROUNDS=%s\nRELOAD_SIZE=%s\nWARMUP=%s\nBESIDE=%s\nREPEAT=%s\nWARM_KEYS=%s\n' "$SIZES" "$SERVERS" "$ROUNDS" "$RELOAD_SIZE" "$WARMUP" "$BESIDE" "$REPEAT" "$WARM_KEYS" >"$OUT/settings.env"

# measure N ROUND SERVER SET LOG [REP] runs one query set against the running server, for
# the REPth time this server start (1 when not given): the warm-up comes before the first.
measure() {
  local n=$1 round=$2 s=$3 set=$4 log=$5 rep=${6:-1} d=$WORK/n$1 out p0 p1 c0 c1 t0 t1 rss hwm stats cpu steal core tck sleeps
  out=$LOGS/n$n.r$round.$s.$set.dnsperf
  ((rep == 1)) || out=$out.k$rep
  if ((WARMUP && rep == 1)) && [[ $set != whoami && $set != beside ]]; then
    dnsperf_run "$d/q.$set" "$out.warmup" -n 1 -l "$READY_TIMEOUT"
  fi
  p0=$(proc_cpu_ticks)
  c0=$(core_ticks "$SERVER_CPU")
  t0=$(now)
  if [[ $set == beside ]]; then
    out=$out.$((++BESIDE_RUNS)) # several a server start
    DNSPERF_PORT=$((PORT + 1)) dnsperf_run "$d/q.whoami" "$out" -l "$DURATION" -v
  else
    dnsperf_run "$d/q.$set" "$out" -l "$DURATION" -v
  fi
  t1=$(now)
  kill -0 "$SERVER_PID" 2>/dev/null || die "$s died during $set; see $log"
  p1=$(proc_cpu_ticks)
  c1=$(core_ticks "$SERVER_CPU")
  rss=$(proc_status VmRSS)
  hwm=$(proc_status VmHWM)
  stats=$(parse_dnsperf "$out")
  sleeps=$(awk -v s="$(cut -f2 <<<"$stats")" -v l="$(cut -f3 <<<"$stats")" 'NF == 1 && $1 ~ /^[0-9]+$/ { w = $1 }
    END { if (w != "" && s - l > 0) printf "%.3f", w / (s - l); else print "-" }' "$out.rusage" 2>/dev/null || echo -)
  grep -v '^> ' "$out" >"$out.summary" || true
  rm -f "$out"
  tck=$(getconf CLK_TCK)
  read -r cpu steal core < <(awk -v p0="$p0" -v p1="$p1" -v c0="$c0" -v c1="$c1" -v t0="$t0" -v t1="$t1" -v hz="$tck" 'BEGIN {
    split(c0, a, " "); split(c1, b, " "); w = (t1 - t0) * hz; j = b[3] - a[3]
    printf "%.0f %.1f %.0f\n", 100 * (p1 - p0) / w, j ? 100 * (b[2] - a[2]) / j : 0, j ? 100 * (b[1] - a[1]) / j : 0 }')
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$round" "$s" "$set" "$stats" "$rss" "$hwm" "$cpu" "$steal" \
    "$READY_S" "${LOAD_S:--}" "$core" "${LOAD_HWM:--}" "${LOAD_RSS:--}" "$sleeps" "${KEYS_CACHED:--}" >>"$RESULTS"
  printf '  %-16s %-9s %8s qps  p99 %6s ms  rss %7s KiB  server %3s%%, core %3s%%, steal %4s%%  dnsperf sleeps/q %5s  failed %s\n' "$s" "$set" \
    "$(cut -f1 <<<"$stats")" "$(cut -f10 <<<"$stats")" "$rss" "$cpu" "$core" "$steal" "$sleeps" "$(cut -f4 <<<"$stats")"
}

# key_files N lists the files of the key directory ipsecoe reads, one per line.
key_files() { find -L "$WORK/n$1/current/" -type f; }

# keys_cached N prints the share (%) of the key files wholly in the page cache, from a sample
# of about 2,000 of them. This host drops file pages from its cache now and then, with memory
# to spare; a first load that has to read its files from the disk is slower for it.
keys_cached() {
  key_files "$1" | awk -v k="$(($1 / 2000 + 1))" '(NR - 1) % k == 0' | xargs -r -d '\n' fincore --raw --noheadings --bytes --output RES,SIZE 2>/dev/null |
    awk '{ f++; if ($1 >= $2) c++ } END { if (f) printf "%.1f", 100 * c / f; else print "-" }'
}

# run_server N ROUND SERVER starts the server, measures each of its query sets, stops it.
run_server() {
  local n=$1 round=$2 s=$3 log set
  log=$LOGS/n$n.r$round.$s.log
  KEYS_CACHED=-
  if [[ $s == ipsecoe || $s == ipsecoe+dnssec ]]; then
    # This script runs on the client's core by now, and so do these. Both are best effort:
    # a file that cannot be read is the server's to report, not a reason to end the run.
    ((!WARM_KEYS)) || key_files "$n" | xargs -r -d '\n' cat >/dev/null 2>&1 || true
    KEYS_CACHED=$(keys_cached "$n" || true)
    [[ -n $KEYS_CACHED ]] || KEYS_CACHED=-
  fi
  start_server "$n" "$s" "$log"
  first_load "$s" "$log"
  local beside=$BESIDE
  [[ $s != whoami ]] || beside=0
  ((beside != 2)) || start_beside "$n" "$LOGS/n$n.r$round.$s.beside.log"
  ((!beside)) || measure "$n" "$round" "$s" beside "$log"
  local k
  for ((k = 1; k <= REPEAT; k++)); do
    for set in $(sets "$s"); do
      [[ -z $SETS || $set == whoami || " $SETS " == *" $set "* ]] || continue
      measure "$n" "$round" "$s" "$set" "$log" "$k"
      ((!beside)) || measure "$n" "$round" "$s" beside "$log"
    done
  done
  check_answer "$n" "$s"
  stop_server
  stop_beside
}

# start_beside N LOG starts the whoami of BENCH_BESIDE=2 on BENCH_PORT+1, pinned to the
# server's core, and waits until it answers; it sets BESIDE_PID.
start_beside() {
  local d=$WORK/n$1 log=$2 deadline
  taskset -c "$SERVER_CPU" "$BIN" -conf "$d/Corefile.whoami-beside" </dev/null >"$log" 2>&1 &
  BESIDE_PID=$!
  deadline=$((SECONDS + READY_TIMEOUT))
  until dig @127.0.0.1 -p "$((PORT + 1))" +norec +tries=1 +time=1 whoami.bench. A 2>/dev/null | grep -q 'status: NOERROR'; do
    kill -0 "$BESIDE_PID" 2>/dev/null || die "whoami beside exited before answering; see $log"
    ((SECONDS < deadline)) || die "whoami beside did not answer within ${READY_TIMEOUT}s"
    sleep 0.1
  done
}

stop_beside() {
  [[ -n $BESIDE_PID ]] || return 0
  kill -TERM "$BESIDE_PID" 2>/dev/null || true
  wait "$BESIDE_PID" 2>/dev/null || true
  BESIDE_PID=""
}

# check_answer N SERVER compares the IPSECKEY rdata that file and ipsecoe give for one name.
declare -A ANSWER=()
check_answer() {
  local n=$1 s=$2 name a
  [[ $s == file || $s == ipsecoe ]] || return 0
  name=$(head -n 1 "$WORK/n$n/q.hot" | cut -d' ' -f1)
  a=$(dig @127.0.0.1 -p "$PORT" +norec +short "$name" IPSECKEY)
  ANSWER[$n.$s]=$a
  if [[ -n ${ANSWER[$n.file]:-} && -n ${ANSWER[$n.ipsecoe]:-} && ${ANSWER[$n.file]} != "${ANSWER[$n.ipsecoe]}" ]]; then
    echo "WARNING: file and ipsecoe answer $name IPSECKEY differently:" >&2
    echo "  file:    ${ANSWER[$n.file]:0:80}..." >&2
    echo "  ipsecoe: ${ANSWER[$n.ipsecoe]:0:80}..." >&2
  elif [[ $s == ipsecoe && -n ${ANSWER[$n.file]:-} ]]; then
    echo "  (file and ipsecoe give the same IPSECKEY rdata for $name)"
  fi
}

# reload_test N ROUND: ipsecoe answers the random set while its key directory (a symlink)
# is swapped to a second key set with the same names, as git-sync swaps it; every file is
# then new to the reload. dnsperf reports QPS each second (-S 1).
reload_test() {
  local n=$1 round=$2 d=$WORK/n$1 log out t_swap t_seen loads deadline rss hwm
  if [[ $IPSECOE_RELOAD == 0 || $IPSECOE_RELOAD == 0s ]]; then
    echo "  reload test skipped: BENCH_IPSECOE_RELOAD disables reloading"
    return 0
  fi
  log=$LOGS/n$n.r$round.reload.log
  out=$LOGS/n$n.r$round.reload.dnsperf
  ln -sfn keys "$d/current.new" && mv -T "$d/current.new" "$d/current"
  start_server "$n" ipsecoe "$log"
  taskset -c "$CLIENT_CPU" dnsperf -s 127.0.0.1 -p "$PORT" -d "$d/q.random" -D -c "$CLIENTS" -q "$OUTSTANDING" \
    -l "$RELOAD_SECONDS" -S 1 </dev/null >"$out" 2>"$out.err" &
  CLIENT_PID=$!
  sleep $((RELOAD_SECONDS / 3))
  ln -sfn keys2 "$d/current.new" && mv -T "$d/current.new" "$d/current"
  t_swap=$(now)
  t_seen=""
  deadline=$((SECONDS + RELOAD_SECONDS))
  while ((SECONDS < deadline)) && kill -0 "$CLIENT_PID" 2>/dev/null; do
    loads=$(grep -c 'plugin/ipsecoe: loaded' "$log" || true)
    if ((loads >= 2)); then
      t_seen=$(now)
      break
    fi
    sleep 0.1
  done
  wait "$CLIENT_PID" || die "dnsperf failed in the reload test: $(cat "$out.err")"
  CLIENT_PID=""
  rss=$(proc_status VmRSS)
  hwm=$(proc_status VmHWM)
  stop_server
  ln -sfn keys "$d/current.new" && mv -T "$d/current.new" "$d/current"
  if [[ -z $t_seen ]]; then
    echo "  reload test: no reload within the run; see $log"
    return 0
  fi
  local dur summary line
  dur=$(load_seconds "$log" 2)
  summary=$(parse_dnsperf "$out")
  # Each -S line "EPOCH: QPS" covers the second before EPOCH. Steady: the median of the
  # whole seconds before the swap (the first, start-up, one left out) and after the reload
  # (the last, maybe cut short, left out). During: the mean of the seconds that overlap the
  # reload, [seen - duration - 0.1, seen]; the worst of them is reported too.
  line=$(awk -v swap="$t_swap" -v seen="$t_seen" -v dur="$dur" '
    function median(a, k,   i, j, t) {
      for (i = 2; i <= k; i++) { t = a[i]; for (j = i - 1; j >= 1 && a[j] > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
      return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
    }
    /^[0-9]+\.[0-9]+: [0-9.]+$/ {
      ts = $1 + 0; q = $2 + 0; i++
      if (i > 2 && ts <= swap) st[++ns] = q
      if (ts > seen + 1) { after[++na] = q }
      if (i > 1 && prev < seen && ts > seen - dur - 0.1) { if (nd == 0 || q < mn) mn = q; sum += q; nd++ }
      prev = ts
    }
    END {
      for (j = 1; j < na; j++) st[++ns] = after[j] # the last second may be cut short
      s = ns ? median(st, ns) : 0
      printf "%.0f\t%.0f\t%.0f\t%.2f\t%s\t%.2f\n", s, mn, nd ? sum / nd : 0, s && nd ? sum / nd / s : 0, dur, seen - swap - dur
    }' "$out")
  local sent lost failed rcodes
  sent=$(cut -f2 <<<"$summary")
  lost=$(cut -f3 <<<"$summary")
  failed=$(cut -f4 <<<"$summary")
  rcodes=$(cut -f5 <<<"$summary")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$n" "$round" "$line" "$sent" "$lost" "$failed" "$rcodes" "$rss" "$hwm" >>"$RELOADS"
  printf '  reload           random    steady %s qps, mean during reload %s qps (%s x), worst second %s qps, reload %ss, failed %s, peak rss %s KiB\n' \
    "$(cut -f1 <<<"$line")" "$(cut -f3 <<<"$line")" "$(cut -f4 <<<"$line")" "$(cut -f2 <<<"$line")" "$dur" "$failed" "$hwm"
}

# --- run -----------------------------------------------------------------------------------

LOAD_BEFORE=$(cut -d' ' -f1-3 /proc/loadavg)
{
  echo "# bench/run.sh $STAMP"
  echo "date: $(date -u '+%Y-%m-%d %H:%M:%S UTC')"
  echo "command: $(env | grep '^BENCH_' | sort | sed 's/=\(.*\)/="\1"/' | tr '\n' ' ')bench/run.sh"
  echo "machine: nproc $(nproc), $(awk -F': ' '/^model name/ { print $2; exit }' /proc/cpuinfo), $(awk '/^MemTotal/ { printf "%.1f GiB", $2 / 1048576 }' /proc/meminfo)"
  echo "software: $("$BIN" -version | head -n 1), $(go version | cut -d' ' -f3), dnsperf $(dpkg-query -W -f '${Version}' dnsperf 2>/dev/null || echo '?')"
  echo "code: $CODE"
  echo "settings: server on CPU $SERVER_CPU, dnsperf on CPU $CLIENT_CPU (-c $CLIENTS -q $OUTSTANDING -D), ${DURATION}s per run, BENCH_WARMUP=$WARMUP, BENCH_BESIDE=$BESIDE, BENCH_REPEAT=$REPEAT, BENCH_WARM_KEYS=$WARM_KEYS, servers: whoami $SERVERS"
  echo "load average before: $LOAD_BEFORE"
} | tee "$OUT/header.txt"

for n in $SIZES; do
  prepare "$n"
done

# From here on this shell and what it starts without taskset (dig, awk, sleep) stay on the
# load generator's core, off the server's.
taskset -cp "$CLIENT_CPU" $$ >/dev/null

for n in $SIZES; do
  for ((round = 1; round <= ROUNDS; round++)); do
    echo "== n=$n round $round/$ROUNDS"
    for s in $SERVERS; do
      run_server "$n" "$round" whoami
      run_server "$n" "$round" "$s"
    done
    # And once more after the last: a host whose speed drifts during a round moves the
    # ratios of the servers before and after the drift the same way.
    run_server "$n" "$round" whoami
    if ((n == RELOAD_SIZE)) && [[ " $SERVERS " == *" ipsecoe "* ]]; then
      reload_test "$n" "$round"
    fi
  done
done

LOAD_AFTER=$(cut -d' ' -f1-3 /proc/loadavg)
echo "load average after: $LOAD_AFTER" | tee -a "$OUT/header.txt"

summarize | tee "$OUT/summary.txt"
echo
echo "results: $OUT (results.tsv, reload.tsv, summary.txt, header.txt, logs/)"
