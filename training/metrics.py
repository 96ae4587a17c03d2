"""Evaluation metrics over gold rows and predictions (plain dicts, no model needed)."""

from __future__ import annotations

import sys
from collections import Counter, defaultdict
from collections.abc import Sequence
from typing import Any

from app.backends.base import Result, check_result
from app.domain import OTHER


def is_valid(pred: dict[str, Any], catalog: Sequence[str]) -> bool:
    """The service's own contract check (no upper bound on the quantity here)."""
    result = Result(pred.get("intent", ""), pred.get("product"), pred.get("quantity"), 0.0)
    return check_result(result, tuple(catalog), sys.maxsize)


def exact(gold: dict[str, Any], pred: dict[str, Any]) -> bool:
    return all(gold[k] == pred.get(k) for k in ("intent", "product", "quantity"))


def expected_calibration_error(confidences: Sequence[float], correct: Sequence[bool], bins: int = 10) -> float:
    """Weighted mean |accuracy - confidence| over equal-width confidence bins."""
    if not confidences:
        return 0.0
    totals: dict[int, list[float]] = defaultdict(lambda: [0.0, 0.0, 0.0])
    for conf, ok in zip(confidences, correct, strict=True):
        b = min(bins - 1, int(conf * bins))
        totals[b][0] += 1
        totals[b][1] += conf
        totals[b][2] += float(ok)
    n = len(confidences)
    return sum(abs(acc - conf) for count, conf, acc in totals.values()) / n if n else 0.0


def _rate(hits: int, total: int) -> float:
    return round(hits / total, 4) if total else 0.0


def compute(rows: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]]) -> dict[str, Any]:
    if len(rows) != len(preds):
        raise ValueError(f"{len(rows)} rows but {len(preds)} predictions")
    n = len(rows)
    ok = [exact(g, p) for g, p in zip(rows, preds, strict=True)]
    valid = [is_valid(p, g["catalog"]) for g, p in zip(rows, preds, strict=True)]
    by_language: dict[str, list[bool]] = defaultdict(list)
    by_intent: dict[str, list[bool]] = defaultdict(list)
    by_tag: dict[str, list[bool]] = defaultdict(list)
    for g, hit in zip(rows, ok, strict=True):
        by_language[g["language"]].append(hit)
        by_intent[g["intent"]].append(hit)
        for tag in g.get("tags", g.get("kinds", ())):  # the natural set calls them kinds
            by_tag[tag].append(hit)
        if "unseen_form" not in g.get("tags", ()) and g["intent"] != OTHER and g.get("tags"):
            by_tag["seen_form"].append(hit)
    other = [(g, p) for g, p in zip(rows, preds, strict=True) if g["intent"] == OTHER]
    actions = [(g, p, hit) for g, p, hit in zip(rows, preds, ok, strict=True) if g["intent"] != OTHER]
    confusion = Counter((g["intent"], p.get("intent")) for g, p in zip(rows, preds, strict=True))
    confidences = [float(p.get("confidence", 0.0)) for p in preds]
    return {
        "n": n,
        "exact_match": _rate(sum(ok), n),
        "exact_match_by_language": {k: _rate(sum(v), len(v)) for k, v in sorted(by_language.items())},
        "exact_match_by_intent": {k: _rate(sum(v), len(v)) for k, v in sorted(by_intent.items())},
        "exact_match_by_tag": {k: {"n": len(v), "exact_match": _rate(sum(v), len(v))} for k, v in sorted(by_tag.items())},
        "field_accuracy": {
            field: _rate(sum(g[field] == p.get(field) for g, p in zip(rows, preds, strict=True)), n)
            for field in ("intent", "product", "quantity")
        },
        # The study's task has no rejection class: its exact match is over add/remove requests.
        "paper_exact_match_add_remove": _rate(sum(hit for *_, hit in actions), len(actions)),
        "invalid_output_rate": _rate(n - sum(valid), n),
        "false_action_rate_on_other": _rate(sum(p.get("intent") != OTHER for _, p in other), len(other)),
        "confusion": {f"{g}->{p}": c for (g, p), c in sorted(confusion.items(), key=lambda kv: str(kv[0]))},
        "ece": round(expected_calibration_error(confidences, ok), 4),
        "mean_confidence": round(sum(confidences) / n, 4) if n else 0.0,
    }


def selective(rows: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """What acting without asking means at a confidence threshold: the share of messages answered
    directly, their exact match, and the cart actions taken on 'other' messages without asking."""
    answered = [(g, p) for g, p in zip(rows, preds, strict=True) if float(p.get("confidence", 0.0)) >= threshold]
    other = sum(g["intent"] == OTHER for g in rows)
    return {
        "threshold": round(threshold, 4),
        "coverage": _rate(len(answered), len(rows)),
        "exact_match": _rate(sum(exact(g, p) for g, p in answered), len(answered)),
        "false_action_rate_on_other": _rate(
            sum(g["intent"] == OTHER and p.get("intent") != OTHER for g, p in answered), other),
    }


def coverage_curve(rows: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]],
                   shares: Sequence[float] = (1.0, 0.9, 0.8, 0.7, 0.6, 0.5)) -> list[dict[str, float]]:
    """Exact match among the most confident ``share`` of the answers (the risk-coverage curve)."""
    ranked = sorted(zip(rows, preds, strict=True), key=lambda gp: -float(gp[1].get("confidence", 0.0)))
    points = []
    for share in shares:
        top = ranked[: max(1, round(share * len(ranked)))]
        points.append({"coverage": share, "exact_match": _rate(sum(exact(g, p) for g, p in top), len(top))})
    return points


def pick_confirm_below(confidences: Sequence[float], correct: Sequence[bool], precision: float) -> float:
    """The lowest confidence threshold whose answers at or above it reach ``precision`` exact match
    (the most answers kept without asking); 1.0 when no threshold does."""
    points = sorted(zip(confidences, correct, strict=True), key=lambda cp: -cp[0])
    best, hits = 1.0, 0
    for i, (conf, ok) in enumerate(points):
        hits += ok
        next_conf = points[i + 1][0] if i + 1 < len(points) else -1.0
        if next_conf < conf and hits / (i + 1) >= precision:  # only cut between distinct values
            best = conf
    return best


CATALOG_KINDS = ("english_catalog", "shop_language_catalog", "mixed_catalog")


def _error_kind(gold: dict[str, Any], pred: dict[str, Any]) -> str:
    """What went wrong in a miss, in the terms of the natural set's report."""
    if gold["intent"] == OTHER:
        return "cart action on a non-cart message"
    if pred.get("intent") == OTHER:
        return "cart command read as other"
    if pred.get("intent") != gold["intent"]:
        return "add and remove swapped"
    if gold["product"] is not None and pred.get("product") is None:
        return "listed product answered 'not in catalog'"
    if gold["product"] != pred.get("product"):
        return "wrong catalog entry" if gold["product"] is not None else "unlisted product matched to an entry"
    return "wrong quantity"


def natural(rows: Sequence[dict[str, Any]], preds: Sequence[dict[str, Any]], threshold: float) -> dict[str, Any]:
    """The natural set's figures: cart commands and out-of-scope messages apart, by language, by
    catalog language and by kind; what is acted on without asking; the misses by kind of error.
    ``preds`` carry the served (calibrated) confidence; ``threshold`` is the confirmation threshold."""
    pairs = list(zip(rows, preds, strict=True))
    cart = [(g, p) for g, p in pairs if g["intent"] != OTHER]
    oos = [(g, p) for g, p in pairs if g["intent"] == OTHER]

    def flagged(p: dict[str, Any]) -> bool:
        return float(p.get("confidence", 0.0)) < threshold

    def group(items: list[tuple[dict[str, Any], dict[str, Any]]], key: str) -> dict[str, dict[str, float]]:
        out: dict[str, list[bool]] = defaultdict(list)
        for g, p in items:
            values = g.get(key) or ()
            for value in [values] if isinstance(values, str) else values:
                out[value].append(exact(g, p))
        return {k: {"n": len(v), "exact_match": _rate(sum(v), len(v))} for k, v in sorted(out.items())}

    def actions(items: list[tuple[dict[str, Any], dict[str, Any]]]) -> dict[str, float]:
        acted = [p for _, p in items if p.get("intent") != OTHER]
        return {"n": len(items), "cart_action_rate": _rate(len(acted), len(items)),
                "unflagged_cart_action_rate": _rate(sum(not flagged(p) for p in acted), len(items))}

    direct = [(g, p) for g, p in cart if not flagged(p)]
    oos_by_language: dict[str, list[tuple[dict[str, Any], dict[str, Any]]]] = defaultdict(list)
    for g, p in oos:
        oos_by_language[g["language"]].append((g, p))
    return {
        "cart": {"n": len(cart), "exact_match": _rate(sum(exact(g, p) for g, p in cart), len(cart)),
                 "by_language": group(cart, "language"),
                 "by_catalog": group([({**g, "catalog_kind": next((k for k in g.get("kinds", ()) if k in CATALOG_KINDS),
                                                                  "unknown")}, p) for g, p in cart], "catalog_kind"),
                 "by_kind": group(cart, "kinds"),
                 "answered_directly": _rate(len(direct), len(cart)),
                 "exact_match_answered_directly": _rate(sum(exact(g, p) for g, p in direct), len(direct))},
        "out_of_scope": {**actions(oos), "by_language": {k: actions(v) for k, v in sorted(oos_by_language.items())},
                         "by_kind": {k: actions([(g, p) for g, p in oos if k in g.get("kinds", ())])
                                     for k in sorted({k for g, _ in oos for k in g.get("kinds", ())})}},
        "misses": dict(Counter(_error_kind(g, p) for g, p in pairs if not exact(g, p)).most_common()),
        "threshold": round(threshold, 4),
    }
