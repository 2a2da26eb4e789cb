"""The GPU benchmark: the NSGT part says when there is no CUDA, a JUnit report is summarised with its
failures and skips, and ``merge`` writes one JSON marked with the machines' descriptions."""

import json

import pytest
import torch
from benchmark_scripts import load_script

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest" errors="1" failures="1"
skipped="1" tests="5" time="12.5"><testcase classname="tests.test_a" name="test_ok" time="1"/>
<testcase classname="tests.test_a" name="test_ok2" time="1"/>
<testcase classname="tests.test_b" name="test_bad" time="1"><failure message="AssertionError: 1 != 2&#10;more">x</failure></testcase>
<testcase classname="tests.test_b" name="test_err" time="1"><error message="RuntimeError: boom">x</error></testcase>
<testcase classname="tests.test_c" name="test_skip" time="0"><skipped message="needs CUDA">x</skipped></testcase>
</testsuite></testsuites>"""


def test_junit_summary_counts_and_names_failures(tmp_path):
    gpu = load_script("gpu")
    (tmp_path / "j.xml").write_text(JUNIT)
    s = gpu.junit_summary(tmp_path / "j.xml")
    assert (s["tests"], s["passed"], s["failures"], s["errors"], s["skipped"], s["time_s"]) == (5, 2, 1, 1, 1, 12.5)
    assert s["failing"] == [{"test": "tests.test_b::test_bad", "kind": "failure", "message": "AssertionError: 1 != 2"},
                            {"test": "tests.test_b::test_err", "kind": "error", "message": "RuntimeError: boom"}]
    assert s["skipped_tests"] == [{"test": "tests.test_c::test_skip", "reason": "needs CUDA"}]


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the machine without CUDA")
def test_nsgt_part_says_when_there_is_no_cuda(tmp_path):
    result = load_script("gpu").main(["nsgt", "--out", str(tmp_path / "n.json"), "--repeats", "1"])
    assert result["skipped"] == "CUDA is not available on this machine" and result["configs"] == []
    assert json.loads((tmp_path / "n.json").read_text())["skipped"] == result["skipped"]


def test_merge_writes_the_parts_with_notes_and_the_cpu_reference(tmp_path):
    gpu = load_script("gpu")
    (tmp_path / "j.xml").write_text(JUNIT)
    (tmp_path / "cmd.txt").write_text("pytest -n 2 tests\n")
    (tmp_path / "n.json").write_text(json.dumps({"machine": {"cuda": "Example GPU"}, "configs": []}))
    out = tmp_path / "gpu.json"
    gpu.main(["merge", "--nsgt", str(tmp_path / "n.json"), "--junit", str(tmp_path / "j.xml"),
              "--command", str(tmp_path / "cmd.txt"), "--note", "ran alone", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert saved["notes"] == ["ran alone"] and saved["nsgt_batch"]["machine"]["cuda"] == "Example GPU"
    assert saved["test_suite"]["command"] == "pytest -n 2 tests" and saved["test_suite"]["passed"] == 2
    assert "error" not in saved["cpu_reference"]  # the committed CPU figures were found
    assert not list(tmp_path.glob("*.tmp"))
