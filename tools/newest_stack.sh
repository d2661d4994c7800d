#!/usr/bin/env bash
# The rule and engine tests on the newest Python, NumPy and SciPy pip finds, in a fresh virtual
# environment (.newest-venv), beside the CI's run on the project's own Python. A release that
# changes what a function computes fails here: SciPy 1.18's cho_factor (zeros in the triangle it
# does not use) and lstsq (complex residuals) did, and Python 3.13's fused bytecode hid loads
# from the scan of what each rule reads.
#
#   tools/newest_stack.sh               # python3.13 (or PYTHON=...), about 4 minutes
#   PYTHON=python3.12 tools/newest_stack.sh
#
# NumPy 2.5 deprecates np.fix and assigning a.shape, which the tests call themselves: those two
# warnings are ignored here (the suite treats warnings as errors).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3.13}"
if ! "$PYTHON" -c 'import sys' 2>/dev/null; then  # a pyenv shim for a version not selected
    PYTHON="$(ls -d "$HOME"/.pyenv/versions/"${PYTHON#python}"*/bin/python3 2>/dev/null | tail -1)"
fi
"$PYTHON" -m venv .newest-venv
.newest-venv/bin/python -m pip install --quiet --upgrade pip
.newest-venv/bin/python -m pip install --quiet -e '.[test]' pytest-xdist
.newest-venv/bin/python -c 'import sys, numpy, scipy; print(sys.version.split()[0], numpy.__version__, scipy.__version__)'
.newest-venv/bin/python -m pytest -p no:cacheprovider -q -n 2 \
    -W "ignore:numpy.fix is deprecated:DeprecationWarning" \
    -W "ignore:Setting the shape on a NumPy array:DeprecationWarning" \
    tests/test_rules.py tests/test_forward_rules.py tests/test_linalg.py tests/test_scipy_linalg.py \
    tests/test_higher_order.py tests/test_engine_perf_invariants.py tests/test_saved_fingerprint.py \
    tests/test_batching.py tests/test_route_parity.py tests/test_functional.py \
    tests/test_coverage.py "$@"
