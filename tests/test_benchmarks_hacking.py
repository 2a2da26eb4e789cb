"""The hacking benchmark runs end to end at smoke size and writes its JSON."""


import pytest
from benchmark_scripts import needs_mnist_and_instruments, run_smoke


@pytest.mark.slow
@pytest.mark.data
@needs_mnist_and_instruments
def test_benchmark_runs_at_smoke_size(tmp_path):
    saved = run_smoke("hacking", tmp_path)
    for part in ("mnist", "audio"):
        p = saved[part]
        regions = {row["label"] for row in p["regions"]["table"]}
        assert {"prior", "data"} <= regions and any(r.startswith("shell") for r in regions)
        kinds = {row["kind"] for row in p["corruption"]["table"]}
        assert "none" in kinds and len(kinds) >= 2
        assert {row["objective"] for row in p["search"]["table"]} == {"start", "unlikelihood", "noise", "out"}
        assert [row["weight"] for row in p["uncanny"]["table"]] == ["original", "1"]
        assert p["times"]["sweep_point"]["seconds"] > 0 and p["times"]["search_step_256_codes"] > 0
        assert all("noise@0.9" in row for row in p["corruption"]["table"])
    assert {row["bend"] for row in saved["mnist_conv_bending"]["table"]} >= {"none", "rotate 90", "dilate"}
    assert saved["audio"]["times"]["hack_panel_update"]["worst_median_ms"] > 0
