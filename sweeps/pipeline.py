"""The pipeline API: what a pipeline module is, and everything needed to write one.

A pipeline is any Python module that trains one task. A search space names it with
``pipeline:`` - a built-in name (``imdb``), a dotted module path (``mypkg.tasks.churn``), or a
``.py`` file relative to the YAML file (``./churn.py``). It defines:

``HYPERPARAMETERS: dict[str, Hyperparameter]``
    Every key a search space may set, with its default and its rule, declared with
    ``integer``, ``real``, ``choice``, ``boolean`` and ``text``. It must include the training loop's
    ``training(epochs=..., batch_size=...)`` (epochs, batch_size, early_stopping_patience,
    seed). ``dense_stack(...)`` adds the Dense-network vocabulary (layers, units, activation,
    dropout, l1, l2, loss, optimizer, learning_rate) and ``split(n)`` the validation hold-out.
    Mark ``affects_data=True`` on keys that change the loaded data rather than the model.

``OBJECTIVES: dict[str, str]``
    The metrics a sweep may optimise (as Keras names them, ``val_accuracy``), each with
    ``"maximize"`` or ``"minimize"``.

``load_data(hp, options) -> Dataset``
    Train / validation / test arrays (numpy, or scipy CSR for sparse inputs) and where they
    came from. ``load_encoded`` walks the usual chain: the file in ``options.data_dir``, then
    Keras's loader (``keras_loader``), then a generated sample announced as such; it caches
    the encoded arrays. ``split_validation`` holds out validation rows; ``load_dataset`` does
    both in one call. ``keras_source`` is the chain of a dataset Keras ships as ``<task>.npz``,
    whose file ``read_npz_as`` reads through the task's own checks; ``keras_split`` shuffles and
    splits rows as Keras's loaders do (``KERAS_SEED``). ``load_multi_hot`` is the tutorials'
    recipe for Keras's word-index text (IMDB, Reuters): ``Ragged`` sequences read by
    ``read_word_indices``, cut as Keras cuts them (``keras_word_indices``), ``multi_hot`` rows.

``build_model(hp, dataset) -> keras.Model``
    A compiled model from one dict of hyperparameters. ``multi_hot_input``, ``hidden_layers``, ``compile_model``,
    ``optimizer`` and ``accuracy`` build the Dense stack the tutorials use.

Optionally ``for_trial(dataset, hp) -> Dataset``, a cheap per-trial view of the loaded data
(``labels_for_loss``: one-hot labels when the loss wants them), and ``fit(model, dataset, hp,
callbacks) -> keras.callbacks.History`` for a training loop of its own, which must honour
``hp.get("initial_epoch", 0)``.

Optionally ``BACKENDS``, the Keras backends the pipeline trains on, preferred first:
``("jax", "tensorflow", "torch")`` for Keras code that runs anywhere, ``("tensorflow",)`` for
code that uses TensorFlow itself. The first is the default where neither ``--backend``,
``KERAS_BACKEND`` nor the sweep file's ``backend:`` chooses; without ``BACKENDS`` a pipeline
trains on any backend and defaults to Keras's own, TensorFlow. Import keras inside functions:
the backend is chosen after the pipeline module loads and before keras starts.

The several fits of one trial (K folds, N replicate seeds) train fused, with the results each
would have had alone on the same backend: on JAX, copies of one model are stacked and a whole
epoch of them is one compiled function; on TensorFlow one compiled loop steps each copy's own
model. Any Keras model under Keras's own training step fuses (Dense stacks on dense or sparse
input, LSTMs, convolutions); a pipeline with a ``fit`` of its own, and ``FUSE = False`` (say,
for a model keeping state outside its weights) train them one after another, as PyTorch does.

The contract is checked when the pipeline loads (``sweeps check NAME`` tries it end to end):
a missing function, a wrong signature or a bad declaration is one line naming the file and the
rule. An error raised by the pipeline's own code while building the first model stops the sweep
with the file and line. A ``DataError`` raised while reading a data file is one clear line too.
Pipelines never import mlflow or optuna; importing keras inside the functions that use it keeps
``sweeps list`` and sweep-file errors fast.
"""

from __future__ import annotations

from sweeps.data.dataset import Dataset, DataSource, hold_out, labels_for_loss, split_validation
from sweeps.data.files import read_npz, read_pickle
from sweeps.data.sources import DataOptions, RawSource, keras_cache_dir, keras_loader
from sweeps.data.sources import load as load_encoded
from sweeps.errors import DataError
from sweeps.spec.hyperparameters import (
    ACTIVATIONS,
    CLASSIFICATION_LOSSES,
    OPTIMIZERS,
    Hyperparameter,
    boolean,
    choice,
    dense_stack,
    integer,
    optimization,
    real,
    split,
    text,
    training,
)
from sweeps.training.dense import accuracy, compile_model, hidden_layers, multi_hot_input, optimizer, regularizer

__all__ = [
    "ACTIVATIONS",
    "CLASSIFICATION_LOSSES",
    "OPTIMIZERS",
    "DataError",
    "DataOptions",
    "DataSource",
    "Dataset",
    "Hyperparameter",
    "RawSource",
    "accuracy",
    "boolean",
    "choice",
    "compile_model",
    "dense_stack",
    "hidden_layers",
    "multi_hot_input",
    "hold_out",
    "integer",
    "keras_cache_dir",
    "keras_loader",
    "labels_for_loss",
    "load_encoded",
    "optimization",
    "optimizer",
    "read_npz",
    "read_pickle",
    "real",
    "regularizer",
    "split",
    "split_validation",
    "text",
    "training",
]

# The built-in tasks' recipes, each one call, for a pipeline of your own as much as for them.
from sweeps.data.dataset import KERAS_SEED, KERAS_TEST_SPLIT, keras_split
from sweeps.data.files import read_npz_as
from sweeps.data.sequences import Ragged, WordIndexSplits, keras_word_indices, load_multi_hot, multi_hot, read_word_indices
from sweeps.data.sources import keras_source, load_dataset

__all__ += [
    "KERAS_SEED",
    "KERAS_TEST_SPLIT",
    "Ragged",
    "WordIndexSplits",
    "keras_source",
    "keras_split",
    "keras_word_indices",
    "load_dataset",
    "load_multi_hot",
    "multi_hot",
    "read_npz_as",
    "read_word_indices",
]
