"""What a rater sees of issue 14, in a real headless Chromium against a real ``srbench mos serve`` on 127.0.0.1:
invitation links accepted and refused (with nothing stored), and hidden gold items that look like any other item.

The study: 6 real BSD100 photos (HR and the nearest-neighbour 4x of the shipped LR), one real BSD200
calibration pair, 2 gold items made from the next BSD200 photos (HR expected 4..5, nearest 1..2), invite
access. Links are issued with ``srbench mos invite`` (the real CLI), answers read from the server's SQLite file.
"""

from __future__ import annotations

import re
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest

from mos_browser_helpers import browser, page  # noqa: F401 (fixtures)
from mos_browser_helpers import TOKEN, kill_server, rate, shown_sha256, start_server, wait_ready
from srbench.data.sets import load_manifest
from srbench.data.imageio import read_image
from srbench.mos_app.checks import gold_specs
from srbench.mos_app.create import ImageSpec, calibration_pairs, write_study
from srbench.mos_app.invites import WRONG_LINK
from srbench.mos_app.study import StudySettings, load_study
from srbench.data.resize import imresize

pytest.importorskip("playwright.sync_api")  # the fixtures browser/page need it

pytestmark = [pytest.mark.browser, pytest.mark.slow]
INVITE_ONLY_TEXT = "This study is by invitation."
TABLES = ("answers", "sessions", "calibration_misses", "viewing", "study_secrets")


def build(root: Path, data_root: Path, train_root: Path, name: str) -> Path:
    items = []
    for entry in load_manifest("bsd100")["images"][:6]:
        hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
        lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
        items.append(ImageSpec("bsd100", entry["name"], "hr", hr))
        items.append(ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest")))
    photos = sorted(p for p in (train_root / "bsd200").iterdir() if p.is_file())
    return write_study(root, name=name, seed=7, items=items, calibration=calibration_pairs(train_root, 1),
                       run=StudySettings(500, 100, 20.0), access="invite", checks=gold_specs(photos[1:], 2))


def invite(study: Path, *raters: str, reissue: bool = False) -> dict[str, str]:
    """Issue links through the real CLI; returns rater -> link."""
    cmd = [sys.executable, "-m", "srbench", "mos", "invite", "--study", str(study), "--raters", ",".join(raters)]
    out = subprocess.run(cmd + (["--reissue"] if reissue else []), capture_output=True, text=True, check=True)
    return dict(line.split("\t") for line in out.stdout.splitlines())


def token_of(link: str) -> str:
    return parse_qs(urlsplit(link).query)["token"][0]


def row_counts(db: Path) -> dict[str, int]:
    if not db.exists():
        return {}
    with sqlite3.connect(db) as conn:
        present = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return {t: conn.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0] for t in TABLES if t in present}


@pytest.fixture(scope="module")
def served(tmp_path_factory, data_root, train_root):
    base = tmp_path_factory.mktemp("mosinvite")
    root = build(base / "study", data_root, train_root, "invited")
    other = build(base / "other", data_root, train_root, "otherstudy")
    db = base / "ratings.sqlite"
    proc, url = start_server(root, db)
    yield load_study(root), other, url, db
    kill_server(proc)


def shows_begin(page) -> bool:
    return page.get_by_role("button", name="Begin").count() > 0


def test_invite_links_accepted_and_wrong_links_refused_with_nothing_stored(served, page):
    study, other, url, db = served
    links = invite(study.root, "alice", "bob")
    foreign = invite(other, "alice")["alice"]
    alice = token_of(links["alice"])
    assert links["alice"].startswith("http://127.0.0.1:8501/?rater=alice&token=")

    page.goto(f"{url}/")  # no link at all: no id form, only the invitation notice
    page.wait_for_selector(f"text={INVITE_ONLY_TEXT}")
    assert page.locator("input").count() == 0
    edited = alice[:-1] + ("A" if alice[-1] != "A" else "B")
    for query in (f"rater=alice&token={token_of(links['bob'])}",  # another rater's token
                  f"rater=bob&token={alice}",
                  f"rater=alice&token={edited}",  # tampered
                  f"rater=alice&token={token_of(foreign)}",  # replayed from another study
                  "rater=alice",  # no token
                  f"rater=mallory&token={alice}",  # not invited
                  f"rater=a%20b&token={alice}"):  # malformed id
        page.goto(f"{url}/?{query}")
        page.wait_for_selector(f"text={WRONG_LINK}")
        assert not shows_begin(page) and page.locator(".mos-viewer").count() == 0, query
    assert all(n == 0 for n in row_counts(db).values()), row_counts(db)  # nothing written

    # the right link, with the id in upper case: accepted, rewritten to lower case, token kept
    page.goto(f"{url}/?rater=ALICE&token={alice}")
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Begin' && !b.disabled)",
        timeout=20000)
    assert parse_qs(urlsplit(page.url).query) == {"rater": ["alice"], "token": [alice]}
    page.get_by_role("button", name="Begin").click()
    page.wait_for_selector(".mos-viewer .mos-stage img.mos-source", state="attached", timeout=20000)
    rate(page, 1)  # the first calibration anchor (nearest: 1)
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT rater, score FROM answers").fetchall() == [("alice", 1)]

    # a re-issued link replaces the old one at once, without restarting the server
    old_bob = token_of(links["bob"])
    new_bob = token_of(invite(study.root, "bob", reissue=True)["bob"])
    page.goto(f"{url}/?rater=bob&token={old_bob}")
    page.wait_for_selector(f"text={WRONG_LINK}")
    page.goto(f"{url}/?rater=bob&token={new_bob}")
    page.wait_for_selector("text=Begin")
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT COUNT(*) FROM answers WHERE rater = 'bob'").fetchone()[0] == 0


# The rater-visible parts of the rating screen: every text, the button labels, the image's size, and the
# attribute names of the viewer (not their values, which change with every image).
VISIBLE = """
() => {
  const v = document.querySelector('.mos-viewer');
  const im = v.querySelector('.mos-stage img.mos-source');
  return {caption: v.querySelector('.mos-caption').innerText, progress: v.querySelector('.mos-progress').innerText,
          session: v.querySelector('.mos-session').innerText, message: v.querySelector('.mos-message').innerText,
          buttons: [...v.querySelectorAll('button.mos-score')].map(b => b.innerText),
          attrs: [...v.attributes].map(a => a.name).sort(), natural: [im.naturalWidth, im.naturalHeight],
          src: im.getAttribute('src')};
}
"""


def test_gold_items_look_like_any_other_item_and_are_stored_apart(served, page):
    study, _, url, db = served
    link = invite(study.root, "carol")["carol"]
    page.goto(link.replace("http://127.0.0.1:8501", url))
    page.wait_for_function(
        "() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === 'Begin' && !b.disabled)",
        timeout=20000)
    page.get_by_role("button", name="Begin").click()
    page.wait_for_selector(".mos-viewer .mos-stage img.mos-source", state="attached", timeout=20000)
    by_sha = {s.sha256: s for s in study.items + study.calibration + study.checks}
    gold_sha = {c.sha256 for c in study.checks}
    n_rating = len(study.items) + len(study.checks)
    seen = []
    while page.locator(".mos-viewer").count():
        wait_ready(page)
        stim = by_sha[shown_sha256(page)]
        view = page.evaluate(VISIBLE)
        html = page.content().lower()
        seen.append((stim, view))
        assert "gold" not in html and "bsd200" not in html and "expected" not in html
        assert not re.search(rf"(?<![0-9a-z]){re.escape(Path(stim.image).stem.lower())}(?![0-9a-z])", html)
        score = stim.anchor if stim.anchor else (5 if stim.check and stim.method == "hr" else 1 if stim.check else 3)
        rate(page, score)
    assert len(seen) == 2 + n_rating
    gold = [v for s, v in seen if s.sha256 in gold_sha]
    plain = [v for s, v in seen if s.anchor is None and s.sha256 not in gold_sha]
    assert len(gold) == 2 and len(plain) == len(study.items)
    same = {"caption", "buttons", "attrs", "message"}
    for g in gold:
        assert {k: g[k] for k in same} == {k: plain[0][k] for k in same}
        assert g["progress"].startswith("Rating: image ") and g["progress"].endswith(f" of {n_rating}")
        assert tuple(g["natural"]) in {tuple(p["natural"]) for p in plain}  # BSD100-sized, like the others
        assert g["src"].split("/")[:-1] == plain[0]["src"].split("/")[:-1]  # same kind of media URL
    page.wait_for_selector(f"text=All {n_rating} images rated")
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT phase, method, score, expected_low, expected_high FROM answers"
                            " WHERE rater = 'carol' AND phase = 'gold' ORDER BY method").fetchall()
        acc = conn.execute("SELECT phase, answered, in_range FROM rater_checks WHERE rater = 'carol'").fetchall()
    assert rows == [("gold", "hr", 5, 4, 5), ("gold", "nearest", 1, 1, 2)]
    assert acc == [("gold", 2, 2)]


# The admin page's progress table (the one with a median_response_ms column): header -> cell of its first row.
PROGRESS_ROW = """() => {
  const t = [...document.querySelectorAll('table')].find(t => [...t.querySelectorAll('thead th')]
      .some(h => h.innerText.trim() === 'median_response_ms'));
  const heads = [...t.querySelectorAll('thead tr:last-child th')].map(h => h.innerText.trim());
  const cells = [...t.querySelector('tbody tr').querySelectorAll('th, td')].map(c => c.innerText.trim());
  const off = heads.length - cells.length;
  return Object.fromEntries(cells.map((c, k) => [heads[k + off] || 'rater', c]));
}"""


def test_admin_page_after_one_invited_rater_finished(tmp_path, data_root, train_root, browser):
    """One invited rater rates a 4-image study to the end; ``serve`` named the invitation links (not
    ``?rater=ID``, which an invite study refuses), and the admin page says "1 rater", "1 has started", shows a
    median response time as a whole number (not ``2,319.0000``) and the finished rater's session as closed."""
    items = []
    entry = load_manifest("bsd100")["images"][0]
    hr, _ = read_image(data_root / "bsd100" / entry["hr"]["path"])
    lr, _ = read_image(data_root / "bsd100" / entry["lr"]["path"])
    items = [ImageSpec("bsd100", entry["name"], "hr", hr),
             ImageSpec("bsd100", entry["name"], "nearest", imresize(lr, 4, kernel="nearest"))]
    root = write_study(tmp_path / "study", name="solo", seed=3, items=items,
                       calibration=calibration_pairs(train_root, 1), run=StudySettings(300, 100, 20.0),
                       access="invite")
    link = invite(root, "solo1")["solo1"]
    log = tmp_path / "serve.log"
    proc, url = start_server(root, tmp_path / "ratings.sqlite", log=log)
    try:
        first = log.read_text().splitlines()[0]
        assert "invitation links" in first and "?rater=ID&token=TOKEN" in first, first
        assert not re.search(r"\?rater=ID(?!&token)", first), first
        ctx = browser.new_context(viewport={"width": 1280, "height": 800})
        page = ctx.new_page()
        page.goto(link.replace("http://127.0.0.1:8501", url))
        page.get_by_role("button", name="Begin").wait_for()
        page.wait_for_function("() => [...document.querySelectorAll('button')].some(b => b.innerText.trim() === "
                               "'Begin' && !b.disabled)", timeout=20000)
        page.get_by_role("button", name="Begin").click()
        by_sha = {s.sha256: s for s in load_study(root).items + load_study(root).calibration}
        for _ in range(4):
            wait_ready(page)
            stim = by_sha[shown_sha256(page)]
            rate(page, stim.anchor or 3)
        page.wait_for_selector("text=All 2 images rated")
        page.goto(f"{url}/?admin=1")
        page.get_by_label("Admin token").fill(TOKEN)
        page.get_by_label("Admin token").press("Enter")
        page.wait_for_selector("text=Rater screening")
        page.wait_for_selector("th:has-text('median_response_ms')")
        text = page.inner_text("body")
        assert "1 rater holds a link, 1 has started" in text, text
        assert "Rater screening: 1 rater, 0 rejected" in text or "Rater screening: 1 rater, 1 rejected" in text
        assert ".0000" not in text and not re.search(r"\d,\d{3}", text), text
        row = page.evaluate(PROGRESS_ROW)
        assert re.fullmatch(r"\d+", row["median_response_ms"]), row
        assert row["open"].lower() == "false" and row["sessions"] == "1", row
        ctx.close()
    finally:
        kill_server(proc)
