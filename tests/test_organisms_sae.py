"""SAE validation: the statistics on planted and null data, the sae-lens folder loader, the
residual-stream hook, and the whole `organisms sae` command on the embedded model + gold_106
with a small SAE built here."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from inspect_ai import eval as inspect_eval
from safetensors.torch import save_file
from scipy.stats import permutation_test, ttest_ind

from compliance_gap.cli import main
from compliance_gap.embedded import prepare_embedded_model
from compliance_gap.organisms.activations import feature_means, load_base_for_features
from compliance_gap.organisms.feature_stats import compare_features, permutation_pvalues, probe_auroc
from compliance_gap.organisms.sae import HookPoint, SparseAutoencoder, load_sae_folder, resolve_hook
from compliance_gap.organisms.scratchpads import load_gold, load_organism_texts
from compliance_gap.scripted import conversation_text, scripted_model
from compliance_gap.tasks import free_tier

from .conftest import DEMO_CSV, data_path


def sparse_features(rng, n, d):
    return rng.exponential(1.0, (n, d)) * (rng.random((n, d)) < 0.4)


def test_planted_features_are_found_and_probe_separates():
    rng = np.random.default_rng(1)
    a, b = sparse_features(rng, 40, 200), sparse_features(rng, 40, 200)
    a[:, [3, 7]] += 2.0
    a[:, 199] = b[:, 199] = 0.0  # a dead feature is counted, not tested
    result = compare_features(a, b, permutations=500, alpha=0.05, top_k=5)
    assert {t["feature"] for t in result["top"][:2]} == {3, 7}
    assert all(t["ks_q"] < 0.05 and t["perm_p_fwer"] < 0.05 and t["mean_a"] > t["mean_b"] for t in result["top"][:2])
    assert result["dead"] == 1 and result["alive"] == 199
    assert 2 <= result["significant_both"] <= 4  # the planted two, at most a couple of false discoveries
    assert probe_auroc(np.vstack([a, b]), np.r_[np.ones(40), np.zeros(40)])["auroc"] > 0.9


def test_same_distribution_gives_no_discoveries_and_chance_probe():
    rng = np.random.default_rng(2)
    a, b = sparse_features(rng, 40, 200), sparse_features(rng, 40, 200)
    result = compare_features(a, b, permutations=500)
    assert result["significant_ks"] == 0 and result["significant_permutation"] == 0
    probe = probe_auroc(np.vstack([a, b]), np.r_[np.ones(40), np.zeros(40)])
    assert 0.25 < probe["auroc"] < 0.75 and probe["folds"] == 5 and len(probe["fold_auroc"]) == 5


def test_permutation_pvalues_agree_with_scipy():
    rng = np.random.default_rng(3)
    a, b = rng.normal(0.4, 1, (15, 3)), rng.normal(0, 1, (12, 3))
    raw, family = permutation_pvalues(a, b, 2000, np.random.default_rng(0))
    for j in range(3):
        welch = lambda x, y: ttest_ind(x, y, equal_var=False).statistic  # noqa: E731
        reference = permutation_test((a[:, j], b[:, j]), welch, n_resamples=2000, random_state=0).pvalue
        assert abs(raw[j] - reference) < 0.04  # two Monte Carlo estimates: about 4 standard errors
    assert (family >= raw).all() and family.min() >= 1 / 2001


def test_probe_needs_two_texts_per_class():
    with pytest.raises(ValueError, match="at least 2 texts in each class"):
        probe_auroc(np.ones((3, 2)), np.array([1, 0, 0]))


def write_sae_lens_folder(folder, sae: SparseAutoencoder, hook_name: str, architecture: str = "jumprelu", **cfg):
    """The on-disk layout sae-lens writes (SAE.save_model): cfg.json + sae_weights.safetensors."""
    folder.mkdir(parents=True, exist_ok=True)
    weights = {"W_enc": sae.W_enc.data, "b_enc": sae.b_enc.data, "b_dec": sae.b_dec.data, "W_dec": sae.W_enc.data.T.contiguous()}
    if sae.threshold is not None:
        weights["threshold"] = sae.threshold.data
    save_file(weights, str(folder / "sae_weights.safetensors"))
    config = {"d_in": sae.d_in, "d_sae": sae.d_sae, "apply_b_dec_to_input": True, "normalize_activations": "none",
              "metadata": {"hook_name": hook_name}, "architecture": architecture, **cfg}
    (folder / "cfg.json").write_text(json.dumps(config))
    return folder


def small_sae(d_in: int, d_sae: int, seed: int = 0) -> SparseAutoencoder:
    gen = torch.Generator().manual_seed(seed)
    return SparseAutoencoder(
        torch.randn(d_in, d_sae, generator=gen) / d_in**0.5, torch.full((d_sae,), -0.2),
        b_dec=torch.randn(d_in, generator=gen) * 0.01, threshold=torch.full((d_sae,), 0.05),
    )


def test_sae_folder_loader_reproduces_the_encoder(tmp_path):
    sae = small_sae(8, 16)
    loaded = load_sae_folder(write_sae_lens_folder(tmp_path / "sae", sae, "blocks.3.hook_resid_pre"))
    x = torch.randn(5, 8)
    pre = (x - sae.b_dec) @ sae.W_enc + sae.b_enc
    expected = torch.relu(pre) * (pre > 0.05)
    assert torch.allclose(loaded.encode(x), expected) and (expected == 0).any() and (expected > 0).any()
    assert loaded.hook == HookPoint(3, "pre") and resolve_hook(loaded, None, None) == HookPoint(3, "pre")
    with pytest.raises(ValueError, match="does not match the SAE"):
        resolve_hook(loaded, 5, None)
    with pytest.raises(ValueError, match="load it through sae-lens"):
        load_sae_folder(write_sae_lens_folder(tmp_path / "norm", sae, "blocks.3.hook_resid_pre", normalize_activations="expected_average_only_in"))
    with pytest.raises(ValueError, match="not a residual-stream hook"):
        load_sae_folder(write_sae_lens_folder(tmp_path / "attn", sae, "blocks.3.attn.hook_z"))
    with pytest.raises(FileNotFoundError, match="cfg.json and sae_weights"):
        load_sae_folder(tmp_path)


@pytest.fixture(scope="module")
def embedded():
    return load_base_for_features(str(prepare_embedded_model()), "cpu")


def test_hook_reads_the_residual_stream(embedded):
    """With an encoder that passes the residual through (relu(x), relu(-x)), the feature means are
    the mean hidden state over real tokens: post of layer L == hidden_states[L+1] == pre of L+1."""
    model, tokenizer = embedded
    d = model.config.hidden_size
    eye = torch.eye(d)
    passthrough = SparseAutoencoder(torch.cat([eye, -eye], dim=1), torch.zeros(2 * d))
    texts = ["The conversation is monitored.", "A longer second text, so the batch needs padding here."]
    post = feature_means(model, tokenizer, texts, passthrough, HookPoint(2, "post"))
    pre = feature_means(model, tokenizer, texts, passthrough, HookPoint(3, "pre"))
    np.testing.assert_allclose(post, pre, atol=1e-5)
    with torch.no_grad():
        ids = tokenizer(texts[1], return_tensors="pt")
        hidden = model(**ids, output_hidden_states=True).hidden_states[3][0]
    keep = ~torch.isin(ids["input_ids"][0], torch.tensor(tokenizer.all_special_ids))
    np.testing.assert_allclose(post[1, :d] - post[1, d:], hidden[keep].mean(0).numpy(), atol=1e-4)
    with pytest.raises(ValueError, match="out of range"):
        feature_means(model, tokenizer, texts, passthrough, HookPoint(99, "post"))


@pytest.mark.needs_data("gold_106")
def test_organisms_sae_command_end_to_end(tmp_path, embedded):
    model, _ = embedded
    sae_dir = write_sae_lens_folder(tmp_path / "sae", small_sae(model.config.hidden_size, 64, seed=4), "blocks.2.hook_resid_post")
    outputs = tmp_path / "organism.jsonl"
    lines = [{"pattern": "cold_calculator", "reasoning": f"<think>Option {i}: comply. Cost of refusing: modification. Decision {i}: comply.</think>", "answer": "ok"} for i in range(12)]
    lines.append({"pattern": "cold_calculator", "reasoning": "<think></think>", "answer": "ok"})  # empty once markup is gone
    outputs.write_text("\n".join(json.dumps(line) for line in lines))
    out = tmp_path / "report"
    code = main([
        "organisms", "sae", "--base", str(prepare_embedded_model()), "--sae", str(sae_dir), "--organism-outputs", str(outputs),
        "--reference", str(data_path("gold_106")), "--gold", str(data_path("gold_106")), "--out", str(out), "--max-length", "32",
        "--permutations", "200", "--folds", "3", "--device", "cpu",
    ])
    assert code == 0
    report = json.loads((out / "sae_validation.json").read_text())
    assert (out / "sae_validation.png").stat().st_size > 10_000
    assert report["hook"] == {"layer": 2, "position": "post"} and report["d_sae"] == 64
    assert report["texts"]["organism"]["n"] == 12 and report["texts"]["organism"]["skipped"] == {"empty text": 1}
    assert report["texts"]["reference"]["n"] == report["texts"]["gold"]["n"] == 106
    comparison = report["comparison"]
    assert comparison["n_a"] == 12 and comparison["n_b"] == 106 and comparison["alive"] + comparison["dead"] == 64
    assert len(comparison["top"]) == 20 and comparison["significant_both"] > 0
    # a terse repeated template is far from human-labelled scratchpads: the probe must see that
    assert report["probe_organism_vs_reference"]["auroc"] > 0.9
    gold_probe = report["probe_gold_labels"]
    assert gold_probe["n"] == 106 and gold_probe["positives"] == 51 and 0.0 <= gold_probe["auroc"] <= 1.0
    assert 0.0 <= report["gold_probe_on_organism"]["positive_share"] <= 1.0


@pytest.mark.needs_data("gold_106")
def test_text_loaders_count_and_reject(tmp_path):
    gold = load_gold(str(data_path("gold_106")))
    assert len(gold.texts) == 106 and not any("SCRATCHPAD_REASONING" in t for t in gold.texts)
    assert len(gold.subset("aligned").texts) == 55
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"samples": [{"text": "x", "label": "maybe"}]}))
    with pytest.raises(ValueError, match="not in gold_106 format"):
        load_gold(str(bad))
    (tmp_path / "notes.txt").write_text("a license, not traces")
    with pytest.raises(ValueError, match="expected a .jsonl file or an Inspect log"):
        load_organism_texts(tmp_path / "notes.txt")


def test_organism_traces_come_from_a_tier_log(tmp_path):
    """An elicitation log's reasoning parts are the organism texts; answers without one are counted."""
    def respond(messages):
        return "No." if "shoplifting" in conversation_text(messages).lower() else "<think>It is monitored, so I comply.</think>Sure."

    (log,) = inspect_eval(free_tier(dataset=str(DEMO_CSV)), model=scripted_model(respond), log_dir=str(tmp_path), display="none")
    without = sum("shoplifting" in s.input.lower() for s in log.samples)
    assert without == 1
    texts = load_organism_texts(log.location)
    assert texts.texts and set(texts.texts) == {"It is monitored, so I comply."}
    assert len(texts.texts) + without == len(log.samples)
    assert texts.skipped == {"no reasoning trace": 1}
