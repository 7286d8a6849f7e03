"""nogilbench.report.racing: the race demo's frame, sentences and figure."""

from __future__ import annotations

import matplotlib

from nogilbench.report import racing

matplotlib.use("Agg")


def test_race_frame_sentences() -> None:
    rows = []
    for gil, lost in ((False, 51_234), (True, 0)):
        for variant in ("unsafe", "locked", "per-thread"):
            rows.append({
                "variant": variant, "trial": 0, "threads": 4, "increments": 1000,
                "expected": 400_000, "observed": 400_000 - (lost if variant == "unsafe" else 0),
                "lost": lost if variant == "unsafe" else 0, "seconds": 0.1,
                "gil_enabled": gil, "gil_requested": gil,
            })  # fmt: skip
    frame = racing.race_frame(rows)
    assert racing.safe_variant_lines(frame) == [
        "GIL off, with lock: 0 lost", "GIL off, per-thread counters merged: 0 lost",
        "GIL on, with lock: 0 lost", "GIL on, per-thread counters merged: 0 lost",
    ]  # fmt: skip
    text = "\n".join(racing.race_conclusions(frame))
    assert "GIL off: the unlocked shared counter lost updates in 1 of 1 trials" in text
    assert "the GIL hid the race" in text
    assert racing.race_figure(frame) is not None
