"""Rules data: built-in files, schemes, phrase regexes, user rules files and their validation."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest

import reportlab_nlp
from reportlab_nlp import Labeler, LabelValue
from reportlab_nlp.errors import ReportlabError, RulesError
from reportlab_nlp.rules import RuleSet, load_rules, phrase_regex

RulesFile = Callable[..., Path]

CHEXPERT = [
    "No Finding",
    "Enlarged Cardiomediastinum",
    "Cardiomegaly",
    "Lung Opacity",
    "Lung Lesion",
    "Edema",
    "Consolidation",
    "Pneumonia",
    "Atelectasis",
    "Pneumothorax",
    "Pleural Effusion",
    "Pleural Other",
    "Fracture",
    "Support Devices",
]

FULL_AFTER_CHEXPERT = [
    "Emphysema",
    "Hiatal Hernia",
    "Calcified Granuloma",
    "Scoliosis",
    "Hyperinflation",
    "Low Lung Volumes",
    "Tortuous Aorta",
    "Aortic Atherosclerosis",
    "Degenerative Spine",
    "Interstitial Lung Disease",
    "Elevated Hemidiaphragm",
    "Lung Nodule",
    "Lung Mass",
    "Infiltration",
    "Pleural Thickening",
    "Pulmonary Fibrosis",
    "Hernia",
]

CHESTXRAY14 = [
    ("Atelectasis", "Atelectasis"),
    ("Cardiomegaly", "Cardiomegaly"),
    ("Effusion", "Pleural Effusion"),
    ("Infiltration", "Infiltration"),
    ("Mass", "Lung Mass"),
    ("Nodule", "Lung Nodule"),
    ("Pneumonia", "Pneumonia"),
    ("Pneumothorax", "Pneumothorax"),
    ("Consolidation", "Consolidation"),
    ("Edema", "Edema"),
    ("Emphysema", "Emphysema"),
    ("Fibrosis", "Pulmonary Fibrosis"),
    ("Pleural_Thickening", "Pleural Thickening"),
    ("Hernia", "Hernia"),
    ("No Finding", "No Finding"),
]

PATHOLOGY = CHEXPERT[1:13]  # Enlarged Cardiomediastinum through Fracture


# ------------------------------------------------------------------ built-in rules


def test_builtin_rules_load(rules: RuleSet) -> None:
    assert rules.findings
    assert rules.cues
    assert rules.terminators
    assert {s.category for s in rules.sections} >= {
        "findings",
        "impression",
        "indication",
        "history",
        "comparison",
        "technique",
    }
    assert set(rules.schemes) >= {"full", "chexpert", "chestxray14"}


def test_full_scheme_is_chexpert_then_the_finer_labels(rules: RuleSet) -> None:
    assert rules.labels[:14] == CHEXPERT
    assert set(rules.labels[14:]) >= set(FULL_AFTER_CHEXPERT)
    assert len(rules.labels) == len(set(rules.labels))


def test_every_label_of_the_full_scheme_has_a_definition(rules: RuleSet) -> None:
    defined = {f.label: f for f in rules.findings}
    for label in rules.labels:
        if label == "No Finding":
            assert label not in defined  # computed, not matched
            continue
        assert label in defined, f"{label} has no lexicon entry"
        f = defined[label]
        assert f.definition.strip(), f"{label} has no definition"
        assert f.phrases or f.patterns or f.states, f"{label} has no wording"
    assert [f.label for f in rules.findings] == [x for x in rules.labels if x != "No Finding"]


def test_chexpert_scheme_is_the_first_fourteen(rules: RuleSet) -> None:
    scheme = rules.schemes["chexpert"]
    assert [c for c, _ in scheme.columns] == CHEXPERT
    assert [label for _, label in scheme.columns] == CHEXPERT
    assert [c for c, _ in rules.schemes["full"].columns][:14] == CHEXPERT
    assert scheme.no_finding == "pathology"


def test_chestxray14_scheme_columns_and_aliases(rules: RuleSet) -> None:
    scheme = rules.schemes["chestxray14"]
    assert list(scheme.columns) == CHESTXRAY14
    assert len(scheme.columns) == 15
    assert scheme.no_finding == "any"


def test_full_scheme_no_finding_policy_and_blockers(rules: RuleSet) -> None:
    assert rules.schemes["full"].no_finding == "pathology"
    assert list(rules.no_finding_blockers) == PATHOLOGY


def test_labeler_columns(labeler: Labeler) -> None:
    assert labeler.columns("chexpert") == CHEXPERT
    assert labeler.columns("chestxray14") == [c for c, _ in CHESTXRAY14]
    assert labeler.columns() == labeler.labels


def test_unknown_scheme_is_a_scheme_error(labeler: Labeler) -> None:
    from reportlab_nlp.errors import SchemeError

    with pytest.raises(SchemeError, match=r"nope.*chestxray14.*chexpert.*full"):
        labeler.columns("nope")
    with pytest.raises(SchemeError):
        reportlab_nlp.load(scheme="nope")


# ------------------------------------------------------------------ phrase_regex


def _finds(phrase: str, text: str, *, plural: bool = True) -> list[str]:
    return [m.group() for m in re.finditer(phrase_regex(phrase, plural=plural), text, re.IGNORECASE)]


@pytest.mark.parametrize(
    "text", ["pleural effusion", "PLEURAL EFFUSION", "Pleural Effusion", "pLeUrAl eFfUsIoN"]
)
def test_phrase_ignores_case(text: str) -> None:
    assert _finds("pleural effusion", f"Small {text}.") == [text]


@pytest.mark.parametrize(
    "text",
    [
        "air space disease",
        "air-space disease",
        "airspace disease",
        "air  space\tdisease",
        "air\nspace disease",
    ],
)
def test_phrase_words_join_by_space_hyphen_or_nothing(text: str) -> None:
    assert _finds("air space disease", f"There is {text} here.") == [text]


@pytest.mark.parametrize("text", ["follow-up", "follow up", "followup", "FOLLOW-UP"])
def test_phrase_hyphen_inside_a_word_is_optional(text: str) -> None:
    assert _finds("follow-up", f"Recommend {text} imaging.") == [text]


@pytest.mark.parametrize(
    ("phrase", "text"),
    [
        ("nodule", "nodules"),
        ("effusion", "effusions"),
        ("opacity", "opacities"),
        ("pneumothorax", "pneumothoraxes"),
        ("pleural effusion", "pleural effusions"),
    ],
)
def test_phrase_last_word_takes_a_plural(phrase: str, text: str) -> None:
    assert _finds(phrase, f"Two {text} seen.") == [text]


def test_phrase_plural_only_on_the_last_word() -> None:
    assert _finds("pleural effusion", "pleurals effusion") == []


def test_phrase_without_plural() -> None:
    assert _finds("nodule", "nodules", plural=False) == []
    assert _finds("nodule", "nodule", plural=False) == ["nodule"]


def test_phrase_plural_of_a_word_ending_in_s() -> None:
    assert _finds("mass", "Two masses.") == ["masses"]


@pytest.mark.parametrize(
    "text",
    [
        "subpleural effusion",  # not at a word start
        "pleural effusional",  # not at a word end
        "nodular",
        "nodule1",
        "xnodule",
        "pneumothor",  # a word cut off at the end of a truncated report
    ],
)
def test_phrase_matches_whole_words_only(text: str) -> None:
    phrase = "nodule" if "nod" in text else "pneumothorax" if "pneumo" in text else "pleural effusion"
    assert _finds(phrase, text) == []


def test_phrase_matches_next_to_punctuation() -> None:
    assert _finds("nodule", "(nodule), nodule. nodule;nodule/nodule") == ["nodule"] * 5


def test_empty_phrase_is_an_error() -> None:
    with pytest.raises(ValueError):
        phrase_regex("   ")


# ------------------------------------------------------------------ user rules files

NEW_FINDING = """
findings:
  - label: Pectus Excavatum
    definition: A sunken sternum.
    phrases: [pectus excavatum]
"""

# one user file that adds a finding, extends a label, adds a cue and removes one
USER_RULES = (
    NEW_FINDING
    + """
  - label: Pneumothorax
    phrases: [zzptx]
cues:
  - {phrase: zznope, category: negated}
  - {phrase: possible, remove: true}
"""
)


@pytest.fixture(scope="module")
def user_labeler(tmp_path_factory: pytest.TempPathFactory) -> Labeler:
    path = tmp_path_factory.mktemp("rules") / "user.yaml"
    path.write_text(USER_RULES, encoding="utf-8")
    return reportlab_nlp.load(path)


def test_user_file_adds_a_finding_at_the_end_of_the_full_scheme(
    rules: RuleSet, rules_file: RulesFile, user_labeler: Labeler
) -> None:
    extended = load_rules([rules_file(NEW_FINDING)])
    assert extended.labels[-1] == "Pectus Excavatum"
    assert extended.labels[:-1] == rules.labels
    assert [c for c, _ in extended.schemes["chexpert"].columns] == CHEXPERT
    assert extended.finding("Pectus Excavatum").definition == "A sunken sternum."

    result = user_labeler.label("Mild pectus excavatum deformity. No pneumothorax.")
    assert result.labels["Pectus Excavatum"] is LabelValue.POSITIVE
    assert list(result.labels)[-1] == "Pectus Excavatum"
    assert [m.text for m in result.evidence["Pectus Excavatum"]] == ["pectus excavatum"]
    negated = user_labeler.label("No pectus excavatum.")
    assert negated.labels["Pectus Excavatum"] is LabelValue.NEGATIVE
    assert user_labeler.columns()[-1] == "Pectus Excavatum"
    assert "Pectus Excavatum" not in user_labeler.columns("chexpert")


def test_user_file_extends_an_existing_label(rules: RuleSet, labeler: Labeler, user_labeler: Labeler) -> None:
    text = "Small right zzptx."
    assert labeler.label(text).labels["Pneumothorax"] is LabelValue.BLANK
    before = rules.finding("Pneumothorax")
    after = user_labeler.rules.finding("Pneumothorax")
    assert after.phrases == (*before.phrases, "zzptx")  # kept, and extended
    assert after.definition == before.definition
    assert user_labeler.label(text).labels["Pneumothorax"] is LabelValue.POSITIVE
    assert user_labeler.label("No zzptx.").labels["Pneumothorax"] is LabelValue.NEGATIVE
    assert user_labeler.label("Small pneumothorax.").labels["Pneumothorax"] is LabelValue.POSITIVE


def test_user_file_adds_a_cue(labeler: Labeler, user_labeler: Labeler) -> None:
    text = "Zznope pneumothorax."
    assert labeler.label(text).labels["Pneumothorax"] is LabelValue.POSITIVE
    result = user_labeler.label(text)
    assert result.labels["Pneumothorax"] is LabelValue.NEGATIVE
    (mention,) = result.evidence["Pneumothorax"]
    assert (mention.cue, mention.cue_start, mention.cue_end) == ("Zznope", 0, 6)


def test_user_file_removes_a_cue(labeler: Labeler, user_labeler: Labeler) -> None:
    text = "Possible pneumothorax."
    assert labeler.label(text).labels["Pneumothorax"] is LabelValue.UNCERTAIN
    assert any(c.text == "possible" for c in labeler.rules.cues)
    assert not any(c.text == "possible" for c in user_labeler.rules.cues)
    assert user_labeler.label(text).labels["Pneumothorax"] is LabelValue.POSITIVE


def test_user_rules_leave_the_builtin_labeler_alone(labeler: Labeler, user_labeler: Labeler) -> None:
    assert user_labeler.rules_hash != labeler.rules_hash
    assert "Pectus Excavatum" not in labeler.label("Pectus excavatum.").labels


def test_user_file_removes_and_replaces_phrases(rules_file: RulesFile) -> None:
    base = load_rules().finding("Pneumothorax")
    assert "pneumothorax" in base.phrases
    removed = load_rules(
        [rules_file("findings:\n  - label: Pneumothorax\n    remove_phrases: [pneumothorax]\n")]
    )
    assert "pneumothorax" not in removed.finding("Pneumothorax").phrases
    replaced = load_rules(
        [
            rules_file(
                "findings:\n  - label: Pneumothorax\n    replace: true\n    phrases: [zzptx]\n", "r.yaml"
            )
        ]
    )
    f = replaced.finding("Pneumothorax")
    assert f.phrases == ("zzptx",)
    assert f.patterns == ()
    assert f.definition == base.definition  # kept when the replacement has none


def test_user_rules_file_may_be_json(rules_file: RulesFile) -> None:
    data = {"findings": [{"label": "Pectus Excavatum", "definition": "d", "phrases": ["pectus excavatum"]}]}
    path = rules_file(json.dumps(data), "rules.json")
    assert load_rules([path]).labels[-1] == "Pectus Excavatum"


def test_user_files_apply_in_order(rules_file: RulesFile) -> None:
    first = rules_file("findings:\n  - label: Pneumothorax\n    phrases: [zzptx]\n", "a.yaml")
    second = rules_file("findings:\n  - label: Pneumothorax\n    remove_phrases: [zzptx]\n", "b.yaml")
    assert "zzptx" not in load_rules([first, second]).finding("Pneumothorax").phrases
    with pytest.raises(RulesError):  # the other way round, there is nothing to remove
        load_rules([second, first])


def test_empty_user_file_changes_nothing(rules: RuleSet, rules_file: RulesFile) -> None:
    same = load_rules([rules_file("")])
    assert same.labels == rules.labels
    assert same.digest() == rules.digest()


def test_chexpert_compat_profile(labeler: Labeler) -> None:
    # the guidelines' settled edge case, kept in a profile (the default follows the Open-i coding)
    text = "Heart size is stable."
    compat = reportlab_nlp.load(["chexpert-compat"])
    assert compat.label(text).labels["Cardiomegaly"] is LabelValue.UNCERTAIN
    assert (
        compat.label("The cardiomediastinal silhouette is unchanged.").labels["Enlarged Cardiomediastinum"]
        is LabelValue.UNCERTAIN
    )
    assert compat.rules_hash != labeler.rules_hash
    assert compat.label("Heart size is normal.").labels["Cardiomegaly"] is LabelValue.NEGATIVE


# ------------------------------------------------------------------ rules hash


def test_rules_hash_is_stable(rules: RuleSet, labeler: Labeler) -> None:
    assert re.fullmatch(r"[0-9a-f]{64}", rules.digest())
    assert load_rules().digest() == rules.digest()
    assert labeler.rules_hash == rules.digest()


@pytest.mark.parametrize(
    "content",
    [
        "findings:\n  - label: Pneumothorax\n    phrases: [zzptx]\n",
        NEW_FINDING,
        "cues:\n  - {phrase: zznope, category: negated}\n",
        "cues:\n  - {phrase: possible, remove: true}\n",
        "terminators: ['zzstop']\n",
        "sections:\n  - category: findings\n    headers: [zzfindings]\n",
        "findings:\n  - label: Pneumothorax\n    remove_phrases: [pneumothorax]\n",
    ],
)
def test_rules_hash_changes_when_a_rule_changes(rules: RuleSet, rules_file: RulesFile, content: str) -> None:
    changed = load_rules([rules_file(content)])
    assert changed.digest() != rules.digest()


# ------------------------------------------------------------------ validation


def _error(path: Path) -> RulesError:
    with pytest.raises(RulesError) as info:
        load_rules([path])
    err = info.value
    assert isinstance(err, ReportlabError)
    assert err.exit_code == 2
    assert str(path) in str(err), "the message names the file"
    assert err.path == str(path)
    return err


@pytest.mark.parametrize(
    ("content", "entry", "problem"),
    [
        ("findingz: []\n", "top level", r"unknown key 'findingz'"),
        (
            "findings:\n  - label: Pneumothorax\n    phrasez: [ptx]\n",
            "finding 'Pneumothorax'",
            r"unknown key 'phrasez'",
        ),
        (
            "cues:\n  - {phrase: zznope, category: negated, scope: 3}\n",
            "cues[0]",
            r"unknown key 'scope'",
        ),
        (
            "sections:\n  - {category: findings, heders: [x]}\n",
            "sections[0]",
            r"unknown key 'heders'",
        ),
        (
            "findings:\n  - label: Pneumothorax\n    patterns: ['(unclosed ptx']\n",
            "finding 'Pneumothorax'",
            r"bad regular expression '\(unclosed ptx'",
        ),
        (
            "cues:\n  - {pattern: 'zz[nope', category: negated}\n",
            "cue 'zz[nope'",
            r"bad regular expression",
        ),
        ("terminators: ['(zz']\n", "terminators[0]", r"bad regular expression"),
        (
            "cues:\n  - {phrase: zznope, category: sorta}\n",
            "cue 'zznope'",
            r"'category' must be one of .*got 'sorta'",
        ),
        (
            "cues:\n  - {phrase: zznope, category: negated, direction: sideways}\n",
            "cue 'zznope'",
            r"'direction' must be one of .*got 'sideways'",
        ),
        (
            "cues:\n  - {phrase: zznope, category: negated, window: -1}\n",
            "cue 'zznope'",
            r"'window'",
        ),
        (
            "cues:\n  - {phrase: zznope, pattern: zznope, category: negated}\n",
            "cues[0]",
            r"exactly one of 'phrase' or 'pattern'",
        ),
        (
            "findings:\n  - label: Pneumothorax\n    patterns: ['{NOPE}ptx']\n",
            "finding 'Pneumothorax'",
            r"unknown macro \{NOPE\}",
        ),
        (
            "findings:\n  - label: Pectus Excavatum\n    phrases: [pectus]\n    implies: [Not A Label]\n",
            "finding 'Pectus Excavatum'",
            r"implies unknown label 'Not A Label'",
        ),
        (
            "findings:\n  - label: Pneumothorax\n    states:\n      maybe: ['ptx maybe']\n",
            "finding 'Pneumothorax'",
            r"unknown state 'maybe'",
        ),
        (
            "findings:\n  - label: Pectus Excavatum\n    definition: no wording\n",
            "finding 'Pectus Excavatum'",
            r"at least one phrase",
        ),
        (
            "findings:\n  - label: Pneumothorax\n    remove_phrases: [not a phrase]\n",
            "finding 'Pneumothorax'",
            r"remove_phrases: 'not a phrase' is not a phrase",
        ),
        (
            "cues:\n  - {phrase: not a cue at all, remove: true}\n",
            "cue 'not a cue at all'",
            r"remove: no such cue",
        ),
        ("findings:\n  - phrases: [ptx]\n", "findings[0]", r"'label' must be a non-empty string"),
        (
            "findings:\n  - label: Pneumothorax\n    phrases: [1, 2]\n",
            "finding 'Pneumothorax'",
            r"'phrases' must be",
        ),
        ("findings: {label: Pneumothorax}\n", "findings", r"must be a list"),
        ("macros:\n  lower: x\n", "macro 'lower'", r"UPPER_CASE"),
        ("sections:\n  - {category: zzpart, headers: [zz part]}\n", "section 'zzpart'", r"needs 'read"),
        (
            "schemes:\n  mine:\n    no_finding: sometimes\n    columns: [Pneumothorax]\n",
            "scheme 'mine'",
            r"'no_finding' must be 'pathology' or 'any'",
        ),
    ],
)
def test_invalid_rules_name_file_and_entry(
    rules_file: RulesFile, content: str, entry: str, problem: str
) -> None:
    err = _error(rules_file(content))
    assert entry in str(err), f"the message names the entry: {err}"
    assert err.entry == entry
    assert re.search(problem, str(err)), str(err)


def test_user_scheme_with_an_unknown_label_names_the_users_file(rules_file: RulesFile) -> None:
    path = rules_file("schemes:\n  mine:\n    columns: [Pneumothorax, Not A Label]\n")
    err = _error(path)
    assert "scheme 'mine'" in str(err)
    assert "unknown label 'Not A Label'" in str(err)
    assert str(path) in str(err) and "schemes.yaml" not in str(err)
    err = _error(rules_file("no_finding_blockers: [Pneumothorax, Not A Label]\n", "blockers.yaml"))
    assert "blockers.yaml" in str(err) and "unknown label 'Not A Label'" in str(err)


def test_missing_rules_file(tmp_path: Path) -> None:
    err = _error(tmp_path / "no_such_rules.yaml")
    assert "not found" in str(err)


@pytest.mark.parametrize(
    "content",
    ["findings: [\n  - label: : :\n", "findings:\n\t- label: x\n", "cues: {phrase: [unclosed\n"],
)
def test_unparsable_yaml(rules_file: RulesFile, content: str) -> None:
    err = _error(rules_file(content))
    assert "cannot parse" in str(err)


def test_unparsable_json(rules_file: RulesFile) -> None:
    err = _error(rules_file('{"findings": [', "rules.json"))
    assert "cannot parse" in str(err)


@pytest.mark.parametrize("content", ["- a\n- b\n", "just a string\n", "42\n"])
def test_top_level_must_be_a_mapping(rules_file: RulesFile, content: str) -> None:
    err = _error(rules_file(content))
    assert "mapping" in str(err)


def test_rules_file_that_is_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "latin1.yaml"
    path.write_bytes(
        "findings:\n  - label: Pneumothorax\n    phrases: [pneumothorax caf\xe9]\n".encode("latin-1")
    )
    err = _error(path)
    assert "cannot read" in str(err)


def test_a_rules_error_does_not_leak_into_the_next_load(rules: RuleSet, rules_file: RulesFile) -> None:
    with pytest.raises(RulesError):
        load_rules([rules_file("cues:\n  - {phrase: zz, category: sorta}\n")])
    assert load_rules().digest() == rules.digest()
