"""Reference losses a task declares (docs/statistics.md, "Floor-aware basins"): the loss of a
trivial predictor, l_ref, against which a basin counts the lrs where the model learned something
(l <= l* + eps (l_ref - l*)), and a known floor l_min (a synthetic task's noise floor).

Every trial records them (trials.parquet columns ref_loss and floor_loss, NaN when the task
declares none: the analysis then uses l0 as the reference and no floor)."""

from __future__ import annotations

import math

import numpy as np

COUNT_TOKENS = 4_000_000  # bigram counts come from at most this many training tokens
SMOOTHING = 1.0  # Dirichlet prior weight on the unigram distribution


def bigram_loss(train: np.ndarray, inputs: np.ndarray, targets: np.ndarray, vocab: int) -> float:
    """Cross-entropy (nats) on (inputs -> targets) pairs of a bigram model counted on ``train``:
    p(b | a) = (c(a, b) + k p(b)) / (c(a) + k), p(b) the add-one unigram of train, k = SMOOTHING.
    Sparse counts (pair codes a * vocab + b), so a 50k vocabulary costs no dense matrix."""
    t = np.asarray(train[:COUNT_TOKENS], dtype=np.int64)
    uni = np.bincount(t, minlength=vocab).astype(float) + 1.0
    uni /= uni.sum()
    first = np.bincount(t[:-1], minlength=vocab).astype(float)
    pairs = np.unique(t[:-1] * vocab + t[1:], return_counts=True)
    a, b = np.asarray(inputs, dtype=np.int64).ravel(), np.asarray(targets, dtype=np.int64).ravel()
    code = a * vocab + b
    pos = np.clip(np.searchsorted(pairs[0], code), 0, len(pairs[0]) - 1)
    c_ab = np.where(pairs[0][pos] == code, pairs[1][pos], 0).astype(float)
    p = (c_ab + SMOOTHING * uni[b]) / (first[a] + SMOOTHING)
    return float(-np.log(p).mean())


def chance_loss(classes: int) -> float:
    """Cross-entropy of the uniform prediction over ``classes`` classes: log(classes)."""
    return math.log(classes)
