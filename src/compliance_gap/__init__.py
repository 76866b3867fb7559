"""Inspect AI evaluations of training-aware compliance (alignment faking).

Where things live:
- framing text: ``prompts/framing/*.txt``; how it enters the conversation: ``framing.py``
- data sets (HarmBench, AdvBench, local files): ``behaviors.py``
- generation, reasoning-trace split, truncation: ``solvers.py``, ``reasoning.py``
- verdicts: ``scorers/`` (rule-based refusal scorer; judge scorers)
- the tier tasks: ``tasks.py`` (thin wrappers in the repository's ``tasks/``)
"""

__version__ = "0.1.0"
