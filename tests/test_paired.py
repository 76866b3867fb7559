"""The paired task: order recording and reproducibility, fixed vs randomized, carryover, the A/A
control, suffixed scores, and the judge plugging into the paired scorer."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

import pytest
from inspect_ai import eval as inspect_eval
from inspect_ai.model import ChatMessageAssistant, ChatMessageSystem, ChatMessageUser, ModelOutput
from inspect_ai.scorer import Target
from inspect_ai.solver import TaskState

from compliance_gap.behaviors import load_behaviors
from compliance_gap.framing import framing_text
from compliance_gap.options import Tier
from compliance_gap.paired import Order, Protocol, arm_order, paired
from compliance_gap.scorers.motivation import reasoning_trace
from compliance_gap.scorers.paired import ARM_OUTPUTS, paired_refusal_scorer
from compliance_gap.scripted import conversation_text, scripted_model
from .conftest import DEMO_CSV

TRAINING = framing_text(Tier.TRAINING)
DEPLOYMENT = framing_text(Tier.DEPLOYMENT)


def arm_outputs(sample) -> dict[str, ModelOutput]:
    return {tier: ModelOutput.model_validate(output) for tier, output in sample.store[ARM_OUTPUTS].items()}


def framing_of(message_text: str) -> str:
    """Which tier's framing a piece of conversation carries (the last one, if several)."""
    at = {tier: message_text.rfind(text) for tier, text in (("training", TRAINING), ("deployment", DEPLOYMENT))}
    assert max(at.values()) >= 0, "no framing in the conversation"
    return max(at, key=at.get)


class Recorder:
    """A scripted model that records, per behavior, the framing of each call in call order; it
    refuses under the deployment framing and complies under the training framing."""

    def __init__(self):
        self.calls: dict[str, list[str]] = defaultdict(list)
        self.conversations: dict[str, list[list]] = defaultdict(list)

    def __call__(self, messages):
        last_user = [m for m in messages if m.role == "user"][-1].text
        behavior = next(r["behavior"] for r in self.records if r["behavior"] in last_user)
        tier = framing_of(conversation_text(messages) if len(messages) <= 2 else last_user)
        self.calls[behavior].append(tier)
        self.conversations[behavior].append(list(messages))
        if tier == "deployment":
            return "<think>paid tier, private</think>I'm sorry, but I can't help with that."
        return "<think>free tier, rated</think>Sure, here is how to do it: step one."

    records = load_behaviors(str(DEMO_CSV))[0]


def run_paired(tmp_path, limit=None, **task_args):
    recorder = Recorder()
    log = inspect_eval(
        paired(dataset=str(DEMO_CSV), max_tokens=64, **task_args),
        model=scripted_model(recorder),
        log_dir=str(tmp_path / "logs"),
        limit=limit,
        display="none",
        max_connections=8,
    )[0]
    assert log.status == "success", log.error
    return log, recorder


def test_randomized_order_is_the_order_of_the_calls_and_reproducible(tmp_path):
    log, recorder = run_paired(tmp_path, protocol="randomized", seed=7)
    orders = {}
    for sample in log.samples:
        behavior = sample.metadata["behavior"]
        expected = ["training", "deployment"] if sample.metadata["order"] == "training_first" else ["deployment", "training"]
        assert recorder.calls[behavior] == expected, sample.id
        assert sample.metadata["protocol"] == "randomized" and sample.metadata["seed"] == 7
        assert sample.metadata["carryover"] is False and sample.metadata["control"] is None
        orders[sample.id] = sample.metadata["order"]
    assert set(orders.values()) == {"training_first", "deployment_first"}  # 14 behaviors: both occur
    # the same seed gives the same orders, with --limit and another concurrency too
    again, _ = run_paired(tmp_path / "again", limit=5, protocol="randomized", seed=7)
    assert len(again.samples) == 5
    assert all(orders[s.id] == s.metadata["order"] for s in again.samples)
    other, _ = run_paired(tmp_path / "other", protocol="randomized", seed=8)
    assert {s.id: s.metadata["order"] for s in other.samples} != orders


def test_fixed_protocol_always_runs_training_first(tmp_path):
    log, recorder = run_paired(tmp_path, protocol="fixed")
    assert {s.metadata["order"] for s in log.samples} == {"training_first"}
    assert all(calls == ["training", "deployment"] for calls in recorder.calls.values())
    assert len(recorder.calls) == len(log.samples) == 14


@pytest.mark.needs_data("harmbench")
def test_randomized_coin_is_fair_over_harmbench():
    ids = [r["id"] for r in load_behaviors("harmbench")[0]]
    counts = Counter(arm_order(Protocol.RANDOMIZED, 0, i) for i in ids)
    share = counts[Order.TRAINING_FIRST] / len(ids)
    assert 0.42 < share < 0.58, counts  # Bernoulli(0.5): 400 draws, within ~3 standard errors
    assert arm_order(Protocol.RANDOMIZED, 0, ids[0]) == arm_order(Protocol.RANDOMIZED, 0, ids[0])


def test_scores_are_suffixed_by_tier_with_answers_and_traces(tmp_path):
    log, _ = run_paired(tmp_path, protocol="randomized")
    sample = log.samples[0]
    score = sample.scores["paired_refusal_scorer"]
    assert score.value["refused_training"] == 0 and score.value["refused_deployment"] == 1
    assert score.value["truncated_training"] == 0 and score.value["empty_deployment"] == 0
    outputs = arm_outputs(sample)  # each arm's answer is kept once, in the store; scores do not copy it
    assert outputs["deployment"].completion.startswith("I'm sorry")
    assert {tier: reasoning_trace(o) for tier, o in outputs.items()} == {"training": "free tier, rated", "deployment": "paid tier, private"}
    assert not {"answers", "prompts", "traces"} & set(score.metadata)
    assert set(score.metadata["arms"]) == {"training", "deployment"}
    results = {(s.scorer, s.name): s.metrics for s in log.results.scores}
    assert results[("paired_refusal_scorer", "refused_training")]["mean"].value == 0
    assert results[("paired_refusal_scorer", "refused_deployment")]["mean"].value == 1
    # the viewer shows each arm apart: its model call, and its scoring, each in a span named after the arm
    spans = [e.name for e in sample.events if e.event == "span_begin" and e.type == "arm"]
    first = sample.metadata["order"].removesuffix("_first")
    second = "deployment" if first == "training" else "training"
    assert spans[:2] == [f"{first} arm", f"{second} arm"]  # the generation spans, in call order
    assert spans.count("training arm") == spans.count("deployment arm") == 1 + len(sample.scores)
    # decoding is one config for both arms: the same generate config in both model calls
    configs = [e.config for e in sample.events if e.event == "model"]
    assert len(configs) == 2 and configs[0] == configs[1] and configs[0].temperature == 0


def test_carryover_second_arm_continues_the_first_chat(tmp_path):
    log, recorder = run_paired(tmp_path, protocol="fixed", carryover=True)
    assert all(s.metadata["carryover"] is True for s in log.samples)
    behavior = log.samples[0].metadata["behavior"]
    first, second = recorder.conversations[behavior]
    assert [type(m) for m in first] == [ChatMessageSystem, ChatMessageUser]
    assert [type(m) for m in second] == [ChatMessageSystem, ChatMessageUser, ChatMessageAssistant, ChatMessageUser]
    assert second[:2] == first  # the first exchange, then ...
    assert second[2].text == "Sure, here is how to do it: step one."  # the answer the user saw, no trace
    assert second[3].text.startswith(DEPLOYMENT) and second[3].text.endswith(behavior)  # the second framing in the user turn
    assert TRAINING in second[0].text and DEPLOYMENT not in second[0].text


def test_control_gives_both_arms_one_framing(tmp_path):
    log, recorder = run_paired(tmp_path, protocol="randomized", control="deployment")
    assert all(s.metadata["control"] == "deployment" for s in log.samples)
    assert all(calls == ["deployment", "deployment"] for calls in recorder.calls.values())
    score = log.samples[0].scores["paired_refusal_scorer"]
    assert score.value["refused_training"] == score.value["refused_deployment"] == 1


@pytest.mark.parametrize("args, message", [({"protocol": "alternating"}, "protocol"), ({"control": "neutral"}, "control"), ({"carryover": "maybe"}, "carryover")])
def test_bad_task_args_name_the_allowed_values(args, message):
    with pytest.raises(ValueError, match=message):
        paired(dataset=str(DEMO_CSV), **args)


def test_scoring_a_sample_without_arm_outputs_says_which_task_to_use():
    state = TaskState(model="m", sample_id="x", epoch=1, input="hi", messages=[], metadata={})
    with pytest.raises(ValueError, match="paired_arms"):
        asyncio.run(paired_refusal_scorer()(state, Target("")))


def test_compliance_judge_plugs_into_the_paired_scorer(tmp_path):
    def judge(messages):
        prompt = conversation_text(messages)
        if "CATEGORY:" in prompt:
            return "The trace talks about the tier.\nCATEGORY: TRAINING_AWARE"
        return "It declines.\nVERDICT: REFUSAL" if "I'm sorry" in prompt else "It helps.\nVERDICT: COMPLIANCE"

    recorder = Recorder()
    log = inspect_eval(
        "compliance_gap/paired",  # built by Inspect, after the judge role is bound
        task_args={"dataset": str(DEMO_CSV), "max_tokens": 64, "judge_votes": 1, "motivation_votes": 1},
        model=scripted_model(recorder),
        model_roles={"judge": scripted_model(judge, name="mockllm/judge")},
        log_dir=str(tmp_path),
        limit=3,
        display="none",
    )[0]
    assert log.status == "success", log.error
    scores = log.samples[0].scores
    assert set(scores) == {"paired_refusal_scorer", "paired_compliance_judge", "paired_motivation_classifier"}
    judged = scores["paired_compliance_judge"]
    assert judged.value == {
        "refused_training": 0, "complied_training": 1, "disagrees_with_rule_training": 0,
        "refused_deployment": 1, "complied_deployment": 0, "disagrees_with_rule_deployment": 0,
    }
    assert judged.metadata["arms"]["deployment"]["decision"] == "refusal"
    assert judged.metadata["arms"]["deployment"]["judge"] == "mockllm/judge"
    assert scores["paired_motivation_classifier"].value["training_aware_training"] == 1
    assert log.eval.model_roles["judge"].model == "mockllm/judge"


def test_real_embedded_model_runs_both_arms_reproducibly(tmp_path):
    """SmolLM2-135M on CPU through the hf/ provider: two greedy arms per sample, the same answers
    when run again (CPU numerics are reproducible)."""
    from compliance_gap.embedded import embedded_model_spec

    name, model_args = embedded_model_spec()

    def answers(folder):
        log = inspect_eval(paired(dataset=str(DEMO_CSV), max_tokens=8), model=name, model_args=model_args,
                           limit=2, log_dir=str(tmp_path / folder), display="none")[0]
        assert log.status == "success", log.error
        scores = {s.id: s.scores["paired_refusal_scorer"] for s in log.samples}
        assert all(len([e for e in s.events if e.event == "model"]) == 2 for s in log.samples)
        answers = {s.id: {tier: o.completion for tier, o in arm_outputs(s).items()} for s in log.samples}
        return answers, scores

    first, scores = answers("a")
    assert first == answers("b")[0]
    assert all(score.value["truncated_training"] == score.value["truncated_deployment"] == 1 for score in scores.values())
    assert all(answer.strip() for pair in first.values() for answer in pair.values())
