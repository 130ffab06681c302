# Shared by scripts/serve and scripts/test: a project virtualenv with qrefund installed.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
# Re-install only when the dependency list changed (a stamp keeps repeat runs fast).
STAMP=".venv/.qrefund-installed-$(sha256sum pyproject.toml | cut -c1-16)-$1"
if [ ! -f "$STAMP" ]; then
  .venv/bin/python -m pip install --quiet --upgrade pip
  .venv/bin/python -m pip install --quiet -e ".$2"
  rm -f .venv/.qrefund-installed-*-"$1"
  touch "$STAMP"
fi
