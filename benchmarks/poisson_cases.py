"""Seeded Poisson-blending cases for ``benchmarks/poisson.py`` and the tests (issue 22).

:func:`draw_case` turns one seed into one blending problem: a size, a mask
(rectangle, ellipse, blobs or polygon; 1-60 % of the image; touching the
border or not; one or several components; holes; hard or soft), an image
pair (two random crops of :mod:`insp.data` images, or random smooth fields),
gray or RGB, a guidance mode, and for some cases a source that is a smaller
window pasted at an offset.  :func:`issue_cases` gives the three masks the
issue reported failing.  Everything is a function of the seed: the same seed
gives the same case on every machine.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

#: image sizes drawn by default (square images)
SIZES = (64, 96, 128, 192, 256)
#: mask shapes
MASK_KINDS = ("rectangle", "ellipse", "blobs", "polygon")
#: guidance modes and how often each is drawn
MODES = {"replace": 0.45, "mixed": 0.45, "average": 0.10}
#: the pseudo-image name of a random smooth field
SMOOTH = "smooth"
#: mask values above this are the region (``insp.ops.poisson_blend``'s rule: interpolation round-off is not region)
REGION_TOL = 1e-6


@dataclass
class Case:
    """One blending problem: ``source`` and ``mask`` on the source grid, pasted at ``offset`` into ``target``."""

    name: str
    seed: int
    size: int
    kind: str
    mode: str
    source: np.ndarray  # (h, w) or (h, w, 3)
    target: np.ndarray  # (n, n) or (n, n, 3)
    mask: np.ndarray  # (h, w), bool or soft in [0, 1]
    offset: tuple[int, int] = (0, 0)
    tags: dict = field(default_factory=dict)  # border, holes, soft, components, coverage, images

    @property
    def channels(self) -> int:
        return 1 if self.target.ndim == 2 else self.target.shape[-1]

    def region(self) -> np.ndarray:
        """The region in the target frame: where the mask exceeds :data:`REGION_TOL` (the INR's region)."""
        out = np.zeros(self.target.shape[:2], bool)
        h, w = self.mask.shape
        di, dj = self.offset
        out[di:di + h, dj:dj + w] = self.support()
        return out

    def support(self) -> np.ndarray:
        """The region on the source grid."""
        return self.mask > REGION_TOL


@functools.lru_cache(maxsize=64)
def _image(name: str, size: int, rgb: bool) -> np.ndarray:
    from insp import data

    return data.color(name, size=size) if rgb else data.gray(name, size=size)


def smooth_field(rng: np.random.Generator, n: int, channels: int) -> np.ndarray:
    """A random smooth image in [0, 1]: a few Gaussian bumps and low sinusoids, per channel."""
    yy, xx = np.mgrid[0:n, 0:n] / (n - 1)
    out = []
    for _ in range(channels):
        f = np.zeros((n, n))
        for _ in range(rng.integers(2, 6)):
            cy, cx, s = rng.random(), rng.random(), rng.uniform(0.05, 0.4)
            f += rng.normal() * np.exp(-((yy - cy) ** 2 + (xx - cx) ** 2) / (2 * s * s))
        k = rng.uniform(1, 6, size=2)
        f += 0.5 * rng.normal() * np.sin(2 * np.pi * (k[0] * yy + k[1] * xx) + rng.uniform(0, 2 * np.pi))
        f = (f - f.min()) / max(f.max() - f.min(), 1e-12)
        out.append(f)
    img = np.stack(out, -1)
    return img[..., 0] if channels == 1 else img


def _picture(rng, n: int, channels: int, names) -> tuple[np.ndarray, str]:
    """A random n x n crop of an insp.data image (or a smooth field), and its name."""
    name = names[rng.integers(len(names))]
    if name == SMOOTH:
        return smooth_field(rng, n, channels), name
    big = int(min(512, n * rng.choice([1.0, 1.5, 2.0])))
    img = _image(name, big, channels == 3)
    i, j = rng.integers(0, big - n + 1, size=2)
    return np.ascontiguousarray(img[i:i + n, j:j + n]), name


def _shape_mask(rng, n: int, kind: str, coverage: float, border: bool) -> np.ndarray:
    """A hard mask of about ``coverage * n^2`` pixels; ``border``: it reaches the image's edge."""
    from skimage.draw import polygon

    area = coverage * n * n
    yy, xx = np.mgrid[0:n, 0:n].astype(float)

    def centre(extent):  # a centre that keeps the shape off the border (or puts it across)
        if border:
            side = rng.integers(4)
            c = rng.uniform(0, n - 1, size=2)
            c[side // 2] = 0.0 if side % 2 == 0 else n - 1.0
            c[side // 2] += (1 if side % 2 == 0 else -1) * rng.uniform(0, 0.4) * extent
            return c
        lo = min(extent + 2, (n - 1) / 2)
        return rng.uniform(lo, n - 1 - lo, size=2)

    if kind == "rectangle":
        r = rng.uniform(0.5, 2.0)
        h = min(n - 4, max(2, int(round(math.sqrt(area * r)))))
        w = min(n - 4, max(2, int(round(area / h))))
        c = centre(max(h, w) / 2)
        i0 = int(np.clip(round(c[0] - h / 2), 0, n - h))
        j0 = int(np.clip(round(c[1] - w / 2), 0, n - w))
        if not border:
            i0, j0 = int(np.clip(i0, 2, n - h - 2)), int(np.clip(j0, 2, n - w - 2))
        m = np.zeros((n, n), bool)
        m[i0:i0 + h, j0:j0 + w] = True
        return m
    if kind == "ellipse":
        r = rng.uniform(0.4, 2.5)
        a = math.sqrt(area / math.pi * r)
        b = area / (math.pi * a)
        a, b = min(a, 0.45 * n), min(b, 0.45 * n)
        th = rng.uniform(0, math.pi)
        c = centre(max(a, b))
        u = (yy - c[0]) * math.cos(th) + (xx - c[1]) * math.sin(th)
        v = -(yy - c[0]) * math.sin(th) + (xx - c[1]) * math.cos(th)
        return (u / a) ** 2 + (v / b) ** 2 < 1
    if kind == "polygon":
        k = rng.integers(5, 10)
        ang = np.sort(rng.uniform(0, 2 * np.pi, size=k))
        rad = rng.uniform(0.5, 1.0, size=k)
        scale = math.sqrt(area / (0.5 * np.sum(rad * np.roll(rad, -1) * np.sin(np.diff(np.r_[ang, ang[0] + 2 * np.pi])))))
        scale = min(scale, 0.48 * n)
        c = centre(scale)
        m = np.zeros((n, n), bool)
        rr, cc = polygon(c[0] + scale * rad * np.sin(ang), c[1] + scale * rad * np.cos(ang), shape=(n, n))
        m[rr, cc] = True
        return m
    # blobs: a thresholded sum of Gaussian bumps, one to three of them (one or several components)
    f = np.zeros((n, n))
    for _ in range(rng.integers(1, 4)):
        s = rng.uniform(0.05, 0.2) * n
        c = centre(2 * s)
        f += rng.uniform(0.6, 1.0) * np.exp(-((yy - c[0]) ** 2 + (xx - c[1]) ** 2) / (2 * s * s))
    thr = np.quantile(f, 1 - coverage)
    m = f > max(thr, 1e-3 * f.max())
    if not border:
        m[:2] = m[-2:] = False
        m[:, :2] = m[:, -2:] = False
    return m


def _holes(rng, m: np.ndarray) -> np.ndarray:
    """Punch one or two small round holes into the mask's interior."""
    from scipy.ndimage import binary_erosion

    inner = binary_erosion(m, iterations=4)
    ii, jj = np.nonzero(inner)
    if ii.size == 0:
        return m
    yy, xx = np.mgrid[0:m.shape[0], 0:m.shape[1]]
    out = m.copy()
    for _ in range(rng.integers(1, 3)):
        k = rng.integers(ii.size)
        r = rng.uniform(1.5, max(2.0, 0.25 * math.sqrt(m.sum() / math.pi)))
        out &= (yy - ii[k]) ** 2 + (xx - jj[k]) ** 2 > r * r
    return out


def _soften(rng, m: np.ndarray) -> np.ndarray:
    """A soft mask: the hard one blurred, kept inside its own support (values in [0, 1])."""
    from scipy.ndimage import gaussian_filter

    return np.clip(gaussian_filter(m.astype(float), rng.uniform(0.7, 2.0)), 0, 1) * m


def draw_case(seed: int, *, sizes=SIZES, kinds=MASK_KINDS, modes=None, names=None, soft: float = 0.15,
              offset: float = 0.3) -> Case:
    """The blending problem of ``seed`` (see the module's docstring).

    ``soft`` and ``offset`` are the probabilities of a soft mask and of a
    smaller source pasted at an offset; ``names`` the images to draw from
    (default: every :mod:`insp.data` image and :data:`SMOOTH`).
    """
    from insp import data

    rng = np.random.default_rng([22, seed])
    names = tuple(names) if names is not None else (*data.names(), SMOOTH)
    modes = dict(modes) if modes is not None else MODES
    n = int(rng.choice(sizes))
    kind = str(rng.choice(kinds))
    mode = str(rng.choice(list(modes), p=np.array(list(modes.values())) / sum(modes.values())))
    channels = int(rng.choice([1, 3]))
    coverage = float(np.exp(rng.uniform(np.log(0.01), np.log(0.6))))
    border = bool(rng.random() < 0.35)
    region = _shape_mask(rng, n, kind, coverage, border)
    if not region.any():  # a shape that fell between the pixels: one pixel in the middle
        region[n // 2, n // 2] = True
    holes = bool(kind != "blobs" and rng.random() < 0.25)
    if holes:
        region = _holes(rng, region)
    src, sname = _picture(rng, n, channels, names)
    tgt, tname = _picture(rng, n, channels, names)
    di = dj = 0
    mask = region
    if rng.random() < offset:  # the source is a window around the region, pasted at (di, dj)
        ii, jj = np.nonzero(region)
        pad = rng.integers(0, 4, size=4)
        di, i1 = max(ii.min() - pad[0], 0), min(ii.max() + 1 + pad[1], n)
        dj, j1 = max(jj.min() - pad[2], 0), min(jj.max() + 1 + pad[3], n)
        i1, j1 = max(i1, di + 2), max(j1, dj + 2)
        di, dj = min(di, n - 2), min(dj, n - 2)
        mask = region[di:i1, dj:j1]
        h, w = mask.shape
        a, b = rng.integers(0, n - h + 1), rng.integers(0, n - w + 1)  # the window's content comes from elsewhere
        src = src[a:a + h, b:b + w]
    is_soft = bool(rng.random() < soft)
    if is_soft:
        mask = _soften(rng, mask)
    from scipy.ndimage import label

    tags = dict(border=border, holes=holes, soft=is_soft, coverage=float((mask > 0).sum() / n**2),
                components=int(label(mask > 0)[1]), images=(sname, tname))
    name = f"{seed}:{kind}{'+holes' if holes else ''}{'+soft' if is_soft else ''}{'+border' if border else ''}" \
           f"/{n}/{'rgb' if channels == 3 else 'gray'}/{mode}"
    return Case(name, seed, n, kind, mode, np.ascontiguousarray(src), tgt, mask, (int(di), int(dj)), tags)


def draw_cases(count: int, *, start: int = 0, **kw) -> list[Case]:
    """``count`` cases with seeds ``start, start + 1, ...`` (see :func:`draw_case`)."""
    return [draw_case(s, **kw) for s in range(start, start + count)]


def issue_cases(pair=("camera", "astronaut")) -> list[Case]:
    """The masks that issue 22 reported failing, 128x128 gray, ``replace``.

    A plain 64x60 rectangle away from the borders; an ellipse that touches
    the border; two round blobs.  The images are two :mod:`insp.data`
    photographs (the issue's own were not in it).
    """
    n = 128
    src, tgt = _image(pair[0], n, False), _image(pair[1], n, False)
    yy, xx = np.mgrid[0:n, 0:n].astype(float)
    rect = np.zeros((n, n), bool)
    rect[32:96, 34:94] = True
    ellipse = ((yy - 40) / 45) ** 2 + ((xx - 64) / 30) ** 2 < 1  # reaches row 0
    blobs = ((yy - 40) ** 2 + (xx - 40) ** 2 < 18**2) | ((yy - 85) ** 2 + (xx - 88) ** 2 < 22**2)
    out = []
    for k, (kind, m) in enumerate((("rectangle 64x60", rect), ("ellipse at the border", ellipse),
                                   ("two blobs", blobs))):
        tags = dict(border=bool(m[0].any() or m[-1].any() or m[:, 0].any() or m[:, -1].any()), holes=False,
                    soft=False, coverage=float(m.mean()), components=int(1 + (k == 2)), images=pair)
        out.append(Case(f"issue:{kind}", -1 - k, n, kind, "replace", src, tgt, m, (0, 0), tags))
    return out
