#!/usr/bin/env bash
# Run the tests against ndgrad/_core.c built with AddressSanitizer and UndefinedBehaviorSanitizer
# (-O1 -g, assertions on), then rebuild the release extension in place.
#
#   tools/sanitize.sh                       # the whole suite (slower than usual: allocations
#                                           # go through malloc so that ASan sees each one)
#   tools/sanitize.sh tests/test_core.py    # any pytest arguments
set -euo pipefail
cd "$(dirname "$0")/.."
trap 'python setup.py -q build_ext --inplace --force 2>/dev/null' EXIT
NDGRAD_BUILD=asan python setup.py -q build_ext --inplace --force 2>/dev/null
# Python itself is not instrumented: the sanitizers' runtimes are loaded first. Python frees
# little at exit by design, so leaks are counted by tests/test_core.py, not by LeakSanitizer.
LD_PRELOAD="$(gcc -print-file-name=libasan.so) $(gcc -print-file-name=libubsan.so)" \
    PYTHONMALLOC=malloc \
    ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 \
    UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
    python -m pytest -p no:cacheprovider -q "${@:-tests}"
