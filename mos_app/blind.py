"""Blinding: the browser never learns a method, dataset or image name.

Each stimulus is known to the page only by an opaque token, the first 96
bits of HMAC-SHA256(study secret, item id) in hex. The secret is 32 random
bytes kept in the answer database (:meth:`srbench.mos_app.store.Store.study_secret`),
so tokens are stable for a study and its answer file but cannot be computed
(or inverted by trying the item ids, which follow a public pattern) without
that file. Media URLs are derived from the token, never from a name or path.
"""

from __future__ import annotations

import hashlib
import hmac

TOKEN_HEX = 24


def item_token(secret: bytes, item: str) -> str:
    """The opaque token of ``item`` (24 lower-case hex digits)."""
    if len(secret) < 16:
        raise ValueError("the study secret must have at least 16 bytes")
    return hmac.new(secret, item.encode("utf-8"), hashlib.sha256).hexdigest()[:TOKEN_HEX]


def tokens_match(given: object, expected: str) -> bool:
    """Constant-time comparison of a token sent back by the browser with the expected one."""
    return isinstance(given, str) and hmac.compare_digest(given.encode("utf-8"), expected.encode("utf-8"))
