"""The machine description stored with every benchmark result."""

import json
import platform

import pytest
import torch

from helpers.benchmarking import cpu_model, machine_description


def test_cpu_model_reads_the_model_name_line(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Example CPU @ 2.00GHz\n"
                    "flags\t\t: fpu sse2\n\nprocessor\t: 1\nmodel name\t: Example CPU @ 2.00GHz\n")
    assert cpu_model(info) == "Example CPU @ 2.00GHz"
    info.write_text("processor\t: 0\nflags\t\t: fpu\n")  # no model name (e.g. some ARM kernels)
    assert cpu_model(info) == (platform.processor() or platform.machine())
    assert cpu_model(tmp_path / "missing") == (platform.processor() or platform.machine())


def test_machine_description_records_the_state_at_the_time_of_the_call(monkeypatch):
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(3)
        assert machine_description()["torch_threads"] == 3
    finally:
        torch.set_num_threads(threads)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda i=0: "Example GPU")
    assert machine_description()["cuda"] == "Example GPU"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    info = machine_description()
    assert info["cuda"] is None
    assert info["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert set(info) >= {"cpu", "cores", "python", "platform", "torchaudio", "numpy", "nsgt"}
    assert isinstance(info["cores"], int) and info["cores"] >= 1
    load = info.get("load_average_at_start")
    if load is not None:
        assert len(load) == 3 and all(v >= 0 for v in load)
    assert json.loads(json.dumps(info)) == info


def test_an_uninstalled_library_is_recorded_as_none(monkeypatch):
    import helpers.benchmarking as bm

    monkeypatch.setattr(bm, "LIBRARIES", ("torch", "no-such-library-installed"))
    info = machine_description()
    assert info["no-such-library-installed"] is None and info["torch"]
    with pytest.raises(KeyError):
        info["nsgt"]


def test_round_floats_rounds_nested_values_and_nulls_what_json_cannot_hold():
    import json
    import math

    from helpers.benchmarking import round_floats

    out = round_floats({"a": 1.234567, "b": [math.nan, 2.0, {"c": math.inf}], "d": "x", "e": 3})
    assert out == {"a": 1.2346, "b": [None, 2.0, {"c": None}], "d": "x", "e": 3}
    assert json.loads(json.dumps(out, allow_nan=False)) == out


def test_finish_adds_times_rounds_merges_and_writes_atomically(tmp_path, capsys):
    import json
    import math
    import time

    from helpers.benchmarking import finish

    path = tmp_path / "r.json"
    out = finish({"x": 1.234567, "bad": math.nan}, path, time.perf_counter() - 2.0)
    assert json.loads(path.read_text()) == out and json.loads(capsys.readouterr().out) == out
    assert out["x"] == 1.2346 and out["bad"] is None and out["total_seconds"] >= 2.0
    merged = finish({"y": 2.0}, path, time.perf_counter(), merge=lambda new: {**json.loads(path.read_text()), **new})
    assert merged["x"] == 1.2346 and merged["y"] == 2.0 and json.loads(path.read_text()) == merged


def test_merge_into_keeps_the_parts_a_run_did_not_redo(tmp_path, capsys):
    import json
    import time

    from helpers.benchmarking import finish, merge_into, parser

    path = tmp_path / "r.json"
    assert merge_into(path) is None  # nothing to merge with yet
    finish({"a": 1, "b": {"x": 1}}, path, time.perf_counter())
    finish({"b": {"y": 2}}, path, time.perf_counter(), merge=merge_into(path))
    saved = json.loads(path.read_text())
    assert saved["a"] == 1 and saved["b"] == {"y": 2}  # a kept, b replaced whole
    args = parser("doc", path).parse_args(["--smoke", "--run-root", "runs"])
    assert args.smoke and args.out == path and args.run_root == "runs"
