"""Pretrained INSP-Net operators: restoration on fitted INRs without any training by the user.

Usage (a 256x256 fit takes about a minute on one core, so this is not a
doctest; ``tests/test_pretrained.py`` runs every shipped operator on a
held-in crop)::

    import insp
    field, _ = insp.learned.fit_for_operator("denoise", noisy_256x256)
    clean = insp.learned.denoise(field).sample((256, 256))

Each operator is an :class:`~insp.learned.inspnet.INSPNet` (partials of order <= 4 (2 for denoise, 6 for deblur) of
the field, 64x3 SiLU MLP -- none for denoise, a linear map --, residual: it outputs ``f + correction``) trained
by ``python -m benchmarks.train_operators`` and shipped as ``insp/learned/weights/<name>.inspop``
(package data, 3-45 kB each).  The weights are read on first use and kept
(one read per operator and process).  Every function returns a lazy Field that
can be sampled at any resolution.

========================  =============================================================================
``denoise(field)``        Gaussian noise, sigma 25/255 (values in [0, 1])
``deblur(field)``         Gaussian blur of sigma 2 px (reflect boundary)
``blur(field)``           Gaussian blur of sigma 1 px (as ``scipy.ndimage.gaussian_filter``)
``inpaint(field)``        30 % random pixel holes set to 0; ``protocol="known"`` for an INR fitted to the
                          known pixels only (``insp.fit(img, known=known)``)
``remove_text(field)``    white text drawn over the image
========================  =============================================================================

What the operators expect
-------------------------
The INR the operators were trained on (``available_operators()[name]["inr"]``):
a SIREN with ``insp.fit``'s defaults (3 hidden layers of 128, omega_0 = 30 in
every layer, 1000 steps) -- except the denoiser, whose SIREN has a first-layer
omega of 10 (it then fits the image, not the noise), and the deblurrer, whose
SIREN has hidden-layer omegas of 10 and is fitted for 4000 steps (its high-order
derivatives are then far closer to those of the blurred image) -- fitted to a gray
256x256 image on ``[-1, 1]^2``, i.e. samples ``2/255`` apart in coordinate
units.  ``fit_for_operator(name, image)`` fits an image of any size exactly
that way.  The derivatives an
operator reads scale with that spacing (an order-k partial by ``spacing^-k``),
so an image of another size must be fitted on the domain that keeps the
spacing: ``insp.fit(img, domain=pretrained_domain(img.shape))``.  Colour
images work channel by channel (the operators are trained on gray images).

Checked before anything is computed (``ValueError`` / ``TypeError`` naming the
problem): the argument is an ``insp`` Field, 2-D, smooth to the operator's
order (4; 2 for denoise, 6 for deblur; a ReLU network is refused), and a
:class:`~insp.fields.inr.Siren` with the trained
``first_omega_0``/``hidden_omega_0`` (other omegas change the bandwidth the
derivatives encode).  ``check=False`` skips the last test (e.g. to apply an
operator to the output of another operator, or to a Fourier-feature network),
at the caller's risk.

The sample spacing is read from the field's provenance (the grid ``insp.fit``
recorded): the first-layer omega is judged in pixel units, ``omega *
spacing``.  A fit of another size whose recipe matches the trained one in
pixel units (``fit_for_operator`` on any size, or ``insp.fit`` on ``[-1,
1]^2`` with ``first_omega_0 = omega * (n - 1) / 255``) is read exactly, on
coordinates stretched so that its samples are ``2/255`` apart (an order-k
partial scaled by ``(h / h0)**k``); the result comes back in the field's own
coordinates.  Any other fit is refused with a message saying how to fit.  A
field without a recorded grid (built by hand, imported) is read at the
trained spacing, with a ``UserWarning`` that says so.
"""

from __future__ import annotations

import math
import warnings

from .._checks import check_image
from ..fields.base import Field, check_field
from ..fields.domain import Domain
from .inspnet import INSPNet, INSPNetField
from .registry import PRETRAINED, load_shipped

__all__ = ["denoise", "deblur", "blur", "inpaint", "remove_text", "available_operators", "load_pretrained",
           "pretrained_domain", "fit_for_operator", "trained_steps", "OPERATOR_FILES"]

#: Operator name -> file in ``insp/learned/weights/`` (from the registry, :mod:`insp.learned.registry`).
OPERATOR_FILES = {name: op.file for name, op in PRETRAINED.items()}
_RETRAIN = "python -m benchmarks.train_operators"

#: The pixel spacing (coordinate units) of the fits the operators were trained on: 256 samples over [-1, 1].
TRAINED_SPACING = 2.0 / 255


def _check_name(name) -> str:
    if name not in OPERATOR_FILES:
        raise ValueError(f"name must be one of {list(OPERATOR_FILES)}, got {name!r}")
    return name


def load_pretrained(name: str) -> INSPNet:
    """The shipped operator ``name`` (read once per process, eval mode, no gradients to its weights).

    Raises ``FileNotFoundError`` if the package was installed without its
    data files (the weights are package data of ``insp.learned``).

    Examples
    --------
    >>> from insp.learned import INSPNet, load_pretrained
    >>> net = load_pretrained("denoise")
    >>> isinstance(net, INSPNet), net.order, net.residual, net.training
    (True, 2, True, False)
    >>> load_pretrained("denoise") is net                # read once per process
    True
    """
    return load_shipped(OPERATOR_FILES[_check_name(name)], _RETRAIN)[0]


def _metadata(name: str) -> dict:
    return load_shipped(OPERATOR_FILES[_check_name(name)], _RETRAIN)[1]


def available_operators() -> dict[str, dict]:
    """Every shipped operator with its metadata: task and parameters, the INR it expects, training data, times.

    Examples
    --------
    >>> from insp.learned import available_operators
    >>> ops = available_operators()
    >>> sorted(ops)
    ['blur', 'deblur', 'denoise', 'inpaint', 'inpaint_known', 'text']
    >>> inr = ops["denoise"]["inr"]                       # the SIREN the denoiser expects
    >>> inr["first_omega_0"], inr["hidden_omega_0"], inr["hidden_features"], inr["hidden_layers"]
    (10.0, 30.0, 128, 3)
    >>> ops["deblur"]["inr"]["hidden_omega_0"], ops["deblur"]["inr"]["steps"]
    (10.0, 4000)
    """
    return {name: dict(_metadata(name)) for name in OPERATOR_FILES}


def pretrained_domain(shape) -> Domain:
    """The domain to fit an image of ``shape`` ``(H, W)`` on so that its samples are ``2/255`` apart (as in training).

    ``(256, 256)`` gives ``[-1, 1]^2``; other sizes a box centred at 0 of
    half-width ``(n - 1) / 255`` per axis.

    Examples
    --------
    >>> from insp.learned import pretrained_domain
    >>> pretrained_domain((256, 256)).bounds
    ((-1.0, 1.0), (-1.0, 1.0))
    >>> dom = pretrained_domain((128, 64))
    >>> [round(hi, 4) for _, hi in dom.bounds]            # 127 / 255, 63 / 255
    [0.498, 0.2471]
    >>> [round(h * 255, 6) for h in dom.spacing((128, 64))]   # samples 2/255 apart, as in training
    [2.0, 2.0]
    """
    try:
        dims = tuple(int(n) for n in shape)
    except (TypeError, ValueError):
        raise TypeError(f"shape must be a pair of pixel counts (H, W), got {shape!r}") from None
    if len(dims) != 2 or any(n < 2 or n != s for n, s in zip(dims, shape)):
        raise ValueError(f"shape must be a pair of integers >= 2 (H, W), got {shape!r}")
    return Domain(tuple((-(n - 1) * TRAINED_SPACING / 2, (n - 1) * TRAINED_SPACING / 2) for n in dims))


def fit_for_operator(name: str, image, *, known=None, steps: int | None = None, seed: int = 0,
                     progress: bool = True):
    """Fit ``image`` the way the operator ``name`` expects its input: ``(field, history)``.

    The SIREN sizes, omegas, learning rate, batch size and step count come
    from the operator's metadata (``available_operators()[name]["inr"]``; the
    denoiser, for one, expects a first-layer omega of 10), the domain from
    :func:`pretrained_domain` (any image size).  ``image``: ``(H, W)`` gray or
    ``(H, W, C)``, values in [0, 1]; ``known``: the known pixels (``inpaint_known``);
    ``steps`` overrides :func:`trained_steps` (the trained count, scaled down for images smaller than
    256x256 so that each pixel is seen as often as in training).

    Examples
    --------
    A tiny image and a few steps (the trained recipe takes 1000-4000 steps):

    >>> import numpy as np
    >>> from insp.learned import denoise, fit_for_operator
    >>> img = np.linspace(0.0, 1.0, 64).reshape(8, 8)
    >>> field, history = fit_for_operator("denoise", img, steps=5, progress=False)
    >>> type(field).__name__, field.first_omega_0, field.hidden_omega_0, history.steps
    ('Siren', 10.0, 30.0, 5)
    >>> round(field.domain.bounds[0][1] * 255, 6)         # pretrained_domain((8, 8)): half-width 7/255
    7.0
    >>> denoise(field)                     # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: field was fitted to a 8x8 grid; the pretrained 'denoise' operator was measured to hold its gain only ...
    >>> denoise(field, check=False).sample((8, 8)).shape   # at the caller's risk
    torch.Size([8, 8, 1])
    """
    import numpy as np

    from ..fields.fitting import fit
    from ..fields.inr import Siren

    inr = _metadata(_check_name(name))["inr"]
    img = np.asarray(image)
    if img.ndim not in (2, 3):
        raise ValueError(f"image must be (H, W) or (H, W, C), got shape {img.shape}")
    img, _ = check_image(img, channel_axis=-1 if img.ndim == 3 else None, spatial_dims=(2,), name="image")
    lo, hi = float(img.min()), float(img.max())
    if lo < -1e-6 or hi > 1 + 1e-6:  # the operators read derivatives in the units of [0, 1] images
        raise ValueError(f"image values must lie in [0, 1], as in the operators' training; got range "
                         f"[{lo:g}, {hi:g}]" + (" (divide an 8-bit image by 255)" if hi > 1.5 else ""))
    model = Siren(2, 1 if img.ndim == 2 else img.shape[-1], hidden_features=inr["hidden_features"],
                  hidden_layers=inr["hidden_layers"], first_omega_0=inr["first_omega_0"],
                  hidden_omega_0=inr["hidden_omega_0"], domain=pretrained_domain(img.shape[:2]), seed=seed)
    return fit(img, model=model, steps=trained_steps(name, img.shape[:2]) if steps is None else steps, lr=inr["lr"],
               batch_size=inr["batch_size"], known=known, seed=seed, progress=progress,
               channel_axis=None if img.ndim == 2 else -1, data_range=1.0)


#: how far a field's pixel-unit omega or spacing may differ from the trained ones and still count as equal
_REL_TOL = 1e-4


def _spacing(field: Field) -> tuple[float, ...] | None:
    prov = field.provenance
    return tuple(prov.spacing) if prov.fitted and prov.spacing else None


#: the pixel count of the training fits (256x256): the recipe's passes over the data are counted against it
TRAINED_PIXELS = 256 * 256


def trained_steps(name: str, shape) -> int:
    """Fit steps for an image of ``shape`` that keep the trained recipe's passes over the data.

    The operators were trained on INRs that saw each of 256x256 pixels
    ``steps * batch / 65536`` times (62.5 for 1000 steps of 4096).  A smaller
    image fitted for as many steps is seen more often and the INR memorises
    its noise (denoise at 128x128: the fit reaches 31.7 dB to the noisy input
    instead of 21 dB, and the gain falls from +6.1 to +0.8 dB), so smaller
    images get proportionally fewer steps; larger ones keep the trained count
    (measured: 512x512 with 1000 steps matches the 256 gain).

    Examples
    --------
    >>> from insp.learned.pretrained import trained_steps
    >>> trained_steps("denoise", (256, 256)), trained_steps("denoise", (128, 128)), trained_steps("denoise", (512, 512))
    (1000, 250, 1000)
    """
    steps = int(_metadata(_check_name(name))["inr"]["steps"])
    pixels = math.prod(int(n) for n in shape)
    return max(1, round(steps * min(1.0, pixels / TRAINED_PIXELS)))


#: Image sizes (the short side of the fit's grid, pixels) at which an operator's gain was measured within
#: 0.5 dB of its 256-pixel gain or above it (``python -m benchmarks.pretrained_sizes``, camera and astronaut
#: at 128/256/512, fitted by fit_for_operator); outside, it is refused.  Bounds sit at the geometric middle
#: between a measured size that holds and one that does not (181 between 128 and 256, 362 between 256 and
#: 512).  Measured gains (dB) at 128 / 256 / 512:
#:   denoise  camera +4.60 / +6.05 / +6.07, astronaut +3.57 / +4.72 / +5.35  -> refused below 181
#:   text     camera +2.87 / +5.18 / +4.21, astronaut +2.82 / +4.35 / +3.69  -> refused outside 181-362
#:   blur     camera +6.98 / +7.10 / +8.89, astronaut +6.46 / +6.36 / +7.69  -> any size
#:   inpaint  camera +5.28 / +4.53 / +4.78, astronaut +4.99 / +4.01 / +4.22  -> any size
#: deblur (4000-step fits) was not measured at other sizes: not limited, see docs/pretrained.md.
MEASURED_SIZES: dict[str, tuple[int | None, int | None]] = {"denoise": (181, None), "text": (181, 362)}


def _check_measured_size(grid_shape, name: str) -> None:
    low, high = MEASURED_SIZES.get(name, (None, None))
    if grid_shape is None or (low is None and high is None):
        return
    side = min(int(n) for n in grid_shape)
    if (low is not None and side < low) or (high is not None and side > high):
        span = f"{low or 1}-{high}" if high is not None else f"at least {low}"
        raise ValueError(f"field was fitted to a {'x'.join(map(str, grid_shape))} grid; the pretrained {name!r} "
                         f"operator was measured to hold its gain only on images of {span} pixels on the short "
                         f"side (docs/pretrained.md: its gain falls by more than 0.5 dB outside). Resize the image "
                         f"into that range before fitting, or pass check=False to apply it anyway.")


def _check_inr(field: Field, name: str, check: bool) -> float:
    """Validate ``field`` for operator ``name``; return the stretch ``h / h0`` that puts its samples 2/255 apart.

    With a recorded fit grid (provenance), the first-layer omega is judged in
    pixel units (``omega * spacing``): a fit of another size with the trained
    recipe in pixel units is read exactly on stretched coordinates; any other
    is refused.  Without one the trained spacing is assumed, and a warning says so.
    """
    field = check_field(field)
    if field.in_features != 2:
        raise ValueError(f"field has dimension {field.in_features}; the pretrained {name!r} operator acts on 2-D "
                         f"fields (images)")
    if not check:
        return 1.0
    from ..fields.inr import Siren

    inr = _metadata(name)["inr"]
    if not isinstance(field, Siren):
        raise ValueError(f"the pretrained {name!r} operator was trained on SIRENs fitted by insp.fit "
                         f"({inr['hidden_layers']}x{inr['hidden_features']}, omega_0 {inr['first_omega_0']}); got a "
                         f"{type(field).__name__}. Pass check=False to apply it anyway.")
    if not math.isclose(field.hidden_omega_0, inr["hidden_omega_0"], rel_tol=1e-6):
        raise ValueError(f"field has hidden_omega_0={field.hidden_omega_0}, but the pretrained {name!r} operator was "
                         f"trained on SIRENs with hidden_omega_0={inr['hidden_omega_0']} (the derivatives it reads "
                         f"would be on another scale). Fit with insp.learned.fit_for_operator({name!r}, image), or "
                         f"pass check=False.")
    spacing = _spacing(field)
    if spacing is None:
        if not math.isclose(field.first_omega_0, inr["first_omega_0"], rel_tol=1e-6):
            raise ValueError(f"field has first_omega_0={field.first_omega_0}, but the pretrained {name!r} operator "
                             f"was trained on SIRENs with first_omega_0={inr['first_omega_0']} (the derivatives it "
                             f"reads would be on another scale). Fit with insp.learned.fit_for_operator({name!r}, "
                             f"image), or pass check=False.")
        warnings.warn(f"the field records no fit grid, so the pretrained {name!r} operator assumes its samples are "
                      f"{TRAINED_SPACING:.6g} apart (256 pixels over [-1, 1]); fit with "
                      f"insp.learned.fit_for_operator or insp.fit to have it checked", UserWarning, stacklevel=4)
        return 1.0
    h = spacing[0]
    if any(not math.isclose(t, h, rel_tol=_REL_TOL) for t in spacing):
        raise ValueError(f"field was fitted on a grid of spacing {list(spacing)} (not square pixels); the pretrained "
                         f"{name!r} operator reads square pixels. Fit with insp.learned.fit_for_operator({name!r}, "
                         f"image).")
    trained, given = inr["first_omega_0"] * TRAINED_SPACING, field.first_omega_0 * h
    if not math.isclose(given, trained, rel_tol=_REL_TOL):
        grid = "x".join(map(str, field.provenance.grid_shape))
        raise ValueError(f"field was fitted to a {grid} grid with first_omega_0={field.first_omega_0} on "
                         f"{[list(b) for b in field.domain.bounds]}: {given:.4g} radians per pixel in its first "
                         f"layer, but the pretrained {name!r} operator was trained on {trained:.4g} (omega "
                         f"{inr['first_omega_0']} at 256 pixels over [-1, 1]), so the derivatives it reads would be "
                         f"on another scale. Fit with insp.learned.fit_for_operator({name!r}, image) (any size), or "
                         f"pass check=False.")
    _check_measured_size(field.provenance.grid_shape, name)
    return h / TRAINED_SPACING


def _apply(name: str, field, check: bool) -> Field:
    if not isinstance(check, bool):
        raise TypeError(f"check must be a bool, got {type(check).__name__}")
    stretch = _check_inr(field, name, check)
    net = load_pretrained(name)
    if math.isclose(stretch, 1.0, rel_tol=_REL_TOL):
        return net.apply(field)
    from ..fields.transforms import Rescaled

    # read the field on coordinates in which its samples are 2/255 apart (an order-k partial scaled by
    # (h / h0)**k): exactly the jet a 256-pixel fit of the trained recipe gives; then back to its coordinates
    return Rescaled(net.apply(Rescaled(field, stretch)), 1.0 / stretch)


def denoise(field: Field, *, check: bool = True) -> INSPNetField:
    """Remove Gaussian noise (sigma 25/255) from an INR fitted to a noisy image (module notes).

    Examples
    --------
    The denoiser reads SIRENs with a first-layer omega of 10 (a tiny,
    untrained one here; fit real ones with :func:`fit_for_operator`):

    >>> import insp
    >>> from insp.learned import available_operators, denoise
    >>> available_operators()["denoise"]["inr"]["first_omega_0"]
    10.0
    >>> f = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, first_omega_0=10.0, seed=0)
    >>> out = denoise(f)                                   # lazy: nothing evaluated yet
    >>> type(out).__name__, out.sample((8, 8)).shape
    ('INSPNetField', torch.Size([8, 8, 1]))
    >>> denoise(insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: field has first_omega_0=30.0, but the pretrained 'denoise' operator was trained on SIRENs ...
    """
    return _apply("denoise", field, check)


def deblur(field: Field, *, check: bool = True) -> INSPNetField:
    """Undo a Gaussian blur of sigma 2 pixels on an INR fitted to the blurred image (module notes).

    Examples
    --------
    The deblurrer reads SIRENs with hidden-layer omegas of 10 (a tiny,
    untrained one here; fit real ones with :func:`fit_for_operator`):

    >>> import insp
    >>> from insp.learned import deblur
    >>> f = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, hidden_omega_0=10.0, seed=0)
    >>> deblur(f).sample((8, 8)).shape
    torch.Size([8, 8, 1])
    >>> deblur(insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0))   # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: field has hidden_omega_0=30.0, but the pretrained 'deblur' operator was trained on SIRENs ...
    """
    return _apply("deblur", field, check)


def blur(field: Field, *, check: bool = True) -> INSPNetField:
    """Gaussian blur of sigma 1 pixel, learned (``gaussian_blur`` is the closed-form one; module notes).

    Examples
    --------
    >>> import torch, insp
    >>> from insp.learned import blur
    >>> from insp.testing import SinusoidSum
    >>> f = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0)   # omegas 30, as trained
    >>> blur(f).sample((8, 8)).shape
    torch.Size([8, 8, 1])

    A field that is not a SIREN is refused unless ``check=False``:

    >>> g = SinusoidSum([1.0], [[3.0, 1.0]], dtype=torch.float64)
    >>> blur(g)                                            # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: the pretrained 'blur' operator was trained on SIRENs fitted by insp.fit ... got a SinusoidSum. ...
    >>> blur(g, check=False).sample((8, 8)).shape
    torch.Size([8, 8, 1])
    """
    return _apply("blur", field, check)


def inpaint(field: Field, *, protocol: str = "degraded", check: bool = True) -> INSPNetField:
    """Fill 30 % random pixel holes.

    ``protocol="degraded"``: ``field`` was fitted to the whole holey image
    (holes = 0; the INSP-Net paper's protocol).  ``protocol="known"``:
    ``field`` was fitted to the known pixels only (``insp.fit(img,
    known=known)``), and the operator trained on such fits refines it.

    Examples
    --------
    >>> import insp
    >>> from insp.learned import inpaint
    >>> f = insp.Siren(2, 1, hidden_features=16, hidden_layers=1, seed=0)   # tiny, untrained; omegas 30
    >>> inpaint(f).sample((8, 8)).shape, inpaint(f, protocol="known").sample((8, 8)).shape
    (torch.Size([8, 8, 1]), torch.Size([8, 8, 1]))
    >>> inpaint(insp.Siren(2, 1, hidden_features=16, hidden_layers=1, first_omega_0=10.0, seed=0))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: field has first_omega_0=10.0, but the pretrained 'inpaint' operator was trained on SIRENs ...
    """
    if protocol not in ("degraded", "known"):
        raise ValueError(f"protocol must be 'degraded' or 'known', got {protocol!r}")
    return _apply("inpaint" if protocol == "degraded" else "inpaint_known", field, check)


def remove_text(field: Field, *, check: bool = True) -> INSPNetField:
    """Remove white text drawn over an image, on an INR fitted to the whole image (module notes).

    The operator's registry name is ``"text"`` (``available_operators()["text"]``,
    ``fit_for_operator("text", image)``).

    Examples
    --------
    Colour fields are processed channel by channel:

    >>> import insp
    >>> from insp.learned import available_operators, remove_text
    >>> inr = available_operators()["text"]["inr"]
    >>> f = insp.Siren(2, 3, hidden_features=16, hidden_layers=1, first_omega_0=inr["first_omega_0"],
    ...                hidden_omega_0=inr["hidden_omega_0"], seed=0)   # tiny, untrained, 3 channels
    >>> remove_text(f).sample((8, 8)).shape
    torch.Size([8, 8, 3])
    >>> remove_text(insp.Siren(2, 3, hidden_features=16, hidden_layers=1, first_omega_0=10.0, seed=0))
    ... # doctest: +ELLIPSIS
    Traceback (most recent call last):
        ...
    ValueError: field has first_omega_0=10.0, but the pretrained 'text' operator was trained on SIRENs ...
    """
    return _apply("text", field, check)
