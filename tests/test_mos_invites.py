"""Per-rater invitation links: token issue, keyed-hash storage, constant-time check, CLI (create/invite).

Studies here hold random-noise SYNTHETIC images or the real Set5 (nearest only, no calibration).
"""

from __future__ import annotations

import json
import stat
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import numpy as np
import pytest

from srbench.cli import main
from srbench.mos_app import invites
from srbench.mos_app.create import ImageSpec, write_study
from srbench.mos_app.invites import WRONG_LINK, InviteError, check_token, issue_tokens, load_invites
from srbench.mos_app.study import load_study


def tiny_study(root: Path, name: str = "inv", access: str = "invite") -> Path:
    """A SYNTHETIC two-item study (random-noise images)."""
    rng = np.random.default_rng(0)
    items = [ImageSpec("set5", "baby.png", m, rng.integers(0, 256, (8, 8, 3), dtype=np.uint8)) for m in ("hr", "nearest")]
    return write_study(root, name=name, seed=1, items=items, calibration=[], access=access)


def test_tokens_are_stored_only_as_keyed_hashes_and_checked(tmp_path):
    root = tiny_study(tmp_path / "s")
    tokens = issue_tokens(root, "inv", ["Alice", "bob"])
    assert sorted(tokens) == ["alice", "bob"]
    assert all(invites.TOKEN_RE.fullmatch(t) and len(t) == 43 for t in tokens.values())
    text = (root / "invites.json").read_text()
    assert not any(t in text for t in tokens.values())
    data = json.loads(text)
    assert data["study"] == "inv" and sorted(data["raters"]) == ["alice", "bob"] and len(bytes.fromhex(data["salt"])) == 32
    assert stat.S_IMODE((root / "invites.json").stat().st_mode) == 0o600
    check_token(root, "inv", "alice", tokens["alice"])
    check_token(root, "inv", "ALICE", tokens["alice"])  # ids are case-insensitive
    # the manifest does not change: it stays byte-identical for the same inputs
    assert "alice" not in (root / "manifest.json").read_text()


@pytest.mark.parametrize("case", ["other rater's token", "edited token", "no token", "garbage", "unknown rater",
                                  "another study's token", "long token"])
def test_wrong_tampered_or_replayed_tokens_give_one_message(tmp_path, case):
    root = tiny_study(tmp_path / "s")
    other = tiny_study(tmp_path / "t", name="inv2")
    tokens = issue_tokens(root, "inv", ["alice", "bob"])
    foreign = issue_tokens(other, "inv2", ["alice"])
    t = tokens["alice"]
    rater, token = {
        "other rater's token": ("alice", tokens["bob"]),
        "edited token": ("alice", t[:-1] + ("A" if t[-1] != "A" else "B")),
        "no token": ("alice", None),
        "garbage": ("alice", "<script>"),
        "unknown rater": ("mallory", t),
        "another study's token": ("alice", foreign["alice"]),
        "long token": ("alice", t * 10),
    }[case]
    before = (root / "invites.json").read_bytes()
    with pytest.raises(InviteError) as err:
        check_token(root, "inv", rater, token)
    assert str(err.value) == WRONG_LINK
    assert (root / "invites.json").read_bytes() == before


def test_reissue_replaces_the_old_link_and_reinviting_needs_reissue(tmp_path):
    root = tiny_study(tmp_path / "s")
    old = issue_tokens(root, "inv", ["alice"])["alice"]
    before = (root / "invites.json").read_bytes()
    with pytest.raises(InviteError, match="alice already invited; pass --reissue"):
        issue_tokens(root, "inv", ["carol", "Alice"])
    assert (root / "invites.json").read_bytes() == before  # carol was not added either
    new = issue_tokens(root, "inv", ["alice"], reissue=True)["alice"]
    check_token(root, "inv", "alice", new)
    with pytest.raises(InviteError, match="not valid"):
        check_token(root, "inv", "alice", old)
    for bad, message in ((["a", "A"], "listed twice"), (["x y"], "invalid rater id"), ([], "no raters")):
        with pytest.raises(InviteError, match=message):
            issue_tokens(root, "inv", bad)


def test_an_invitations_file_copied_from_another_study_is_refused(tmp_path):
    a, b = tiny_study(tmp_path / "a", name="first"), tiny_study(tmp_path / "b", name="second")
    token = issue_tokens(a, "first", ["alice"])["alice"]
    (b / "invites.json").write_bytes((a / "invites.json").read_bytes())
    with pytest.raises(InviteError, match="holds the invitations of study 'first', not 'second'"):
        check_token(b, "second", "alice", token)
    (b / "invites.json").write_text("{not json")
    with pytest.raises(InviteError, match="not JSON"):
        load_invites(b, "second")


def test_links_and_access_modes(tmp_path):
    link = invites.invite_link("http://rate.example.org:8501/", "Bob", "tok_en-123")
    parts = urlsplit(link)
    assert parts.netloc == "rate.example.org:8501" and parse_qs(parts.query) == {"rater": ["bob"], "token": ["tok_en-123"]}
    for bad in ("rate.example.org", "ftp://x", "http://x/?a=1"):
        with pytest.raises(InviteError, match="--url"):
            invites.invite_link(bad, "bob", "t")
    assert invites.access_mode({}) == "open"  # studies made before invitations
    assert invites.access_mode(load_study(tiny_study(tmp_path / "i")).settings) == "invite"
    opened = load_study(tiny_study(tmp_path / "o", access="open"))
    assert invites.access_mode(opened.settings) == "open"


def test_cli_create_issues_links_and_invite_adds_raters(tmp_path, data_root, capsys):
    out = tmp_path / "study"
    assert main(["mos", "create", "--name", "pilot", "--methods", "nearest", "--datasets", "set5", "--calibration",
                 "0", "--raters", "Alice,bob", "--url", "http://rate.example.org:8501", "--data-root",
                 str(data_root), "--out", str(out)]) == 0
    captured = capsys.readouterr()
    lines = [line.split("\t") for line in captured.out.splitlines() if "\t" in line]
    assert [r for r, _ in lines] == ["alice", "bob"]
    assert "shown only now" in captured.err
    study = load_study(out)
    assert study.settings["access"] == "invite" and study.raters is None
    for rater, link in lines:
        q = parse_qs(urlsplit(link).query)
        assert link.startswith("http://rate.example.org:8501/?") and q["rater"] == [rater]
        check_token(out, "pilot", rater, q["token"][0])
    links = tmp_path / "links.csv"
    assert main(["mos", "invite", "--study", str(out), "--raters", "carol", "--links", str(links)]) == 0
    assert stat.S_IMODE(links.stat().st_mode) == 0o600
    rows = links.read_text().splitlines()
    assert rows[0] == "rater,link" and rows[1].startswith("carol,http://127.0.0.1:8501/?rater=carol&token=")
    assert "carol" not in capsys.readouterr().out  # the links went to the file only
    assert invites.invited_raters(out, "pilot") == ["alice", "bob", "carol"]
    # errors: one line, exit 2, nothing changed
    before = (out / "invites.json").read_bytes()
    for argv, message in (
        (["--raters", "bob"], "bob already invited; pass --reissue"),
        (["--raters", "dave", "--links", str(links)], "already exists"),
        (["--raters", "dave", "--url", "example.org"], "--url"),
        (["--raters", "d e"], "invalid rater id"),
    ):
        assert main(["mos", "invite", "--study", str(out), *argv]) == 2
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    assert (out / "invites.json").read_bytes() == before


def test_cli_open_study_takes_no_invitations(tmp_path, data_root, capsys):
    out = tmp_path / "open"
    assert main(["mos", "create", "--name", "openpilot", "--methods", "nearest", "--datasets", "set5",
                 "--calibration", "0", "--open", "--raters", "ann", "--data-root", str(data_root), "--out", str(out)]) == 0
    assert "\t" not in capsys.readouterr().out
    study = load_study(out)
    assert study.settings["access"] == "open" and study.raters == ("ann",)
    assert not (out / "invites.json").exists()
    assert main(["mos", "invite", "--study", str(out), "--raters", "bob"]) == 2
    assert "is open" in capsys.readouterr().err


def test_cli_create_refuses_bad_raters_before_any_work(tmp_path, capsys):
    assert main(["mos", "create", "--name", "x", "--methods", "nearest", "--datasets", "set5", "--raters", "a,A",
                 "--data-root", str(tmp_path / "none"), "--out", str(tmp_path / "s")]) == 2
    assert "listed twice" in capsys.readouterr().err
    assert not (tmp_path / "s").exists()
