"""How often one tiny ``hf/`` eval loads the weights, and what stays held: one free-tier sample of
the embedded SmolLM2 on this machine, in this process, with or without the fix (issue 12).

    PYTHONPATH=src python benchmarks/hf_weight_loads.py [--dtype bfloat16] [--without-fix]

Prints one JSON line: ``from_pretrained`` calls, live ``hf/`` models and their parameter MiB after
the eval, and the process's memory (VmRSS, anonymous and file-backed resident, peak) before and
after. Run each variant in a fresh process: Inspect memoizes models and lookups per process.
"""

from __future__ import annotations

import argparse
import gc
import json
import resource
import sys
import tempfile
from pathlib import Path

import transformers.modeling_utils as modeling_utils

REPO = Path(__file__).resolve().parents[1]
loads: list[str] = []
_from_pretrained = modeling_utils.PreTrainedModel.from_pretrained.__func__


def _counted(cls, name, *args, **kwargs):
    loads.append(str(name))
    return _from_pretrained(cls, name, *args, **kwargs)


modeling_utils.PreTrainedModel.from_pretrained = classmethod(_counted)


def memory_mib() -> dict[str, float]:
    fields = dict(line.split(":", 1) for line in Path("/proc/self/status").read_text().splitlines())
    return {key: round(int(fields[key].split()[0]) / 1024, 1) for key in ("VmRSS", "RssAnon", "RssFile")}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--dtype", help="the model arg dtype (default: the checkpoint's, float32 here)")
    parser.add_argument("--without-fix", action="store_true", help="disable keep_hf_weights_single, as before the fix")
    args = parser.parse_args()

    from inspect_ai import eval as inspect_eval
    from inspect_ai.model import Model

    import compliance_gap.solvers
    from compliance_gap._inspect_compat import hf_api
    from compliance_gap.embedded import prepare_embedded_model
    from compliance_gap.tasks import free_tier

    if args.without_fix:
        compliance_gap.solvers.keep_hf_weights_single = lambda model: None
    model = f"hf/{prepare_embedded_model()}"
    model_args = {"dtype": args.dtype} if args.dtype else {}
    before = memory_mib()
    with tempfile.TemporaryDirectory() as logs:
        [log] = inspect_eval(free_tier(dataset=str(REPO / "data" / "demo_behaviors.csv"), max_tokens=8), model=model,
                             model_args=model_args, limit=1, display="none", log_dir=logs)
    if log.status != "success":
        print(f"the eval failed: {log.error.message if log.error else log.status}", file=sys.stderr)
        return 1
    gc.collect()
    apis = {id(api): api for o in gc.get_objects() if isinstance(o, Model) and (api := hf_api(o)) is not None}
    live = [api for api in apis.values() if api.model is not None]
    param_bytes = sum(p.numel() * p.element_size() for api in live for p in api.model.parameters())
    print(json.dumps({
        "fix": not args.without_fix, "dtype": args.dtype or "checkpoint", "loads": len(loads), "live_hf_models": len(live),
        "live_param_MiB": round(param_bytes / 2**20, 1), "before": before, "after": memory_mib(),
        "peak_rss_MiB": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }))
    return 0


if __name__ == "__main__":
    sys.exit(main())
