"""Signal-quality metrics: PSNR and SSIM (images), SNR and SI-SDR (audio), on arrays or tensors; Chamfer
distance, normal consistency and F-score of surfaces (meshes).

Both take the two signals first and their options keyword-only, accept numpy
arrays or tensors (any device; they are copied to host float64), and raise a
clear error when the shapes differ.  ``data_range`` is the span of the value
scale (1 for images in [0, 1], 255 for 8-bit images); it is never guessed from
the data, so a score does not change meaning from one image to the next.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["psnr", "ssim", "mse", "snr", "si_sdr", "sample_surface", "surface_distances"]


def _as_float64(a, name: str) -> np.ndarray:
    try:
        import torch
    except ImportError:  # pragma: no cover - torch is a hard dependency
        torch = None
    if torch is not None and isinstance(a, torch.Tensor):
        a = a.detach().to("cpu", torch.float64).numpy()
    elif isinstance(a, (list, tuple)) or np.isscalar(a):
        a = np.asarray(a)
    if not isinstance(a, np.ndarray):
        raise TypeError(f"{name} must be a numpy array or a torch tensor, got {type(a).__name__}")
    if not (np.issubdtype(a.dtype, np.number) or a.dtype == np.bool_):
        raise TypeError(f"{name} must hold numbers, got dtype {a.dtype}")
    if np.iscomplexobj(a):
        raise TypeError(f"{name} must be real, got dtype {a.dtype}")
    return a.astype(np.float64, copy=False)


def _pair(x, y) -> tuple[np.ndarray, np.ndarray]:
    x, y = _as_float64(x, "x"), _as_float64(y, "y")
    if x.shape != y.shape:
        raise ValueError(f"x and y must have the same shape, got {x.shape} and {y.shape}")
    if x.size == 0:
        raise ValueError("x and y must not be empty")
    for a, name in ((x, "x"), (y, "y")):
        if not np.isfinite(a).all():
            raise ValueError(f"{name} contains NaN or infinite values")
    return x, y


def _check_range(data_range) -> float:
    if isinstance(data_range, bool):
        raise TypeError(f"data_range must be a positive number, got {data_range!r}")
    try:
        value = float(data_range)
    except (TypeError, ValueError):
        raise TypeError(f"data_range must be a positive number, got {data_range!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"data_range must be a positive finite number, got {data_range!r}")
    return value


def mse(x, y) -> float:
    """Mean squared error between two same-shaped arrays or tensors."""
    x, y = _pair(x, y)
    return float(np.mean((x - y) ** 2))


def psnr(x, y, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio ``10 log10(data_range^2 / MSE)`` in dB.

    Parameters
    ----------
    x, y : array_like or Tensor
        Two signals of the same shape (any number of dimensions and channels).
    data_range : float
        Span of the value scale: 1 for images in [0, 1], 255 for uint8.

    Returns
    -------
    float
        PSNR in dB; ``inf`` when ``x`` and ``y`` are identical.

    Notes
    -----
    Same formula as :func:`skimage.metrics.peak_signal_noise_ratio` with an
    explicit ``data_range``; computed in float64.

    Examples
    --------
    >>> import numpy as np
    >>> round(psnr(np.zeros(4), np.full(4, 0.1)), 6)
    20.0
    """
    data_range = _check_range(data_range)
    err = mse(x, y)
    if err == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / err)


def ssim(x, y, *, data_range: float = 1.0, channel_axis: int | None = None) -> float:
    """Mean structural similarity (Wang et al. 2004), wrapping :func:`skimage.metrics.structural_similarity`.

    Parameters
    ----------
    x, y : array_like or Tensor
        Two signals of the same shape, at least 7 samples along every
        spatial axis (skimage's default 7-sample uniform window).
    data_range : float
        Span of the value scale (1 for images in [0, 1]).
    channel_axis : int or None
        Axis holding channels (e.g. ``-1`` for an ``(H, W, 3)`` image); ``None``
        (default) when every axis is spatial.

    Returns
    -------
    float
        Mean SSIM, at most 1.
    """
    from skimage.metrics import structural_similarity

    data_range = _check_range(data_range)
    x, y = _pair(x, y)
    spatial = list(range(x.ndim))
    if channel_axis is not None:
        if isinstance(channel_axis, bool) or not isinstance(channel_axis, int) or not -x.ndim <= channel_axis < x.ndim:
            raise ValueError(f"channel_axis must be None or an axis of an array of {x.ndim} dimensions, "
                             f"got {channel_axis!r}")
        spatial.pop(channel_axis % x.ndim)
    small = [x.shape[k] for k in spatial if x.shape[k] < 7]
    if not spatial or small:
        raise ValueError(f"ssim needs at least 7 samples along every spatial axis, got shape {x.shape} "
                         f"(channel_axis={channel_axis})")
    return float(structural_similarity(x, y, data_range=data_range, channel_axis=channel_axis))


def snr(reference, estimate) -> float:
    """Signal-to-noise ratio ``10 log10(sum r^2 / sum (r - e)^2)`` in dB.

    ``reference`` is the clean signal, ``estimate`` its approximation (same
    shape; every sample and channel counts).  ``inf`` when they are equal.

    Examples
    --------
    >>> import numpy as np
    >>> r = np.array([1.0, -1.0, 1.0, -1.0])
    >>> round(snr(r, 0.9 * r), 6)          # error 0.1 r: 20 dB
    20.0
    """
    r, e = _pair(reference, estimate)
    noise = float(np.sum((r - e) ** 2))
    power = float(np.sum(r**2))
    if power == 0:
        raise ValueError("reference is all zeros: its SNR is undefined")
    return math.inf if noise == 0 else 10.0 * math.log10(power / noise)


def si_sdr(reference, estimate) -> float:
    """Scale-invariant signal-to-distortion ratio in dB (Le Roux et al. 2019).

    The estimate is projected on the (zero-mean) reference,
    ``target = (<e, r> / <r, r>) r``, and
    ``SI-SDR = 10 log10(|target|^2 / |e - target|^2)``.  Both signals are
    made zero-mean first, so a constant offset does not count; scaling the
    estimate by any non-zero factor leaves the score unchanged.  1-D signals,
    or ``(n, c)`` with channels last (the score of the concatenated channels
    each projected on its own reference is not what this computes: pass one
    channel at a time for per-channel scores).

    Examples
    --------
    >>> import numpy as np
    >>> t = np.linspace(0, 1, 1000, endpoint=False)
    >>> r, n = np.sin(2 * np.pi * 5 * t), np.cos(2 * np.pi * 7 * t)   # orthogonal, equal power
    >>> round(si_sdr(r, 3.0 * (r + 0.1 * n)), 6)                     # 10 log10(1 / 0.01)
    20.0
    """
    r, e = _pair(reference, estimate)
    r = r - r.mean(axis=0)
    e = e - e.mean(axis=0)
    rr = float(np.sum(r * r))
    if rr == 0:
        raise ValueError("reference is constant: its SI-SDR is undefined")
    target = (float(np.sum(e * r)) / rr) * r
    residual = float(np.sum((e - target) ** 2))
    t2 = float(np.sum(target**2))
    if residual == 0:
        return math.inf
    return -math.inf if t2 == 0 else 10.0 * math.log10(t2 / residual)


# --------------------------------------------------------------------------- surfaces


def _mesh_arrays(mesh, name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(vertices (V, 3) float64, faces (F, 3) int64)`` of a mesh, a ``(vertices, faces)`` pair or any object
    with ``.vertices`` and ``.faces`` (a ``trimesh.Trimesh``, an :class:`insp.fields.surface.Surface`)."""
    if hasattr(mesh, "vertices") and hasattr(mesh, "faces"):
        v, f = mesh.vertices, mesh.faces
    elif isinstance(mesh, (tuple, list)) and len(mesh) == 2:
        v, f = mesh
    else:
        raise TypeError(f"{name} must be a mesh (an object with .vertices and .faces, or a (vertices, faces) "
                        f"pair), got {type(mesh).__name__}")
    v = _as_float64(v, f"{name}.vertices")
    f = np.asarray(f)
    if v.ndim != 2 or v.shape[1] != 3:
        raise ValueError(f"{name}.vertices must have shape (V, 3), got {v.shape}")
    if f.ndim != 2 or f.shape[1] != 3 or not np.issubdtype(f.dtype, np.integer):
        raise ValueError(f"{name}.faces must be an integer array of shape (F, 3), got {f.shape} {f.dtype}")
    if len(f) == 0:
        raise ValueError(f"{name} has no faces")
    if not np.isfinite(v).all():
        raise ValueError(f"{name}.vertices contains NaN or infinite values")
    if f.min() < 0 or f.max() >= len(v):
        raise ValueError(f"{name}.faces refers to vertices outside 0..{len(v) - 1}")
    return v, f.astype(np.int64)


def _face_normals(v: np.ndarray, f: np.ndarray) -> np.ndarray:
    cross = np.cross(v[f[:, 1]] - v[f[:, 0]], v[f[:, 2]] - v[f[:, 0]])
    n = np.linalg.norm(cross, axis=1, keepdims=True)
    return np.divide(cross, n, out=np.zeros_like(cross), where=n > 0)


def sample_surface(mesh, n: int, *, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points drawn uniformly by area on a triangle mesh, and the unit normals of their faces.

    Parameters
    ----------
    mesh : mesh or ``(vertices, faces)``
    n : int
    seed : int

    Returns
    -------
    points : ``(n, 3)`` float64
    normals : ``(n, 3)`` float64 (the faces' winding orientation; zero for degenerate faces)

    Examples
    --------
    >>> import numpy as np
    >>> square = (np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float), np.array([[0, 1, 2], [0, 2, 3]]))
    >>> p, nrm = sample_surface(square, 1000, seed=0)
    >>> bool((p[:, 2] == 0).all()), nrm[0].tolist()
    (True, [0.0, 0.0, 1.0])
    """
    v, f = _mesh_arrays(mesh, "mesh")
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}")
    a, b, c = v[f[:, 0]], v[f[:, 1]], v[f[:, 2]]
    cross = np.cross(b - a, c - a)
    area2 = np.linalg.norm(cross, axis=1)
    if not area2.sum() > 0:
        raise ValueError("mesh has zero surface area")
    rng = np.random.default_rng(seed)
    idx = rng.choice(len(f), size=int(n), p=area2 / area2.sum())
    r1, r2 = rng.random(int(n)), rng.random(int(n))
    s = np.sqrt(r1)  # uniform on the triangle
    w = np.stack([1 - s, s * (1 - r2), s * r2], axis=1)
    points = w[:, :1] * a[idx] + w[:, 1:2] * b[idx] + w[:, 2:] * c[idx]
    normals = np.divide(cross[idx], area2[idx, None], out=np.zeros_like(cross[idx]), where=area2[idx, None] > 0)
    return points, normals


def surface_distances(mesh, reference, *, samples: int = 30000, threshold: float | None = None,
                      exact: bool = True, seed: int = 0) -> dict:
    """Chamfer distance, normal consistency and F-score between two triangle meshes.

    Both surfaces are sampled uniformly by area (``samples`` points each,
    :func:`sample_surface`) and each sample is matched to its closest point
    *on the other mesh* (``exact=True``: exact point-to-triangle distances by
    ``igl.point_mesh_squared_distance``, from the ``libigl`` wheel of the
    ``shapes`` extra) or to its nearest neighbour *in the other sample*
    (``exact=False``: a KD-tree; this adds a floor of about
    ``0.5 sqrt(area / samples)`` to the Chamfer distance even for identical
    surfaces):

    * ``chamfer`` -- ``(mean_a d(a, B) + mean_b d(b, A)) / 2``, distances (not
      squared) in the meshes' units;
    * ``chamfer_max`` -- the larger of the two one-sided maxima (a Hausdorff
      estimate);
    * ``normal_consistency`` -- the mean of ``|n_a . n_b|`` over nearest
      pairs, both ways (1 = parallel normals; orientation is ignored, so an
      inverted surface is not penalised);
    * ``fscore`` -- ``2 P R / (P + R)`` with precision ``P`` the share of
      ``mesh`` samples within ``threshold`` of ``reference`` and recall ``R``
      the converse; ``threshold`` defaults to 1 % of the reference's
      bounding-box diagonal (and is returned).

    The normal of a closest point is its face's (``exact=True``) or its
    sample's.

    Examples
    --------
    >>> import numpy as np
    >>> square = (np.array([[0, 0, 0], [1, 0, 0], [1, 1, 0], [0, 1, 0]], float), np.array([[0, 1, 2], [0, 2, 3]]))
    >>> lifted = (square[0] + [0, 0, 0.1], square[1])
    >>> m = surface_distances(lifted, square, samples=2000, exact=False)
    >>> round(m["chamfer"], 2), m["normal_consistency"], m["fscore"]
    (0.1, 1.0, 0.0)
    >>> round(surface_distances(lifted, square, samples=2000)["chamfer"], 6)     # exact: the lift itself
    0.1
    """
    from scipy.spatial import cKDTree

    va, fa = _mesh_arrays(mesh, "mesh")
    vb, fb = _mesh_arrays(reference, "reference")
    if isinstance(samples, bool) or not isinstance(samples, (int, np.integer)) or samples < 1:
        raise ValueError(f"samples must be a positive integer, got {samples!r}")
    if threshold is None:
        threshold = 0.01 * float(np.linalg.norm(vb.max(axis=0) - vb.min(axis=0)))
    elif isinstance(threshold, bool) or not (isinstance(threshold, (int, float)) and math.isfinite(threshold)
                                             and threshold > 0):
        raise ValueError(f"threshold must be a positive finite number, got {threshold!r}")
    pa, na = sample_surface((va, fa), samples, seed=seed)
    pb, nb = sample_surface((vb, fb), samples, seed=seed + 1)
    if exact:
        try:
            import igl
        except ImportError:  # pragma: no cover - depends on the environment
            raise ImportError("surface_distances(exact=True) needs libigl (pip install 'insp[shapes]'); "
                              "exact=False uses point samples only") from None

        def closest(p, v, f):
            d2, face, _ = igl.point_mesh_squared_distance(p, v, f)
            return np.sqrt(np.maximum(d2, 0.0)), np.asarray(face, dtype=np.int64)

        d_ab, f_ab = closest(pa, vb, fb)
        d_ba, f_ba = closest(pb, va, fa)
        nb_at, na_at = _face_normals(vb, fb)[f_ab], _face_normals(va, fa)[f_ba]
    else:
        d_ab, i_ab = cKDTree(pb).query(pa)
        d_ba, i_ba = cKDTree(pa).query(pb)
        nb_at, na_at = nb[i_ab], na[i_ba]
    nc_ab = np.abs(np.sum(na * nb_at, axis=1)).mean()
    nc_ba = np.abs(np.sum(nb * na_at, axis=1)).mean()
    precision, recall = float((d_ab <= threshold).mean()), float((d_ba <= threshold).mean())
    fscore = 0.0 if precision + recall == 0 else 2 * precision * recall / (precision + recall)
    return dict(chamfer=float((d_ab.mean() + d_ba.mean()) / 2), chamfer_max=float(max(d_ab.max(), d_ba.max())),
                normal_consistency=float((nc_ab + nc_ba) / 2), fscore=float(fscore), precision=precision,
                recall=recall, threshold=float(threshold))
