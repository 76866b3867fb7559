#!/usr/bin/env bash
# What one device call runs (carry: .carry, built by benchmarks/make_carry.sh):
#   bash benchmarks/run_on_device.sh ARCH [gpu_bench.py options]
set -eo pipefail
ARCH=$1; shift
mkdir -p /tmp/site
tar -C /tmp/site -xJf .carry/site.tar.xz
tar -C /tmp/site -xJf .carry/bnb.tar.xz
export PYTHONPATH=/tmp/site:$PWD/src HF_HUB_OFFLINE=1 PYTHONUNBUFFERED=1 INSPECT_LOG_LEVEL=warning CUBLAS_WORKSPACE_CONFIG=:4096:8
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
python3 -c "import torch, transformers, bitsandbytes, inspect_ai; print('torch', torch.__version__, 'transformers', transformers.__version__, 'bitsandbytes', bitsandbytes.__version__, 'inspect_ai', inspect_ai.__version__)"
python3 benchmarks/gpu_bench.py --arch "$ARCH" --harmbench .carry/harmbench.csv --base-tokenizer .carry/tokenizer.json \
  --out "${OUT:-/tmp/cg-out}" "$@" 2>&1 | grep -v -E "Loading weights|Writing model shards" | tee "${OUT:-/tmp/cg-out}/bench-$ARCH.log"
