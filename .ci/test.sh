#!/usr/bin/env bash
# The whole traceproxy test suite, from the project root:
#   swift format lint, a check that nothing reads ../shared, XCTest (all modules), bounded fuzzing and the sanitizer runs (fuzz/), the release build, the
#   CLI black-box tests, the deploy recipes in containers (deploy/test.sh), the Python interop tests (Tests/interop/run.sh, when present), the
#   acceptance checks (../shared/acceptance, when present), the benchmark smoke and soak, and the
#   request rules compared with nginx (Tests/conformance). Every stage runs even when an earlier
#   one failed; the exit status is non-zero if any stage failed, and a summary lists them.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

failed=()
declare -A done_ok=()

# stage NAME COMMAND...: prints a header, runs the command, records the outcome.
stage() {
    local name=$1
    shift
    echo
    echo "=== $name: $*"
    local start=$SECONDS
    if "$@"; then
        done_ok[$name]=1
        echo "=== $name: ok ($((SECONDS - start)) s)"
    else
        failed+=("$name")
        echo "=== $name: FAILED ($((SECONDS - start)) s)"
    fi
}

# skip NAME REASON: a stage that cannot run because one it depends on failed counts as failed.
skip_failed() {
    echo
    echo "=== $1: not run ($2)"
    failed+=("$1")
}

# Cheap checks first. Lint: any finding fails (--strict turns warnings into errors).
stage "swift format lint" swift format lint --strict -r Sources Tests benchmarks fuzz
# The suite must run from a clone with nothing beside it: no file may read ../shared.
stage "self-contained (no ../shared)" bash Tests/cli/test_self_contained.sh

stage "build (debug, with tests)" swift build --build-tests
if [[ -n ${done_ok["build (debug, with tests)"]:-} ]]; then
    stage "unit tests (XCTest)" swift test --skip-build --disable-swift-testing
else
    skip_failed "unit tests (XCTest)" "the debug build failed"
fi

# libFuzzer targets (HTTP/1.1 parsers, chunked decoder, propagation codecs), 15 s each, and the
# XCTest suites under AddressSanitizer and ThreadSanitizer; both build on their own (fuzz/README.md).
stage "fuzz (bounded)" bash fuzz/run.sh 15
stage "sanitizers (address, thread)" bash fuzz/sanitizers.sh

# The micro-benchmarks (a separate package) only have to build here; they are run by hand.
stage "micro-benchmarks build" swift build --package-path benchmarks

stage "build (release)" swift build -c release --product traceproxy
if [[ -n ${done_ok["build (release)"]:-} ]]; then
    stage "CLI tests" env TRACEPROXY=.build/release/traceproxy bash Tests/cli/test_cli.sh
    stage "run tests (demo, access log, admin)" env TRACEPROXY=.build/release/traceproxy bash Tests/cli/test_run.sh
    stage "config file and SIGHUP tests" env TRACEPROXY=.build/release/traceproxy bash Tests/cli/test_config.sh
    # The deploy recipes (deploy/README.md): validators, then the image, a pod, kube play and Compose
    # run with podman on the host network (deploy/test.sh builds its own static-stdlib binary).
    stage "deploy (containers)" bash deploy/test.sh
    if [[ -f Tests/interop/run.sh ]]; then
        stage "interop tests" env TRACEPROXY=.build/release/traceproxy bash Tests/interop/run.sh
    else
        echo
        echo "=== interop tests: none (Tests/interop/run.sh does not exist)"
    fi
    if [[ -d ../shared/acceptance ]]; then
        # The two gated cases (upstream timeout -> 504, slow request head -> 408) need our flag names.
        stage "acceptance checks" env TRACEPROXY=.build/release/traceproxy \
            HARNESS_UPSTREAM_TIMEOUT_ARGS="--upstream-timeout-ms 1000" HARNESS_UPSTREAM_TIMEOUT_S=1 \
            HARNESS_SLOWLORIS_ARGS="--header-timeout-ms 1000" HARNESS_SLOWLORIS_TIMEOUT_S=1 \
            bash ../shared/acceptance/run_all.sh
    else
        echo
        echo "=== acceptance checks: none (../shared/acceptance does not exist)"
    fi
    # The load benchmark's quick mode as a smoke test, so the scripts cannot rot: every setup must
    # serve and spans must arrive; timings are not judged here.
    stage "benchmark smoke" bash benchmarks/run.sh --smoke
    # The request rules against nginx (installed by the benchmark stage when missing): the same raw
    # requests to both; only traceproxy's expectations are judged (Tests/conformance/README.md).
    stage "request rules vs nginx" env TRACEPROXY=.build/release/traceproxy bash Tests/conformance/run.sh
    # A short soak: steady load with dead collectors; memory must stay flat and fds must not leak.
    stage "soak (30 s, dead collectors)" bash benchmarks/soak.sh --duration 30 --interval 2
else
    skip_failed "CLI tests" "the release build failed"
    skip_failed "run tests (demo, access log, admin)" "the release build failed"
    skip_failed "config file and SIGHUP tests" "the release build failed"
    skip_failed "deploy (containers)" "the release build failed"
    if [[ -f Tests/interop/run.sh ]]; then
        skip_failed "interop tests" "the release build failed"
    fi
    if [[ -d ../shared/acceptance ]]; then
        skip_failed "acceptance checks" "the release build failed"
    fi
    skip_failed "benchmark smoke" "the release build failed"
    skip_failed "request rules vs nginx" "the release build failed"
    skip_failed "soak (30 s, dead collectors)" "the release build failed"
fi

echo
if [[ ${#failed[@]} -eq 0 ]]; then
    echo "=== all stages passed"
else
    echo "=== ${#failed[@]} stage(s) failed:"
    printf '    %s\n' "${failed[@]}"
fi
# The closing line: a plain count CI can read.
echo "stages: ${#done_ok[@]} passed, ${#failed[@]} failed"
[[ ${#failed[@]} -eq 0 ]]
