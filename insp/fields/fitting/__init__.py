"""Fitting fields to sampled signals: :func:`fit`, :func:`fit_many` and the loop kit they share.

* :mod:`~insp.fields.fitting.signal` -- how arrays are read as signals (layout, masks, normalisation);
* :mod:`~insp.fields.fitting.loop` -- the one training loop (schedule, sampler, clock, progress, history),
  also used by the gradient-domain fits and by operator training;
* :mod:`~insp.fields.fitting.engines` -- how one update of B fields is computed;
* :mod:`~insp.fields.fitting.audio` -- how waveforms are read (mono/stereo, windows);
* :mod:`~insp.fields.fitting.fitters` -- :func:`fit`, :func:`fit_many`, :func:`fit_audio`, :data:`DEFAULTS`;
* :mod:`~insp.fields.fitting.distill` -- :func:`distill`, any field copied into a fresh SIREN;
* :mod:`~insp.fields.fitting.sdf` -- :func:`fit_sdf`: signed-distance fields from meshes, SDF volumes or fields.
"""

from .distill import DistillReport, distill
from .fitters import AUDIO_DEFAULTS, DEFAULTS, FULL_BATCH, default_model, fit, fit_audio, fit_many
from .loop import FitHistory
from .sdf import SDF_DEFAULTS, fit_sdf
from .signal import SignalSpec, prepare_signal

__all__ = ["AUDIO_DEFAULTS", "fit_audio", "DistillReport", "distill", "DEFAULTS", "FULL_BATCH", "default_model", "fit",
           "fit_many", "FitHistory", "SignalSpec",
           "prepare_signal", "SDF_DEFAULTS", "fit_sdf"]
