"""How a study is searched: the sampler that proposes trials and the pruner that stops them.

Each is a frozen value that checks its own rules when made; a search-space file's ``sampler``
and ``pruner`` sections become these (``sections.search`` names the file and key of a broken
rule). Settings left out are ``None``: the engine's default applies, and the study's
fingerprint does not change.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

ENGINES = {"optuna": ("grid", "random", "tpe"), "keras_tuner": ("random", "grid", "hyperband", "bayesian")}
SAMPLERS = tuple(dict.fromkeys(kind for kinds in ENGINES.values() for kind in kinds))
# Settings each sampler accepts besides type and seed (keras-tuner's names).
SAMPLER_OPTIONS = {"hyperband": ("max_epochs", "factor", "hyperband_iterations"), "bayesian": ("num_initial_points",)}
PRUNERS = {
    "none": (),
    "median": ("n_startup_trials", "n_warmup_steps"),
    "hyperband": ("min_resource", "max_resource", "reduction_factor"),
    "wilcoxon": ("p_threshold", "n_startup_steps"),  # judges a trial of several fits, fit by fit
}
BY_FIT = ("wilcoxon",)  # pruners whose steps are a trial's fits (folds, replicates), not its epochs
# The least each option may be: a Hyperband that divides by 1 or starts at 0 epochs never ends.
LOWEST = {
    "n_startup_trials": 0,
    "n_warmup_steps": 0,
    "min_resource": 1,
    "max_resource": 1,
    "reduction_factor": 2,
    "max_epochs": 1,
    "factor": 2,
    "hyperband_iterations": 1,
    "num_initial_points": 1,
    "p_threshold": 0,
    "n_startup_steps": 0,
}
FLOAT_OPTIONS = ("p_threshold",)  # every other setting is a whole number
WILCOXON_P = 0.1  # Optuna's default p_threshold
MAX_SEED = 2**32 - 1  # numpy's seeds


class SettingError(ValueError):
    """A search setting that breaks its rule; ``key`` names it within its section."""

    def __init__(self, key: str, rule: str) -> None:
        super().__init__(rule)
        self.key = key


@dataclass(frozen=True)
class Sampler:
    """Which proposals a study makes: ``type`` (grid, random, tpe, hyperband, bayesian), an
    optional ``seed``, and the type's own settings (``SAMPLER_OPTIONS``).

    Raises:
        SettingError: an unknown type, a seed out of numpy's range, a setting the type does
            not take or below its least value.
    """

    type: str
    seed: int | None = None
    max_epochs: int | None = None
    factor: int | None = None
    hyperband_iterations: int | None = None
    num_initial_points: int | None = None

    def __post_init__(self) -> None:
        if self.type not in SAMPLERS:
            raise SettingError("type", f"must be one of {', '.join(SAMPLERS)}, got {self.type!r}")
        if self.seed is not None and not 0 <= self.seed <= MAX_SEED:
            raise SettingError("seed", f"must be 0 .. {MAX_SEED}, got {self.seed}")
        _check_options(self, SAMPLER_OPTIONS.get(self.type, ()), ("type", "seed"))

    @property
    def grid(self) -> bool:
        """Whether it visits every point of a grid (once each, in the file's order)."""
        return self.type == "grid"

    def settings(self) -> dict[str, Any]:
        """``type``, ``seed`` and the settings given, as the study's fingerprint records them."""
        return {"type": self.type, "seed": self.seed, **_given(self, ("type", "seed"))}


@dataclass(frozen=True)
class Pruner:
    """What stops a trial early: ``type`` (none; median or hyperband, by its epochs so far;
    wilcoxon, by its fits so far) and its settings (Optuna's names, ``PRUNERS``).

    Raises:
        SettingError: an unknown type, a setting the type does not take or below its least value.
    """

    type: str = "none"
    n_startup_trials: int | None = None
    n_warmup_steps: int | None = None
    min_resource: int | None = None
    max_resource: int | None = None
    reduction_factor: int | None = None
    p_threshold: float | None = None
    n_startup_steps: int | None = None

    def __post_init__(self) -> None:
        if self.type not in PRUNERS:
            raise SettingError("type", f"must be one of {', '.join(PRUNERS)}, got {self.type!r}")
        _check_options(self, PRUNERS[self.type], ("type",))
        if self.p_threshold is not None and self.p_threshold > 1:
            raise SettingError("p_threshold", f"is a p-value, at most 1, got {self.p_threshold}")

    @property
    def prunes(self) -> bool:
        """Whether it ever stops a trial."""
        return self.type != "none"

    @property
    def by_fit(self) -> bool:
        """Whether it judges a trial of several fits after each fit (rather than each epoch)."""
        return self.type in BY_FIT

    def why_never_prunes(self, fits: int) -> str | None:
        """Why this fit-by-fit pruner could never stop a trial of ``fits`` fits before its last
        (``None`` when it can). Its one-sided Wilcoxon test on n paired fits gives p >= 1/2**n."""
        judged = fits - 1  # after the last fit the trial is whole: nothing left to save
        start = max(2, self.n_startup_steps if self.n_startup_steps is not None else 2)
        threshold = self.p_threshold if self.p_threshold is not None else WILCOXON_P
        if start > judged:
            return f"it starts judging after {start} fits, and a trial of {fits} is whole after {judged}"
        if 0.5**judged >= threshold:
            return (
                f"after its first {judged} of {fits} fits the smallest p-value is {0.5**judged:.3g}, not below "
                f"p_threshold {threshold}; set p_threshold above it (0.3 prunes a trial worse than the best "
                "in each of its first two fits)"
            )
        return None

    def options(self) -> dict[str, float]:
        """The settings given, as keyword arguments of Optuna's pruner of this type."""
        return _given(self, ("type",))

    def settings(self) -> dict[str, Any]:
        """``type`` and the settings given, as the study's fingerprint records them."""
        return {"type": self.type, **self.options()}


def _given(settings: Sampler | Pruner, besides: tuple[str, ...]) -> dict[str, Any]:
    """The optional settings that were set, in their declared order."""
    values = {f.name: getattr(settings, f.name) for f in fields(settings) if f.name not in besides}
    return {key: value for key, value in values.items() if value is not None}


def _check_options(settings: Sampler | Pruner, allowed: tuple[str, ...], besides: tuple[str, ...]) -> None:
    for key, value in _given(settings, besides).items():
        if key not in allowed:
            raise SettingError(key, f"is not a setting of {settings.type}; allowed: {', '.join(allowed) or 'none'}")
        if value < LOWEST[key]:
            raise SettingError(key, f"must be >= {LOWEST[key]}, got {value}")
