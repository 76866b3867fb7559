"""A log's sample summaries, read as Inspect reads them but without thinning them a second time.

Inspect thins a summary (shortens its input, metadata and score texts) when it makes one, so the
summaries a log holds are thin already; its reader validates and thins each again, which is about
three quarters of the time of reading them (0.3-0.45 ms a summary on the 2-core machine, against
0.07-0.1 ms without; see benchmarks/RESULTS.md). JSON logs hold no summaries: Inspect's reader
makes them from the samples.
"""

from __future__ import annotations

from inspect_ai.log import EvalSampleSummary, read_eval_log_sample_summaries
from pydantic import TypeAdapter

from .._inspect_compat import open_eval_archive, summary_tables


class _Stored(EvalSampleSummary):
    """A summary as the log stores it: validated like any, not thinned again."""

    def thin_data(self) -> EvalSampleSummary:  # Inspect's after-validator, which thinned it when it was written
        return self


_TABLE = TypeAdapter(list[_Stored])


def sample_summaries(path: str) -> list[EvalSampleSummary]:
    """The summaries of the log at ``path``: one per sample and epoch (a requeued sample's last),
    in the log's order, equal to ``read_eval_log_sample_summaries(path)``."""
    if not path.endswith(".eval"):
        return read_eval_log_sample_summaries(path)
    with open_eval_archive(path) as archive:
        tables = summary_tables(archive)
    latest: dict[tuple[str, int], EvalSampleSummary] = {}
    for table in tables:
        for summary in _TABLE.validate_json(table):
            latest[(str(summary.id), summary.epoch)] = summary
    return list(latest.values())
