"""Crowd-study settings (``srbench mos create --crowd``): checked flags, one-line errors (no browser; the
rating flow is tests/test_mos_browser_crowd.py)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from srbench.mos_app.crowd import crowd_settings, platform_params
from srbench.mos_app.study import StudyError


def test_crowd_settings_defaults_and_refusals():
    c = crowd_settings("prolific", "ABC1")
    assert c.id_param == "PROLIFIC_PID" and c.keep_params == ("STUDY_ID", "SESSION_ID")
    assert c.completion_url == "https://app.prolific.com/submissions/complete?cc=ABC1" and c.calibration_min is None
    c = crowd_settings("prolific", "ABC1", "https://example.org/done", "OUT1", None, 0.8)
    assert c.completion_url == "https://example.org/done" and c.screened_out_url.endswith("cc=OUT1")
    for args, match in ((("mturk", "A"), "known platforms"), (("prolific", None), "needs --completion-code"),
                        (("prolific", "a b"), "needs --completion-code"),
                        (("prolific", "A", "ftp://x"), "not an http"),
                        (("prolific", "A", None, None, None, 0.5), "needs --screened-out-code"),
                        (("prolific", "A", None, "B", None, 1.5), r"must be in \(0, 1\]"),
                        (("prolific", "A", None, "B"), "need --calibration-min")):
        with pytest.raises(StudyError, match=match):
            crowd_settings(*args)
    assert platform_params(c, {"STUDY_ID": "s1", "other": "x"}) == {"STUDY_ID": "s1"}
    with pytest.raises(StudyError, match="SESSION_ID"):
        platform_params(c, {"SESSION_ID": "<script>"})


@pytest.mark.parametrize("flags, message", [
    (["--crowd", "prolific"], "--crowd needs --completion-code"),
    (["--completion-code", "X"], "--completion-code only apply to crowd studies"),
    (["--crowd", "prolific", "--completion-code", "X", "--open"], "leave out --open and --raters"),
])
def test_bad_crowd_flags_are_one_line_before_any_work(tmp_path, flags, message):
    out = subprocess.run([sys.executable, "-m", "srbench", "mos", "create", "--name", "x", "--methods", "nearest",
                          "--datasets", "set5", *flags, "--out", str(tmp_path / "s")], capture_output=True, text=True)
    assert out.returncode != 0 and "Traceback" not in out.stderr and message in out.stderr, out.stderr
    assert not (tmp_path / "s").exists()
