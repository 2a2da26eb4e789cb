"""The fooling benchmark runs end to end at smoke size and writes its JSON."""

import math

import pytest
from benchmark_scripts import needs_mnist_and_instruments, run_smoke


@pytest.mark.slow
@pytest.mark.data
@needs_mnist_and_instruments
def test_benchmark_runs_at_smoke_size(tmp_path):
    saved = run_smoke("fooling", tmp_path)
    for part, n_runs in (("audio", 2), ("mnist", 3)):
        s = saved[part]
        gen = {row["judge"]: row for row in s["generated_class"]["table"]}
        assert set(gen) == {"before", "after"} and 0 <= gen["after"]["accuracy_real"] <= 1
        rows = {row["run"]: row for row in s["sweep"]["table"]}
        assert "original" in rows and len(rows) == 1 + n_runs
        assert all(0 <= r["entropy_ratio"] <= 1 + 1e-6 and math.isclose(r["log_k"], rows["original"]["log_k"])
                   for r in rows.values())
        assert set(s["sweep"]["curves"]) == set(rows) - {"original"}
        assert all(v > 0 for v in s["sweep"]["seconds_per_step"].values())
        adv = s["adversarial"]["table"]
        assert len(adv) == 2 and all(r["regime"] in ("collapse", "oscillation", "drift", "stable ambiguous",
                                                     "stable, not ambiguous") for r in adv)
        assert all(v > 0 for v in s["adversarial"]["seconds_per_update"].values())
    assert rows["original"]["log_k"] == pytest.approx(math.log(10), rel=1e-3)
