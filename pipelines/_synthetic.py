"""Made-up data with the real tasks' shapes, for tests and machines that cannot download.

Nothing here is real: loaders that use it announce it and tag runs ``data.source=generated``.
"""

from __future__ import annotations

import numpy as np

from sweeps.pipeline import Ragged


class SyntheticText:
    """Made-up word-index documents whose words lean towards their class, for offline samples.

    Word ranks are Zipf-distributed like real text; a ``signal`` share of words is drawn
    from a per-class lexicon, agreeing with the document's class ``agreement`` of the time
    (otherwise from another class's lexicon), so a model can learn, but not perfectly.
    """

    def __init__(self, rng: np.random.Generator, classes: int, vocabulary: int, words_per_class: int = 200) -> None:
        self.rng, self.classes, self.vocabulary = rng, classes, vocabulary
        pool = np.arange(20, max(20 + classes * words_per_class, 5_000))
        self.lexicon = rng.choice(pool, size=(classes, words_per_class), replace=False)

    def sample(self, labels: np.ndarray, median_length: float, signal: float = 0.04, agreement: float = 0.75) -> Ragged:
        """One document per label, lengths log-normal around ``median_length`` words."""
        rng = self.rng
        lengths = np.clip(rng.lognormal(np.log(median_length), 0.65, len(labels)).astype(np.int64), 10, 2_500)
        words = np.minimum(rng.zipf(1.25, lengths.sum()), self.vocabulary)
        owners = np.repeat(labels, lengths)
        if self.classes > 1:
            others = (owners + rng.integers(1, self.classes, len(owners))) % self.classes
            owners = np.where(rng.random(len(owners)) < agreement, owners, others)
        themed = self.lexicon[owners, rng.integers(0, self.lexicon.shape[1], len(owners))]
        return Ragged(np.where(rng.random(len(words)) < signal, themed, words).astype(np.int64), lengths)


def patterns(rng: np.random.Generator, count: int, size: int, channels: int) -> np.ndarray:
    """``count`` smooth random patterns in 0-255, shape (count, size, size, channels)."""
    coarse = rng.random((count, size // 4, size // 4, channels))
    smooth = coarse.repeat(4, axis=1).repeat(4, axis=2)
    return (255 * (smooth > 0.55)).astype(np.float64)
