#!/usr/bin/env bash
# One install script for every environment: a developer's machine, CI (.ci/run) and the
# docker image. It installs the pinned stack of DESIGN.md §4, the offline datasets, and
# codesign itself (editable, with test tools).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PY="${PYTHON:-python3}"

# Fashion-MNIST ships as a Debian package; install it when we can (root + apt).
if [ ! -d /usr/share/datasets/fashion-mnist ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    (apt-get install -y -qq dataset-fashion-mnist >/dev/null 2>&1 \
      || { apt-get update -qq >/dev/null 2>&1 && apt-get install -y -qq dataset-fashion-mnist >/dev/null; }) \
      || echo "note: could not install dataset-fashion-mnist; the CNV/Fashion-MNIST flow will need it" >&2
  else
    echo "note: run 'sudo apt-get install dataset-fashion-mnist' for the Fashion-MNIST flow" >&2
  fi
fi

pip_install() {
  # pip's notes about local index mirrors and running as root are noise here.
  "$PY" -m pip install -q --disable-pip-version-check "$@" 2>&1 \
    | { grep -vE "is ignored: it is neither|Running pip as the 'root' user|dependency resolver does not currently|finn-plus [0-9.]+ requires brevitas==" || true; }
}
pip_install -r "$here/scripts/requirements-stack.txt"
# finn-plus pins brevitas==0.13.0; its other dependencies come from the stack file above.
pip_install --no-deps finn-plus==1.6.1 mlxtend==0.25.0
pip_install -e "$here[dev]"
