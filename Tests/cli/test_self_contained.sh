#!/usr/bin/env bash
# The product and its tests must run from a clone with nothing beside it. CI happens to have the
# steering repository's shared folder next to the checkout, which once hid an interop test reading
# a spec from there; this fails if any file under Sources, Tests, benchmarks or fuzz names that
# folder. (.ci/test.sh itself may run its acceptance checks when they exist: that stage is optional.)
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
# Built from pieces so that this file does not match itself.
dir="shared"
pattern="\.\./$dir|$dir/(specs|acceptance)"
if hits=$(git grep --untracked -nIE "$pattern" -- Sources Tests benchmarks fuzz); then
    echo "test_self_contained: files refer to ../$dir (copy what they need into the repository):" >&2
    echo "$hits" >&2
    exit 1
fi
echo "test_self_contained: ok (nothing under Sources, Tests, benchmarks or fuzz refers to ../$dir)"
