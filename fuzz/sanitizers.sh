#!/usr/bin/env bash
# Builds the package with tests under AddressSanitizer and ThreadSanitizer and runs the XCTest
# suites with each, from the project root:
#
#   bash fuzz/sanitizers.sh [address] [thread]     (both when no argument is given)
#
# Separate scratch paths (.build-asan, .build-tsan) keep the normal .build intact. Every test runs
# except DrainTests and LifecycleTests: they signal a child traceproxy (SIGTERM, SIGINT), and under
# ASan libdispatch's own signal re-raise path (_dispatch_sigmask, inside dispatchMain) trips ASan's
# sigfillset interceptor (a dynamic-stack-buffer-overflow reported in libdispatch, not in our
# code), killing the child at random; the plain XCTest stage runs them. A sanitizer report makes the test process exit non-zero, so a data race or a
# memory error fails the stage even when every XCTest assertion passed. The closing line reads
# `N passed, M failed`.
#
# LeakSanitizer is off (detect_leaks=0): with Swift 6.3's XCTest on Linux it reports every test
# case as leaked. XCTest's async-test bridge (awaitUsingExpectation) and Foundation's Process.run
# form weak references whose side tables are never freed; everything reachable from them (each
# XCTestCase and whatever it holds) is then an "indirect leak", and suppressing the two roots does
# not suppress those. Memory errors (overflows, use after free, double free) are still caught.
set -uo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

sanitizers=("$@")
[[ ${#sanitizers[@]} -gt 0 ]] || sanitizers=(address thread)

# The Swift runtime's backtracer and the sanitizers both want the crash signals.
export SWIFT_BACKTRACE=enable=no
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:detect_stack_use_after_return=1}
# fuzz/tsan.supp: empty on purpose (see the file); locks are pthread-based so TSan sees them.
export TSAN_OPTIONS=${TSAN_OPTIONS:-halt_on_error=0:second_deadlock_stack=1:suppressions=$PWD/fuzz/tsan.supp}

passed=0
failed=0
for s in "${sanitizers[@]}"; do
    case $s in
        address) scratch=.build-asan ;;
        thread) scratch=.build-tsan ;;
        *) echo "unknown sanitizer $s (address or thread)" >&2; exit 2 ;;
    esac
    mkdir -p "$scratch"
    log=$scratch/sanitizer-test.log
    start=$SECONDS
    echo "--- $s: swift build --build-tests --sanitize=$s --scratch-path $scratch"
    if ! swift build --build-tests --sanitize="$s" --scratch-path "$scratch" >"$scratch/sanitizer-build.log" 2>&1; then
        grep -E "error:" "$scratch/sanitizer-build.log" | head -20
        echo "--- $s: build FAILED ($((SECONDS - start)) s; see $scratch/sanitizer-build.log)"
        failed=$((failed + 1))
        continue
    fi
    built=$SECONDS
    echo "--- $s: swift test --skip-build --sanitize=$s --disable-swift-testing (log: $log)"
    if swift test --skip-build --sanitize="$s" --disable-swift-testing --scratch-path "$scratch" \
        --skip DrainTests --skip LifecycleTests >"$log" 2>&1; then
        grep -E "Executed [0-9]+ tests" "$log" | tail -1
        echo "--- $s: ok (build $((built - start)) s, tests $((SECONDS - built)) s)"
        passed=$((passed + 1))
    else
        grep -E "Executed [0-9]+ tests|error:|ERROR: |WARNING: ThreadSanitizer|SUMMARY" "$log" | head -20
        echo "--- $s: FAILED (build $((built - start)) s, tests $((SECONDS - built)) s; see $log)"
        failed=$((failed + 1))
    fi
done
echo "sanitizers: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
