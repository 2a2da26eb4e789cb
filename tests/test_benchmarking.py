"""The machine description stored with every benchmark result."""

import json
import os

import torch

from helpers.benchmarking import cpu_model, machine_description


def test_machine_description_is_complete_and_json():
    info = machine_description()
    assert info["cores"] == os.cpu_count()
    assert info["torch_threads"] == torch.get_num_threads()
    assert info["torch"] and info["torch"].split("+")[0] == torch.__version__.split("+")[0]
    assert isinstance(cpu_model(), str) and cpu_model()
    assert json.loads(json.dumps(info)) == info
