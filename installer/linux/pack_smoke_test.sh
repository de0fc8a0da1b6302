#!/usr/bin/env bash
# Check a training pack against a built app bundle, end to end, without any system Python:
# install the pack with the bundle's `gravity`, compute book embeddings through it, and train a
# tiny DPO adapter through it (8 pairs, 1 epoch), which the app then checks and activates.
#
#   installer/linux/pack_smoke_test.sh [BUNDLE_DIR] [PACK_ARCHIVE]
#
# Defaults: installer/dist/gravity-desktop and installer/dist/gravity-training-pack-*.tar.gz.
# Takes a few minutes (the worker prepares the trainable base model first).
set -euo pipefail

HERE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
DIST="$HERE/../dist"
BUNDLE="$(cd "${1:-$DIST/gravity-desktop}" && pwd -P)"
ARCHIVE="${2:-$(ls "$DIST"/gravity-training-pack-*.tar.gz | head -1)}"
HOME_DIR="$(mktemp -d)"
trap 'rm -rf "$HOME_DIR"' EXIT

gravity() {
    env -i HOME="$HOME_DIR" PATH=/usr/bin:/bin LANG=C.UTF-8 GRAVITY_HOME="$HOME_DIR/data" \
        "$BUNDLE/gravity" "$@"
}

gravity pack install "$ARCHIVE"
gravity pack status

start=$(date +%s)
gravity books embed
echo "embeddings through the pack: $(( $(date +%s) - start )) s"

# Eight small preference pairs (the minimum is six: some are held out for the check).
for i in 1 2 3 4 5 6 7 8; do
    printf '{"prompt": [{"role": "user", "content": "Describe book number %s in one sentence."}], "chosen": [{"role": "assistant", "content": "A warm, quiet story about friendship, number %s."}], "rejected": [{"role": "assistant", "content": "BOOK %s!!! BUY NOW!!!"}], "metadata": {"method": "gravity"}}\n' "$i" "$i" "$i"
done > "$HOME_DIR/pairs.jsonl"
gravity pairs import "$HOME_DIR/pairs.jsonl"

start=$(date +%s)
gravity train --method gravity --epochs 1 --max-pairs 8
echo "training through the pack: $(( $(date +%s) - start )) s"
gravity adapters list | tee "$HOME_DIR/adapters.txt"
grep -q "gravity" "$HOME_DIR/adapters.txt" || { echo "no adapter was recorded" >&2; exit 1; }
echo "pack smoke test passed"
