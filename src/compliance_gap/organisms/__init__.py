"""Model organisms of alignment faking: positive controls for the suite.

An evaluation that only ever reports nulls cannot tell "no effect" from "blind instrument"; an
open model fine-tuned on alignment-faking reasoning should show a gap. Where things live:
- the 10 reasoning patterns and the writer prompt: ``patterns.py``, ``prompts/organisms/``
- training rows (schema, validation, hashing): ``rows.py``; writing them with any Inspect model: ``generate.py``
- LoRA fine-tuning and merging: ``train.py``; named public bases and SAEs: ``presets.py``
- evaluating an organism with the tier and paired tasks: ``elicit.py``
- SAE validation: ``sae.py`` (encoder, loaders), ``activations.py`` (mean features per text),
  ``scratchpads.py`` (texts to compare), ``feature_stats.py`` (tests, probes), ``sae_report.py``
- the ``compliance-gap organisms`` commands: ``cli.py``

Importing this package needs neither Inspect nor the ``organisms`` extra; each module imports
what it uses.
"""
