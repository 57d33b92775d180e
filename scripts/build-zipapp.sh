#!/usr/bin/env bash
# Build dist/ckrv.pyz: one file holding ckrv and every runtime dependency (the kubernetes client
# included), made with shiv from this repository's wheel.
#
#   scripts/build-zipapp.sh            # uses $PYTHON, else .venv/bin/python, else python3
#   python3 dist/ckrv.pyz serve        # run it anywhere with the same Python minor version
#
# Dependencies are fetched from the package index at build time only; the file needs nothing
# from the network when it runs. Compiled dependencies (cryptography, cffi, argon2) make the
# file specific to the building interpreter's Python version and platform (e.g. CPython 3.11 on
# Linux x86_64): build it with the Python you will run it with.
#
# On first run shiv unpacks the dependencies to ~/.shiv (or $SHIV_ROOT) once; later runs start
# from there. Workers started by `ckrv serve` use that same unpacked copy.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$root"

if [[ -z "${PYTHON:-}" ]]; then
  if [[ -x .venv/bin/python ]]; then PYTHON=.venv/bin/python; else PYTHON=python3; fi
fi
output="${1:-dist/ckrv.pyz}"

if ! "$PYTHON" -c "import shiv" 2>/dev/null; then
  echo "build-zipapp: shiv is not installed for $PYTHON; install the dev extra:" >&2
  echo "  $PYTHON -m pip install -e '.[dev]'" >&2
  exit 1
fi

work="$(mktemp -d "${TMPDIR:-/tmp}/ckrv-zipapp.XXXXXX")"
trap 'rm -rf "$work"' EXIT

echo "build-zipapp: building the ckrv wheel"
# From a clean copy of the sources: setuptools builds in-tree, and a stale build/ directory would
# carry deleted modules into the wheel.
mkdir "$work/src"
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  git ls-files -z --cached --others --exclude-standard \
    | while IFS= read -r -d '' file; do if [[ -e $file ]]; then printf '%s\0' "$file"; fi; done \
    | tar --null -T - -cf - | tar -xf - -C "$work/src"
else
  tar --exclude=./build --exclude=./dist --exclude=./.venv --exclude=./.git -cf - . | tar -xf - -C "$work/src"
fi
"$PYTHON" -m pip wheel --quiet --no-deps --wheel-dir "$work/wheel" "$work/src"
wheel="$(ls "$work"/wheel/ckrv-*.whl)"

# Pin every dependency to the version installed for $PYTHON: the file holds what the tests ran.
"$PYTHON" -m pip freeze --exclude-editable --disable-pip-version-check \
  | grep -v -i '^ckrv[= @]' > "$work/constraints.txt" || true

echo "build-zipapp: installing $(basename "$wheel") and its dependencies"
"$PYTHON" -m pip install --quiet --disable-pip-version-check --no-warn-script-location \
  --target "$work/site-packages" --constraint "$work/constraints.txt" "$wheel"

mkdir -p "$(dirname "$output")"
echo "build-zipapp: bundling with shiv"
# --compile-pyc: the first run compiles the unpacked copy once, so later runs start fast even
# where PYTHONDONTWRITEBYTECODE is set or the unpacked copy is read-only.
# --reproducible: the same inputs give the same file. The build id is the content hash, so a
# rebuilt file never runs a stale unpacked copy.
"$PYTHON" -m shiv \
  --console-script ckrv \
  --output-file "$output" \
  --python '/usr/bin/env python3' \
  --site-packages "$work/site-packages" \
  --compressed \
  --compile-pyc \
  --reproducible

# Swap shiv's one-line __main__.py for scripts/zipapp_main.py: it starts from the unpacked copy
# directly once there is one (see that file), and otherwise runs shiv's bootstrap as before.
"$PYTHON" - "$output" "$root/scripts/zipapp_main.py" <<'PY'
import json, os, sys, zipfile

archive, launcher = sys.argv[1], sys.argv[2]
staged = archive + ".tmp"
with open(archive, "rb") as handle:
    shebang = handle.readline()
with zipfile.ZipFile(archive) as source, open(staged, "wb") as out:
    environment = json.loads(source.read("environment.json"))
    module, _, function = environment["entry_point"].partition(":")
    main = open(launcher, encoding="utf-8").read()
    for placeholder, value in (("@BUILD_ID@", environment["build_id"]),
                               ("@ENTRY_MODULE@", module), ("@ENTRY_FUNCTION@", function)):
        main = main.replace(placeholder, value)
    out.write(shebang)
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():  # same names, order, times, modes and compression
            data = main.encode() if info.filename == "__main__.py" else source.read(info)
            target.writestr(info, data)
os.chmod(staged, 0o755)
os.replace(staged, archive)
PY

size="$(du -h "$output" | cut -f1)"
echo "build-zipapp: wrote $output ($size)"
