"""A study as a report reads it back from MLflow: its trials, samples and curves, and the
comparison they make."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

import pandas as pd

from sweeps.errors import ConfigError
from sweeps.reporting.report import Report, build


@dataclass(frozen=True)
class StudyRecords:
    """A study's trials as ``sweeps.tracking.query`` reads them back from MLflow."""

    trials: pd.DataFrame
    samples: pd.DataFrame
    curves: pd.DataFrame
    params: Sequence[str]  # the swept parameters
    scales: Mapping[str, str] = field(default_factory=dict)  # how their values came (sweeps.reporting.ranges)

    @property
    def metric(self) -> str:
        return str(self.trials["objective"].iloc[0]) if len(self.trials) else ""

    @cached_property
    def report(self) -> Report:
        """The report of the COMPLETE trials.

        Raises:
            ConfigError: there is nothing to compare (``sweeps.reporting.report.build`` says why).
        """
        return build(self.trials, self.samples, self.curves, list(self.params), self.scales)

    def comparison(self) -> Report | None:
        """The report of the COMPLETE trials, or ``None`` while there are none to compare."""
        try:
            return self.report
        except ConfigError:
            return None
