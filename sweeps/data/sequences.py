"""Word-index sequences as Keras's text datasets hold them, processed without Python loops, and
the tutorials' multi-hot recipe on them.

Keras's IMDB and Reuters loaders shuffle with a seed, prepend ``start_char``, shift indices by
``index_from`` and map words outside ``[skip_top, num_words)`` to ``oov_char``, one Python list
at a time. ``Ragged`` keeps all sequences in one flat array so the same steps, and the
multi-hot encoding the tutorials use, take a fraction of a second instead of many.
``load_multi_hot`` is a whole ``load_data`` for such a task; ``read_word_indices`` reads its file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import scipy.sparse as sp

from sweeps.data.dataset import Dataset
from sweeps.data.files import read_npz_as
from sweeps.data.sources import DataOptions, RawSource, load_dataset


@dataclass(frozen=True)
class Ragged:
    """Variable-length integer sequences: ``values`` concatenated, ``lengths`` per row."""

    values: np.ndarray
    lengths: np.ndarray

    @classmethod
    def from_sequences(cls, sequences: Iterable[Sequence[int]], name: str = "sequences") -> Ragged:
        """Build from a list (or object array) of integer sequences.

        Raises:
            ValueError: a sequence holds something other than integers.
        """
        rows = [np.asarray(row).ravel() for row in sequences]
        lengths = np.fromiter((len(row) for row in rows), dtype=np.int64, count=len(rows))
        filled = [row for row in rows if row.size]  # an empty list reads as float64
        values = np.concatenate(filled) if filled else np.zeros(0, dtype=np.int64)
        if values.size and values.dtype.kind not in "iu":
            raise ValueError(f"{name} must hold integer word indices, got {values.dtype}")
        return cls(values.astype(np.int64), lengths)

    @classmethod
    def of(cls, sequences: Ragged | Iterable[Sequence[int]], name: str = "sequences") -> Ragged:
        """``sequences`` as ``Ragged``: itself if it is one, else built ``from_sequences``."""
        return sequences if isinstance(sequences, Ragged) else cls.from_sequences(sequences, name)

    def __len__(self) -> int:
        return len(self.lengths)

    @property
    def offsets(self) -> np.ndarray:
        """Start of each row in ``values``."""
        return np.concatenate(([0], np.cumsum(self.lengths)[:-1])).astype(np.int64)

    def take(self, indices: np.ndarray) -> Ragged:
        """Rows ``indices`` in that order (Keras's shuffles and splits)."""
        lengths = self.lengths[indices]
        new_starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
        gather = np.repeat(self.offsets[indices] - new_starts, lengths) + np.arange(lengths.sum())
        return Ragged(self.values[gather], lengths)

    def rows(self) -> list[list[int]]:
        """The sequences as Python lists (for tests and display, not hot paths)."""
        return [row.tolist() for row in np.split(self.values, np.cumsum(self.lengths)[:-1])] if len(self) else []


# Keras's ``(x_train, y_train), (x_test, y_test)`` of a text dataset: sequences and their labels.
WordIndexSplits = tuple[tuple[Ragged, np.ndarray], tuple[Ragged, np.ndarray]]


def keras_word_indices(
    parts: Sequence[Ragged],
    num_words: int | None,
    skip_top: int = 0,
    start_char: int | None = 1,
    oov_char: int | None = 2,
    index_from: int = 3,
) -> list[Ragged]:
    """Apply Keras's index offsets and vocabulary cut to each part, exactly as its loaders do.

    ``num_words=None`` keeps every word, which in Keras means the largest index over all
    parts becomes the (exclusive) limit.
    """
    shifted = [_shift(part, start_char, index_from) for part in parts]
    if not num_words:
        num_words = max(int(part.values.max(initial=0)) for part in shifted)
    result = []
    for part in shifted:
        keep = (part.values >= skip_top) & (part.values < num_words)
        if oov_char is not None:
            result.append(Ragged(np.where(keep, part.values, oov_char), part.lengths))
        else:
            row_ids = np.repeat(np.arange(len(part)), part.lengths)[keep]
            result.append(Ragged(part.values[keep], np.bincount(row_ids, minlength=len(part))))
    return result


def _shift(part: Ragged, start_char: int | None, index_from: int) -> Ragged:
    values = part.values + index_from
    if start_char is None:
        return Ragged(values, part.lengths)
    lengths = part.lengths + 1
    starts = np.concatenate(([0], np.cumsum(lengths)[:-1])).astype(np.int64)
    out = np.empty(lengths.sum(), dtype=np.int64)
    out[starts] = start_char
    mask = np.ones(len(out), dtype=bool)
    mask[starts] = False
    out[mask] = values
    return Ragged(out, lengths)


def multi_hot(sequences: Ragged, dimension: int) -> sp.csr_matrix:
    """The tutorial's ``vectorize_sequences`` as a float32 CSR matrix (1.0 where a word occurs).

    The dense float64 original for IMDB is 25,000 x 10,000 x 8 bytes = 2 GB per split; this
    holds only the distinct words of each review.
    """
    rows = np.repeat(np.arange(len(sequences), dtype=np.int64), sequences.lengths)
    in_range = sequences.values < dimension
    ones = np.ones(int(in_range.sum()), dtype=np.float32)
    matrix = sp.csr_matrix((ones, (rows[in_range], sequences.values[in_range])), shape=(len(sequences), dimension))
    matrix.sum_duplicates()  # a word repeated in a review counts once: 10x faster than np.unique on IMDB
    matrix.data[:] = 1.0
    return matrix


def multi_hot_splits(raw: WordIndexSplits, num_words: int, labels: type = np.float32) -> dict[str, Any]:
    """Keras's ``(x_train, y_train), (x_test, y_test)`` of word-index sequences as the arrays a
    Dense stack trains on: each sequence a multi-hot row ``num_words`` wide, labels as ``labels``
    (float32 for a sigmoid output, int64 for class numbers)."""
    (x_train, y_train), (x_test, y_test) = raw
    return {
        "x_train": multi_hot(Ragged.of(x_train, "x_train"), num_words),
        "y_train": y_train.astype(labels),
        "x_test": multi_hot(Ragged.of(x_test, "x_test"), num_words),
        "y_test": y_test.astype(labels),
    }


def load_multi_hot(raw: RawSource, options: DataOptions, hp: Mapping[str, Any], what: str, labels: type = np.float32) -> Dataset:
    """The tutorials' text recipe as a whole ``load_data``: ``raw``'s word-index sequences, cut to
    ``hp["num_words"]`` words as Keras's loaders cut them, encoded by ``multi_hot_splits`` (cached
    per ``num_words``), ``hp["validation_samples"]`` training rows (``what``) held out.

    ``raw`` reads the file (``read_word_indices``), calls Keras's loader and generates a sample,
    each with that same ``num_words``.
    """
    num_words = hp["num_words"]
    encode = partial(multi_hot_splits, num_words=num_words, labels=labels)
    return load_dataset(raw, options, hp, encode, what, num_words=num_words)


def read_word_indices(path: Path, keys: tuple[str, ...], postprocess: Callable[[dict[str, Any]], Any]) -> Any:
    """Read ``keys`` from a Keras text ``.npz`` (the ``x`` keys: word-index sequences, made
    ``Ragged`` as each is read, so one split's Python lists at a time are alive) and return
    ``postprocess(arrays)``, Keras's own steps on them.

    Raises:
        DataError: the file is unreadable, or its contents fail ``postprocess``'s checks
            (a ``ValueError``); the message names the file.
    """
    return read_npz_as(
        path, keys, postprocess, convert=lambda key, array: Ragged.of(array, key) if key.startswith("x") else array
    )
