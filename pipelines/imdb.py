"""IMDB review sentiment: multi-hot bag of the 10,000 most frequent words, a Dense stack, sigmoid.

As the tutorial does it: ``imdb.load_data(num_words=10000)``, each review a 10,000-dimensional
multi-hot vector, 10,000 of the 25,000 training reviews held out for validation, the test set
evaluated at the end. Unlike the tutorial the vectors are a sparse float32 matrix (about 30 MB
for the training split instead of 2 GB of float64), which Keras feeds to the first Dense layer
as a sparse tensor.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import Hyperparameter, Ragged, dense_stack, integer, split, training

from ._synthetic import SyntheticText

if TYPE_CHECKING:
    import keras

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    **dense_stack(layers=2, units=16, loss="binary_crossentropy", losses=("binary_crossentropy", "mse")),
    **training(epochs=20, batch_size=512),
    "num_words": integer(10_000, low=4, high=1_000_000, affects_data=True, help="vocabulary size kept"),
    **split(10_000),
}

#: Objectives this task can be swept on, with the direction that means better.
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. JAX: its fused fits, taking sparse batches as their nonzeros, measured faster
# on IMDB's replicated sweeps (imdb_activation --repeats 5: 0.32x of TensorFlow one fit after
# another, TensorFlow fused 0.59x; imdb_depth 62 s against 116 s: benchmarks/backends.py), and
# on imdb_further_experiments' grid, its widths sharing compiled programs (96 s against 118 s
# fused and 122 s one at a time on TensorFlow; 133 s against 129 s and 132 s in a run whose JAX
# side drifted slower, 99 s in a pair measured right after). The keras-tuner sweep names TensorFlow in its file.
BACKENDS = ("jax", "tensorflow", "torch")

_KEYS = ("x_train", "y_train", "x_test", "y_test")
_VOCABULARY = 88_584  # distinct words in the real dataset, for the generated sample


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load IMDB (data dir, Keras, or generated), multi-hot encode, split off validation."""
    raw = sp.keras_source(
        "imdb", read_file, lambda num_words: postprocess(generate_contents(), num_words), num_words=hp["num_words"]
    )
    return sp.load_multi_hot(raw, options, hp, "training reviews", labels=np.float32)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Dense stack on the multi-hot input, one sigmoid unit, compiled with the sweep's loss."""
    import keras

    inputs = sp.multi_hot_input(dataset.x_train.shape[1], name="words")
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(sp.hidden_layers(inputs, hp))
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="imdb")


def read_file(path: Path, num_words: int) -> sp.WordIndexSplits:
    """Read an ``imdb.npz`` in Keras's format and post-process it exactly as Keras does."""
    return sp.read_word_indices(path, _KEYS, partial(postprocess, num_words=num_words))


def postprocess(contents: Mapping[str, Any], num_words: int) -> sp.WordIndexSplits:
    """Keras's ``imdb.load_data`` steps on raw file contents: shuffle (seed 113), offsets, cut.

    Raises:
        ValueError: shapes or dtypes are not those of a Keras IMDB file.
    """
    parts = []
    for part in ("train", "test"):
        x, y = contents[f"x_{part}"], np.asarray(contents[f"y_{part}"])
        if y.ndim != 1 or y.dtype.kind not in "iub":
            raise ValueError(f"y_{part} must be a 1-D array of 0/1 labels, got {y.dtype} with shape {y.shape}")
        outside = sorted(set(np.unique(y).tolist()) - {0, 1})
        if outside:
            raise ValueError(f"y_{part} must hold 0/1 labels, got {', '.join(map(str, outside[:5]))}")
        if len(x) != len(y):
            raise ValueError(f"x_{part} has {len(x)} reviews but y_{part} has {len(y)} labels")
        if len(y) == 0:
            raise ValueError(f"x_{part} holds no reviews")
        parts.append((Ragged.of(x, f"x_{part}"), y))
    rng = np.random.RandomState(sp.KERAS_SEED)
    shuffled = []
    for x, y in parts:  # one generator for both splits, in this order, as Keras does
        order = np.arange(len(y))
        rng.shuffle(order)
        shuffled.append((x.take(order), y[order]))
    x_train, x_test = sp.keras_word_indices([shuffled[0][0], shuffled[1][0]], num_words)
    return (x_train, shuffled[0][1]), (x_test, shuffled[1][1])


def generate_contents(train: int = 25_000, test: int = 25_000, seed: int = 0) -> dict[str, Any]:
    """Contents of an ``imdb.npz`` made up with IMDB's shapes, for tests and offline use.

    Reviews have IMDB's length distribution (median about 175 words); sentiment words lean
    positive or negative weakly enough that a small model lands near the real task's accuracy
    (high 80s), but nothing here is real data. Sequences are ``Ragged``
    (``to_object_array`` gives Keras's on-disk form).
    """
    rng = np.random.default_rng(seed)
    text = SyntheticText(rng, classes=2, vocabulary=_VOCABULARY)
    contents: dict[str, Any] = {}
    for part, count in (("train", train), ("test", test)):
        labels = rng.integers(0, 2, count)
        contents[f"x_{part}"], contents[f"y_{part}"] = text.sample(labels, median_length=175), labels
    return contents


def to_object_array(sequences: Ragged) -> np.ndarray:
    """Sequences as Keras stores them in ``imdb.npz``: an object array of Python int lists."""
    array = np.empty(len(sequences), dtype=object)
    array[:] = sequences.rows()
    return array
