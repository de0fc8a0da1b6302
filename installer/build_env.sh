# Sourced by the build scripts (needs ROOT and PYTHON set): one way to make a build environment.
#
# build_env VENV REQUIREMENTS [EXTRA]  create VENV if it is missing and write the project's base
#                                      dependencies (and those of the extra EXTRA) from
#                                      pyproject.toml to the file REQUIREMENTS
# refuse_training_stack VENV           stop the build when torch is importable in VENV: whatever
#                                      is importable there may end up in the app bundle

build_env() {
    local venv="$1" requirements="$2" extra="${3:-}"
    mkdir -p "$(dirname "$requirements")"
    [[ -x "$venv/bin/python" ]] || "$PYTHON" -m venv "$venv"
    "$venv/bin/python" - "$ROOT/pyproject.toml" "$extra" > "$requirements" <<'PY'
import sys, tomllib
with open(sys.argv[1], "rb") as f:
    project = tomllib.load(f)["project"]
extra = project["optional-dependencies"][sys.argv[2]] if sys.argv[2] else []
print("\n".join(project["dependencies"] + extra))
PY
}

refuse_training_stack() {
    if "$1/bin/python" -c "import torch" 2>/dev/null; then
        echo "$(basename "$0"): torch is importable in $1; the app bundle must not carry the training stack" >&2
        exit 1
    fi
}
