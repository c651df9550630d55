"""``srbench datasets fetch|verify|list`` end to end, with real files, real
archives and a real HTTP server on 127.0.0.1 (the test sets are copied from
the shared benchmark data into tmp_path; only set5, and set14 once, to stay fast)."""

from __future__ import annotations

import hashlib
import io
import os
import shutil
import signal
import subprocess
import sys
import tarfile
import threading
import time
import urllib.parse
import zipfile
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from srbench.cli import main
from srbench.data.sets import load_dataset
from srbench.data.fetch import fetch_datasets, manifest_files, verify_set

PROJECT_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _no_proxy(monkeypatch):
    """Requests to 127.0.0.1 must not go through a proxy configured in the environment."""
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")


# ------------------------------------------------------------------ helpers


def srbench_files(data_root: Path, sets: list[str]) -> dict[str, bytes]:
    """``{"set5/HR/baby.png": bytes, ...}`` read from the real benchmark data."""
    return {f"{s}/{spec.path}": (data_root / s / spec.path).read_bytes() for s in sets for spec in manifest_files(s)}


def selfexsr_files(data_root: Path, sets: list[str]) -> dict[str, bytes]:
    """The same files under their SelfExSR repository paths (``data/Set5/image_SRF_4/...``)."""
    return {spec.source_path: (data_root / s / spec.path).read_bytes() for s in sets for spec in manifest_files(s)}


def write_tree(root: Path, files: dict[str, bytes]) -> Path:
    for rel, data in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_bytes(data)
    return root


def make_zip(path: Path, files: dict[str, bytes], top: str = "") -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        for rel, data in files.items():
            zf.writestr(top + rel, data)
    return path


def make_tar_gz(path: Path, files: dict[str, bytes], top: str = "") -> Path:
    with tarfile.open(path, "w:gz") as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(top + rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
    return path


def tree_digest(folder: Path) -> dict[str, tuple[str, int]]:
    """Relative path -> (sha256, mtime_ns) of every file below ``folder``."""
    return {
        p.relative_to(folder).as_posix(): (hashlib.sha256(p.read_bytes()).hexdigest(), p.stat().st_mtime_ns)
        for p in folder.rglob("*")
        if p.is_file()
    }


def assert_no_leftovers(root: Path, expected_sets: set[str]) -> None:
    """The data root holds exactly ``expected_sets`` and no hidden temp folder."""
    entries = set(os.listdir(root)) if root.exists() else set()
    assert entries == expected_sets, f"unexpected entries in {root}: {sorted(entries)}"


def run_cli(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(["datasets", *argv])
    out, err = capsys.readouterr()
    return code, out, err


# ------------------------------------------------------------------ HTTP server


class _Handler(BaseHTTPRequestHandler):
    """Serves ``server.files``; paths in ``server.truncate`` are cut off half-way
    (the connection closes), paths in ``server.stall`` send half then hang."""

    def do_GET(self) -> None:  # noqa: N802 (http.server API)
        path = urllib.parse.unquote(urllib.parse.urlsplit(self.path).path).lstrip("/")
        body = self.server.files.get(path)
        if body is None:
            self.send_error(404)
            return
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if path in self.server.truncate or path in self.server.stall:
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            if path in self.server.stall:
                self.server.release.wait(30)
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def serve():
    """``serve(files, truncate=..., stall=...) -> base URL`` of a live server on 127.0.0.1."""
    servers = []

    def start(files: dict[str, bytes], truncate=(), stall=()) -> str:
        server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
        server.daemon_threads = True
        server.files, server.truncate, server.stall = files, set(truncate), set(stall)
        server.release = threading.Event()
        threading.Thread(target=server.serve_forever, daemon=True).start()
        servers.append(server)
        return f"http://127.0.0.1:{server.server_address[1]}"

    yield start
    for server in servers:
        server.release.set()
        server.shutdown()
        server.server_close()


# ------------------------------------------------------------------ fetch: success paths


def test_fetch_zip_archive_over_http(tmp_path, data_root, serve, capsys):
    files = srbench_files(data_root, ["set5", "set14"])
    archive = make_zip(tmp_path / "bench.zip", files, top="benchmark/")
    base = serve({"bench.zip": archive.read_bytes()})
    root = tmp_path / "root"

    code, out, err = run_cli(capsys, "fetch", "--source", f"{base}/bench.zip", "--datasets", "set5,set14",
                             "--data-root", str(root), "--no-progress")
    assert code == 0, err
    assert "set5: installed 10 files" in out and "set14: installed 28 files" in out
    assert_no_leftovers(root, {"set5", "set14"})
    assert tree_digest(root / "set5").keys() == {s.path for s in manifest_files("set5")}

    code, out, err = run_cli(capsys, "verify", "--data-root", str(root), "--datasets", "set5,set14")
    assert code == 0 and out.startswith("OK: set5, set14") and "(38 files" in out
    bridge = next(i for i in load_dataset("set14", root) if i.name == "bridge.png")
    assert bridge.is_gray and bridge.hr.shape == (512, 512, 3) and bridge.lr.shape == (128, 128, 3)

    # a second fetch leaves valid sets alone
    before = tree_digest(root / "set5")
    code, out, _ = run_cli(capsys, "fetch", "--source", f"{base}/bench.zip", "--datasets", "set5",
                           "--data-root", str(root), "--no-progress")
    assert code == 0 and "already present and verified" in out
    assert tree_digest(root / "set5") == before


def test_fetch_from_base_url_in_srbench_layout(tmp_path, data_root, serve, capsys):
    base = serve(srbench_files(data_root, ["set5"]))
    root = tmp_path / "root"
    code, out, err = run_cli(capsys, "fetch", "--source", base + "/", "--datasets", "set5", "--data-root", str(root))
    assert code == 0, err
    assert verify_set("set5", root / "set5") == []
    assert_no_leftovers(root, {"set5"})


def test_fetch_from_base_url_in_selfexsr_layout(tmp_path, data_root, serve, capsys):
    """The per-file fallback to ``BASE/<source_path>`` (how a SelfExSR mirror is laid out)."""
    base = serve(selfexsr_files(data_root, ["set5"]))
    root = tmp_path / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(root))
    assert code == 0, err
    assert verify_set("set5", root / "set5") == []


def test_fetch_from_local_dir_srbench_layout(tmp_path, data_root, capsys):
    root = tmp_path / "root"
    code, out, err = run_cli(capsys, "fetch", "--source", str(data_root), "--datasets", "set5", "--data-root", str(root))
    assert code == 0, err
    assert verify_set("set5", root / "set5") == []
    assert_no_leftovers(root, {"set5"})


def test_fetch_from_local_dir_selfexsr_layout(tmp_path, data_root, capsys):
    clone = write_tree(tmp_path / "SelfExSR", selfexsr_files(data_root, ["set5"]))
    (clone / "README.md").write_text("a repository clone has other files too\n")
    for source in (clone, clone / "data"):
        root = tmp_path / f"root-{source.name}"
        code, _, err = run_cli(capsys, "fetch", "--source", str(source), "--datasets", "set5", "--data-root", str(root))
        assert code == 0, err
        assert verify_set("set5", root / "set5") == []


def test_fetch_from_local_tar_gz_selfexsr_layout_with_top_folder(tmp_path, data_root, capsys):
    archive = make_tar_gz(tmp_path / "SelfExSR-master.tar.gz", selfexsr_files(data_root, ["set5"]), top="SelfExSR-master/")
    root = tmp_path / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", str(archive), "--datasets", "set5", "--data-root", str(root))
    assert code == 0, err
    assert verify_set("set5", root / "set5") == []
    assert_no_leftovers(root, {"set5"})


def test_fetch_replaces_a_damaged_set(tmp_path, data_root):
    root = tmp_path / "root"
    write_tree(root / "set5", {"HR/baby.png": b"not a png", "HR/stray.txt": b"x"})
    results = fetch_datasets("set5", root, str(data_root), progress=False)
    assert [r.status for r in results] == ["installed"]
    assert verify_set("set5", root / "set5") == []
    assert_no_leftovers(root, {"set5"})


# ------------------------------------------------------------------ fetch: failures leave nothing behind


def test_corrupted_file_on_server_is_refused(tmp_path, data_root, serve, capsys):
    files = srbench_files(data_root, ["set5"])
    bad = bytearray(files["set5/HR/butterfly.png"])
    bad[1000] ^= 0xFF
    files["set5/HR/butterfly.png"] = bytes(bad)
    base = serve(files)
    root = tmp_path / "root"

    code, out, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(root))
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "set5/HR/butterfly.png: checksum mismatch" in err
    assert not root.exists()  # the data root it created is gone again, no temp folder left

    # an existing valid set survives a failed forced re-fetch byte for byte
    shutil.copytree(data_root / "set5", root / "set5")
    before = tree_digest(root / "set5")
    code, _, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(root), "--force")
    assert code == 2 and "checksum mismatch" in err
    assert tree_digest(root / "set5") == before
    assert_no_leftovers(root, {"set5"})


def test_download_cut_off_mid_file(tmp_path, data_root, serve, capsys):
    files = srbench_files(data_root, ["set5"])
    base = serve(files, truncate={"set5/LR_bicubic_x4/head.png"})
    root = tmp_path / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(root))
    assert code == 2 and err.count("\n") == 1
    assert "set5/LR_bicubic_x4/head.png" in err and ("broke off" in err or "truncated" in err)
    assert not root.exists()


def test_archive_download_cut_off(tmp_path, data_root, serve, capsys):
    archive = make_zip(tmp_path / "b.zip", srbench_files(data_root, ["set5"]))
    base = serve({"b.zip": archive.read_bytes()}, truncate={"b.zip"})
    root = tmp_path / "root"
    shutil.copytree(data_root / "set5", root / "set5")
    before = tree_digest(root / "set5")
    code, _, err = run_cli(capsys, "fetch", "--source", f"{base}/b.zip", "--datasets", "set5",
                           "--data-root", str(root), "--force")
    assert code == 2 and "b.zip" in err and ("broke off" in err or "truncated" in err)
    assert tree_digest(root / "set5") == before
    assert_no_leftovers(root, {"set5"})


def test_stalled_server_times_out(tmp_path, data_root, serve, capsys):
    base = serve(srbench_files(data_root, ["set5"]), stall={"set5/HR/baby.png"})
    root = tmp_path / "root"
    started = time.monotonic()
    code, _, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(root), "--timeout", "1")
    assert time.monotonic() - started < 20
    assert code == 2 and err.count("\n") == 1
    assert "set5/HR/baby.png: transfer from" in err and "broke off" in err and "timed out" in err
    assert not root.exists()


def test_missing_file_in_source_dir(tmp_path, data_root, capsys):
    src = write_tree(tmp_path / "src", srbench_files(data_root, ["set5"]))
    (src / "set5/LR_bicubic_x4/woman.png").unlink()
    root = tmp_path / "root"
    root.mkdir()
    code, _, err = run_cli(capsys, "fetch", "--source", str(src), "--datasets", "set5", "--data-root", str(root))
    assert code == 2
    assert "set5/LR_bicubic_x4/woman.png: not found in folder" in err
    assert_no_leftovers(root, set())


def test_http_404_for_a_file(tmp_path, data_root, serve, capsys):
    files = srbench_files(data_root, ["set5"])
    del files["set5/HR/bird.png"]
    base = serve(files)
    code, _, err = run_cli(capsys, "fetch", "--source", base, "--datasets", "set5", "--data-root", str(tmp_path / "r"))
    assert code == 2 and "set5/HR/bird.png: not found (HTTP 404)" in err


def test_ctrl_c_mid_download_leaves_nothing(tmp_path, data_root, serve):
    """A real SIGINT to a real ``python -m srbench`` process while a file is half-way."""
    base = serve(srbench_files(data_root, ["set5"]), stall={"set5/HR/bird.png"})
    root = tmp_path / "root"
    shutil.copytree(data_root / "set5", root / "set5")
    before = tree_digest(root / "set5")
    env = {**os.environ, "no_proxy": "127.0.0.1", "PYTHONPATH": str(PROJECT_ROOT)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "srbench", "datasets", "fetch", "--source", base, "--datasets", "set5",
         "--data-root", str(root), "--force", "--no-progress"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env,
    )
    try:
        deadline = time.monotonic() + 60
        while not list(root.glob(".fetch-*/set5/HR/bird.png")):
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "the download never started"
            time.sleep(0.05)
        time.sleep(0.3)
        proc.send_signal(signal.SIGINT)
        _, err = proc.communicate(timeout=30)
    finally:
        proc.kill()
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    assert tree_digest(root / "set5") == before
    assert_no_leftovers(root, {"set5"})


def test_default_source_github(tmp_path, capsys):
    """The default source: on this offline machine, one clear line; with a network, a verified set."""
    root = tmp_path / "root"
    code, out, err = run_cli(capsys, "fetch", "--datasets", "set5", "--data-root", str(root), "--timeout", "10")
    if code == 0:
        assert verify_set("set5", root / "set5") == []
    else:
        assert code == 2 and err.count("\n") == 1
        assert "cannot reach raw.githubusercontent.com" in err and "--source DIR|ARCHIVE" in err
        assert not root.exists()


def test_bad_source_argument(tmp_path, capsys):
    code, _, err = run_cli(capsys, "fetch", "--source", str(tmp_path / "nope"), "--data-root", str(tmp_path / "r"))
    assert code == 2 and err.count("\n") == 1 and "no such folder or file" in err
    not_archive = tmp_path / "notes.txt"
    not_archive.write_text("hello")
    code, _, err = run_cli(capsys, "fetch", "--source", str(not_archive), "--data-root", str(tmp_path / "r"))
    assert code == 2 and "not a zip or tar archive" in err


# ------------------------------------------------------------------ archive safety


def test_archive_with_escaping_path_is_refused(tmp_path, data_root, capsys):
    files = srbench_files(data_root, ["set5"])
    files["../escaped.png"] = b"evil"
    archive = make_zip(tmp_path / "evil.zip", files)
    root = tmp_path / "deep" / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", str(archive), "--datasets", "set5", "--data-root", str(root))
    assert code == 2 and "unsafe member path '../escaped.png'" in err
    assert not (tmp_path / "deep" / "escaped.png").exists() and not (tmp_path / "escaped.png").exists()
    assert not root.exists()


def test_archive_with_absolute_path_is_refused(tmp_path, data_root, capsys):
    archive = make_tar_gz(tmp_path / "abs.tar.gz", {"/tmp/srbench-abs-test.png": b"x", **srbench_files(data_root, ["set5"])})
    code, _, err = run_cli(capsys, "fetch", "--source", str(archive), "--datasets", "set5", "--data-root", str(tmp_path / "r"))
    assert code == 2 and "unsafe member path" in err


def test_archive_symlink_is_never_followed(tmp_path, data_root, capsys):
    files = srbench_files(data_root, ["set5"])
    del files["set5/HR/baby.png"]
    archive = tmp_path / "link.tar"
    with tarfile.open(archive, "w") as tf:
        for rel, data in files.items():
            info = tarfile.TarInfo(rel)
            info.size = len(data)
            tf.addfile(info, io.BytesIO(data))
        link = tarfile.TarInfo("set5/HR/baby.png")
        link.type = tarfile.SYMTYPE
        link.linkname = str(data_root / "set5/HR/baby.png")
        tf.addfile(link)
    root = tmp_path / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", str(archive), "--datasets", "set5", "--data-root", str(root))
    assert code == 2 and "'set5/HR/baby.png' is a link or special file" in err
    assert not root.exists()


# ------------------------------------------------------------------ verify and list


def _damage_set5(folder: Path) -> None:
    """Five labelled kinds of damage to a copy of set5."""
    (folder / "LR_bicubic_x4/bird.png").unlink()  # missing
    (folder / "HR/notes.txt").write_text("extra\n")  # extra
    hr = Image.open(folder / "HR/baby.png")
    hr.load()
    hr.save(folder / "HR/baby.png", compress_level=1)  # same pixels, other bytes: mismatch only
    data = (folder / "HR/head.png").read_bytes()
    (folder / "HR/head.png").write_bytes(data[: len(data) // 2])  # truncated: mismatch + unreadable
    lr = np.asarray(Image.open(folder / "LR_bicubic_x4/woman.png"))
    Image.fromarray(lr[:-4]).save(folder / "LR_bicubic_x4/woman.png")  # wrong size: mismatch + LR x4 != HR


def test_verify_lists_every_problem(tmp_path, data_root, capsys):
    shutil.copytree(data_root / "set5", tmp_path / "set5")
    code, out, err = run_cli(capsys, "verify", "--data-root", str(tmp_path), "--datasets", "set5")
    assert code == 0 and out.startswith("OK: set5") and "10 files" in out

    _damage_set5(tmp_path / "set5")
    (tmp_path / ".fetch-killed").mkdir()  # what a SIGKILLed fetch leaves
    code, out, err = run_cli(capsys, "verify", "--data-root", str(tmp_path), "--datasets", "set5")
    assert code == 1 and err == ""
    lines = out.strip().splitlines()
    assert lines.pop(-2).startswith(f"note: {tmp_path / '.fetch-killed'} is the temp folder of a killed")
    expected = [
        "set5/LR_bicubic_x4/bird.png: missing",
        "set5/HR/notes.txt: extra file, not in the manifest",
        "set5/HR/baby.png: checksum mismatch",
        "set5/HR/head.png: checksum mismatch",
        "set5/HR/head.png: unreadable image: corrupt or truncated image",
        "set5/LR_bicubic_x4/woman.png: checksum mismatch",
        "set5/woman.png: LR is 57x82 but HR is 228x344; LR x4 must equal the HR size",
    ]
    for start in expected:
        assert sum(line.startswith(start) for line in lines) == 1, (start, lines)
    assert len(lines) == len(expected) + 1 and lines[-1].startswith("7 problem(s)")


def test_verify_missing_set_and_missing_root(tmp_path, capsys):
    code, out, _ = run_cli(capsys, "verify", "--data-root", str(tmp_path), "--datasets", "set5,set14")
    assert code == 1
    assert "set5: folder" in out and "is missing (run 'srbench datasets fetch --datasets set5')" in out
    assert "set14: folder" in out

    code, out, err = run_cli(capsys, "verify", "--data-root", str(tmp_path / "nowhere"))
    assert code == 2 and out == "" and err.count("\n") == 1
    assert "does not exist" in err and "srbench datasets fetch" in err


def test_list_shows_state(tmp_path, data_root, capsys):
    shutil.copytree(data_root / "set5", tmp_path / "set5")
    (tmp_path / "set14" / "HR").mkdir(parents=True)
    shutil.copy(data_root / "set14/HR/bridge.png", tmp_path / "set14/HR/bridge.png")
    code, out, _ = run_cli(capsys, "list", "--data-root", str(tmp_path))
    assert code == 0
    rows = {line.split()[0]: line for line in out.splitlines()[2:]}
    assert rows["set5"].split()[1] == "5" and rows["set5"].endswith("present")
    assert rows["set14"].split()[1] == "14" and rows["set14"].endswith("incomplete: 1 of 28 files present with the expected size")
    assert rows["bsd100"].split()[1] == "100" and rows["bsd100"].endswith("not fetched")

    code, out, _ = run_cli(capsys, "list", "--data-root", str(tmp_path / "none"))
    assert code == 0 and "does not exist yet" in out.splitlines()[0]


def test_unknown_dataset_is_a_one_line_error(tmp_path, capsys):
    code, _, err = run_cli(capsys, "fetch", "--datasets", "set6", "--data-root", str(tmp_path))
    assert code == 2 and err.count("\n") == 1 and "unknown dataset 'set6'" in err


@pytest.mark.parametrize("action", ["fetch", "verify"])
@pytest.mark.parametrize("value", ["", ","])
def test_datasets_flag_naming_no_set_is_an_error_not_all(tmp_path, capsys, action, value):
    # an empty shell variable ($SETS) must not silently mean "all three sets"
    root = tmp_path / "root"
    root.mkdir()
    code = main(["datasets", action, "--datasets", value, "--data-root", str(root)]
                + (["--source", str(tmp_path / "nowhere")] if action == "fetch" else []))
    err = capsys.readouterr().err
    assert code == 2 and "names no set" in err and "Traceback" not in err
    assert list(root.iterdir()) == []


@pytest.mark.parametrize("timeout", ["-1", "0", "nan", "inf"])
def test_bad_timeout_is_a_one_line_error(tmp_path, capsys, timeout):
    code = main(["datasets", "fetch", "--datasets", "set5", "--source", "http://127.0.0.1:9/x",
                 "--data-root", str(tmp_path / "root"), "--timeout", timeout, "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and "--timeout must be a positive number of seconds" in err and "Traceback" not in err
    assert not (tmp_path / "root").exists()


def test_set_folder_as_source_says_to_give_the_folder_above(data_root, tmp_path, capsys):
    code, _, err = run_cli(capsys, "fetch", "--datasets", "set5", "--source", str(data_root / "set5"),
                           "--data-root", str(tmp_path / "root"), "--no-progress")
    assert code == 2 and err.count("\n") == 1
    assert "looks like one set's folder: give the folder above it" in err
    assert not (tmp_path / "root" / "set5").exists()


def test_truncated_file_in_a_local_folder_is_called_a_short_local_file(tmp_path, data_root, capsys):
    """Issue 15: a short file in a --source folder is not a network problem ("connection closed early?")."""
    files = srbench_files(data_root, ["set5"])
    files["set5/HR/head.png"] = files["set5/HR/head.png"][:1000]  # SYNTHETIC damage: the real file cut short
    source = write_tree(tmp_path / "src", files)
    root = tmp_path / "root"
    code, _, err = run_cli(capsys, "fetch", "--source", str(source), "--datasets", "set5", "--data-root", str(root))
    assert code == 2 and err.count("\n") == 1, err
    assert f"{source / 'set5' / 'HR' / 'head.png'} is truncated: 1000 of" in err
    assert "the local file is shorter than the manifest's" in err and "connection" not in err
    assert not root.exists()
