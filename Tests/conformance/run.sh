#!/usr/bin/env bash
# Request rules, side by side: nginx and traceproxy given the same raw request bytes
# (Tests/conformance/README.md).
#
#   Tests/conformance/run.sh [--out FILE] [--only PREFIX]
#
# TRACEPROXY names the binary (default .build/release/traceproxy; build it first with
# swift build -c release --product traceproxy). Installs nginx-light from apt when it is missing
# and this runs as root with apt available (without starting the system service); without nginx
# only traceproxy's column runs. Exit status: non-zero only when a traceproxy row does not match
# its expectation (or traceproxy crashed or hung).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/../.." && pwd)"
cd "$root"
export PATH="$PATH:/usr/sbin:/sbin"

if ! command -v nginx >/dev/null; then
    if [[ $(id -u) == 0 ]] && command -v apt-get >/dev/null; then
        echo "=== installing nginx-light from apt" >&2
        export DEBIAN_FRONTEND=noninteractive
        # Debian's nginx package starts the system service on install; a policy-rc.d for the
        # duration of this install only keeps it from doing so (this script runs its own nginx).
        policy=/usr/sbin/policy-rc.d
        created_policy=0
        if [[ ! -e $policy ]]; then
            printf '#!/bin/sh\nexit 101\n' >"$policy" && chmod +x "$policy" && created_policy=1
        fi
        if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends nginx-light >/dev/null; }; then
            echo "=== could not install nginx-light: nginx's column will be skipped" >&2
        fi
        if [[ $created_policy == 1 ]]; then rm -f "$policy"; fi
    else
        echo "=== nginx is not installed (and this is not root with apt): nginx's column will be skipped" >&2
    fi
fi

exec python3 "$here/compare_nginx.py" --traceproxy "${TRACEPROXY:-.build/release/traceproxy}" "$@"
