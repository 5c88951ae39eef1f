"""The model card (``models/<name>/README.md``), rendered from the manifest: every figure is measured.

Sections: model, data, recipe (the exact commands), export gates, held-out
metrics, cross-validation (per fold, when the manifest carries
``cross_validation``; otherwise the card says it has not been run), calibration
and its reliability table, hybrid thresholds, limits.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .calibrate import reliability_table

NOT_YET = "_not measured yet: filled in by the full training run (`make model`)_"


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "-"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _metrics_table(scores: Mapping[str, Any]) -> list[str]:
    lines = [
        f"Macro-F1 over the {scores['labels_scored']} labels with at least "
        f"{scores['min_positives']} positives: "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in scores["macro_f1"].items())
        + "; micro-F1: "
        + ", ".join(f"{k} {_fmt(v)}" for k, v in scores["micro_f1"].items())
        + ".",
        "",
        "| label | n | positives | rules F1 | model F1 | hybrid F1 |",
        "| --- | ---: | ---: | ---: | ---: | ---: |",
    ]
    for label, row in scores["per_label"].items():
        if row["positives"] == 0:
            continue
        lines.append(
            f"| {label} | {row['n']} | {row['positives']} | {_fmt(row['rules'])} | {_fmt(row['model'])} | "
            f"{_fmt(row['hybrid'])} |"
        )
    return lines


def render_card(manifest: Mapping[str, Any]) -> str:
    """The Markdown model card of a manifest."""
    m = manifest
    base = m["base_model"]
    train = m["training"]
    data = train["data"]
    cfg = train["config"]
    export = m["export"]
    par, quant = export["parity"], export["quantization"]
    out: list[str] = [f"# Model card: {m['name']}", ""]
    if not base.get("pretrained", False):
        out += [
            "> **Test model.** A tiny randomly initialised encoder trained for a few steps, made by the test "
            "suite or a smoke run. Its labels are meaningless; it exists to exercise train -> export -> "
            "quantize -> infer.",
            "",
        ]
    out += [
        "A CheXbert-style report classifier for reportlab-nlp: a BERT-family encoder, mean- or CLS-pooled, "
        f"with one 4-way head ({', '.join(m['classes'])}) per label for the {len(m['labels'])} labels of the "
        "`full` scheme. It runs under ONNX Runtime (`--engine model`, or `--engine hybrid` with the rules).",
        "",
        "## Model",
        "",
        f"- Base: {base['name']}"
        + (f" ({base['package']} {base['version']})" if base.get("package") else ""),
        f"- Parameters: {m['architecture']['parameters']:,}; pooling {m['architecture']['pooling']}; "
        f"max length {m['max_length']} tokens (longer reports are truncated)",
        "- Files: "
        + "; ".join(f"`{k}` {v['bytes'] / 1e6:.1f} MB" for k, v in m["files"].items() if k.endswith(".onnx")),
        f"- Default at inference: `{m['variants'][m['default_variant']]}` "
        "(dynamic int8, per-channel weights)",
        f"- Exported by reportlab-nlp {m['toolkit_version']} on {m['created']}; "
        "sha256 of every file in `manifest.json`",
        "",
        "## Data",
        "",
    ]
    for c in data["corpora"]:
        out.append(
            f"- Corpus `{c['file']}` (sha256 `{(c['sha256'] or '-')[:16]}...`): {c['reports']} reports, "
            f"text columns {', '.join(c['text_cols']) or '(default)'}"
        )
    out.append(
        f"- Split by a hash of report id and seed {data['split_seed']}: {data['train_reports']} train, "
        f"{data['heldout_reports']} held out ({data['heldout_fraction']:.0%})"
    )
    out.append(
        f"- Silver labels: the reportlab-nlp rules (rules hash `{data['silver']['rules_hash'][:16]}...`)"
    )
    gold = data.get("gold")
    if gold:
        out.append(
            f"- Gold override: `{gold['file']}` ({len(gold['labels'])} labels, "
            f"{gold['reports_matched']} reports matched; {gold['cells_set_positive']} cells set "
            f"positive, {gold['cells_set_blank']} set blank). "
            f"Policy: {gold['policy']}"
        )
    else:
        out.append("- No gold override: silver labels only")
    out += [
        "",
        "## Recipe",
        "",
        "Reproduce with `make model`, which runs:",
        "",
        "```sh",
        str(m["recipe"].get("train") or "(train command not recorded)"),
        str(m["recipe"].get("export") or "(export command not recorded)"),
        "```",
        "",
        f"Training: {train['steps']} steps of batch {cfg['batch_size']} ({cfg['epochs']} epoch(s) at most), "
        f"AdamW lr {cfg['learning_rate']} (heads {cfg.get('head_learning_rate') or cfg['learning_rate']}), "
        f"warm-up {cfg['warmup_ratio']:.0%}, class weighting "
        f"{cfg['class_weighting']}, seed {cfg['seed']}, device {cfg['device']}; "
        f"final loss {_fmt(train['final_loss'], 4)}.",
        "",
        "## Export gates",
        "",
        f"- ONNX parity: max |logit difference| {par['max_abs_diff']:.2e} from PyTorch on "
        f"{par['reports']} held-out reports and on one report (tolerance {par['tolerance']:g})",
        f"- int8 agreement with fp32: {quant['agreement']:.2%} of {quant['cells']} held-out "
        f"(report, label) cells (required {quant['required']:.1%}); "
        f"presence agreement {quant['presence_agreement']:.2%}",
        "",
        "## Held-out metrics",
        "",
        str(m["metrics"]["split"]) + ".",
        "",
        "Against the training targets (silver, with gold where it exists):",
        "",
        *_metrics_table(m["metrics"]["targets"]),
        "",
    ]
    if m["metrics"].get("gold"):
        out += ["Against gold cells only:", "", *_metrics_table(m["metrics"]["gold"]), ""]
    out += ["## Cross-validation", ""]
    cv = m.get("cross_validation")
    if cv:
        out += [
            f"{cv['folds']}-fold cross-validation over reports ({cv['description']}); each held-out "
            f"fold scored in {cv['scorer']}.",
            "",
            "| fold | reports | rules macro-F1 | hybrid macro-F1 | model macro-F1 |",
            "| --- | ---: | ---: | ---: | ---: |",
        ]
        for f in cv["per_fold"]:
            out.append(
                f"| {f['fold']} | {f['reports']} | {_fmt(f['rules'])} | {_fmt(f['hybrid'])} | "
                f"{_fmt(f.get('model'))} |"
            )
        mean, pooled = cv.get("mean_over_folds"), cv.get("pooled")
        if mean:
            out.append(
                f"| mean | | {_fmt(mean['rules']['macro_f1'])} | {_fmt(mean['hybrid']['macro_f1'])} | "
                f"{_fmt(mean['model']['macro_f1'])} |"
            )
        if pooled:
            out.append(
                f"| pooled | {sum(f['reports'] for f in cv['per_fold'])} | "
                f"{_fmt(pooled['rules']['macro_f1'])} | "
                f"{_fmt(pooled['hybrid']['macro_f1'])} | {_fmt(pooled['model']['macro_f1'])} |"
            )
        out.append("")
        if cv.get("command"):
            out += ["Command:", "", "```sh", str(cv["command"]), "```", ""]
        v = cv.get("verdict")
        if v:
            worst = v.get("largest_loss")
            out += [
                f"Acceptance rule, on the pooled out-of-fold predictions: hybrid macro-F1 minus rules "
                f"{v['macro_gain']:+.3f} (required {v['required_gain']:+.3f}); largest per-label change "
                + (f"{worst['delta']:+.3f} ({worst['label']})" if worst else "-")
                + f" (allowed -{v['allowed_loss']:.3f}): **{'passed' if v['passed'] else 'not passed'}**.",
                "",
            ]
        per_label = cv.get("pooled_per_label")
        if per_label:
            out += [
                f"Pooled out-of-fold F1 per label (labels with at least {cv['min_positives']} positives "
                "enter the macro average):",
                "",
                "| label | positives | rules F1 | model F1 | hybrid F1 |",
                "| --- | ---: | ---: | ---: | ---: |",
            ]
            for label, row in per_label.items():
                if row["positives"] == 0:
                    continue
                out.append(
                    f"| {label} | {row['positives']} | {_fmt(row['rules'])} | {_fmt(row['model'])} | "
                    f"{_fmt(row['hybrid'])} |"
                )
            out.append("")
    else:
        out += [f"5-fold cross-validation over reports, per fold: {NOT_YET}", ""]
    cal = m["calibration"]
    out += [
        "## Calibration",
        "",
        f"Method: {cal['method']} per label, fitted on {cal['fitted_on']}. Probability that a "
        "finding is present (positive or uncertain), over every (report, label) cell: "
        f"ECE {cal['reliability_before']['ece']:.4f} "
        f"before, {cal['reliability_after']['ece']:.4f} after (10 equal-width bins; the after figure is "
        "in-sample).",
        "",
        reliability_table(cal["reliability_after"]),
        "",
        "## Hybrid thresholds",
        "",
        "Where the rules found no definite mention (-1 or blank), the model decides at these thresholds; "
        "`off`: the rules alone (see `reportlab_nlp/classifier/hybrid.py`).",
        "",
        "| label | threshold |",
        "| --- | ---: |",
    ]
    for label, t in m["thresholds"].items():
        out.append(f"| {label} | {'off' if t is None else f'{t:.2f}'} |")
    on = [label for label, t in m["thresholds"].items() if t is not None]
    out += [
        "",
        f"The model decides for {len(on)} of {len(m['thresholds'])} labels"
        + (
            ": on the held-out reports no label's threshold beat the rules by the margin the policy asks "
            "for, so the hybrid's values are the rules' values, and the model adds a calibrated "
            "probability per label and the review flags (the cells where the two disagree)."
            if not on
            else f" ({', '.join(on)})."
        ),
    ]
    out += [
        "",
        "## Limits",
        "",
        "- Trained on the reports named above only (for the shipped model: Open-i chest radiograph reports "
        "from one US hospital network, English); other sites, modalities and styles may fare worse.",
        "- Labels without gold are learnt from the rules' silver labels: there the model imitates the "
        "rules, errors included; the gold codes presence only, so negative vs blank and uncertain come "
        "from the rules.",
        f"- Reports longer than {m['max_length']} tokens are truncated: findings past that point are "
        "not seen.",
        "- The model gives no evidence span: a value it decided says `source: model` with no offsets.",
        "- Calibration and thresholds were fitted on the held-out reports above; probabilities on other data "
        "may be off. Not a medical device; not for clinical decisions.",
        "",
    ]
    return "\n".join(out)


__all__ = ["NOT_YET", "render_card"]
