"""Paired analysis of tier and paired task logs: compliance gap, McNemar, flips, order, power.

``analyze(paths, Settings(...))`` reads and pairs the logs (``logs.py``) and computes the
statistics (``comparisons.py`` on top of ``stats.py``); ``report.py`` prints and writes them.
"""

from .comparisons import Analysis, Settings, analyze

__all__ = ["Analysis", "Settings", "analyze"]
