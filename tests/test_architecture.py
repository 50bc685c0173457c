"""The house rules of docs/architecture.md, checked on the source: layers, no import circles, package data.

Imports are read with :mod:`ast` (module-level and function-level alike, so
a lazy import counts too) and resolved to modules of ``insp``.
"""

from __future__ import annotations

import ast
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "insp"

#: rank of each part of the library: a module may import only parts of lower or equal rank
#: (docs/architecture.md draws the same picture); leaves are the top-level modules not listed
LAYERS = {
    "fields": 1,
    "baselines": 2,
    "jet": 3,
    "ops": 4,
    "testing": 4,
    "tasks": 5,
    "datasets": 6,
    "learned": 7,
    "demo": 9,
    "cli": 9,
}
LEAF = 0


def _module_name(path: Path) -> str:
    rel = path.relative_to(ROOT).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts)


def _modules() -> dict[str, Path]:
    return {_module_name(p): p for p in PACKAGE.rglob("*.py")}


def _resolve(name: str, modules) -> str | None:
    """The insp module that ``name`` refers to (a module, or the module defining an imported name)."""
    while name and name not in modules:
        name = name.rpartition(".")[0]
    return name or None


def _type_checking_nodes(tree) -> set[int]:
    """ids of the nodes under ``if TYPE_CHECKING:`` (annotations only: never executed)."""
    skip = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip |= {id(n) for stmt in node.body for n in ast.walk(stmt)}
    return skip


def _imports(mod: str, path: Path, modules) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    skip = _type_checking_nodes(tree)
    here = mod.split(".") if path.name == "__init__.py" else mod.split(".")[:-1]
    out = set()
    for node in ast.walk(tree):
        if id(node) in skip:
            continue
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                prefix = ".".join(here[: len(here) - node.level + 1] + ([node.module] if node.module else []))
            else:
                prefix = node.module or ""
            # ``from P import n``: the submodule P.n if there is one, else (a name defined in) P
            names = [f"{prefix}.{a.name}" if f"{prefix}.{a.name}" in modules else prefix for a in node.names]
        else:
            continue
        for n in names:
            if n == "insp" or n.startswith("insp."):
                target = _resolve(n, modules)
                if target and target != mod:
                    out.add(target)
    return out


def _graph():
    modules = _modules()
    return {m: _imports(m, p, modules) for m, p in modules.items()}


def _part(mod: str) -> str:
    parts = mod.split(".")
    return parts[1] if len(parts) > 1 else ""


def _rank(mod: str) -> int:
    return LAYERS.get(_part(mod), LEAF)


def test_each_layer_imports_only_layers_below_it():
    bad = [f"{m} -> {t}" for m, targets in _graph().items() for t in targets
           if t != "insp" and _part(t) != _part(m) and _rank(t) > _rank(m)]
    assert not bad, "imports that run up a layer:\n" + "\n".join(sorted(bad))


def test_the_named_rules_of_the_design():
    g = _graph()
    forbidden = {"fields": {"ops", "learned", "tasks", "demo"}, "jet": {"ops", "learned", "tasks", "demo"},
                 "ops": {"learned", "demo"}}
    bad = [f"{m} -> {t}" for m, ts in g.items() for t in ts if _part(t) in forbidden.get(_part(m), ())]
    assert not bad, "\n".join(sorted(bad))


def test_no_import_circles():
    g = _graph()
    index, low, stack, on_stack, cycles = {}, {}, [], set(), []

    def visit(v):  # Tarjan's strongly connected components
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in g.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    sys.setrecursionlimit(max(10000, sys.getrecursionlimit()))
    for v in g:
        if v not in index:
            visit(v)
    assert not cycles, f"import circles: {cycles}"


def test_import_insp_is_cheap_and_lazy():
    code = ("import sys, insp; assert 'torch' not in sys.modules, 'import insp loaded torch'; "
            "insp.ops.gaussian_blur; insp.jet.jet; insp.learned.denoise; insp.fit; print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert out.stdout.strip() == "ok", out.stderr


def test_package_data_names_existing_paths():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11

    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())
    for pattern in cfg["tool"]["setuptools"]["package-data"]["insp"]:
        assert list(PACKAGE.glob(pattern)), f"package-data pattern {pattern!r} matches nothing"


def test_a_built_wheel_contains_every_weight_file(tmp_path):
    out = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                          str(tmp_path), str(ROOT)], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-2000:]
    (wheel,) = tmp_path.glob("insp-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    weights = sorted(p.relative_to(ROOT).as_posix() for p in (PACKAGE / "learned" / "weights").glob("*.inspop"))
    assert weights and all(w in names for w in weights), sorted(n for n in names if "weights" in n)
    assert "insp/learned/registry.py" in names and "insp/ops/poisson/blend.py" in names


def test_the_checker_sees_lazy_and_relative_imports(tmp_path):
    fake = tmp_path / "fake.py"
    fake.write_text("from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    from ..demo import DemoContext\n"
                    "def f():\n    from ..learned import denoise\n    from . import gaussian\n")
    modules = {**_modules(), "insp.ops.fake": fake}
    assert _imports("insp.ops.fake", fake, modules) == {"insp.learned", "insp.ops.gaussian"}
