"""Crowd-platform studies: raters arrive with the platform's ids in the URL and leave with a completion code.

A study made with ``srbench mos create --crowd prolific --completion-code CODE`` (manifest
``settings.access = "crowd"``, ``settings.crowd``: :class:`CrowdSettings`) takes its rater id from the
platform's participant parameter instead of an id form or an invitation link::

    https://HOST/mos/?PROLIFIC_PID=5f0c9b7e8d1a2b3c4d5e6f70&STUDY_ID=...&SESSION_ID=...

* The participant id becomes the rater id (checked like any id: 1..32 letters, digits, ``_`` or ``-``,
  lower-cased; Prolific ids are 24 hex digits). The other platform parameters (``STUDY_ID``,
  ``SESSION_ID``) are checked (1..64 of the same characters) and stored per visit in the answer file's
  ``crowd_visits`` table. A link without a valid participant id shows one message and stores nothing.
* At the end the rater sees the completion code and a link back to the platform (Prolific's default:
  ``https://app.prolific.com/submissions/complete?cc=CODE``, or ``--completion-url``).
* With ``--calibration-min A`` a rater whose first-click accuracy on the calibration images is below ``A``
  (0..1) is screened out after the calibration: no rating images, a different code
  (``--screened-out-code``) and link.

Invite and open studies are unchanged.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass
from urllib.parse import urlsplit

from .study import StudyError

PLATFORMS = {"prolific": ("PROLIFIC_PID", ("STUDY_ID", "SESSION_ID"),
                          "https://app.prolific.com/submissions/complete?cc={code}")}
"""Platform -> (participant-id parameter, other parameters kept per visit, completion URL for a code)."""
PARAM_VALUE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
CODE_RE = re.compile(r"[A-Za-z0-9_-]{1,64}")
NO_ID = ("This study is run through a crowd-sourcing platform. Please open it from the link on the platform "
         "(the link names your participant id); nothing was recorded.")


@dataclass(frozen=True)
class CrowdSettings:
    """How a crowd study takes raters in and lets them go (manifest ``settings.crowd``)."""

    platform: str
    completion_code: str
    completion_url: str
    screened_out_code: str | None = None
    screened_out_url: str | None = None
    calibration_min: float | None = None

    @property
    def id_param(self) -> str:
        return PLATFORMS[self.platform][0]

    @property
    def keep_params(self) -> tuple[str, ...]:
        return PLATFORMS[self.platform][1]

    def as_manifest(self) -> dict:
        return asdict(self)


def crowd_settings(platform: str, completion_code: str | None, completion_url: str | None = None,
                   screened_out_code: str | None = None, screened_out_url: str | None = None,
                   calibration_min: float | None = None) -> CrowdSettings:
    """Checked :class:`CrowdSettings` from the ``create`` flags; StudyError (one line) for anything wrong."""
    if platform not in PLATFORMS:
        raise StudyError(f"--crowd {platform!r}: known platforms are {', '.join(sorted(PLATFORMS))}")
    if not completion_code or not CODE_RE.fullmatch(completion_code):
        raise StudyError("--crowd needs --completion-code CODE (1-64 letters, digits, '_' or '-'), the code the "
                         "platform gave the study")
    for flag, url in (("--completion-url", completion_url), ("--screened-out-url", screened_out_url)):
        if url is not None and (urlsplit(url).scheme not in ("http", "https") or not urlsplit(url).netloc):
            raise StudyError(f"{flag} {url!r} is not an http(s) URL")
    if calibration_min is not None:
        if not (calibration_min == calibration_min and 0 < calibration_min <= 1):
            raise StudyError(f"--calibration-min {calibration_min} must be in (0, 1] (share of calibration "
                             "images right at the first click)")
        if not screened_out_code or not CODE_RE.fullmatch(screened_out_code):
            raise StudyError("--calibration-min needs --screened-out-code CODE (1-64 letters, digits, '_' or "
                             "'-'), the platform's code for raters screened out")
    elif screened_out_code or screened_out_url:
        raise StudyError("--screened-out-code/--screened-out-url need --calibration-min (nobody is screened out "
                         "without a threshold)")
    template = PLATFORMS[platform][2]
    return CrowdSettings(
        platform, completion_code, completion_url or template.format(code=completion_code),
        screened_out_code, (screened_out_url or template.format(code=screened_out_code)) if screened_out_code
        else None, float(calibration_min) if calibration_min is not None else None)


def study_crowd(settings: dict) -> CrowdSettings:
    """The :class:`CrowdSettings` of a crowd study's manifest settings; StudyError if missing or malformed."""
    raw = settings.get("crowd")
    try:
        return crowd_settings(raw["platform"], raw["completion_code"], raw["completion_url"],
                              raw.get("screened_out_code"), raw.get("screened_out_url"), raw.get("calibration_min"))
    except (TypeError, KeyError) as exc:
        raise StudyError(f"manifest settings.crowd is missing or malformed ({exc!r})") from exc


def platform_params(crowd: CrowdSettings, query: dict) -> dict[str, str]:
    """The kept platform parameters of a visit (those present), each checked; StudyError for a bad one."""
    out = {}
    for name in crowd.keep_params:
        value = query.get(name)
        if value is None:
            continue
        if not PARAM_VALUE_RE.fullmatch(value):
            raise StudyError(f"the link's {name} is not a valid platform id")
        out[name] = value
    return out


def describe(crowd: CrowdSettings) -> str:
    """One line for the admin page and ``create``."""
    text = (f"crowd study ({crowd.platform}): rater id from ?{crowd.id_param}=..., "
            f"{', '.join(crowd.keep_params)} stored per visit; completion code {crowd.completion_code} "
            f"-> {crowd.completion_url}")
    if crowd.calibration_min is not None:
        text += (f"; calibration accuracy below {crowd.calibration_min:g}: screened out with code "
                 f"{crowd.screened_out_code} -> {crowd.screened_out_url}")
    return text
