"""Per-rater invitation links: a secret token per rater, stored only as a keyed hash.

A study made by ``srbench mos create`` is an *invite* study unless created
with ``--open`` (manifest ``settings.access``: ``"invite"`` or ``"open"``;
studies made before this setting are open). In an invite study the rating
page accepts a rater only with the token of their link::

    http://HOST:PORT/?rater=alice&token=<43 characters>

* The token is ``secrets.token_urlsafe(32)`` (256 random bits). It is shown
  once, when it is issued, and never stored.
* ``STUDY/invites.json`` (mode 0600, outside the manifest, so the manifest
  stays byte-identical for the same inputs) holds a random 32-byte salt per
  study and, per rater, ``HMAC-SHA-256(salt, "<study>\\n<rater>\\n<token>")``.
  The study name and rater id are inside the MAC, so a token works only for
  the rater and study it was issued for: another rater's token, a token of
  another study (another salt), or an edited link all fail the same check.
* :func:`check_token` compares with :func:`hmac.compare_digest` (constant
  time) and raises one :class:`InviteError` with the same message for every
  failure, so a wrong link reveals nothing about which part was wrong.
* Re-issuing a rater's token (``srbench mos invite --reissue``) replaces the
  hash: the old link stops working at once (the file is re-read per check).

Rater ids are case-insensitive: they are lower-cased before hashing.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import hmac
import json
import os
import re
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator
from urllib.parse import urlencode, urlsplit

from .study import RATER_ID_RE, StudyError

INVITES = "invites.json"
FORMAT = "srbench-mos-invites/1"
ACCESS_MODES = ("invite", "open", "crowd")
TOKEN_BYTES = 32
TOKEN_RE = re.compile(r"[A-Za-z0-9_-]{20,128}")
WRONG_LINK = ("This invitation link is not valid for this study. Open the exact link you were sent "
              "(it names your rater id and a token); if it still fails, ask the study organiser for a new link.")
"""The one message every failed check gives (wrong, edited, re-issued or another rater's or study's token)."""


class InviteError(StudyError):
    """A missing, wrong, tampered or replayed invitation token, or an unusable invitations file."""


@dataclass(frozen=True)
class Invites:
    """The invitations of one study: its salt and ``rater -> hex HMAC`` (ids lower case)."""

    study: str
    salt: bytes
    digests: dict[str, str]


def access_mode(settings: dict) -> str:
    """``"invite"``, ``"open"`` or ``"crowd"`` (:mod:`srbench.mos_app.crowd`) from a study's manifest settings
    (no key: a study made before invitations: open)."""
    mode = settings.get("access", "open")
    if mode not in ACCESS_MODES:
        raise StudyError(f"manifest setting access={mode!r} is not one of {', '.join(ACCESS_MODES)}")
    return mode


def digest(salt: bytes, study: str, rater: str, token: str) -> str:
    """Hex HMAC-SHA-256 keyed by ``salt`` of ``study``, the lower-cased ``rater`` and ``token``."""
    message = f"{study}\n{rater.lower()}\n{token}".encode("utf-8")
    return hmac.new(salt, message, hashlib.sha256).hexdigest()


def invites_path(root: str | os.PathLike) -> Path:
    return Path(root) / INVITES


def load_invites(root: str | os.PathLike, study: str) -> Invites | None:
    """Read ``root/invites.json`` (None if there is none). Raises :class:`InviteError` if it is unusable
    or belongs to another study."""
    path = invites_path(root)
    try:
        data = json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        raise InviteError(f"{path}: unreadable or not JSON ({exc})") from exc
    try:
        if data["format"] != FORMAT:
            raise InviteError(f"{path}: not an invitations file of format {FORMAT!r}")
        invites = Invites(str(data["study"]), bytes.fromhex(data["salt"]),
                          {str(k): str(v) for k, v in data["raters"].items()})
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        raise InviteError(f"{path}: malformed invitations file ({exc!r})") from exc
    if invites.study != study:
        raise InviteError(f"{path} holds the invitations of study {invites.study!r}, not {study!r}; "
                          "it was copied from another study folder: remove it and issue new links")
    return invites


def _write_private(path: Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically with mode 0600 (a temporary file beside it, fsync, rename)."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


@contextlib.contextmanager
def _locked(root: Path) -> Iterator[None]:
    """Serialise writers of ``root/invites.json`` (two ``srbench mos invite`` at once lose no rater)."""
    with open(root / f".{INVITES}.lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def normalise_raters(raters: list[str]) -> list[str]:
    """``raters`` checked (:data:`RATER_ID_RE`, none twice ignoring case, at least one) and lower-cased."""
    ids = []
    for rater in raters:
        if not isinstance(rater, str) or not RATER_ID_RE.fullmatch(rater):
            raise InviteError(f"invalid rater id {rater!r}: use 1-32 letters, digits, '_' or '-'")
        ids.append(rater.lower())
    if len(set(ids)) != len(ids):
        raise InviteError(f"a rater is listed twice (ids are case-insensitive): {', '.join(raters)}")
    if not ids:
        raise InviteError("no raters given: list them with --raters a,b,c")
    return ids


def issue_tokens(root: str | os.PathLike, study: str, raters: list[str], *, reissue: bool = False) -> dict[str, str]:
    """Issue a new token to each of ``raters`` and store its hash in ``root/invites.json``; return ``rater -> token``.

    Ids are checked and lower-cased. A rater who already has a token is refused
    unless ``reissue`` (then the old link stops working). Nothing is written if
    any id is refused.
    """
    root = Path(root)
    ids = normalise_raters(raters)
    with _locked(root):
        current = load_invites(root, study) or Invites(study, secrets.token_bytes(32), {})
        again = sorted(set(ids) & set(current.digests))
        if again and not reissue:
            raise InviteError(f"{', '.join(again)} already invited; pass --reissue to give them new links "
                              "(their old links stop working)")
        tokens = {r: secrets.token_urlsafe(TOKEN_BYTES) for r in ids}
        digests = dict(current.digests)
        digests.update({r: digest(current.salt, study, r, t) for r, t in tokens.items()})
        payload = {"format": FORMAT, "study": study, "salt": current.salt.hex(),
                   "raters": dict(sorted(digests.items()))}
        _write_private(invites_path(root), json.dumps(payload, indent=1, sort_keys=True) + "\n")
    return tokens


def check_token(root: str | os.PathLike, study: str, rater: str, token: str | None) -> None:
    """Raise :class:`InviteError` (message :data:`WRONG_LINK`) unless ``token`` is ``rater``'s token for ``study``.

    Reads ``root/invites.json`` on every call, so links issued or re-issued while
    the server runs take effect at once. Writes nothing.
    """
    invites = load_invites(root, study)
    ok = False
    if invites is not None and isinstance(token, str) and TOKEN_RE.fullmatch(token) and isinstance(rater, str):
        expected = invites.digests.get(rater.lower())
        given = digest(invites.salt, study, rater, token)
        # compare even for an unknown rater (against a dummy), so timing does not tell which ids exist
        ok = hmac.compare_digest(given, expected if expected is not None else "0" * 64) and expected is not None
    if not ok:
        raise InviteError(WRONG_LINK)


def invited_raters(root: str | os.PathLike, study: str) -> list[str]:
    """Ids (lower case) that hold an invitation, sorted."""
    invites = load_invites(root, study)
    return sorted(invites.digests) if invites else []


def invite_link(base_url: str, rater: str, token: str) -> str:
    """The rater's link: ``base_url`` (``http(s)://host[:port][/path]``) with ``?rater=ID&token=TOKEN``."""
    parts = urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc or parts.query or parts.fragment:
        raise InviteError(f"--url {base_url!r} must look like http://HOST:PORT (no query or fragment)")
    return f"{base_url.rstrip('/')}/?{urlencode({'rater': rater.lower(), 'token': token})}"


def write_links(path: str | os.PathLike, links: dict[str, str]) -> Path:
    """Write ``rater,link`` CSV lines to a new file ``path`` with mode 0600 (refused if it exists)."""
    path = Path(path)
    text = "rater,link\n" + "".join(f"{r},{link}\n" for r, link in sorted(links.items()))
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        raise InviteError(f"--links {path} already exists; links are written only to a new file") from None
    except OSError as exc:
        raise InviteError(f"cannot write --links {path} ({exc.strerror or exc})") from exc
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(text)
    return path
