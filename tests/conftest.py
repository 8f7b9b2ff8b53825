"""Hypothesis profiles. ``HYPOTHESIS_PROFILE=ci`` (set by ``.ci/run``) derandomizes every property
test so that CI is reproducible; local runs keep exploring new random examples, and whatever they
find is kept as a regression test."""

from __future__ import annotations

import os

from hypothesis import settings

settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))
