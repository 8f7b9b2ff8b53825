"""Shared fixtures, and the Hypothesis profiles: ``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``)
derandomizes every property test so that CI is reproducible; local runs keep exploring new random
examples, and whatever they find is kept as a regression test."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))


@pytest.fixture
def git_repo(tmp_path: Path) -> Callable[[dict[str, str], str], Path]:
    """Make ``tmp_path/repo`` a git repository holding ``files`` (name → text), committed once,
    with ``remote`` as its origin; returns the repository's path."""

    def make(files: dict[str, str], remote: str) -> Path:
        repo = tmp_path / "repo"
        repo.mkdir()
        for name, text in files.items():
            (repo / name).write_text(text)
        env = dict(
            os.environ,
            GIT_AUTHOR_NAME="t",
            GIT_AUTHOR_EMAIL="t@x",
            GIT_COMMITTER_NAME="t",
            GIT_COMMITTER_EMAIL="t@x",
        )
        for cmd in (
            ["init", "-q"],
            ["add", "."],
            ["commit", "-qm", "init"],
            ["remote", "add", "origin", remote],
        ):
            subprocess.run(["git", "-C", str(repo), *cmd], check=True, env=env)
        return repo

    return make
