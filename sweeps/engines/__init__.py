"""Engines propose hyperparameters and hear results; the runner runs the trials.

The contract every engine fulfils, and the records they share, are in ``sweeps.engines.base``;
``open_engine`` picks the implementation a sweep names.
"""

from __future__ import annotations

from typing import Any

from sweeps.defaults import HEARTBEAT_SECONDS
from sweeps.engines.base import Engine


def open_engine(spec: Any, stores: Any, study_name: str, identity: dict[str, str], heartbeat: int = HEARTBEAT_SECONDS) -> Engine:
    """The engine ``spec.engine`` names, attached to (or creating) study ``study_name`` in ``stores``.

    Imported here, not at the top, so a sweep only loads the engine it uses.
    """
    if spec.engine == "optuna":
        from sweeps.engines.optuna import OptunaEngine

        return OptunaEngine(spec, stores.storage, study_name, identity, heartbeat)
    if spec.engine == "keras_tuner":
        from sweeps.engines.keras_tuner import KerasTunerEngine, adopt_earlier_state
        from sweeps.tracking.stores import mask

        # keras-tuner's state is files: it records which stores it belongs to, and is refused elsewhere.
        belongs = {"stores": f"{mask(stores.tracking_uri)} {mask(stores.storage)}"}
        directory = stores.tuner_dir / study_name
        if stores.earlier_tuner_dir is not None:
            adopt_earlier_state(directory, stores.earlier_tuner_dir / study_name, belongs["stores"])
        return KerasTunerEngine(spec, directory, {**identity, **belongs})
    raise ValueError(f"unknown engine {spec.engine!r}")  # spec validation makes this unreachable
