#!/usr/bin/env bash
# Prints how many tests each build ran and fails if the numbers differ.
#
#   tools/ci/count-tests.sh NEXTEST_LOG
#
# NEXTEST_LOG is the output of `cargo nextest run --workspace` (its "Summary"
# line counts tests). Bazel's numbers come from the libtest summaries ("test
# result: ok. N passed; ...") in bazel-testlogs/**/test.log of the last
# `bazel test //...`. Doc tests are Cargo-only and are not run by either command.
set -euo pipefail

nextest_log=${1:?usage: count-tests.sh NEXTEST_LOG}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
testlogs=$root/bazel-testlogs

cargo_passed=$(sed -nE 's/.*Summary \[.*\] +([0-9]+) tests? run: ([0-9]+) passed.*/\2/p' "$nextest_log" | tail -n 1)
cargo_run=$(sed -nE 's/.*Summary \[.*\] +([0-9]+) tests? run:.*/\1/p' "$nextest_log" | tail -n 1)
if [[ -z $cargo_passed ]]; then
  echo "count-tests: no nextest Summary line in $nextest_log" >&2
  exit 1
fi
if [[ ! -d $testlogs ]]; then
  echo "count-tests: $testlogs is missing; run bazel test //... first" >&2
  exit 1
fi
read -r bazel_passed bazel_failed bazel_binaries < <(
  find -L "$testlogs" -name test.log -print0 | xargs -0 cat |
    awk '/^test result: / { for (i = 1; i <= NF; i++) { if ($(i+1) ~ /^passed/) p += $i; if ($(i+1) ~ /^failed/) f += $i }; n++ }
         END { printf "%d %d %d\n", p, f, n }'
)
echo "cargo nextest: $cargo_run tests run, $cargo_passed passed"
echo "bazel test:    $((bazel_passed + bazel_failed)) tests run, $bazel_passed passed (in $bazel_binaries test binaries)"
if [[ $cargo_passed -ne $bazel_passed || $bazel_failed -ne 0 ]]; then
  echo "count-tests: the builds disagree: a test target is missing from one build, or a test failed" >&2
  exit 1
fi
echo "count-tests: both builds ran the same $cargo_passed tests"
