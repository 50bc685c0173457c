"""insp.runinfo: the run record every results file carries."""

import json
import platform
import shutil
import subprocess

import numpy as np
import pytest
import torch

import insp
from insp import runinfo

COMMON = ["insp", "torch", "numpy", "scipy", "skimage", "python", "torch_threads", "machine", "processor",
          "cpu_count", "date", "git_commit"]


def test_run_metadata_keys_and_values():
    info = runinfo.run_metadata(seed=3, quick=True, threads=2)
    assert list(info) == COMMON + ["seed", "quick", "threads"]
    assert info["insp"] == insp.__version__ and info["torch"] == torch.__version__
    assert info["numpy"] == np.__version__ and info["python"] == platform.python_version()
    assert info["torch_threads"] == torch.get_num_threads() and info["cpu_count"] >= 1
    assert info["date"].endswith(" UTC")
    assert (info["seed"], info["quick"], info["threads"]) == (3, True, 2)
    assert json.loads(json.dumps(info)) == info
    assert not any(platform.node() == v for v in info.values() if platform.node())  # no host name


def test_extra_keys_may_not_replace_common_ones():
    with pytest.raises(TypeError, match="torch"):
        runinfo.run_metadata(torch="1.0")


def test_git_commit_outside_a_checkout_is_none(tmp_path, monkeypatch):
    assert runinfo.git_commit(tmp_path) is None
    monkeypatch.setattr(runinfo, "SOURCE_ROOT", tmp_path)  # insp as if installed from a plain copy
    assert runinfo.run_metadata()["git_commit"] is None


def test_git_commit_without_git_is_none(monkeypatch):
    monkeypatch.setenv("PATH", "")
    assert runinfo.git_commit() is None and runinfo.run_metadata()["git_commit"] is None


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_git_commit_of_a_checkout(tmp_path):
    def git(*args):
        return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", *args], cwd=tmp_path,
                              check=True, capture_output=True, text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "a.txt").write_text("a")
    git("add", "a.txt")
    git("commit", "-q", "-m", "a")
    assert runinfo.git_commit(tmp_path) == git("rev-parse", "HEAD")
    assert runinfo.git_commit(tmp_path / "sub") is None  # only the root of a checkout counts


def test_package_version():
    assert runinfo.package_version("numpy", module="numpy") == np.__version__
    assert runinfo.package_version("no-such-distribution-insp-test") is None


def test_load_average_and_processor():
    load = runinfo.load_average()
    assert load is None or (len(load) == 3 and all(v >= 0 for v in load))
    assert runinfo.processor() is None or isinstance(runinfo.processor(), str)
