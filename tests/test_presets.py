"""Model presets: what they resolve to, and proof through Inspect's own hf/ provider that the
DeepSeek-R1-distill preset gives the model one BOS token (the template writes it; the tokenizer
would add a second) while the Qwen preset adds none. The stand-in models are tiny random
networks with the real special-token ids and a stand-in chat template (benchmarks/)."""

from __future__ import annotations

import importlib.util
import sys

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import get_model

from compliance_gap.paired import paired
from compliance_gap.presets import PRESETS, find_preset, resolve_model

from .conftest import DEMO_CSV, REPO

TINY = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "vocab_size": 152064}


def _random_model_module():
    spec = importlib.util.spec_from_file_location("random_model", REPO / "benchmarks" / "random_model.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["random_model"] = module
    spec.loader.exec_module(module)
    return module


def test_presets_resolve_to_inspect_models():
    r1 = resolve_model("r1-distill-llama-8b")
    assert r1.name == "hf/deepseek-ai/DeepSeek-R1-Distill-Llama-8B" and r1.max_tokens == 4096
    assert r1.model_args == {"tokenizer_call_args": {"add_special_tokens": False}}
    assert resolve_model("hf/Qwen/Qwen2.5-7B-Instruct").max_tokens == 1024
    assert resolve_model("vllm/deepseek-ai/DeepSeek-R1-Distill-Llama-8B").name.startswith("vllm/")
    assert resolve_model("qwen2.5-7b", precision="int8").model_args["quantization_config"]["load_in_8bit"]
    assert resolve_model("hf/my-org/other-model").model_args == {}  # not a preset: used as given
    assert find_preset("QWEN/qwen2.5-7b-instruct").alias == "qwen2.5-7b"
    assert all(p.max_tokens >= 1024 for p in PRESETS) and next(p for p in PRESETS if p.reasoning).max_tokens >= 4096


@pytest.mark.parametrize("arch_key, template_bos", [("llama", True), ("qwen", False)])
def test_hf_provider_feeds_exactly_one_bos_with_the_preset(tmp_path, arch_key, template_bos):
    random_model = _random_model_module()
    arch = random_model.ARCHITECTURES[arch_key]
    folder = random_model.build_random_model(arch, tmp_path / arch.name, device="cpu", config_overrides=TINY)
    preset = find_preset(arch.preset)

    def first_prompt_ids(model_args):
        model = get_model(f"hf/{arch.name}", memoize=False, model_path=str(folder), device="cpu", **model_args)
        seen = []
        original = model.api.model.generate

        def recording(*args, **kwargs):
            ids, mask = kwargs["input_ids"], kwargs["attention_mask"]
            seen.extend(row[m.bool()].tolist() for row, m in zip(ids, mask))
            return original(*args, **kwargs)

        model.api.model.generate = recording
        log = inspect_eval(paired(dataset=str(DEMO_CSV), max_tokens=2), model=model, limit=1, log_dir=str(tmp_path / "logs"), display="none")[0]
        assert log.status == "success", log.error
        assert len(seen) == 2  # both arms went through the provider
        return seen[0]

    with_preset = first_prompt_ids(preset.hf_args)
    tokenizer_defaults = first_prompt_ids({})
    if template_bos:
        bos = arch.specials[arch.bos]
        assert with_preset[0] == bos and with_preset[1] != bos  # one BOS: the template's
        assert tokenizer_defaults[:2] == [bos, bos]  # what the hf/ provider does without the preset
    else:
        assert with_preset == tokenizer_defaults  # Qwen's tokenizer adds nothing either way
        assert with_preset[0] == arch.specials["<|im_start|>"]


def test_embedded_is_a_model_name_for_run():
    from compliance_gap.embedded import embedded_model_spec

    resolved = resolve_model("embedded")
    name, args = embedded_model_spec()
    assert resolved.name == name and resolved.model_args["model_path"] == args["model_path"]
    with pytest.raises(ValueError, match="use 'embedded', a preset"):
        resolve_model("smollm")
