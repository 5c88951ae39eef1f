"""The review queue: which (report, label) cells a curator should read first.

Every cell of a labels JSONL gets a score in [0, 1] for how likely its label
is wrong (:func:`review_scores`), from signals the record already holds (the
value, the measured accuracy of its cue and lexicon entry, conflicting and
hedged mentions, and, from the ``model``/``hybrid`` engines, the model's
calibrated probability and the hybrid's review flags), combined by a logistic
regression fitted on the Open-i development gold (``queue.json``, made by
:mod:`reportlab_nlp.review.fit`). ``reportlab-nlp review OUT.jsonl --top N``
writes the top cells as a CSV and an HTML page.
"""

from __future__ import annotations

from .score import QueueModel, review_scores, shipped

__all__ = ["QueueModel", "review_scores", "shipped"]
