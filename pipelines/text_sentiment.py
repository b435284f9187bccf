"""Review sentiment from raw text: TextVectorization, padding to 100 tokens, Embedding + bi-LSTM.

As the tutorial does it, on a corpus file of lines ``<rating 0-5> <text>``: ratings 1-2 are
negative, 4-5 positive, 0 and 3 dropped; Chinese text is optionally segmented into words with
jieba first (``segmenter: jieba``; ``pip install 'sweeps[chinese]'``). Keras 3 removed the
tutorial's ``Tokenizer``: a ``TextVectorization`` layer adapted on the training texts only
builds the vocabulary, and sequences are padded or cut to ``sequence_length`` tokens.

Data: ``text_sentiment.txt`` in a data directory, else a generated English corpus. 20% of the
labelled lines (after a seeded shuffle) are the test set.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

import sweeps.pipeline as sp
from sweeps.pipeline import Hyperparameter, choice, integer, optimization, real, split, training

if TYPE_CHECKING:
    import keras

HYPERPARAMETERS: dict[str, Hyperparameter] = {
    "segmenter": choice("whitespace", ("whitespace", "jieba"), affects_data=True, help="how text is split into words"),
    "max_tokens": integer(20_000, low=10, high=2_000_000, affects_data=True, help="vocabulary size"),
    "sequence_length": integer(100, high=10_000, affects_data=True, help="tokens per text, padded or cut"),
    "embedding_dim": integer(128, high=4_096, help="embedding width"),
    "lstm_units": integer(64, high=4_096, help="units of each direction of the LSTM"),
    "dropout": real(0.5, high=1.0, high_exclusive=True, help="dropout after the LSTM"),
    **optimization("binary_crossentropy", ("binary_crossentropy", "mse")),
    **training(epochs=10, batch_size=64),
    **split(1_000),
}
OBJECTIVES = {"val_accuracy": "maximize", "val_loss": "minimize"}
# Preferred first. TensorFlow: TextVectorization needs it anyway, and its LSTM trains 1.4x faster there.
BACKENDS = ("tensorflow", "jax", "torch")

_TEST_SHARE = 0.2


def load_data(hp: Mapping[str, Any], options: sp.DataOptions) -> sp.Dataset:
    """Read the corpus (data dir or generated), label it, vectorise it with a vocabulary
    learned from the training lines only."""
    settings = {k: hp[k] for k in ("segmenter", "max_tokens", "sequence_length")}
    raw = sp.RawSource(
        task="text_sentiment", filename="text_sentiment.txt", read_file=read_corpus, keras_load=None, generate=generate_corpus
    )
    return sp.load_dataset(raw, options, hp, partial(vectorise, **settings), "training texts", **settings)


def build_model(hp: Mapping[str, Any], dataset: sp.Dataset) -> keras.Model:
    """Embedding (padding masked) -> Bidirectional LSTM -> dropout -> sigmoid."""
    import keras

    inputs = keras.Input(shape=(dataset.x_train.shape[1],), dtype="int32", name="tokens")
    x = keras.layers.Embedding(hp["max_tokens"], hp["embedding_dim"], mask_zero=True, name="embedding")(inputs)
    x = keras.layers.Bidirectional(keras.layers.LSTM(hp["lstm_units"]), name="bi_lstm")(x)
    x = keras.layers.Dropout(hp["dropout"], name="dropout")(x)
    outputs = keras.layers.Dense(1, activation="sigmoid", name="sentiment")(x)
    return sp.compile_model(inputs, outputs, hp, [sp.accuracy(hp["loss"])], name="text_sentiment")


def read_corpus(path: Path) -> list[tuple[int, str]]:
    """Parse ``<rating 0-5> <text>`` lines (blank lines skipped).

    Raises:
        DataError: a line without a 0-5 rating (named by line number), or no text at all.
    """
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except UnicodeDecodeError as error:
        raise sp.DataError(f"{path}: not UTF-8 text ({error.reason} at byte {error.start})") from None
    corpus = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        rating, _, text = line.strip().partition(" ")
        if rating not in {"0", "1", "2", "3", "4", "5"} or not text.strip():
            raise sp.DataError(f"{path}:{number}: expected '<rating 0-5> <text>', got {line[:60]!r}")
        corpus.append((int(rating), text.strip()))
    if not corpus:
        raise sp.DataError(f"{path}: no '<rating 0-5> <text>' lines")
    return corpus


def vectorise(corpus: Sequence[tuple[int, str]], segmenter: str, max_tokens: int, sequence_length: int) -> dict[str, np.ndarray]:
    """Label (1-2 negative, 4-5 positive; 0 and 3 dropped), shuffle, split, and turn texts into
    padded token ids with a vocabulary adapted on the training split."""
    import keras

    labelled = [(1.0 if rating >= 4 else 0.0, text) for rating, text in corpus if rating not in (0, 3)]
    if len(labelled) < 10:
        raise sp.DataError(f"only {len(labelled)} lines with ratings 1, 2, 4 or 5; at least 10 are needed")
    order = np.arange(len(labelled))
    np.random.RandomState(sp.KERAS_SEED).shuffle(order)  # as Keras shuffles its datasets
    labels = np.array([labelled[i][0] for i in order], dtype=np.float32)
    texts = np.array([_segment(labelled[i][1], segmenter) for i in order])
    cut = int(len(texts) * (1 - _TEST_SHARE))
    vectorizer = keras.layers.TextVectorization(max_tokens=max_tokens, output_sequence_length=sequence_length)
    vectorizer.adapt(texts[:cut])
    tokens = np.asarray(vectorizer(texts), dtype=np.int32)
    return {"x_train": tokens[:cut], "y_train": labels[:cut], "x_test": tokens[cut:], "y_test": labels[cut:]}


def _segment(text: str, segmenter: str) -> str:
    if segmenter == "whitespace":
        return text
    try:
        import jieba
    except ImportError:
        raise sp.DataError("segmenter jieba needs the jieba package: pip install 'sweeps[chinese]'") from None
    return " ".join(word for word in jieba.cut(text) if word.strip())


_POSITIVE = [
    "great",
    "wonderful",
    "loved",
    "excellent",
    "brilliant",
    "enjoyable",
    "superb",
    "delightful",
    "moving",
    "fantastic",
    "charming",
]
_NEGATIVE = ["awful", "boring", "terrible", "waste", "dull", "poor", "disappointing", "worst", "annoying", "bland", "mediocre"]
_FILLER = [
    "the",
    "a",
    "this",
    "film",
    "movie",
    "story",
    "plot",
    "acting",
    "it",
    "was",
    "is",
    "and",
    "but",
    "with",
    "of",
    "very",
    "quite",
    "really",
    "characters",
    "scenes",
    "ending",
    "music",
    "director",
    "cast",
    "i",
    "we",
    "watched",
    "saw",
]


def generate_corpus(lines: int = 10_000, seed: int = 0) -> list[tuple[int, str]]:
    """A made-up review corpus: ratings 0-5, filler words with sentiment words mixed in that
    mostly, not always, match the rating. Not real data."""
    rng = np.random.default_rng(seed)
    corpus = []
    for rating in rng.integers(0, 6, lines):
        lean = _POSITIVE if rating >= 4 else _NEGATIVE if rating in (1, 2) else _POSITIVE + _NEGATIVE
        words = list(rng.choice(_FILLER, rng.integers(8, 40)))
        for _ in range(rng.integers(1, 4)):
            pool = lean if rng.random() < 0.8 else _POSITIVE + _NEGATIVE
            words.insert(int(rng.integers(0, len(words))), str(rng.choice(pool)))
        corpus.append((int(rating), " ".join(words)))
    return corpus
