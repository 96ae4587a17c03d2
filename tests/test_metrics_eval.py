"""Evaluation metrics on hand-made predictions."""

from __future__ import annotations

import pytest

from training.metrics import compute, expected_calibration_error

CAT = ["Milk", "Bread"]


def row(lang: str, intent: str, product: str | None, qty: int | None) -> dict:  # type: ignore[type-arg]
    return {"language": lang, "catalog": CAT, "intent": intent, "product": product, "quantity": qty}


def pred(intent: str, product: str | None, qty: int | None, conf: float = 0.9) -> dict:  # type: ignore[type-arg]
    return {"intent": intent, "product": product, "quantity": qty, "confidence": conf}


def test_compute_on_hand_made_predictions() -> None:
    rows = [
        row("en", "add_to_cart", "Milk", 2),
        row("en", "remove_from_cart", "Bread", 1),
        row("hr", "other", None, None),
        row("hr", "other", None, None),
    ]
    preds = [
        pred("add_to_cart", "Milk", 2),  # right
        pred("remove_from_cart", "Bread", 3),  # wrong quantity
        pred("add_to_cart", "Milk", 1),  # false action
        pred("other", None, None),  # right
    ]
    m = compute(rows, preds)
    assert m["exact_match"] == 0.5
    assert m["exact_match_by_language"] == {"en": 0.5, "hr": 0.5}
    assert m["exact_match_by_intent"] == {"add_to_cart": 1.0, "other": 0.5, "remove_from_cart": 0.0}
    assert m["field_accuracy"] == {"intent": 0.75, "product": 0.75, "quantity": 0.5}
    assert m["false_action_rate_on_other"] == 0.5
    assert m["paper_exact_match_add_remove"] == 0.5
    assert m["invalid_output_rate"] == 0.0
    assert m["confusion"]["other->add_to_cart"] == 1


def test_invalid_outputs_are_counted() -> None:
    rows = [row("en", "add_to_cart", "Milk", 1)] * 3
    preds = [pred("add_to_cart", "Cheese", 1), pred("other", "Milk", None), pred("add_to_cart", "Milk", 0)]
    assert compute(rows, preds)["invalid_output_rate"] == 1.0


def test_expected_calibration_error() -> None:
    assert expected_calibration_error([0.95] * 10, [True] * 10) == pytest.approx(0.05)
    assert expected_calibration_error([0.95] * 10, [False] * 10) == pytest.approx(0.95)
    half = expected_calibration_error([0.55] * 10, [True] * 5 + [False] * 5)
    assert half == pytest.approx(0.05)
    with pytest.raises(ValueError):
        compute([row("en", "other", None, None)], [])


def test_isotonic_calibration_is_monotone_and_reduces_ece() -> None:
    import random

    from app.calibration import Calibrator, fit_isotonic

    rng = random.Random(0)
    confs = [rng.random() for _ in range(2000)]
    correct = [rng.random() < c**2 for c in confs]  # overconfident model: accuracy = conf^2
    calibrator = fit_isotonic(confs, correct)
    mapped = [calibrator(c) for c in confs]
    assert all(a <= b for a, b in zip(calibrator.ys, calibrator.ys[1:], strict=False))
    assert expected_calibration_error(mapped, correct) < expected_calibration_error(confs, correct) / 3
    again = Calibrator(**{"xs": calibrator.to_dict()["x"], "ys": calibrator.to_dict()["y"]})
    assert abs(again(0.5) - calibrator(0.5)) < 1e-4


def test_bias_choice_prefers_nearest_zero_within_tolerance() -> None:
    from training.calibrate import pick_bias

    grid = {0.0: 0.8044, -1.0: 0.8144, -2.0: 0.8144, -3.0: 0.8156, -4.0: 0.8133}  # dev, 2,400-step adapter
    assert pick_bias(grid, tolerance=0.003) == -1.0  # -3 wins by one row of 900: not worth more wrong actions
    assert pick_bias(grid, tolerance=0.0) == -3.0
    assert pick_bias({0.0: 0.90, -1.0: 0.95}, tolerance=0.003) == -1.0
    assert pick_bias({0.5: 0.9, -0.5: 0.9}, tolerance=0.0) == 0.5


def test_other_bias_choice_prefers_fewer_false_actions_within_tolerance() -> None:
    from training.calibrate import false_action_rate, pick_other_bias

    runs = {0.0: (0.8144, 0.060), 2.0: (0.8178, 0.034), 4.0: (0.8200, 0.007), 6.0: (0.8190, 0.000)}
    assert pick_other_bias(runs, tolerance=0.003) == 6.0  # as exact as 4 within a row, and no false actions
    assert pick_other_bias(runs, tolerance=0.0) == 4.0
    assert pick_other_bias({0.0: (0.9, 0.01), 3.0: (0.8, 0.0)}, tolerance=0.003) == 0.0  # accuracy first
    rows = [{"intent": "other"}, {"intent": "other"}, {"intent": "add_to_cart"}]
    preds = [{"intent": "other"}, {"intent": "remove_from_cart"}, {"intent": "add_to_cart"}]
    assert false_action_rate(rows, preds) == 0.5


def test_selective_answering_and_the_confirmation_threshold() -> None:
    from training.metrics import coverage_curve, pick_confirm_below, selective

    rows = [row("en", "add_to_cart", "Milk", 1)] * 4 + [row("en", "other", None, None)] * 2
    preds = [
        pred("add_to_cart", "Milk", 1, 0.99),
        pred("add_to_cart", "Milk", 1, 0.95),
        pred("add_to_cart", "Bread", 1, 0.90),  # wrong, fairly confident
        pred("add_to_cart", "Milk", 1, 0.60),
        pred("other", None, None, 0.97),
        pred("add_to_cart", "Milk", 1, 0.50),  # false action, unsure
    ]
    correct = [True, True, False, True, True, False]
    # Above 0.95 every answer is right; going lower lets the 0.90 mistake in.
    assert pick_confirm_below([p["confidence"] for p in preds], correct, 0.99) == 0.95
    assert pick_confirm_below([p["confidence"] for p in preds], correct, 0.75) == 0.60  # 3 of 4 ... 4 of 5
    assert pick_confirm_below([0.9, 0.9], [True, False], 0.99) == 1.0  # unreachable: confirm everything
    direct = selective(rows, preds, 0.95)
    assert direct == {"threshold": 0.95, "coverage": 0.5, "exact_match": 1.0, "false_action_rate_on_other": 0.0}
    everything = selective(rows, preds, 0.0)
    assert everything["coverage"] == 1.0 and everything["false_action_rate_on_other"] == 0.5
    curve = coverage_curve(rows, preds, shares=(1.0, 0.5))
    assert curve == [{"coverage": 1.0, "exact_match": 0.6667}, {"coverage": 0.5, "exact_match": 1.0}]
