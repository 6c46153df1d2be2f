# Sourced by the scripts beside it, with what the script needs installed in ./.venv:
#   serve  the project and its runtime dependencies only (a fresh clone answers sooner)
#   test   the project and its test and lint tools ('.[test]'), which serves too
# Each install runs again only when pyproject.toml changes (a stamp per kind and checksum).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
need="${1:?_env.sh: say serve or test}"
PYTHON="${PYTHON:-python3}"
if [ ! -x .venv/bin/python ]; then
    "$PYTHON" -m venv .venv
fi
sum="$(cksum pyproject.toml | cut -d' ' -f1)"
if [ ! -f ".venv/.installed-$need-$sum" ] && [ ! -f ".venv/.installed-test-$sum" ]; then
    case "$need" in
        serve) target='.' ;;
        test) target='.[test]' ;;
        *) echo "_env.sh: unknown install '$need'" >&2; exit 2 ;;
    esac
    .venv/bin/python -m pip install --quiet --upgrade pip
    .venv/bin/python -m pip install --quiet -e "$target"
    rm -f .venv/.installed-*
    touch ".venv/.installed-$need-$sum"
fi
