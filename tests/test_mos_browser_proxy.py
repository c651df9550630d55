"""The rating flow through a real TLS-terminating reverse proxy on 127.0.0.1: nginx (Debian's), run with the
configuration documented in mos_app/README.md as it stands there (only its port, certificate paths and
upstream address replaced), in front of ``srbench mos serve --base-path mos``, in a real headless Chromium.

The certificate is self-signed, made here with openssl (the browser context accepts it). Skipped where nginx
or openssl is not installed (Debian: ``apt-get install nginx-light``).
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import urllib.request
from pathlib import Path

import pytest

from mos_browser_helpers import browser  # noqa: F401 (fixture)
from mos_browser_helpers import begin, build_study, db_rows, free_port, kill_server, rate, start_server

pytest.importorskip("playwright.sync_api")

pytestmark = [pytest.mark.browser, pytest.mark.slow]
ROOT = Path(__file__).resolve().parent.parent
NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def readme_nginx_config() -> str:
    """The ```nginx block of mos_app/README.md."""
    text = (ROOT / "mos_app" / "README.md").read_text()
    m = re.search(r"```nginx\n(.*?)```", text, flags=re.S)
    assert m, "mos_app/README.md has no ```nginx block"
    return m.group(1)


def start_nginx(tmp: Path, listen_port: int, upstream: str) -> subprocess.Popen:
    """nginx in the foreground with the README's server block (port, certificate and upstream replaced)."""
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj",
                    "/CN=127.0.0.1", "-keyout", str(tmp / "key.pem"), "-out", str(tmp / "cert.pem")],
                   check=True, capture_output=True)
    conf = readme_nginx_config()
    for old, new in (("listen 443 ssl;", f"listen 127.0.0.1:{listen_port} ssl;"),
                     ("/etc/ssl/certs/rating.example.org.pem", str(tmp / "cert.pem")),
                     ("/etc/ssl/private/rating.example.org.key", str(tmp / "key.pem")),
                     ("http://127.0.0.1:8501", upstream)):
        assert conf.count(old) == 1, old
        conf = conf.replace(old, new)
    (tmp / "mos.conf").write_text(conf)
    temps = " ".join(f"{k}_temp_path {tmp / k};" for k in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    user = "user root;\n" if os.geteuid() == 0 else ""
    (tmp / "nginx.conf").write_text(
        f"{user}daemon off;\nworker_processes 1;\npid {tmp / 'nginx.pid'};\nerror_log {tmp / 'error.log'};\n"
        f"events {{ worker_connections 256; }}\n"
        f"http {{ access_log {tmp / 'access.log'}; {temps}\n include {tmp / 'mos.conf'};\n}}\n")
    proc = subprocess.Popen([NGINX, "-p", str(tmp), "-c", str(tmp / "nginx.conf"), "-e", str(tmp / "error.log")],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    deadline = time.monotonic() + 20
    import ssl

    ctx = ssl._create_unverified_context()
    while time.monotonic() < deadline:
        try:
            if urllib.request.urlopen(f"https://127.0.0.1:{listen_port}/mos/_stcore/health", timeout=1,
                                      context=ctx).read() == b"ok":
                return proc
        except OSError:
            time.sleep(0.2)
        if proc.poll() is not None:
            raise RuntimeError(f"nginx stopped: {proc.stderr.read().decode()[-1000:]}")
    os.killpg(proc.pid, signal.SIGKILL)
    raise RuntimeError("nginx did not proxy the health check within 20 s")


@pytest.mark.skipif(not (Path(NGINX).exists() and shutil.which("openssl")), reason="needs nginx and openssl")
def test_rating_through_a_tls_terminating_nginx_under_a_path_prefix(tmp_path, data_root, train_root, browser):
    study = build_study(tmp_path / "study", data_root, train_root, n_images=2, repeats=0, name="proxied")
    db = tmp_path / "ratings.sqlite"
    proc, direct = start_server(study, db, token=None, base_path="mos")
    assert direct.endswith("/mos")
    port = free_port()
    nginx_dir = tmp_path / "nginx"
    nginx_dir.mkdir()
    nginx = start_nginx(nginx_dir, port, direct.removesuffix("/mos"))
    ctx = browser.new_context(viewport={"width": 1280, "height": 800}, ignore_https_errors=True)
    try:
        page = ctx.new_page()
        sockets: list[str] = []
        page.on("websocket", lambda ws: sockets.append(ws.url))  # Streamlit's websocket: through the proxy too
        public = f"https://127.0.0.1:{port}/mos"
        begin(page, public, "proxy1")
        for score in (1, 5, 3, 4):  # the calibration pair, then two rating images
            rate(page, score)
        assert page.url.startswith(f"{public}/?rater=proxy1")
        media = page.evaluate("() => document.querySelector('.mos-viewer .mos-stage img.mos-source').src")
        assert media.startswith(f"{public}/media/"), media  # the images come through the proxy too
    finally:
        ctx.close()
        os.killpg(nginx.pid, signal.SIGTERM)
        nginx.wait(timeout=10)
        kill_server(proc)
    assert db_rows(db, "proxy1") == [(0, 1), (1, 5), (2, 3), (3, 4)]
    assert sockets and all(u.startswith(f"wss://127.0.0.1:{port}/mos/_stcore/") for u in sockets), sockets
    log = (nginx_dir / "access.log").read_text()  # the page, its scripts and the images came through nginx
    assert '"GET /mos/?rater=proxy1 HTTP/1.1" 200' in log and re.search(r'"GET /mos/media/\w+\.png HTTP/1.1" 200', log)
