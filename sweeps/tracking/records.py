"""What a sweep leaves in MLflow, so the UI shows the answer without setup.

- Each sweep is an experiment marked as model training, whose saved view (``VIEW_KEY``) opens
  the runs table on its trials with the swept params and the objective as columns.
- Each invocation is a parent run named by study and date; its description is the dashboard.
- Each trial run is named after what it tried (``layers=2``, ``units=32 loss=mse``), carries
  MLflow's own source tags, the dataset as a dataset input, per-epoch metrics at step = epoch
  and final values at step 0 (shown as numbers and bars, not one-point curves).
- Folds and replicates are runs nested under their trial.

Every run carries ``sweeps.role`` (study, trial, fold or repeat) so filters can tell them apart.
"""

from __future__ import annotations

import getpass
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sweeps.data.dataset import Dataset
from sweeps.formatting import param_text
from sweeps.spec.objective import Objective
from sweeps.tracking.provenance import git_commit

ROLE = "sweeps.role"
STUDY, TRIAL = "study", "trial"
FINAL_STEP = 0  # one-value metrics: MLflow's UI draws a metric with no step >= 1 as a bar, not a curve
VIEW_KEY = "sweeps"  # the experiment's saved view: #/experiments/<id>/runs?viewStateShareKey=sweeps
VIEW_TAG = f"mlflow.sharedViewState.{VIEW_KEY}"
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}  # model training, not GenAI
# MLflow's UI (3.x) shows any page in the GenAI view (its "Evaluation runs" and "Judges" sidebar)
# unless the page's URL asks for this, or the browser remembers a click on "Model training":
# the experiment's kind does not decide. Every URL of the UI that sweeps prints or writes has it.
TRAINING_VIEW = "workflowType=machine_learning"
_UI_PAGE = re.compile(r"\S*#/experiments\S*")


def in_training_view(text: str) -> str:
    """``text`` with every URL of an MLflow UI page in it (``.../#/experiments/1/runs/<id>``)
    asking for the model-training view."""

    def view(found: re.Match[str]) -> str:
        url = found.group(0)
        if TRAINING_VIEW in url:
            return url
        return f"{url}{'&' if '?' in url.partition('#')[2] else '?'}{TRAINING_VIEW}"

    return _UI_PAGE.sub(view, text)


@dataclass(frozen=True)
class DatasetRecord:
    """The data a run trained on, as an MLflow dataset input."""

    name: str
    digest: str  # the source's fingerprint (MLflow allows 36 characters)
    source_type: str  # local | code
    source: str  # JSON: {"uri": ...} for a file, {"generator": ...} for a generated sample
    profile: str  # JSON: split sizes and whether the data is real
    context: str = "train"


def trial_run_name(params: Mapping[str, Any], number: int) -> str:
    """``layers=2`` or ``units=32 loss=mse``: what the trial tried (its number when it tried nothing)."""
    return " ".join(f"{key}={param_text(value)}" for key, value in params.items()) or f"trial {number}"


def part_run_name(trial_name: str, kind: str, index: int, count: int) -> str:
    """``layers=2 · fold 1/4``: one fit of a trial made of several."""
    return f"{trial_name} · {kind} {index + 1}/{count}"


def study_run_name(study: str, when: datetime) -> str:
    """``imdb_depth 2026-11-24 03:05``: the parent run of one invocation of a study."""
    return f"{study} {when:%Y-%m-%d %H:%M}"


def source_tags(sweep_file: Path) -> dict[str, str]:
    """MLflow's own tags for where a run came from: the search-space file, the code's commit, the user."""
    tags = {"mlflow.source.name": str(sweep_file.absolute()), "mlflow.source.type": "LOCAL"}
    commit = git_commit(sweep_file.parent.absolute())
    if commit != "unknown":
        tags["mlflow.source.git.commit"] = commit.removesuffix("-dirty")
        if commit.endswith("-dirty"):
            tags["sweeps.git.dirty"] = "true"
    try:
        tags["mlflow.user"] = getpass.getuser()
    except (KeyError, OSError):  # no user name for this uid (some containers)
        pass
    return tags


def dataset_record(task: str, kind: str, location: str, fingerprint: str, sizes: Mapping[str, Any]) -> DatasetRecord:
    """A dataset input for data of ``kind`` (data-dir, keras or generated) read from ``location``."""
    generated = kind == "generated"
    source = {"generator": location} if generated else {"uri": location}
    profile = {"source": kind, "real data": not generated, **sizes}
    return DatasetRecord(
        name=f"{task} (GENERATED)" if generated else task,
        digest=fingerprint,
        source_type="code" if generated else "local",
        source=json.dumps(source),
        profile=json.dumps(profile),
    )


def dataset_input(dataset: Dataset) -> DatasetRecord:
    """The dataset a run trained on, as MLflow records it (the Datasets column)."""
    source = dataset.source
    sizes = {k: v for k, v in dataset.info.items() if k.endswith("_samples")}
    return dataset_record(source.task or "data", source.kind, source.location, source.fingerprint, sizes)


def runs_view(params: Sequence[str], objective: Objective, test_metric: str) -> str:
    """The experiment's saved view: its trials, best first, with the swept params, the objective
    and the test metric as columns (the UI hides params and metrics unless told)."""
    columns = [
        *(f"params.`{name}`" for name in params),
        f"metrics.`best_{objective.metric}`",
        f"metrics.`{test_metric}`",
        "tags.`study`",
        "attributes.`Dataset`",
    ]
    return json.dumps(
        {
            "searchFilter": f"tags.`{ROLE}` = '{TRIAL}'",
            "orderByKey": f"metrics.`best_{objective.metric}`",
            "orderByAsc": not objective.maximize,
            "selectedColumns": columns,
        }
    )
