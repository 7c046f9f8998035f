#!/usr/bin/env bash
# Load benchmark: traceproxy against nginx and HAProxy in front of the same loopback upstream.
#
#   benchmarks/run.sh                 full run: 3 interleaved rounds, 5 s per cell: plain HTTP at
#                                     64/256 connections with small and 16 KiB bodies; HTTPS in
#                                     at 64 connections: keep-alive (both bodies), a new TLS
#                                     connection per request (full and resumed handshakes)
#                                     (about 13 minutes)
#   benchmarks/run.sh --quick         1 round, 64 connections, small body, 2 s: plain HTTP, HTTPS
#                                     keep-alive, full and resumed handshakes (about 2 minutes)
#   benchmarks/run.sh --smoke         for CI: plain HTTP and HTTPS keep-alive cells only, 2 s; checks
#                                     that every setup served requests (over TLS for the HTTPS
#                                     ones), the tracing setups delivered spans and the TLS setups
#                                     negotiated the same parameters; timings are not judged
#   benchmarks/run.sh --out DIR       where latest.md / latest.png / latest.json go
#                                     (default benchmarks/results, or results/quick for --quick)
#   other flags (--rounds N, --duration S, --ports BASE, --hold N, --hold-tls N, --cells C,...,
#   --setups K,...) go to loadbench.py
#
# Run as root on Debian 12: installs wrk, nginx, haproxy, openssl, a C compiler (and python3-venv)
# from apt when missing. Nothing system-wide is configured or started: nginx and HAProxy run from a
# temp dir with their own configs, pid files and ports, the test certificates are made in that
# temp dir, and every process started here is stopped on exit.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

args=("$@")
mode=full
for a in "$@"; do
    case "$a" in
    --quick | --smoke) mode=quick ;;
    -h | --help)
        sed -n '2,22p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
        exit 0
        ;;
    esac
done

log() { echo "=== $*" >&2; }

# --- tools -------------------------------------------------------------------------------------
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v nginx >/dev/null || [[ -x /usr/sbin/nginx ]] || need+=(nginx-light)
command -v haproxy >/dev/null || [[ -x /usr/sbin/haproxy ]] || need+=(haproxy)
command -v python3 >/dev/null || need+=(python3)
# openssl: the test CA and certificate, and the s_client check of what each TLS setup negotiates.
command -v openssl >/dev/null || need+=(openssl)
# A C compiler for wrk_full_handshake.c (the full-handshake cell; skipped without one).
command -v cc >/dev/null || command -v gcc >/dev/null || need+=(gcc libc6-dev)
python3 -c 'import venv, ensurepip' 2>/dev/null || need+=(python3-venv)
if [[ ${#need[@]} -gt 0 ]]; then
    log "installing from apt: ${need[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    # Debian's nginx package starts the system service on install; a policy-rc.d for the
    # duration of this install only keeps it from doing so (the benchmark runs its own nginx).
    policy=/usr/sbin/policy-rc.d
    created_policy=0
    if [[ ! -e $policy ]]; then
        printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
    fi
    apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
    [[ $created_policy == 1 ]] && rm -f "$policy"
fi
export PATH="$PATH:/usr/sbin:/sbin"

# --- python with matplotlib (for the chart) ----------------------------------------------------
venv="$here/.venv"
py="$venv/bin/python"
if [[ ! -x $py ]] || ! "$py" -c 'import matplotlib' 2>/dev/null; then
    log "preparing $venv (matplotlib)"
    if ! { python3 -m venv "$venv" && "$venv/bin/pip" install -q --disable-pip-version-check matplotlib; }; then
        log "no matplotlib: the run goes on without the chart"
        py=python3
    fi
fi

# --- traceproxy, release build -----------------------------------------------------------------
log "building traceproxy (release)"
(cd "$root" && swift build -c release --product traceproxy 2>&1 | grep -E "error|warning: unre|Compiling|Build" | tail -3) >&2
bin="$(cd "$root" && swift build -c release --show-bin-path)/traceproxy"
[[ -x $bin ]] || { echo "no traceproxy binary at $bin" >&2; exit 1; }

# 1000 held connections (2000 TLS) plus 256 load connections, on both sides of each proxy.
ulimit -n 65536 2>/dev/null || ulimit -n "$(ulimit -Hn)"

log "running ($mode)"
exec "$py" "$here/loadbench.py" --traceproxy "$bin" --bench-dir "$here" "${args[@]}"
