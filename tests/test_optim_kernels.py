"""make test reruns the optimizer and population tests with ATEN_CPU_CAPABILITY set (Makefile): the
kernel asked for is the one torch runs, so the rerun exercises it rather than the native one again."""

import os
import platform

import pytest
import torch


def test_the_requested_cpu_kernel_is_the_one_torch_runs():
    want = os.environ.get("ATEN_CPU_CAPABILITY")
    if want is None:
        pytest.skip("native kernels: ATEN_CPU_CAPABILITY is set by make test's reruns")
    if platform.machine().lower() not in ("x86_64", "amd64"):
        pytest.skip(f"{want} names an x86 kernel; this is {platform.machine()}")
    assert torch.backends.cpu.get_cpu_capability().lower() == want.lower()
