import ctypes.util
import sys

import pytest
import torch

from mcnbench.utils.malloc import keep_freed_memory


@pytest.mark.skipif(not sys.platform.startswith("linux") or ctypes.util.find_library("c") is None,
                    reason="mallopt is glibc's")
def test_keep_freed_memory_applies_once_and_allocation_still_works():
    assert keep_freed_memory() is True
    assert keep_freed_memory() is True  # idempotent (cached)
    big = torch.ones(64 << 18)  # 64 MB: above glibc's largest mmap threshold
    assert big.sum().item() == 64 << 18
    del big
    assert torch.zeros(64 << 18).abs().sum().item() == 0  # reused memory is still zeroed by torch


def test_system_allocator_on_request(monkeypatch):
    monkeypatch.setenv("MCNBENCH_MALLOC", "system")
    assert keep_freed_memory() is False
