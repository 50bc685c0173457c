"""Every public operator has an Examples section that runs under the doctests.

The rule, for the names in ``__all__`` of :mod:`insp.ops`, :mod:`insp.learned`
and :mod:`insp.jet`: every function (plain, or wrapped as ``lru_cache``
wrappers are) and every class that is neither an exception nor a dataclass (a
record of data, documented by its attributes) has a numpydoc ``Examples``
section with at least one ``>>>`` line, in its own docstring, where
``pytest --doctest-modules`` finds it (pyproject.toml runs the doctests of
``insp/``).  A new operator without one fails here, with the offenders listed.
"""

from __future__ import annotations

import dataclasses
import doctest
import importlib
import inspect
import re
import sys
import types

import pytest

PACKAGES = ("insp.ops", "insp.learned", "insp.jet")

_EXAMPLES_HEADER = re.compile(r"^Examples\n-{3,}\n", re.MULTILINE)
_ANY_HEADER = re.compile(r"^\w[\w ]*\n-{3,}\n", re.MULTILINE)


def needs_examples(obj) -> bool:
    """Functions and classes, except exceptions and dataclasses; constants are not asked."""
    if inspect.isclass(obj):
        return not issubclass(obj, BaseException) and not dataclasses.is_dataclass(obj)
    return callable(obj)


def _examples_section(doc: str) -> str | None:
    """The text of the docstring's Examples section (up to the next section), or None."""
    m = _EXAMPLES_HEADER.search(doc)
    if m is None:
        return None
    rest = doc[m.end():]
    nxt = _ANY_HEADER.search(rest)
    return rest if nxt is None else rest[:nxt.start()]


def _doctested(module: types.ModuleType) -> set[str]:
    """Names of the docstrings of ``module`` with at least one example, as the doctest collection names them."""
    return {t.name for t in doctest.DocTestFinder().find(module) if t.examples}


def missing_examples(package: types.ModuleType) -> list[str]:
    """``package.name`` for each public name of ``package`` that lacks a doctested Examples section."""
    found: dict[str, set[str]] = {}
    missing = []
    for name in package.__all__:
        obj = getattr(package, name)
        if not needs_examples(obj):
            continue
        section = _examples_section(obj.__doc__ and inspect.cleandoc(obj.__doc__) or "")
        module = inspect.getmodule(obj)
        if module is not None and module.__name__ not in found:
            found[module.__name__] = _doctested(module)
        collected = module is not None and f"{module.__name__}.{obj.__qualname__}" in found[module.__name__]
        if section is None or ">>>" not in section or not collected:
            missing.append(f"{package.__name__}.{name}")
    return missing


@pytest.mark.parametrize("package", PACKAGES)
def test_every_public_operator_has_doctested_examples(package):
    missing = missing_examples(importlib.import_module(package))
    assert not missing, (f"{len(missing)} public names of {package} have no numpydoc Examples section (with >>> "
                         f"lines) that the doctests run: {', '.join(missing)}")


def test_the_doctests_of_the_package_are_collected(request):
    """The Examples are checked only if pytest collects the doctests of insp/ (pyproject.toml's settings)."""
    assert "--doctest-modules" in request.config.getini("addopts")
    assert "insp" in request.config.getini("testpaths")


_FAKE_SOURCE = '''
import dataclasses
import functools

def documented(x):
    """Twice x.

    Examples
    --------
    >>> documented(2)
    4
    """
    return 2 * x

@functools.lru_cache(maxsize=None)
def cached(n):
    """One more.

    Examples
    --------
    >>> cached(1)
    2
    """
    return n + 1

def bare(x):
    """No examples at all."""
    return x

def prose_only(x):
    """An Examples header without an example.

    Examples
    --------
    Call it with a number.
    """
    return x

def examples_elsewhere(x):
    """The example sits in another section.

    Examples
    --------
    See below.

    Notes
    -----
    >>> examples_elsewhere(1)
    1
    """
    return x

def undocumented(x):
    return x

class Operator:
    """A class with an example.

    Examples
    --------
    >>> Operator().value
    1
    """
    value = 1

class Child(Operator):
    pass

class Failure(ValueError):
    """An exception: not asked."""

@dataclasses.dataclass
class Record:
    """A record: not asked."""
    value: int = 0

CONSTANT = (1, 2)

__all__ = ["documented", "cached", "bare", "prose_only", "examples_elsewhere", "undocumented", "Operator", "Child",
           "Failure", "Record", "CONSTANT"]
'''


def test_missing_examples_names_each_offender(tmp_path, monkeypatch):
    name = "_insp_fake_operators"
    (tmp_path / f"{name}.py").write_text(_FAKE_SOURCE)
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        fake = importlib.import_module(name)
        # Child inherits Operator's docstring for inspect.getdoc, but doctest runs only its own (none)
        assert missing_examples(fake) == [f"{name}.{n}" for n in ("bare", "prose_only", "examples_elsewhere",
                                                                   "undocumented", "Child")]
    finally:
        sys.modules.pop(name, None)
