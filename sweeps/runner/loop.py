"""This worker's loop: ask the engine for trials, run them, tell it, until the study is done.

Where trials can train together (``sweeps.runner.together``) the worker takes up to the sweep's
``fuse_trials`` at once from its engine and trains them as one fused set; else one at a time.
"""

from __future__ import annotations

from typing import Any

from sweeps.engines.base import Outcome, Proposal, TrialState, best_record
from sweeps.errors import Interrupted, SweepAborted
from sweeps.formatting import param_text
from sweeps.runner.context import SweepContext
from sweeps.runner.recovery import close_orphaned_runs
from sweeps.runner.together import train_together, why_not_together
from sweeps.runner.trial import TrialRunner, trial_hp
from sweeps.training.fit import FitRequest, fresh_model


def work(ctx: SweepContext) -> int:
    """Run trials until the engine has none left; how many ran.

    Raises:
        SweepAborted: ``max_consecutive_failures`` trials in a row failed.
        Interrupted: Ctrl-C; the running trials were recorded as such.
    """
    spec, engine, progress = ctx.spec, ctx.engine, ctx.progress
    failures: list[str] = []
    checked: set[str] = set()
    trials, together, ran = TrialRunner(ctx), why_not_together(ctx) is None, 0
    try:
        while (proposal := engine.ask()) is not None:  # ask() also fails the trials of dead workers...
            close_orphaned_runs(ctx.tracker, engine.records(), checked)  # ...whose runs are ended here
            batch = [proposal]
            # A batch is taken once this process has built a model: a pipeline that cannot build
            # its first is broken, and stops the sweep with one trial recorded, not a batch of them.
            while together and len(batch) < spec.fuse_trials and _builds(ctx, trials, proposal):
                if (more := engine.ask_now()) is None:
                    break
                batch.append(more)
            for proposal, outcome in zip(batch, _run(ctx, trials, batch), strict=True):
                ran += 1
                summary = f"trial {proposal.number} {_params(proposal.params)}: {outcome.state}"
                progress.trial_done(_value(ctx), summary + _metric(spec.objective.metric, outcome.value))
                if outcome.state != TrialState.FAIL:
                    failures.clear()
                    continue
                failures.append(f"trial {proposal.number}: {outcome.attrs['error']}")
                progress.note(f"trial {proposal.number} failed: {outcome.attrs['error']}")
            if len(failures) >= spec.max_consecutive_failures:
                raise SweepAborted(
                    f"{len(failures)} consecutive trials failed, stopping "
                    f"(max_consecutive_failures={spec.max_consecutive_failures}): {'; '.join(failures)}"
                )
    except (KeyboardInterrupt, Interrupted):
        engine.fail_untold()  # trials taken but never opened: a Ctrl-C between the ask and the run
        raise
    return ran


def _run(ctx: SweepContext, trials: TrialRunner, batch: list[Proposal]) -> list[Outcome]:
    which = f"trial {batch[0].number} was" if len(batch) == 1 else f"trials {', '.join(str(p.number) for p in batch)} were"
    try:
        if len(batch) == 1:
            return [trials.run(batch[0])]
        return trials.run_together(batch, lambda opened: train_together(ctx, opened))
    except Interrupted:
        raise
    except KeyboardInterrupt:
        raise Interrupted(f"{which} marked FAIL and {'its run' if len(batch) == 1 else 'their runs'} KILLED") from None


def _builds(ctx: SweepContext, trials: TrialRunner, proposal: Proposal) -> bool:
    """Whether the pipeline has built a model in this process, ``proposal``'s if none yet (its
    data loaded, its model built and dropped); ``False`` if that raised (the trial, trained
    alone, then says why)."""
    if not trials.built:
        hp = trial_hp(ctx, proposal)
        try:
            fresh_model(FitRequest(ctx.spec.pipeline, ctx.datasets.get(hp), hp, ctx.spec.objective))
        except Exception:  # (its data, or its model)
            return False
        trials.built = True
    return True


def _params(params: dict[str, Any]) -> str:
    return " ".join(f"{k}={param_text(v)}" for k, v in params.items())


def _metric(metric: str, value: float | None) -> str:
    return "" if value is None else f" {metric}={value:.4f}"


def _value(ctx: SweepContext) -> float | None:
    best = best_record(ctx.engine.records(), ctx.spec.objective)
    return best.value if best is not None else None
