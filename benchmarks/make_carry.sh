#!/usr/bin/env bash
# Build .carry/ for the GPU machine, which has no network and no inspect-ai:
#   .carry/site.tar.xz  inspect-ai and the packages it imports that the GPU image lacks (cp312)
#   .carry/bnb.tar.xz   bitsandbytes with only the CUDA 13 library the image's torch (cu130) loads
# Both together stay under the device tool's 64 MiB carry limit. Run from the repo root.
set -euo pipefail
PY=${PY:-.venv/bin/python}
DL=.cache/carry-download
STAGE=.carry/stage
rm -rf "$STAGE" && mkdir -p "$DL" "$STAGE/site" "$STAGE/bnb"
PLATFORMS="--platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64"
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS \
  -d "$DL" -r benchmarks/carry_requirements.txt
$PY -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp $PLATFORMS \
  -d "$DL/bnb" "bitsandbytes==${BNB_VERSION:-0.50.2}"
for wheel in "$DL"/*.whl; do unzip -q -o "$wheel" -d "$STAGE/site"; done
# not needed to run evals: the log viewer's web bundle, sandbox tool binaries, the cffi backend
rm -rf "$STAGE/site/inspect_ai/_view/dist" "$STAGE/site/inspect_ai/binaries" "$STAGE/site/zstandard/_cffi."*
find "$STAGE/site" -name '__pycache__' -prune -exec rm -rf {} +
unzip -q -o "$DL"/bnb/bitsandbytes-*.whl -d "$STAGE/bnb"
find "$STAGE/bnb/bitsandbytes" -name 'libbitsandbytes_*' ! -name '*cuda130*' ! -name '*cpu*' -delete
tar -C "$STAGE/site" -cJf .carry/site.tar.xz .
tar -C "$STAGE/bnb" -cJf .carry/bnb.tar.xz .
rm -rf "$STAGE"
du -h .carry/site.tar.xz .carry/bnb.tar.xz
# the stand-in tokenizer's text pieces (the embedded SmolLM2's) and real prompts for the benchmark
cp models/smollm2-135m-instruct/tokenizer.json .carry/tokenizer.json
cp "${COMPLIANCE_GAP_DATA_DIR:-../shared/data}/harmbench/harmbench_behaviors_text_all.csv" .carry/harmbench.csv
du -sh .carry
