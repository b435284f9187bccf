"""Which GPU each --jobs worker gets, told by its environment (this machine has none)."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

from sweeps.runner import workers
from sweeps.training.devices import device_name, visible_gpus, worker_environments


def fake_nvidia_smi(directory: Path, gpus: int) -> Path:
    """An ``nvidia-smi`` that lists ``gpus`` GPUs, as the driver's does."""
    tool = directory / "nvidia-smi"
    lines = " ".join(f"'GPU {i}: NVIDIA H200 (UUID: GPU-{i:08d})'" for i in range(gpus))
    tool.write_text(f"#!/bin/sh\nprintf '%s\\n' {lines}\n")  # printf: a builtin, whatever PATH says
    tool.chmod(tool.stat().st_mode | stat.S_IEXEC)
    return directory


def test_the_gpus_are_those_cuda_visible_devices_names(monkeypatch) -> None:
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,3")
    assert visible_gpus() == ["2", "3"]
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "-1")
    assert visible_gpus() == []


def test_without_cuda_visible_devices_the_driver_lists_them(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", str(fake_nvidia_smi(tmp_path, 2)))
    assert visible_gpus() == ["0", "1"]
    monkeypatch.setenv("PATH", str(tmp_path / "nothing"))
    assert visible_gpus() == []  # no driver: no GPU


def test_each_worker_gets_a_gpu_of_its_own_and_shares_memory_only_when_it_must() -> None:
    assert worker_environments(2, []) == [{}, {}]
    assert worker_environments(2, ["0", "1"]) == [{"CUDA_VISIBLE_DEVICES": "0"}, {"CUDA_VISIBLE_DEVICES": "1"}]
    shared = worker_environments(3, ["0", "1"])
    assert [env["CUDA_VISIBLE_DEVICES"] for env in shared] == ["0", "1", "0"]
    assert {env["XLA_PYTHON_CLIENT_MEM_FRACTION"] for env in shared} == {"0.45"}  # two on GPU 0: 90% between them
    assert {env["TF_FORCE_GPU_ALLOW_GROWTH"] for env in shared} == {"true"}


def test_jobs_start_each_worker_with_its_gpu(monkeypatch, tmp_path: Path) -> None:
    """``--jobs 2`` on a machine whose driver lists two GPUs: the workers' own environments."""
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    monkeypatch.setenv("PATH", f"{fake_nvidia_smi(tmp_path, 2)}{os.pathsep}{os.environ['PATH']}")
    started: list[dict[str, str]] = []
    real = subprocess.Popen

    class Finished:
        """A worker that ends at once, having shown its environment (nvidia-smi itself runs)."""

        returncode = 0

        def __new__(cls, command, **kwargs):
            if command[0] == "nvidia-smi":
                return real(command, **kwargs)
            started.append(kwargs["env"])
            return super().__new__(cls)

        def __init__(self, command, **kwargs) -> None:
            pass

        def poll(self) -> int:
            return 0

    monkeypatch.setattr(subprocess, "Popen", Finished)
    workers.launch(["s"], 2, tmp_path / "logs", poll=lambda: None, every=0)
    assert [env["CUDA_VISIBLE_DEVICES"] for env in started] == ["0", "1"]


def test_the_header_names_the_cpu_where_there_is_no_gpu() -> None:
    import keras

    assert device_name(keras.backend.backend()) == "cpu"
