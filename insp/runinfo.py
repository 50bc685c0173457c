"""Run metadata: what a results file records about the software and the machine that produced it.

The demo and every benchmark write the same record, in the same words, so
that two results files can be compared key by key: :func:`run_metadata`
gives the versions of ``insp`` and of the numerical stack, the Python
version, the torch thread count, the machine, the processor and its core
count, the UTC date and the git commit of the checkout ``insp`` was imported
from.  The host name is left out on purpose: results files are committed.

This is a leaf module: it imports the standard library only, and torch
inside :func:`run_metadata` when torch is installed.

Examples
--------
>>> info = run_metadata(seed=0, quick=True)
>>> info["seed"], info["quick"], isinstance(info["cpu_count"], int)
(0, True, True)
"""

from __future__ import annotations

import os
import platform
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path

__all__ = ["run_metadata", "git_commit", "package_version", "processor", "load_average"]

#: The checkout that holds insp's source when it is imported from one (an editable install or the repository
#: root on ``sys.path``); :func:`git_commit` asks git about this folder.
SOURCE_ROOT = Path(__file__).resolve().parent.parent

#: key in the record (the module name) -> distribution name, for the numerical stack
_STACK = {"torch": "torch", "numpy": "numpy", "scipy": "scipy", "skimage": "scikit-image"}


def package_version(distribution: str, *, module: str | None = None) -> str | None:
    """The version of an installed package, or ``None`` when it is not installed.

    Parameters
    ----------
    distribution : str
        The name it is installed under (``"scikit-image"``, ``"opencv-python-headless"``).
    module : str, optional
        The name it is imported under (``"skimage"``, ``"cv2"``): when that module is already imported, its
        ``__version__`` (what actually ran) is taken; otherwise the installed distribution's, without importing.
    """
    loaded = sys.modules.get(module) if module is not None else None
    if loaded is not None and getattr(loaded, "__version__", None):
        return str(loaded.__version__)
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return None


def processor() -> str | None:
    """The CPU model (``/proc/cpuinfo``'s model name; ``platform.processor()`` elsewhere), or ``None``.

    On Linux ``platform.processor()`` is often empty, hence ``/proc/cpuinfo`` first.
    """
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or None


def load_average() -> list[float] | None:
    """The 1, 5 and 15 minute load averages, rounded to 0.01; ``None`` where the system has none."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except (AttributeError, OSError):  # AttributeError: no getloadavg on Windows
        return None


def git_commit(path=None) -> str | None:
    """The commit checked out (``git rev-parse HEAD``) in the git checkout whose root is ``path``.

    Parameters
    ----------
    path : path-like, optional
        Root of the checkout; by default :data:`SOURCE_ROOT`, the folder above the ``insp`` package.

    Returns
    -------
    str or None
        The 40-digit commit, or ``None`` when ``path`` is not the root of a checkout, git is not installed or
        git fails.  It never raises.

    Notes
    -----
    Only the root of a checkout counts (a ``.git`` folder, or file for a worktree, in ``path``): a copy of insp
    installed in a virtual environment that lives inside some other repository must not report that
    repository's commit.
    """
    root = Path(SOURCE_ROOT if path is None else path)
    if not (root / ".git").exists():
        return None
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True, timeout=30,
                             check=True).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return None
    return out if len(out) == 40 and all(c in "0123456789abcdef" for c in out) else None


def run_metadata(**extra) -> dict:
    """The run record: versions, threads, machine, date and git commit, then ``extra``.

    Parameters
    ----------
    **extra
        What the caller records besides (seed, quick, the requested threads, settings, ...); each must be
        JSON-serialisable to be written to a results file.  Keys are kept in the order given, after the
        common ones.

    Returns
    -------
    dict
        ``insp``, then ``torch``, ``numpy``, ``scipy``, ``skimage`` (the versions of those installed; a
        package that is not installed has no key), ``python``, ``torch_threads`` (when torch is installed),
        ``machine``, ``processor``, ``cpu_count``, ``date`` (UTC, ``YYYY-MM-DD HH:MM:SS UTC``),
        ``git_commit`` (:func:`git_commit`, ``None`` outside a checkout), then ``extra``.  No host name.

    Raises
    ------
    TypeError
        When a key of ``extra`` is one of the common keys: a record says each thing once.
    """
    from . import __version__

    info: dict = {"insp": __version__}
    for module, distribution in _STACK.items():
        version = package_version(distribution, module=module)
        if version is not None:
            info[module] = version
    info["python"] = platform.python_version()
    if "torch" in info:
        import torch

        info["torch_threads"] = torch.get_num_threads()
    info.update(machine=platform.machine(), processor=processor(), cpu_count=os.cpu_count(),
                date=time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime()), git_commit=git_commit())
    clash = sorted(set(extra) & set(info))
    if clash:
        raise TypeError(f"run_metadata: {clash} are recorded by run_metadata itself; pass only other keys")
    info.update(extra)
    return info
