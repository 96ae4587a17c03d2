"""Confidence calibration: a monotone map from the model's answer probability to the observed
accuracy, fitted on the validation split (isotonic regression) and shipped in the manifest."""

from __future__ import annotations

import bisect
from collections.abc import Sequence


class Calibrator:
    def __init__(self, xs: Sequence[float], ys: Sequence[float]) -> None:
        if len(xs) != len(ys) or not xs:
            raise ValueError("calibration needs matching, non-empty breakpoints")
        self.xs, self.ys = list(xs), list(ys)

    def __call__(self, p: float) -> float:
        xs, ys = self.xs, self.ys
        if p <= xs[0]:
            return ys[0]
        if p >= xs[-1]:
            return ys[-1]
        i = bisect.bisect_right(xs, p)
        x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
        return y0 if x1 == x0 else y0 + (y1 - y0) * (p - x0) / (x1 - x0)

    def to_dict(self) -> dict[str, list[float]]:
        return {"x": [round(x, 6) for x in self.xs], "y": [round(y, 6) for y in self.ys]}


def fit_isotonic(confidences: Sequence[float], correct: Sequence[bool]) -> Calibrator:
    """Pool-adjacent-violators on points sorted by confidence; breakpoints at block means."""
    points = sorted(zip(confidences, correct, strict=True))
    blocks: list[list[float]] = []  # [sum_x, sum_y, count]
    for x, y in points:
        blocks.append([x, float(y), 1.0])
        while len(blocks) > 1 and blocks[-2][1] / blocks[-2][2] >= blocks[-1][1] / blocks[-1][2]:
            x2, y2, n2 = blocks.pop()
            blocks[-1][0] += x2
            blocks[-1][1] += y2
            blocks[-1][2] += n2
    xs = [b[0] / b[2] for b in blocks]
    ys = [b[1] / b[2] for b in blocks]
    return Calibrator(xs, ys)
