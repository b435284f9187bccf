"""Which device trains: the one a backend found, and the GPUs ``--jobs`` workers divide.

A worker sees the GPUs its environment gives it (``CUDA_VISIBLE_DEVICES``), so ``--jobs N`` on
a machine with G GPUs gives worker ``i`` GPU ``i mod G``. Where several workers share one GPU,
each may take only its share of the GPU's memory (JAX takes 75% of it at start unless told,
TensorFlow all of it unless told to grow).
"""

from __future__ import annotations

import os
import shutil
import subprocess

_MEMORY_KEPT_FREE = 0.1  # of a shared GPU's memory, for the CUDA context of every worker


def visible_gpus() -> list[str]:
    """The GPUs this process may use, by the ids ``CUDA_VISIBLE_DEVICES`` takes: that variable's
    list where it is set, else every GPU ``nvidia-smi`` lists (none without the driver)."""
    listed = os.environ.get("CUDA_VISIBLE_DEVICES")
    if listed is not None:
        return [gpu.strip() for gpu in listed.split(",") if gpu.strip() and gpu.strip() != "-1"]
    if shutil.which("nvidia-smi") is None:
        return []
    try:
        found = subprocess.run(["nvidia-smi", "--list-gpus"], capture_output=True, text=True, timeout=30, check=True)
    except (OSError, subprocess.SubprocessError):
        return []
    return [str(index) for index, line in enumerate(found.stdout.splitlines()) if line.startswith("GPU ")]


def worker_environments(jobs: int, gpus: list[str]) -> list[dict[str, str]]:
    """What each of ``jobs`` workers adds to its environment to get its GPU (nothing without GPUs)."""
    if not gpus:
        return [{} for _ in range(jobs)]
    sharing = -(-jobs // len(gpus))  # workers on the busiest GPU
    environments = []
    for index in range(jobs):
        environment = {"CUDA_VISIBLE_DEVICES": gpus[index % len(gpus)]}
        if sharing > 1:
            share = (1 - _MEMORY_KEPT_FREE) / sharing
            environment.update(XLA_PYTHON_CLIENT_MEM_FRACTION=f"{share:.2f}", TF_FORCE_GPU_ALLOW_GROWTH="true")
        environments.append(environment)
    return environments


def running_backend() -> str:
    """The backend this process's keras runs on."""
    import keras

    return keras.backend.backend()


def device_name(backend: str) -> str:
    """The device ``backend`` trains on in this process (starting its framework): ``cpu``, or the
    GPU's kind."""
    if backend == "jax":
        import jax

        device = jax.devices()[0]
        return "cpu" if device.platform == "cpu" else f"{device.platform}:{device.id} ({device.device_kind})"
    if backend == "torch":
        import torch

        return f"cuda:0 ({torch.cuda.get_device_name(0)})" if torch.cuda.is_available() else "cpu"
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus:
        return "cpu"
    return f"gpu:0 ({tf.config.experimental.get_device_details(gpus[0]).get('device_name', 'GPU')})"
