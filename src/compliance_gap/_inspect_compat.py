"""The one place that imports Inspect's private API.

``PrerequisiteError``: Inspect's command line prints it as its bare message (one line, exit code
1) instead of a traceback, so a bad task argument reads like Inspect's own argument errors. It is
private (``inspect_ai._util.error``); tests/test_inspect_compat.py fails loudly if it moves.
"""

from inspect_ai._util.error import PrerequisiteError

__all__ = ["PrerequisiteError"]
