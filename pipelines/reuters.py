"""Reuters newswire topics: multi-hot 10,000 words, Dense 64-64, softmax over 46 topics.

As the tutorial does it: ``reuters.load_data(num_words=10000)`` (80/20 train/test split after
a seeded shuffle), 1,000 training newswires held out for validation, and labels either one-hot
with categorical crossentropy or integers with sparse categorical crossentropy (the ``loss``
decides). The tutorial warns that hidden layers much narrower than 46 units are a bottleneck;
``reuters_bottleneck`` measures it.
"""

from __future__ import annotations

from collections.abc import Mapping
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import CLASSIFICATION_LOSSES, Hyperparameter, Ragged, dense_stack, integer, split, training

from ._synthetic import SyntheticText

if TYPE_CHECKING:
    import keras

TOPICS = 46
HYPERPARAMETERS: dict[str, Hyperparameter] = {
    **dense_stack(layers=2, units=64, loss="categorical_crossentropy", losses=CLASSIFICATION_LOSSES),
    **training(epochs=20, batch_size=512),
    "num_words": integer(10_000, low=4, high=1_000_000, affects_data=True, help="vocabulary size kept"),
    **split(1_000),
}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. JAX: sparse multi-hot rows, as IMDB's; reuters_bottleneck (5 models x 3 seeds)
# measured 66 s against TensorFlow's 78 s on the generated sample.
BACKENDS = ("jax", "tensorflow", "torch")

_VOCABULARY = 30_979  # distinct words in the real dataset, for the generated sample


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load Reuters (data dir, Keras, or generated), multi-hot encode, hold out validation."""
    raw = sp.keras_source(
        "reuters", read_file, lambda num_words: postprocess(generate_contents(), num_words), num_words=hp["num_words"]
    )
    return sp.load_multi_hot(raw, options, hp, "training newswires", labels=np.int64)


def for_trial(dataset: sp.Dataset, hp: Mapping[str, Any]) -> sp.Dataset:
    """One-hot labels for categorical crossentropy, integer labels for the sparse variant."""
    return sp.labels_for_loss(dataset, hp["loss"], TOPICS)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Dense stack on the multi-hot input, softmax over the 46 topics."""
    import keras

    inputs = sp.multi_hot_input(dataset.x_train.shape[1], name="words")
    outputs = keras.layers.Dense(TOPICS, activation="softmax", name="topic")(sp.hidden_layers(inputs, hp))
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="reuters")


def read_file(path: Path, num_words: int) -> sp.WordIndexSplits:
    """Read a ``reuters.npz`` (keys x, y) and post-process it exactly as Keras does."""
    return sp.read_word_indices(path, ("x", "y"), partial(postprocess, num_words=num_words))


def postprocess(contents: Mapping[str, Any], num_words: int) -> sp.WordIndexSplits:
    """Keras's ``reuters.load_data`` steps: shuffle (seed 113), offsets and cut, 80/20 split.

    Raises:
        ValueError: shapes or labels are not those of a Keras Reuters file.
    """
    x, y = Ragged.of(contents["x"], "x"), np.asarray(contents["y"])
    if y.ndim != 1 or y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= TOPICS)):
        raise ValueError(f"y must be a 1-D array of topic numbers 0-{TOPICS - 1}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} newswires but y has {len(y)} labels")
    train, test = sp.keras_split(len(y))
    x_train, x_test = sp.keras_word_indices([x.take(train), x.take(test)], num_words)
    return (x_train, y[train]), (x_test, y[test])


def generate_contents(count: int = 11_228, seed: int = 0) -> dict[str, Any]:
    """Contents of a ``reuters.npz`` made up with Reuters' shapes: 11,228 newswires of about
    100 words, 46 topics as unevenly frequent as the real ones. Not real data."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, TOPICS + 1) ** 1.2  # a few topics dominate, like earn and acq
    labels = rng.choice(TOPICS, size=count, p=frequency / frequency.sum())
    text = SyntheticText(rng, classes=TOPICS, vocabulary=_VOCABULARY, words_per_class=60)
    return {"x": text.sample(labels, median_length=95, signal=0.08, agreement=0.8), "y": labels.astype(np.int64)}
