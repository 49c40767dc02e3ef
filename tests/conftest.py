"""Tests marked ``gpu`` need CUDA: ``pytest -m gpu`` selects them, and on a machine without CUDA they skip with the
reason, rather than fail."""
import pytest
import torch


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (pytest -m gpu on a GPU machine, or make gpu-smoke)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
