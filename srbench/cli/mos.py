"""``srbench mos``: create a MOS study, serve the rating app, export the answers (over :mod:`srbench.mos_app`)."""

from __future__ import annotations

import argparse
import os
import re
import socket
import sys
import textwrap
from pathlib import Path

import srbench.mos_app as mos_app_package
from srbench.mos_app.study import (DB_NAME, DEFAULT_GOLD_RATE, DEFAULT_MIN_VIEW_MS, DEFAULT_SESSION_ITEMS,
                    DEFAULT_SESSION_MINUTES, StudyError, StudySettings, load_study)
from srbench.mos_app.store import CSV_COLUMNS
from srbench.run.registry import add_plugin_flag, load_plugins

APP = Path(mos_app_package.__file__).resolve().parent / "app.py"  # the Streamlit page, mos_app/app.py

MOS_EPILOG = """\
examples (a whole study):
  srbench mos create --name pilot --methods nearest,bicubic,srresnet-mse --datasets set5 --out studies/pilot
  srbench mos serve --study studies/pilot --admin-token s3cret
  srbench mos export --study studies/pilot --out ratings.csv
  srbench report --ratings ratings.csv --out my_report
"""
CREATE_EPILOG = """\
examples:
  srbench mos create --name pilot --methods nearest,bicubic,srresnet-mse --datasets set5 --out studies/pilot
  srbench mos create --name srgan-mos --methods nearest,bicubic,srgan-vgg54 --datasets set5,set14,bsd100 \\
      --calibration 20 --repeats 20 --seed 1 --min-view-s 2 --session-items 200 --session-minutes 20 \\
      --out studies/srgan-mos

The study folder is written under a temporary name and renamed at the end: a failed
create leaves nothing behind. Calibration images come from --train-data/bsd200.
"""
SERVE_EPILOG = """\
examples:
  srbench mos serve --study studies/pilot                      # raters: http://127.0.0.1:8501/?rater=ID
  srbench mos serve --study studies/pilot --address 0.0.0.0 --port 8080 --admin-token s3cret
  SRBENCH_MOS_ADMIN_TOKEN=s3cret srbench mos serve --study studies/pilot --db /data/pilot.sqlite
"""
EXPORT_EPILOG = """\
examples:
  srbench mos export --study studies/pilot --out ratings.csv
  srbench mos export --study studies/pilot --db /data/pilot.sqlite --out ratings.csv
  srbench report --ratings ratings.csv --out my_report          # then: MOS tables and tests
"""


def add_parser(subparsers) -> None:
    """Add ``srbench mos`` with the sub-subcommands ``create``, ``invite``, ``serve`` and ``export``."""
    p = subparsers.add_parser(
        "mos", help="mean-opinion-score study: create, invite, serve, export",
        description="Run a MOS study like the paper's (section 3.3): raters score every version of "
                    "every test image 1 (bad) .. 5 (excellent) after calibrating on nearest-neighbour "
                    "(score 1) and original HR (score 5) images.",
    )
    sub = p.add_subparsers(dest="mos_command", metavar="ACTION")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])
    p.epilog = MOS_EPILOG
    p.formatter_class = argparse.RawDescriptionHelpFormatter

    c = sub.add_parser("create", help="build a self-contained study folder",
                       formatter_class=argparse.RawDescriptionHelpFormatter,
                       description=_wrap("Run the methods on the test sets and write every stimulus as "
                                         "lossless PNG, the calibration anchors and manifest.json (SHA-256 of "
                                         "every file). By default only invited raters can rate: each rater of "
                                         "--raters gets a link with a secret token, printed once (the study keeps "
                                         "only a keyed hash); invite more later with 'srbench mos invite'. "
                                         "--open makes a study anyone can rate under any id."),
                       epilog=CREATE_EPILOG + "\n" + INVITE_EPILOG)
    c.add_argument("--name", required=True, help="study name (letters, digits, '_', '-'; max 32)")
    c.add_argument("--methods", required=True, help="comma-separated registry names, e.g. nearest,bicubic,srgan-vgg54, "
                                                    "published:srgan-vgg54 (the authors' images) or external:NAME=DIR "
                                                    "(the HR image is always included as method 'hr')")
    c.add_argument("--datasets", required=True, help="comma-separated sets: set5,set14,bsd100")
    c.add_argument("--calibration", type=int, default=20, metavar="N",
                   help="calibration images: the first N of train/bsd200 sorted by name (default 20, as in the paper)")
    c.add_argument("--repeats", type=int, default=0, metavar="N",
                   help="items shown twice to every rater, for test-retest reliability (default 0)")
    c.add_argument("--seed", type=int, default=0, help="seed for the repeated items and every rater's order (default 0)")
    c.add_argument("--raters", default=None,
                   help="comma-separated rater ids to invite, each gets a link (with --open: the optional list of "
                        "allowed ids); case-insensitive, stored in lower case")
    c.add_argument("--open", action="store_true",
                   help="open study: no invitation links; any id (or any of --raters) may rate")
    crowd = c.add_argument_group("crowd platforms (instead of invitation links; see mos_app/crowd.py)")
    crowd.add_argument("--crowd", default=None, choices=["prolific"],
                       help="raters come from this platform: their id is its participant id in the link "
                            "(?PROLIFIC_PID=...; STUDY_ID and SESSION_ID are stored per visit)")
    crowd.add_argument("--completion-code", default=None, metavar="CODE",
                       help="with --crowd: the code shown to raters who finish (required)")
    crowd.add_argument("--completion-url", default=None, metavar="URL",
                       help="with --crowd: the link back to the platform (default for prolific: "
                            "https://app.prolific.com/submissions/complete?cc=CODE)")
    crowd.add_argument("--calibration-min", type=float, default=None, metavar="A",
                       help="with --crowd: screen out, after the calibration, raters whose share of calibration "
                            "images right at the first click is below A (0..1)")
    crowd.add_argument("--screened-out-code", default=None, metavar="CODE",
                       help="with --calibration-min: the code shown to raters screened out")
    crowd.add_argument("--screened-out-url", default=None, metavar="URL",
                       help="with --calibration-min: their link back (default for prolific: as --completion-url)")
    c.add_argument("--region", default=None, metavar="WxH",
                   help="show only a fixed WxH-pixel region of every photo (the centred one, the same for every "
                        "method, recorded in the manifest), so that the study fits smaller screens; default: whole "
                        "images (create prints the smallest window the study needs)")
    c.add_argument("--gold-rate", type=float, default=DEFAULT_GOLD_RATE, metavar="R",
                   help="hidden gold items per rating presentation, shown like any other image (default "
                        f"{DEFAULT_GOLD_RATE:g}: one in twenty; at least one if > 0; 0 = none): BSD200 photos after "
                        "the calibration ones, the original expected to score 4..5, its nearest-neighbour version 1..2")
    c.add_argument("--attention", type=int, default=0, metavar="N",
                   help="attention checks per rater: images that ask for a given score (default 0)")
    c.add_argument("--screening", action="append", default=[], metavar="KEY=VALUE",
                   help="rater-screening threshold for the admin page (repeatable; as in 'srbench report "
                        "--screening'), recorded in the manifest")
    _link_flags(c)
    c.add_argument("--min-view-s", type=float, default=DEFAULT_MIN_VIEW_MS / 1000, metavar="S",
                   help="minimum viewing time: an image must have been on screen this long before its score is "
                        f"accepted (default {DEFAULT_MIN_VIEW_MS / 1000:g}; 0.2..60)")
    c.add_argument("--session-items", type=int, default=DEFAULT_SESSION_ITEMS, metavar="N",
                   help=f"a break screen after N answers in a session (default {DEFAULT_SESSION_ITEMS})")
    c.add_argument("--session-minutes", type=float, default=DEFAULT_SESSION_MINUTES, metavar="M",
                   help=f"... or after M minutes, whichever comes first (default {DEFAULT_SESSION_MINUTES:g}; "
                        "ITU-R BT.500 advises at most 30)")
    c.add_argument("--data-root", default=None, help="benchmark data root (default $SRBENCH_DATA)")
    c.add_argument("--published-root", default=None,
                   help="folder holding published releases, for published:METHOD (default: $SRBENCH_PUBLISHED, "
                        "else published/ in the data root, or beside it)")
    c.add_argument("--train-data", default=None, help="training data folder holding bsd200/ (default $SRBENCH_TRAIN_DATA)")
    c.add_argument("--out", required=True, help="study folder to create (must not exist)")
    add_plugin_flag(c)
    c.set_defaults(func=_create)

    i = sub.add_parser("invite", help="issue invitation links to raters of a study",
                       description=_wrap("Give each rater a link with a new secret token (printed once; the study "
                                         "keeps only HMAC-SHA-256(salt, study, rater, token) in "
                                         "STUDY/invites.json). The rating page accepts a rater of an invite "
                                         "study only with that link."),
                       epilog=INVITE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    i.add_argument("--study", required=True, help="study folder made by 'srbench mos create'")
    i.add_argument("--raters", required=True, help="comma-separated rater ids (case-insensitive)")
    i.add_argument("--reissue", action="store_true",
                   help="give raters who already have a link a new one (their old link stops working)")
    _link_flags(i)
    i.set_defaults(func=_invite)

    s = sub.add_parser("serve", help="run the rating app (Streamlit)",
                       description="Check every study file's SHA-256, then run the Streamlit rating app. Raters open "
                                   "http://ADDRESS:PORT/?rater=ID; the admin page is http://ADDRESS:PORT/?admin=1.",
                       epilog=SERVE_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    s.add_argument("--study", required=True, help="study folder made by 'srbench mos create'")
    s.add_argument("--port", type=int, default=8501, help="TCP port (default 8501)")
    s.add_argument("--address", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--admin-token", default=None,
                   help="token for the admin page (default $SRBENCH_MOS_ADMIN_TOKEN; none: admin page disabled)")
    s.add_argument("--base-path", default="", metavar="PATH",
                   help="serve under this URL path prefix, e.g. 'mos' for https://HOST/mos/ behind a reverse proxy "
                        "that passes /mos/ on unchanged (nginx example: mos_app/README.md); default: the root")
    s.add_argument("--db", default=None, help=f"answer database (default STUDY/{DB_NAME})")
    s.set_defaults(func=_serve)

    e = sub.add_parser("export", help="write the answers as long-format CSV",
                       description=_wrap(f"Write every answer of the study as one CSV row. The {len(CSV_COLUMNS)} "
                                         "columns, in this order: " + ", ".join(CSV_COLUMNS) + "."),
                       epilog=EXPORT_EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter)
    e.add_argument("--study", required=True, help="study folder")
    e.add_argument("--db", default=None, help=f"answer database (default STUDY/{DB_NAME})")
    e.add_argument("--out", required=True, help="CSV file to write")
    e.set_defaults(func=_export)


INVITE_EPILOG = """\
Invitation links look like http://HOST:PORT/?rater=alice&token=... . They are
printed on stdout (or written with --links FILE, a new file of mode 0600) and
cannot be shown again: a lost link is replaced with 'srbench mos invite --reissue'.

Examples:
  srbench mos create --name pilot --methods nearest,bicubic --datasets set5 \\
      --raters alice,bob --url http://rating.example.org:8501 --links pilot-links.csv --out studies/pilot
  srbench mos invite --study studies/pilot --raters carol --url http://rating.example.org:8501
  srbench mos invite --study studies/pilot --raters bob --reissue
  srbench mos create --name open-pilot --methods nearest --datasets set5 --open --out studies/open-pilot
"""


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=100)


def _link_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--url", default="http://127.0.0.1:8501",
                        help="address raters open, for the links (default http://127.0.0.1:8501)")
    parser.add_argument("--links", default=None, metavar="FILE",
                        help="write the links as CSV (rater,link) to this new file (mode 0600) instead of stdout")


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _create(args: argparse.Namespace) -> int:
    from srbench.mos_app.create import create_study
    from srbench.mos_app.invites import invite_link, normalise_raters
    from srbench.mos_app.crowd import describe as describe_crowd
    from srbench.mos_app.region import parse_region
    from srbench.mos_app.viewing import window_report
    from srbench.data.sets import resolve_data_root
    from srbench.data.releases import method_settings

    load_plugins(args.plugin)
    raters = _split(args.raters) if args.raters else None
    if raters is not None:
        normalise_raters(raters)  # bad or doubled ids are refused before any work
    invite_link(args.url, "x", "x")  # so is a bad --url
    _check_links_file(args.links)
    screening = _screening_settings(args.screening)
    region = parse_region(args.region) if args.region is not None else None
    crowd = _crowd_settings(args)
    access = "crowd" if crowd else "open" if args.open else "invite"
    out = create_study(
        args.out, name=args.name, methods=_split(args.methods), datasets=_split(args.datasets),
        data_root=resolve_data_root(args.data_root), train_root=args.train_data,
        calibration=args.calibration, repeats=args.repeats, seed=args.seed,
        raters=raters, run=_run_settings(args), access=access, crowd=crowd,
        method_settings=method_settings(_split(args.methods), args.published_root, args.data_root),
        gold_rate=args.gold_rate, attention=args.attention, screening=screening, region=region,
    )
    study = load_study(out)
    print(f"study {study.name}: {len(study.items)} items, {len(study.repeats)} repeated, "
          f"{len(study.calibration)} calibration anchors, minimum viewing time {study.run.min_view_ms / 1000:g} s, "
          f"sessions of at most {study.run.session_items} images / {study.run.session_minutes:g} min -> {out}")
    if study.settings.get("region"):
        print(f"every photo shown as one fixed {'x'.join(map(str, study.settings['region']))} region (the centred "
              "one, the same for every method; manifest: region = [x, y, w, h] per image)")
    stims = study.items + study.calibration + study.checks
    for line in window_report(sorted({(s.width, s.height) for s in stims})):
        print(line)
    if crowd:
        print(describe_crowd(crowd))
    elif args.open:
        print("open study: raters choose their own id" + (" from --raters" if raters else ""))
    elif raters:
        _issue(study, raters, reissue=False, url=args.url, links=args.links)
    else:
        print("invite study: nobody can rate yet; issue links with 'srbench mos invite --study "
              f"{out} --raters ID,...'", file=sys.stderr)
    return 0


def _crowd_settings(args: argparse.Namespace):
    """``--crowd`` and its flags as checked :class:`CrowdSettings` (None without ``--crowd``)."""
    from srbench.mos_app.crowd import crowd_settings

    flags = ("completion_code", "completion_url", "calibration_min", "screened_out_code", "screened_out_url")
    if args.crowd is None:
        used = [f"--{f.replace('_', '-')}" for f in flags if getattr(args, f) is not None]
        if used:
            raise StudyError(f"{', '.join(used)} only apply to crowd studies (--crowd PLATFORM)")
        return None
    if args.open or args.raters:
        raise StudyError("--crowd takes its raters from the platform: leave out --open and --raters")
    return crowd_settings(args.crowd, args.completion_code, args.completion_url, args.screened_out_code,
                          args.screened_out_url, args.calibration_min)


def _screening_settings(pairs: list[str]) -> dict:
    """``--screening KEY=VALUE`` pairs checked by :class:`ScreeningConfig`, as a manifest dict."""
    from srbench.ratings.screening import ScreeningConfig

    ScreeningConfig().with_overrides(pairs)  # refuses unknown keys and bad values now
    return {k.strip(): v.strip() for k, _, v in (p.partition("=") for p in pairs)}


def _check_links_file(links: str | None) -> None:
    from srbench.mos_app.invites import InviteError

    if links is None:
        return
    path = Path(links)
    if path.exists():
        raise InviteError(f"--links {path} already exists; links are written only to a new file")
    if not path.parent.is_dir():
        raise InviteError(f"--links {path}: folder {path.parent} does not exist")


def _issue(study, raters: list[str], *, reissue: bool, url: str, links: str | None) -> None:
    """Issue tokens, then print the links (or write them to ``links``)."""
    from srbench.mos_app.invites import invite_link, issue_tokens, write_links

    tokens = issue_tokens(study.root, study.name, raters, reissue=reissue)
    urls = {r: invite_link(url, r, t) for r, t in tokens.items()}
    if links:
        write_links(links, urls)
        print(f"{len(urls)} invitation link(s) -> {links} (mode 0600; shown nowhere else)", file=sys.stderr)
    else:
        print(f"{len(urls)} invitation link(s), shown only now (the study keeps only their hashes):", file=sys.stderr)
        for rater, link in sorted(urls.items()):
            print(f"{rater}\t{link}")


def _invite(args: argparse.Namespace) -> int:
    from srbench.mos_app.invites import access_mode, invite_link

    study = load_study(args.study, verify=False)
    if access_mode(study.settings) != "invite":
        if access_mode(study.settings) == "crowd":
            raise StudyError(f"study {study.name} is a crowd study: its raters come from the platform's link, so "
                             "it takes no invitations")
        raise StudyError(f"study {study.name} is open (created with --open, or before invitations existed): "
                         "anyone may rate under any id, so it takes no invitations; create an invite study instead")
    invite_link(args.url, "x", "x")
    _check_links_file(args.links)
    _issue(study, _split(args.raters), reissue=args.reissue, url=args.url, links=args.links)
    return 0


def _run_settings(args: argparse.Namespace) -> StudySettings:
    """``--min-view-s``, ``--session-items``, ``--session-minutes`` as checked :class:`StudySettings`."""
    if not (args.min_view_s == args.min_view_s and abs(args.min_view_s) < 1e6):  # NaN / inf
        raise StudyError(f"--min-view-s {args.min_view_s} is not a number of seconds")
    if not (args.session_minutes == args.session_minutes and abs(args.session_minutes) < 1e6):
        raise StudyError(f"--session-minutes {args.session_minutes} is not a number of minutes")
    try:
        return StudySettings(int(round(args.min_view_s * 1000)), args.session_items, float(args.session_minutes)).check()
    except StudyError as exc:
        raise StudyError(f"{exc} (--min-view-s, --session-items, --session-minutes)") from exc


def _serve(args: argparse.Namespace) -> int:
    study = load_study(args.study, verify=True)  # fail here, before starting a server
    if not 1 <= args.port <= 65535:
        raise StudyError(f"--port {args.port} is not a TCP port (1..65535)")
    if args.db and Path(args.db).is_dir():
        raise StudyError(f"--db {args.db} is a folder; give the answer file, e.g. {Path(args.db) / DB_NAME}")
    from srbench.mos_app.store import check_study_database

    check_study_database(Path(args.db) if args.db else study.root / DB_NAME, study.name)
    check_listen(args.address, args.port)
    env = dict(os.environ)
    env["SRBENCH_MOS_STUDY"] = str(study.root.resolve())
    env["SRBENCH_MOS_DB"] = str(Path(args.db).resolve()) if args.db else str(study.root.resolve() / DB_NAME)
    token = args.admin_token if args.admin_token is not None else os.environ.get("SRBENCH_MOS_ADMIN_TOKEN", "")
    env["SRBENCH_MOS_ADMIN_TOKEN"] = token
    base_path = check_base_path(args.base_path)
    cmd = [sys.executable, "-m", "streamlit", "run", str(APP),
           *streamlit_flags(args.port, args.address, base_path)]
    print(serving_line(study, args.address, args.port, bool(token), base_path), file=sys.stderr, flush=True)
    sys.stdout.flush()
    # Replace this process by Streamlit: signals (Ctrl-C, SIGTERM) reach the server directly
    # and no orphaned child is left behind.
    os.execve(sys.executable, cmd, env)
    return 0  # not reached


BASE_PATH_RE = re.compile(r"[A-Za-z0-9_.~-]+(/[A-Za-z0-9_.~-]+)*")


def check_base_path(raw: str) -> str:
    """``--base-path`` without surrounding slashes (``"/mos/"`` -> ``"mos"``; ``""`` = the root); StudyError
    for characters a URL path segment should not hold unescaped."""
    path = raw.strip().strip("/")
    if path and (not BASE_PATH_RE.fullmatch(path) or any(seg in (".", "..") for seg in path.split("/"))):
        raise StudyError(f"--base-path {raw!r}: use path segments of letters, digits, '_', '.', '~' or '-', "
                         "e.g. 'mos' or 'studies/mos'")
    return path


def serving_line(study, address: str, port: int, admin: bool, base_path: str = "") -> str:
    """What ``serve`` prints: where raters go (an invite study only through its invitation links)."""
    from srbench.mos_app.invites import access_mode

    base = f"http://{address}:{port}/" + (f"{base_path}/" if base_path else "")
    if access_mode(study.settings) == "crowd":
        from srbench.mos_app.crowd import study_crowd

        param = study_crowd(study.settings).id_param
        raters = f"raters arrive from the platform at {base}?{param}=ID&... (give the platform this address)"
    elif access_mode(study.settings) == "invite":
        raters = (f"raters open their invitation links ({base}?rater=ID&token=TOKEN, from 'srbench mos create "
                  "--raters' or 'srbench mos invite'; a link without its token is refused)")
    else:
        raters = f"raters open {base}?rater=ID or {base} and type their id"
    return (f"serving study {study.name} at {base}: {raters}"
            + (f"; admin: {base}?admin=1" if admin else "; admin page disabled"))


def check_listen(address: str, port: int) -> None:
    """Raise :class:`StudyError` unless a server could listen on ``address:port`` now.

    Catches an unknown address or a port in use here, as one error line,
    instead of as a traceback from the server after it has started.
    """
    try:
        infos = socket.getaddrinfo(address, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except (socket.gaierror, UnicodeError) as exc:
        raise StudyError(f"--address {address!r} is not a usable address ({exc})") from exc
    family, kind, proto, _, sockaddr = infos[0]
    with socket.socket(family, kind, proto) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the server itself does
        try:
            sock.bind(sockaddr)
        except OSError as exc:
            raise StudyError(f"cannot listen on {address}:{port} ({exc.strerror or exc}); "
                             "is another server using that port? choose another --port") from exc


def streamlit_flags(port: int, address: str, base_path: str = "") -> list[str]:
    """Command-line flags for a headless, non-reloading ``streamlit run`` (under URL path ``base_path``)."""
    return [
        *(["--server.baseUrlPath", base_path] if base_path else []),
        "--server.port", str(port), "--server.address", address, "--server.headless", "true",
        "--server.fileWatcherType", "none", "--server.runOnSave", "false",
        "--browser.gatherUsageStats", "false", "--global.developmentMode", "false",
        "--client.toolbarMode", "minimal",
    ]


def _export(args: argparse.Namespace) -> int:
    from srbench.mos_app.store import Store, check_study_database

    study = load_study(args.study, verify=False)
    db = Path(args.db) if args.db else study.root / DB_NAME
    if db.is_dir():
        raise StudyError(f"--db {db} is a folder; give the answer file, e.g. {db / DB_NAME}")
    if not db.is_file():
        raise StudyError(f"no answer database at {db} (nobody has rated yet, or pass --db)")
    check_study_database(db, study.name)
    n = Store(db, read_only=True).export_csv(args.out, study.name)
    print(f"{n} answers -> {args.out}")
    return 0
