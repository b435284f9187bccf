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
from sweeps.pipeline import CLASSIFICATION_LOSSES, Hyperparameter, dense_stack, integer, split, training

from ._sequences import Ragged, keras_word_indices, multi_hot
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

_TEST_SPLIT = 0.2  # Keras's default
_SHUFFLE_SEED = 113
_VOCABULARY = 30_979  # distinct words in the real dataset, for the generated sample
Raw = tuple[tuple[Ragged, np.ndarray], tuple[Ragged, np.ndarray]]


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Load Reuters (data dir, Keras, or generated), multi-hot encode, hold out validation."""
    num_words = hp["num_words"]
    raw = sp.RawSource(
        task="reuters",
        filename="reuters.npz",
        read_file=partial(read_file, num_words=num_words),
        keras_load=partial(_keras_load, num_words=num_words),
        generate=lambda: postprocess(generate_contents(), num_words),
    )
    source, arrays = sp.load_encoded(
        raw, options, {"task": "reuters", "num_words": num_words}, partial(_encode, num_words=num_words)
    )
    return sp.split_validation(arrays, hp["validation_samples"], source, "training newswires")


def for_trial(dataset: sp.Dataset, hp: Mapping[str, Any]) -> sp.Dataset:
    """One-hot labels for categorical crossentropy, integer labels for the sparse variant."""
    return sp.labels_for_loss(dataset, hp["loss"], TOPICS)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Dense stack on the multi-hot input, softmax over the 46 topics."""
    import keras

    inputs = keras.Input(shape=(dataset.x_train.shape[1],), sparse=True, name="words")
    outputs = keras.layers.Dense(TOPICS, activation="softmax", name="topic")(sp.hidden_layers(inputs, hp))
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="reuters")


def read_file(path: Path, num_words: int) -> Raw:
    """Read a ``reuters.npz`` (keys x, y) and post-process it exactly as Keras does."""
    contents = sp.read_npz(path, ("x", "y"), convert=lambda key, a: Ragged.from_sequences(a, key) if key == "x" else a)
    try:
        return postprocess(contents, num_words)
    except ValueError as error:
        raise sp.DataError(f"{path}: {error}") from None


def postprocess(contents: Mapping[str, Any], num_words: int) -> Raw:
    """Keras's ``reuters.load_data`` steps: shuffle (seed 113), offsets and cut, 80/20 split.

    Raises:
        ValueError: shapes or labels are not those of a Keras Reuters file.
    """
    x, y = contents["x"], np.asarray(contents["y"])
    x = x if isinstance(x, Ragged) else Ragged.from_sequences(x, "x")
    if y.ndim != 1 or y.dtype.kind not in "iu" or (len(y) and (y.min() < 0 or y.max() >= TOPICS)):
        raise ValueError(f"y must be a 1-D array of topic numbers 0-{TOPICS - 1}")
    if len(x) != len(y):
        raise ValueError(f"x has {len(x)} newswires but y has {len(y)} labels")
    order = np.arange(len(y))
    np.random.RandomState(_SHUFFLE_SEED).shuffle(order)
    (words,) = keras_word_indices([x.take(order)], num_words)
    cut = int(len(y) * (1 - _TEST_SPLIT))
    return (words.take(np.arange(cut)), y[order][:cut]), (words.take(np.arange(cut, len(y))), y[order][cut:])


def _keras_load(num_words: int) -> Raw:
    import keras

    (x_train, y_train), (x_test, y_test) = keras.datasets.reuters.load_data(num_words=num_words)
    return (Ragged.from_sequences(x_train), y_train), (Ragged.from_sequences(x_test), y_test)


def _encode(raw: Raw, num_words: int) -> dict[str, Any]:
    (x_train, y_train), (x_test, y_test) = raw
    return {
        "x_train": multi_hot(x_train, num_words),
        "y_train": y_train.astype(np.int64),
        "x_test": multi_hot(x_test, num_words),
        "y_test": y_test.astype(np.int64),
    }


def generate_contents(count: int = 11_228, seed: int = 0) -> dict[str, Any]:
    """Contents of a ``reuters.npz`` made up with Reuters' shapes: 11,228 newswires of about
    100 words, 46 topics as unevenly frequent as the real ones. Not real data."""
    rng = np.random.default_rng(seed)
    frequency = 1.0 / np.arange(1, TOPICS + 1) ** 1.2  # a few topics dominate, like earn and acq
    labels = rng.choice(TOPICS, size=count, p=frequency / frequency.sum())
    text = SyntheticText(rng, classes=TOPICS, vocabulary=_VOCABULARY, words_per_class=60)
    return {"x": text.sample(labels, median_length=95, signal=0.08, agreement=0.8), "y": labels.astype(np.int64)}
