"""Datasets loaded once per process and shared by every trial of a sweep."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.data.sources import DataOptions
from sweeps.spec.contract import Pipeline


class DatasetCache:
    """A pipeline's datasets, keyed by the hyperparameters that shape them (``affects_data``)."""

    def __init__(self, pipeline: Pipeline, options: DataOptions) -> None:
        self.pipeline, self.options = pipeline, options
        self._loaded: dict[tuple[Any, ...], Dataset] = {}

    def get(self, hp: Mapping[str, Any]) -> Dataset:
        """The dataset for ``hp``, loaded on first use."""
        key = tuple(hp[k] for k in self.pipeline.data_keys)
        if key not in self._loaded:
            self._loaded[key] = self.pipeline.load_data(hp, self.options)
        return self._loaded[key]
