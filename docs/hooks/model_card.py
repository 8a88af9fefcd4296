"""MkDocs hook: the model card page's table is rendered from the card JSON that ships beside the
bundled model (``sentilite/models/sentiment_mobilenetv2_int8.json``), at every build, so no figure
of the card is typed twice. The page holds ``<!-- model-card -->`` where the table goes."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

PLACEHOLDER = "<!-- model-card -->"
CARD = Path(__file__).resolve().parents[2] / "sentilite" / "models" / "sentiment_mobilenetv2_int8.json"


def _pct(x: float) -> str:
    return f"{100 * x:.1f} %"


def _scores(e: dict[str, Any]) -> str:
    bits = [
        f"3-class accuracy **{e['accuracy']:.3f}**",
        f"macro F1 **{e['macro_f1']:.3f}**",
        f"neutral recall {e['neutral_recall']:.3f}",
        f"2-class **{e['polar_accuracy']:.3f}**",
    ]
    if "ece" in e:
        bits.append(f"ECE {e['ece']:.3f}")
    if "top1_agreement_with_keras" in e:
        bits.append(
            f"top-1 agreement with Keras {_pct(e['top1_agreement_with_keras'])} (mean |Δp| {e['mean_abs_diff_p']:.4f})"
        )
    return ", ".join(bits) + f" ({e['images']} images)"


def _head(h: dict[str, Any]) -> str:
    """One extra head: what it outputs and its figures on the shipped file."""
    text = f"**{h['name']}**: {h['outputs']}"
    if h.get("labels"):
        text += f" ({', '.join(h['labels'])})"
    if h.get("scale"):
        text += f", scale {h['scale'][0]:g}-{h['scale'][1]:g}"
    bits = []
    for label, m in (h.get("emotion6_test_int8") or {}).items():
        keys = ("kl", "cosine", "top1") if "kl" in m else ("pearson_r", "ccc", "mae")
        bits.append(f"{label} " + ", ".join(f"{k} {m[k]:.3f}" for k in keys))
    if bits:
        text += "; Emotion6 test (int8): " + "; ".join(bits)
    zs = (h.get("oasis_zero_shot_int8") or {}).get("heldout")
    if zs:
        text += (
            f"; zero-shot on OASIS's {zs['n']} held-out photos among their 48 themes (int8): top-1 "
            f"{zs['top1']:.3f}, top-5 {zs['top5']:.3f}, top-10 {zs['top10']:.3f}"
        )
    return text + (f" (`{h['source']}`)" if h.get("source") else "")


def _recovered_rows(t: dict[str, Any]) -> list[tuple[str, str]]:
    """A recovered model's rows: where its sentiment weights came from, how its heads were trained."""
    rows = []
    if t.get("recovered_from"):
        r = t["recovered_from"]
        via = "".join(
            f", recovered in turn from `{e['file']}` (sha256 `{e['sha256'][:16]}…`)" for e in r.get("earlier", [])
        )
        rows.append(("sentiment weights", f"{r['note']} (sha256 `{r['sha256'][:16]}…`{via})"))
    if t.get("extra_heads"):
        h = t["extra_heads"]
        rows.append(
            (
                "extra heads' training",
                f"{h['mode']} with the `{h['preset']}` preset, {h['epochs_run']} epochs, "
                f"{h['wall_seconds'] / 60:.0f} min: {h['note']}",
            )
        )
    return rows


def render(card: dict[str, Any]) -> str:
    """The card as a Markdown table, every cell read from ``card``."""
    t, d, lat = card["training"], card["decision_rule"], card["latency"]
    data = "; ".join(f"{s['name']}: {s['images']:,} images, {s['labels']} ({s['teaches']})" for s in t["data"])
    f = d.get("facts") or {}
    rule = (
        f"temperature {d['temperature']:g}, class log-offsets {d['class_log_bias']}, fitted on `{f.get('fitted_on')}` "
        f"({f.get('images')} images): macro F1 {f['macro_f1'][0]:.3f} → {f['macro_f1'][1]:.3f}, "
        f"ECE {f['ece'][0]:.3f} → {f['ece'][1]:.3f}"
        if f
        else f"temperature {d['temperature']:g}"
    )
    rows = [
        ("file", f"`{card['file']}`, {card['size_bytes'] / 1e6:.2f} MB, sha256 `{card['sha256'][:16]}…`"),
        ("variant", card["variant"]),
        ("labels", ", ".join(card["labels"])),
        ("preprocessing", card["preprocessing"]),
        ("in apps", card["apps"]),
        ("architecture", card["architecture"]),
        *[("extra head", _head(h)) for h in card.get("heads") or []],
        (
            "training",
            f"{t['mode']} with the `{t['preset']}` preset, augmentation {', '.join(t['augment'])}, "
            f"{t['epochs_run']} epochs, {t['wall_seconds'] / 60:.0f} min",
        ),
        ("training data", data),
        *_recovered_rows(t),
        ("decision rule", rule),
        *[(name.replace("_", " "), _scores(e)) for name, e in card["evaluation"].items() if isinstance(e, dict)],
        (
            "latency",
            f"int8 {lat['int8_median_ms']:.2f} ms, float32 {lat['float32_median_ms']:.2f} ms median per image, "
            f"{lat['runtime']}, on {lat['host']} (compare ratios, not milliseconds across machines)",
        ),
    ]
    note = card["evaluation"].get("note")
    bar = "\\|"  # a literal | inside a table cell
    out = ["| | |", "|---|---|", *[f"| {k} | {str(v).replace('|', bar)} |" for k, v in rows], ""]
    if note:
        out += [f"*{note}*", ""]
    out += ["**Known limits**", "", *[f"- {limit}" for limit in card["known_limits"]], ""]
    return "\n".join(out)


def on_page_markdown(markdown: str, page: Any, config: Any, files: Any) -> str:
    if PLACEHOLDER not in markdown:
        return markdown
    return markdown.replace(PLACEHOLDER, render(json.loads(CARD.read_text())))
