"""Poisson (gradient-domain) blending on pixel grids: the baselines of :func:`insp.ops.poisson_blend`.

* :func:`poisson_blend` -- Pérez et al. 2003 on the grid: a sparse solve of the
  5-point discrete Poisson equation inside the region, Dirichlet boundary
  values from the target (scipy.sparse, one factorisation for all channels);
* :func:`seamless_clone` -- OpenCV's ``cv2.seamlessClone`` (NORMAL / MIXED),
  with its centre convention turned into the same ``offset`` as above;
* :func:`seam_visibility` -- how visible the mask boundary is in a result;
* :func:`feather_weights` -- the cross-fade weights of the ``feather`` option
  (shared with :func:`insp.ops.poisson_blend`).

Conventions shared with :func:`insp.ops.poisson_blend`
-----------------------------------------------------
* ``source`` and ``mask`` live on the same grid (the mask marks the source
  pixels to paste); ``offset = (di, dj)`` (pixels, "ij": rows, columns) puts
  source pixel ``(i, j)`` on target pixel ``(i + di, j + dj)``.
* Images are ``(H, W)`` or ``(H, W, c)`` (channels last), float values in the
  image's own units (no rescaling); colour is processed per channel.
* The region is ``mask > 0.5`` (soft masks are binarised here; the INR blend
  uses them as weights).
"""

from __future__ import annotations

import numpy as np

from .._checks import check_image

__all__ = ["BLEND_MODES", "feather_weights", "poisson_blend", "seamless_clone", "seam_visibility", "paste",
           "region_in_target"]

#: guidance-field modes shared with :func:`insp.ops.poisson_blend`
BLEND_MODES = ("replace", "mixed", "average")


def _check_offset(offset) -> tuple[int, int]:
    try:
        di, dj = offset
    except (TypeError, ValueError):
        raise TypeError(f"offset must be a pair of integers (rows, columns), got {offset!r}") from None
    if any(isinstance(v, bool) or not float(v).is_integer() for v in (di, dj)):
        raise ValueError(f"offset must be whole pixels (rows, columns) on the grid, got {offset!r}")
    return int(di), int(dj)


def _images(source, target, mask, offset):
    """Checked ``(H, W, c)`` float arrays, the boolean mask and the integer offset."""
    t, _ = check_image(target, channel_axis=-1 if np.ndim(target) == 3 else None, spatial_dims=(2,), name="target")
    s, _ = check_image(source, channel_axis=-1 if np.ndim(source) == 3 else None, spatial_dims=(2,), name="source")
    gray = t.ndim == 2
    t3 = t[..., None] if t.ndim == 2 else t
    s3 = s[..., None] if s.ndim == 2 else s
    if s3.shape[-1] != t3.shape[-1]:
        raise ValueError(f"source has {s3.shape[-1]} channels but target has {t3.shape[-1]}")
    m = np.asarray(mask)
    if m.dtype != bool:
        m, _ = check_image(m, spatial_dims=(2,), name="mask")
        if m.min() < 0 or m.max() > 1:
            raise ValueError(f"mask values must lie in [0, 1], got range [{m.min()}, {m.max()}]")
        m = m > 0.5
    if m.shape != s3.shape[:2]:
        raise ValueError(f"mask must have the source's spatial shape {s3.shape[:2]}, got {m.shape}")
    return s3, t3, m, _check_offset(offset), gray


def feather_weights(region, width: float) -> np.ndarray:
    """Cross-fade weights inside ``region``: ``min(1, dist / width)``, zero outside.

    ``dist`` is the Euclidean distance, in grid steps, from a point of the
    region to the nearest grid point outside it (1 on the region's inner
    boundary ring; the array's own border is not a boundary).  A result
    ``w * blend + (1 - w) * target`` then fades from the target at the mask
    boundary to the Poisson solution ``width`` pixels inside.  ``width = 0``
    gives the region itself (weight 1 everywhere inside).

    >>> r = np.zeros((1, 9), bool); r[0, 2:7] = True
    >>> feather_weights(r, 2.0)[0].tolist()
    [0.0, 0.0, 0.5, 1.0, 1.0, 1.0, 0.5, 0.0, 0.0]
    """
    from scipy.ndimage import distance_transform_edt

    region = np.asarray(region)
    if region.dtype != bool:
        raise TypeError(f"region must be a boolean array, got dtype {region.dtype}")
    if isinstance(width, bool) or not isinstance(width, (int, float, np.integer, np.floating)) \
            or not np.isfinite(width) or width < 0:
        raise ValueError(f"feather must be a finite width >= 0 in pixels, got {width!r}")
    if width == 0 or region.all():
        return region.astype(np.float64)
    return np.minimum(1.0, distance_transform_edt(region) / float(width))


def region_in_target(mask, target_shape, *, offset=(0, 0)) -> np.ndarray:
    """The mask (source grid, ``> 0.5``) moved by ``offset`` onto the target grid, as a boolean array.

    Raises ``ValueError`` when a masked pixel would land outside the target.
    """
    m = np.asarray(mask)
    m = m if m.dtype == bool else m > 0.5
    di, dj = _check_offset(offset)
    H, W = tuple(target_shape)[:2]
    ii, jj = np.nonzero(m)
    ii, jj = ii + di, jj + dj
    inside = (ii >= 0) & (ii < H) & (jj >= 0) & (jj < W)
    if ii.size and not inside.any():
        raise ValueError(f"mask touches nothing: with offset={offset} none of its {ii.size} pixels lands on the "
                         f"target's {H}x{W} grid")
    if not inside.all():
        raise ValueError(f"mask extends outside the target: with offset={offset}, {int((~inside).sum())} of its "
                         f"{ii.size} pixels land outside the {H}x{W} grid")
    out = np.zeros((H, W), dtype=bool)
    out[ii, jj] = True
    return out


def paste(source, target, mask, *, offset=(0, 0)) -> np.ndarray:
    """The naive cut-and-paste composite (``source`` copied where ``mask > 0.5``): the reference seam."""
    s3, t3, m, (di, dj), gray = _images(source, target, mask, offset)
    region_in_target(m, t3.shape, offset=(di, dj))
    out = t3.copy()
    ii, jj = np.nonzero(m)
    out[ii + di, jj + dj] = s3[ii, jj]
    return out[..., 0] if gray else out


def _source_in_target_frame(s3, t3, di, dj):
    """The source copied onto a copy of the target (where it overlaps), and where it landed."""
    S = t3.copy()
    have = np.zeros(t3.shape[:2], dtype=bool)
    H, W = t3.shape[:2]
    hs, ws = s3.shape[:2]
    i0, i1 = max(di, 0), min(di + hs, H)
    j0, j1 = max(dj, 0), min(dj + ws, W)
    if i0 < i1 and j0 < j1:
        S[i0:i1, j0:j1] = s3[i0 - di:i1 - di, j0 - dj:j1 - dj]
        have[i0:i1, j0:j1] = True
    return S, have


def poisson_blend(source, target, mask, *, offset=(0, 0), mode: str = "replace", feather: float = 0.0) -> np.ndarray:
    """Pérez et al. 2003 on the grid: solve the discrete Poisson equation inside the mask.

    For every pixel ``p`` of the region ``Omega`` (``mask > 0.5`` moved by
    ``offset``), with ``N(p)`` its 4-neighbours inside the image::

        |N(p)| f_p - sum_{q in N(p) ∩ Omega} f_q = sum_{q in N(p) \\ Omega} t_q + sum_{q in N(p)} v_pq

    (the 5-point Laplacian; Dirichlet values ``t`` from the target on the
    region's outer boundary; image borders inside the region get the natural
    Neumann condition by dropping the missing neighbour).  The guidance
    ``v_pq`` is the source difference ``s_p - s_q`` (``"replace"``), the
    larger in magnitude of the source and target differences per channel
    (``"mixed"``) or their mean (``"average"``).  Outside ``Omega`` the result
    is the target.  When ``Omega`` is the whole image (no Dirichlet boundary)
    the solution is fixed by giving it the target's mean.

    Parameters
    ----------
    source : ndarray ``(h, w)`` or ``(h, w, c)``
    target : ndarray ``(H, W)`` or ``(H, W, c)``
    mask : ndarray ``(h, w)``, bool or in [0, 1]
        On the source's grid.
    offset : (int, int)
        Source pixel ``(i, j)`` lands on target pixel ``(i + di, j + dj)``.
    mode : {"replace", "mixed", "average"}
    feather : float
        Width in pixels of a linear cross-fade from the target (at the
        region's boundary) to the solution (``feather`` pixels inside):
        ``out = w * solution + (1 - w) * target`` with
        :func:`feather_weights`.  0 (default): the plain Pérez solution.

    Returns
    -------
    ndarray, the target's shape, float64.

    Examples
    --------
    >>> import numpy as np
    >>> t = np.zeros((8, 8)); s = np.arange(64.0).reshape(8, 8); m = np.zeros((8, 8), bool); m[2:6, 2:6] = True
    >>> out = poisson_blend(s, t, m)  # outside: the target; a ramp source has no Laplacian, so inside too
    >>> bool(np.allclose(out, 0)), bool(np.allclose(poisson_blend(s, s, m), s))
    (True, True)
    """
    import scipy.sparse as sp
    import scipy.sparse.linalg as spla

    if mode not in BLEND_MODES:
        raise ValueError(f"mode must be one of {list(BLEND_MODES)}, got {mode!r}")
    s3, t3, m, (di, dj), gray = _images(source, target, mask, offset)
    region = region_in_target(m, t3.shape, offset=(di, dj))
    w = feather_weights(region, feather)[..., None]
    H, W, C = t3.shape
    out = t3.copy()
    n = int(region.sum())
    if n == 0:
        return out[..., 0] if gray else out
    S, _ = _source_in_target_frame(s3, t3, di, dj)
    idx = -np.ones((H, W), dtype=np.int64)
    pi, pj = np.nonzero(region)
    idx[pi, pj] = np.arange(n)
    diag = np.zeros(n)
    rows, cols = [], []
    rhs = np.zeros((n, C))
    for ddi, ddj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qi, qj = pi + ddi, pj + ddj
        ok = (qi >= 0) & (qi < H) & (qj >= 0) & (qj < W)
        p_ok = np.nonzero(ok)[0]
        qi, qj = qi[ok], qj[ok]
        diag[p_ok] += 1
        vs = S[pi[p_ok], pj[p_ok]] - S[qi, qj]
        vt = t3[pi[p_ok], pj[p_ok]] - t3[qi, qj]
        if mode == "replace":
            v = vs
        elif mode == "mixed":
            v = np.where(np.abs(vs) > np.abs(vt), vs, vt)
        else:
            v = 0.5 * (vs + vt)
        np.add.at(rhs, p_ok, v)
        q_in = region[qi, qj]
        rows.append(p_ok[q_in])
        cols.append(idx[qi[q_in], qj[q_in]])
        np.add.at(rhs, p_ok[~q_in], t3[qi[~q_in], qj[~q_in]])
    rows, cols = np.concatenate(rows), np.concatenate(cols)
    A = sp.coo_matrix((np.concatenate([diag, -np.ones(rows.size)]),
                       (np.concatenate([np.arange(n), rows]), np.concatenate([np.arange(n), cols]))),
                      shape=(n, n)).tocsc()
    closed = n == H * W  # no Dirichlet boundary: fix the free constant
    if closed:
        A = A.tolil()
        A[0, :] = 0
        A[0, 0] = 1
        A = A.tocsc()
        rhs[0] = 0
    solve = spla.factorized(A)
    sol = np.stack([solve(rhs[:, c]) for c in range(C)], axis=-1)
    if closed:
        sol += t3.reshape(-1, C).mean(axis=0) - sol.mean(axis=0)
    out[pi, pj] = sol
    out = w * out + (1 - w) * t3
    return out[..., 0] if gray else out


def seamless_clone(source, target, mask, *, offset=(0, 0), mode: str = "normal") -> np.ndarray:
    """OpenCV ``cv2.seamlessClone`` with :func:`poisson_blend`'s ``offset`` convention.

    OpenCV takes 8-bit 3-channel images and a centre point ``p = (x, y)``
    (column, row): it zeroes the mask's outermost pixel ring, takes the mask's
    bounding box ``(x0, y0, w, h)`` in the source and pastes it with top-left
    ``(p.x - w // 2, p.y - h // 2)`` in the target.  Here ``p`` is chosen so
    that source pixel ``(i, j)`` lands on target pixel ``(i + di, j + dj)``.
    Values are quantised to 8 bits (``[0, 1]`` -> 0..255) on the way in and
    returned as float64 in ``[0, 1]``; gray images are replicated to 3
    channels and averaged back.

    Parameters
    ----------
    source, target, mask, offset
        As in :func:`poisson_blend` (values in ``[0, 1]``).
    mode : {"normal", "mixed"}
        ``cv2.NORMAL_CLONE`` or ``cv2.MIXED_CLONE``.
    """
    try:
        import cv2
    except ImportError as err:  # an optional dependency: say which and how to get it
        raise ImportError("seamless_clone needs OpenCV: pip install 'insp[baselines]' (opencv-python-headless)") \
            from err

    from ..imageio import to_uint8

    flags = {"normal": cv2.NORMAL_CLONE, "mixed": cv2.MIXED_CLONE}
    if mode not in flags:
        raise ValueError(f"mode must be one of {list(flags)}, got {mode!r}")
    s3, t3, m, (di, dj), gray = _images(source, target, mask, offset)
    if s3.shape[-1] not in (1, 3):
        raise ValueError(f"seamless_clone takes gray or RGB images, got {s3.shape[-1]} channels")
    region_in_target(m, t3.shape, offset=(di, dj))
    m8 = m.astype(np.uint8) * 255
    m8[0, :] = m8[-1, :] = m8[:, 0] = m8[:, -1] = 0  # what OpenCV does; keeps the box below honest
    if not m8.any():
        return t3[..., 0].copy() if gray else t3.copy()
    x0, y0, w, h = cv2.boundingRect(m8)
    p = (x0 + dj + w // 2, y0 + di + h // 2)
    s8, t8 = to_uint8(s3), to_uint8(t3)
    if gray:
        s8, t8 = np.repeat(s8, 3, axis=-1), np.repeat(t8, 3, axis=-1)
    out = cv2.seamlessClone(np.ascontiguousarray(s8), np.ascontiguousarray(t8), m8, p, flags[mode])
    out = out.astype(np.float64) / 255.0
    return out.mean(axis=-1) if gray else out


def seam_visibility(image, mask, *, offset=(0, 0), target_shape=None) -> float:
    """Mean excess of the pixel difference across the mask boundary over its neighbours (lower is better).

    For every 4-neighbour pair ``(p, q)`` with ``p`` inside the region and
    ``q`` outside, along axis direction ``e = q - p``::

        jump_pq = max(0, |f_q - f_p| - (|f_p - f_{p-e}| + |f_{q+e} - f_q|) / 2)

    averaged over pairs and channels (pairs whose outer neighbours fall off the
    image are skipped).  A seamless result has differences across the boundary
    like those beside it (jump near the image's natural level); a visible seam
    is a spike of the gradient magnitude exactly at the boundary.  Units: the
    image's values per pixel.

    Parameters
    ----------
    image : ndarray ``(H, W)`` or ``(H, W, c)``
    mask : ndarray
        On the source grid, moved by ``offset`` (as in :func:`poisson_blend`);
        by default the image's own grid.
    """
    f, _ = check_image(image, channel_axis=-1 if np.ndim(image) == 3 else None, spatial_dims=(2,), name="image")
    f = f[..., None] if f.ndim == 2 else f
    region = region_in_target(mask, target_shape or f.shape, offset=offset)
    H, W = f.shape[:2]
    vals = []
    pi, pj = np.nonzero(region)
    for ei, ej in ((-1, 0), (1, 0), (0, -1), (0, 1)):
        qi, qj = pi + ei, pj + ej
        ai, aj = pi - ei, pj - ej  # one step inside
        bi, bj = qi + ei, qj + ej  # one step further outside
        ok = ((qi >= 0) & (qi < H) & (qj >= 0) & (qj < W) & (ai >= 0) & (ai < H) & (aj >= 0) & (aj < W)
              & (bi >= 0) & (bi < H) & (bj >= 0) & (bj < W))
        p, q, a, b = (pi[ok], pj[ok]), (qi[ok], qj[ok]), (ai[ok], aj[ok]), (bi[ok], bj[ok])
        cross = ~region[q]
        p, q, a, b = [(u[0][cross], u[1][cross]) for u in (p, q, a, b)]
        jump = np.abs(f[q] - f[p]) - 0.5 * (np.abs(f[p] - f[a]) + np.abs(f[b] - f[q]))
        vals.append(np.maximum(jump, 0).ravel())
    v = np.concatenate(vals) if vals else np.zeros(0)
    return float(v.mean()) if v.size else 0.0
