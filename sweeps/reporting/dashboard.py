"""The parent run as a sweep's dashboard: its description (MLflow's run note, rendered as markdown)
holds the question, the comparison table per swept parameter, the significance sentences, how
many trials were pruned or failed, and the comparison plots."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from sweeps.formatting import headline
from sweeps.reporting import report
from sweeps.reporting.comparisons import write_sweep_plots
from sweeps.reporting.study import StudyRecords

NOTE_LIMIT = 7_900  # MLflow cuts run tags at 8,000 characters
_HEADING_LIMIT = 200


def write_study_plots(records: StudyRecords, directory: Path, optuna_study: Any = None, grid: bool = False) -> list[Path]:
    """Every comparison plot of the study, and Optuna's own where they mean something."""
    if records.trials.empty:
        return []
    written = write_sweep_plots(records, directory)
    if optuna_study is not None:
        from sweeps.reporting.optuna_plots import write_optuna_plots  # imports Optuna: only for its studies

        written += write_optuna_plots(optuna_study, grid, directory)
    return written


def note(
    question: str, study: str, comparison: report.Report | None, counts: Mapping[str, int], plots: Sequence[str], run_id: str
) -> str:
    """The markdown description of a study's parent run (within MLflow's limit on tags), from its
    ``comparison`` (``StudyRecords.comparison``)."""
    heading, body = _question(question)
    lines = [f"### {heading}", ""]
    if comparison is None:
        lines += ["No COMPLETE trial to compare yet."]
    else:  # the answer first: MLflow shows the first lines of a description, the rest on "Show more"
        ranking = comparison.importance.sentences() if comparison.importance is not None else []
        pareto = [comparison.front.sentence()] if comparison.front is not None else []
        lines += [f"- {sentence}" for sentence in [*ranking, *pareto, *comparison.sentences]] or [
            "(one value per parameter: nothing to compare)"
        ]
    lines += ["", f"Study `{study}`: " + ", ".join(f"{n} {state}" for state, n in counts.items() if n) + "."]
    if comparison is not None:
        lines += ["", comparison.front.render(markdown=True)] if comparison.front is not None else []
        lines += ["", comparison.tables(markdown=True)]
    failed = counts.get("FAIL", 0)
    if failed:
        lines += ["", f"{failed} failed trial(s) are left out; their errors are on their runs (tag `error`)."]
    lines += ["", *(f"![{name}](get-artifact?path=plots/{name}&run_uuid={run_id})" for name in plots)]
    if body:  # last: where a description too long for MLflow's limit is cut, not the answer
        lines += ["", body]
    text = "\n".join(lines)
    return text if len(text) <= NOTE_LIMIT else text[:NOTE_LIMIT] + "\n\n(cut here; `sweeps report` shows all of it)"


def _question(description: str) -> tuple[str, str]:
    """The note's heading (the description's first line, if short enough for one) and the rest
    of the description to show below the answer (all of it, when the heading had to be cut)."""
    first, _, rest = description.strip().partition("\n")
    heading = headline(first, _HEADING_LIMIT)
    return heading, description.strip() if heading != first else rest.strip()
