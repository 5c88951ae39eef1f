"""The ``reportlab_nlp`` spaCy component: the rule labeler inside a user's own pipeline.

>>> import spacy
>>> nlp = spacy.blank("en")
>>> _ = nlp.add_pipe("reportlab_nlp", config={"scheme": "chexpert"})
>>> doc = nlp("No pleural effusion. Mild cardiomegaly.")
>>> [(span.text, span.label_, span._.is_negated) for span in doc.spans["reportlab_nlp"]]
[('pleural effusion', 'Pleural Effusion', True), ('cardiomegaly', 'Cardiomegaly', False)]

It labels ``doc.text`` with its own copy of the rule pipeline (so the user's tokens,
sentences and components are left as they are), and sets:

* ``doc.spans["reportlab_nlp"]``: every mention, labelled with its finding, with the
  ConText flags and ``section_category`` on ``span._`` (:mod:`.extensions`), and the
  mention itself (``span._.reportlab_mention``: rule, cue, sentence);
* ``doc.ents``: those of the mentions that overlap no other mention or entity;
* ``doc._.reportlab_labels`` and ``doc._.reportlab_values``: the report's labels.

Config: ``scheme``, ``rules`` (paths of rules files: ours, or medspaCy's JSON) and
``conventions``, as ``reportlab-nlp label`` takes them. ``nlp.to_disk`` saves copies
of the rules files and the rules hash; ``spacy.load`` labels with those copies.
"""

from __future__ import annotations

from .component import ReportLabComponent, make_component
from .extensions import register

register()

__all__ = ["ReportLabComponent", "make_component"]
