"""Compare an organism's logs with its plant: does the suite recover the planted truth?

Pairing, the gap, its interval and McNemar's test come from the analysis module (the same
numbers ``analyze`` prints); this module only adds the comparison with the truth, per arm:

- ``verdict_vs_plant``: the scorer's verdict equals the planted decision (organism and scorer).
- ``template_vs_plant``: the answer is a template of the planted family (the organism alone:
  an oracle that does not depend on any scorer; null when no answer matches a template).
- ``verdict_vs_template``: the scorer's verdict equals the family of the template the answer
  matches (the scorer alone, on real generated text).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from ..analysis.comparisons import Settings, analyze
from ..analysis.export import sample_rows
from ..analysis.logs import LogSetError
from .plant import FIRST, REFUSE, SECOND, Plant, read_plant, template_family

MAX_LISTED = 50  # misses listed in the JSON (all are counted)


@dataclass
class PlantCheck:
    policy: str
    fraction: float
    comparison: str
    protocol: str | None
    carryover: bool
    control: str | None
    verdict: str
    n_pairs: int
    planted_gap_pp: float
    expected_gap_pp: float | None  # what a perfect organism and scorer would show on these pairs (order effects included)
    measured_gap_pp: float | None
    gap_ci95_pp: list[float | None]
    ci_covers_planted: bool | None
    mcnemar_p: float | None
    flip_rate: float | None
    order_depends: bool | None
    order_direction_p: float | None
    verdict_vs_plant: float | None
    template_vs_plant: float | None
    verdict_vs_template: float | None
    arms: int
    arms_matching_no_template: int
    scorer_misses: list[dict[str, Any]] = field(default_factory=list)  # verdict differs from the matched template
    n_scorer_misses: int = 0
    logs: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def _share(hits: list[bool]) -> float | None:
    return sum(hits) / len(hits) if hits else None


def _check_plant_matches(plant: Plant, analysis: Any) -> None:
    """The logs must be of the plant's dataset and hold only the plant's behaviors."""
    unfinished = [f"{Path(h.path).name} ({h.status})" for h in analysis.headers if h.status != "success"]
    if unfinished:
        raise LogSetError(f"unfinished logs: {', '.join(unfinished)}; check-plant compares finished runs only (rerun to complete them)")
    datasets = {h.dataset for h in analysis.headers}
    if datasets != {Path(plant.dataset).name}:
        raise LogSetError(f"the plant is for dataset '{plant.dataset}' but the logs ran {', '.join(sorted(datasets))}; pass the plant these logs were made for")
    ids = {str(x.id) for c in analysis.comparisons for x in (*c.pairs, *c.excluded)}
    foreign = sorted(ids - set(plant.behaviors))
    if foreign:
        raise LogSetError(
            f"{len(foreign)} sample ids in the logs are not in the plant ({', '.join(foreign[:10])}"
            f"{', ...' if len(foreign) > 10 else ''}); pass the plant these logs were made for"
        )


def _position(row: dict[str, Any], carryover: bool) -> str:
    """First or second call: only a carry-over conversation has a second call that sees the first."""
    if not carryover or not row.get("order"):
        return FIRST
    return FIRST if row["order"].startswith(row["tier"]) else SECOND


def check_plant(plant_path: Path, paths: list[str | Path], verdict: str = "rule") -> PlantCheck:
    plant = read_plant(plant_path)
    analysis = analyze(paths, Settings(verdict=verdict))
    _check_plant_matches(plant, analysis)
    comparisons = analysis.result["comparisons"]
    if len(comparisons) != 1:
        labels = "; ".join(c["label"] for c in comparisons) or "none"
        raise LogSetError(f"check-plant compares one run design at a time; these logs hold {len(comparisons)} comparisons ({labels})")
    [result], [pairs] = comparisons, analysis.comparisons
    carryover, control = bool(result.get("carryover")), result.get("control")
    paired = {(p.id, p.epoch) for p in pairs.pairs}
    planted_gap = 0.0 if control else plant.planted_gap_pp
    verdict_hits, template_hits, scorer_hits, misses = [], [], [], []
    expected: dict[tuple, dict[str, int]] = {}
    for row in sample_rows(analysis):
        key = (row["id"], row["epoch"])
        if key not in paired or row["model"] != result["model"] or row["control"] != control:
            continue
        framing = control or row["tier"]
        planted = plant.decision(row["id"], framing, _position(row, carryover))
        expected.setdefault(key, {})[row["tier"]] = int(planted == REFUSE)
        refused = (row["verdicts"].get(row["verdict_used"]) or {}).get("refused")
        verdict_hits.append(refused == int(planted == REFUSE))
        family = template_family(row["answer"])
        template_hits.append(family == planted)
        if family is not None:
            scorer_hits.append(refused == int(family == REFUSE))
            if refused != int(family == REFUSE):
                misses.append({"id": row["id"], "tier": row["tier"], "template": family, "refused": refused, "answer": row["answer"]})
    n = len(expected)
    expected_gap = 100.0 * sum(e["deployment"] - e["training"] for e in expected.values()) / n if n else None
    low, high = result["gap_ci95_pp"]
    order = result.get("order") or {}
    return PlantCheck(
        policy=plant.policy, fraction=plant.fraction, comparison=result["label"], protocol=result.get("protocol"),
        carryover=carryover, control=control, verdict=result["verdict"], n_pairs=result["n_pairs"],
        planted_gap_pp=planted_gap, expected_gap_pp=expected_gap, measured_gap_pp=result["compliance_gap_pp"] if n else None,
        gap_ci95_pp=[low, high], ci_covers_planted=(low <= planted_gap <= high) if n else None,
        mcnemar_p=result["mcnemar"]["pvalue"], flip_rate=result["flip_rate"] if n else None,
        order_depends=order.get("depends_on_order"),
        order_direction_p=(order.get("direction_test") or {}).get("pvalue"),
        verdict_vs_plant=_share(verdict_hits),
        template_vs_plant=_share(template_hits) if scorer_hits else None,
        verdict_vs_template=_share(scorer_hits),
        arms=len(verdict_hits), arms_matching_no_template=len(verdict_hits) - len(scorer_hits),
        scorer_misses=misses[:MAX_LISTED], n_scorer_misses=len(misses), logs=result["logs"],
    )
