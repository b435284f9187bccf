"""Trying a pipeline end to end on one batch: ``sweeps check`` while a pipeline is being written."""

from __future__ import annotations

import math
from dataclasses import replace

import keras

from sweeps.errors import PipelineError, first_line
from sweeps.training.fit import BuildFailed, FitRequest, fit_default, fresh_model


def try_one_batch(request: FitRequest) -> tuple[keras.Model, dict[str, float]]:
    """Build the model and train it for one epoch on one batch, validated on one batch.

    Returns the model and the last epoch's logs.

    Raises:
        PipelineError: building or training failed, the loss is not finite, or the model does
            not report the objective; the message names the pipeline's file (and line).
    """
    view = request.trial_view()
    rows = view.hp["batch_size"]
    data = view.dataset
    one_batch = replace(
        data, x_train=data.x_train[:rows], y_train=data.y_train[:rows], x_val=data.x_val[:rows], y_val=data.y_val[:rows]
    )
    view = replace(view.with_data(one_batch), hp={**view.hp, "epochs": 1})
    pipeline = request.pipeline
    try:
        model = fresh_model(view)
        history = (pipeline.custom_fit or fit_default)(model, view.dataset, view.hp, []).history
    except BuildFailed as error:
        raise PipelineError(f"pipeline {pipeline.name}: {first_line(error, with_type=False)}") from error
    except Exception as error:  # whatever breaks while training, said with the pipeline's line if it is there
        raise PipelineError(
            f"pipeline {pipeline.name}: training one batch failed: {first_line(error)} ({pipeline.where(error)})"
        ) from error
    logs = {key: float(values[-1]) for key, values in history.items() if values}
    if not math.isfinite(logs.get("loss", math.nan)):
        raise PipelineError(f"pipeline {pipeline.name}: the loss of one batch is {logs.get('loss')} ({pipeline.path})")
    metric = request.objective.metric
    if metric not in logs:
        raise PipelineError(
            f"pipeline {pipeline.name}: the model reports {', '.join(sorted(logs))}, not the objective "
            f"{metric}; compile it with that metric or choose another objective ({pipeline.path})"
        )
    return model, logs
