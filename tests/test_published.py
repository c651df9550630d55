"""The SRGAN authors' released images (release ledig2017) as first-class reference methods.

Real files throughout: the release is read from the shared copy (``published_root``),
copied into tmp folders to damage it, and fetched from a real HTTP server on
127.0.0.1 laid out like its public source (raw.githubusercontent.com and
GitHub's archive of the pinned commit).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from PIL import Image

from srbench.data import releases as published
from srbench.cli import main
from srbench.data.sets import load_dataset, load_manifest
from srbench.errors import MissingOutput, SrbenchError
from srbench.data.imageio import read_image
from srbench.paper_values import paper_psnr_ssim
from srbench.data.releases_fetch import file_specs, public_source
from srbench.run.registry import get_method
from srbench.run.runner import run_benchmark, select_methods
from test_datasets_fetch import _no_proxy, make_zip, serve  # noqa: F401  (real HTTP server fixtures)

RELEASE = "ledig2017"
MANIFEST = published.load_release(RELEASE)
COMMIT = MANIFEST["source"]["commit"]
COMMITTED = Path(__file__).resolve().parent.parent / "results" / "metrics" / "published"
# Table 2 rows of the paper reproduced by each released method
PAPER_ROW = {"published:srresnet-mse": "SRResNet", "published:srgan-vgg54": "SRGAN"}


def source_layout(release_dir: Path) -> dict[str, bytes]:
    """The release's files under their paths in the public repository (``result/SRGAN/images/...``)."""
    return {f.source_path: (release_dir / f.path).read_bytes() for f in published.release_files(RELEASE)}


# ------------------------------------------------------------------ the manifest


def test_manifest_pins_the_shared_release(published_root):
    files = published.release_files(RELEASE)
    assert len(files) == MANIFEST["count"] == 38
    assert published.verify_release(RELEASE, published_root / RELEASE) == []
    for method in ("srresnet-mse", "srgan-vgg54"):
        for dataset in ("set5", "set14"):
            entries = {e["name"]: e["hr"] for e in load_manifest(dataset)["images"]}
            mine = {f.name: f for f in files if f.method == method and f.dataset == dataset}
            assert mine.keys() == entries.keys()
            assert all((f.width, f.height) == (entries[n]["width"], entries[n]["height"]) for n, f in mine.items())
    assert published.not_released(RELEASE, "bsd100").startswith("the authors' BSD100 outputs are not available")


def test_default_source_is_the_pinned_public_commit():
    source = public_source(RELEASE, 10)
    spec = file_specs(RELEASE)[0]
    assert source.urls_for(spec) == [
        f"https://raw.githubusercontent.com/owenqyzhang/Super-Resolution/{COMMIT}/{spec.source_path}"]
    assert spec.source_path == "result/SRResNet/images/baby_SRResNet-MSE.png"


# ------------------------------------------------------------------ the 8 cells of Table 2


def test_paper_protocol_reproduces_table2_on_the_authors_images(data_root, published_root, tmp_path):
    """The paper protocol on the authors' own SRResNet and SRGAN outputs gives Table 2's PSNR and SSIM on Set5
    and Set14 to the printed precision (8 cells): the protocol is the paper's on learned outputs too."""
    result = run_benchmark(list(PAPER_ROW), ["set5", "set14"], data_root=data_root, out_dir=tmp_path / "run",
                           protocols=["paper"], progress=False, method_settings={"published_root": published_root})
    cells = 0
    for row in result.summary.itertuples():
        assert row.n == row.n_expected
        psnr, ssim = paper_psnr_ssim(PAPER_ROW[row.method], row.dataset)
        assert round(row.psnr, 2) == psnr, (row.method, row.dataset, row.psnr, psnr)
        assert round(row.ssim, 4) == ssim, (row.method, row.dataset, row.ssim, ssim)
        cells += 2
    assert cells == 8
    # the committed results are these measurements
    committed = pd.read_csv(COMMITTED / "per_image.csv")
    committed = committed[committed.protocol == "paper"].set_index(["dataset", "image", "method"]).sort_index()
    fresh = result.per_image.set_index(["dataset", "image", "method"]).sort_index()
    assert np.abs(committed[["psnr", "ssim"]].to_numpy() - fresh[["psnr", "ssim"]].to_numpy()).max() < 1e-6


def test_paper_figure2_labels_reproduce():
    """The paper's Figure 2 (Set14 comic) prints bicubic (21.59dB/0.6423), SRResNet (23.53dB/0.7832) and
    SRGAN (21.15dB/0.6868); the committed per-image rows give the same values at that precision."""
    rows = pd.concat([pd.read_csv(COMMITTED / "per_image.csv"),
                      pd.read_csv(COMMITTED.parent / "classic" / "per_image.csv")])
    rows = rows[(rows.protocol == "paper") & (rows.image == "comic.png")].set_index("method")
    for method, (psnr, ssim) in {"bicubic": (21.59, 0.6423), "published:srresnet-mse": (23.53, 0.7832),
                                 "published:srgan-vgg54": (21.15, 0.6868)}.items():
        assert (round(rows.loc[method, "psnr"], 2), round(rows.loc[method, "ssim"], 4)) == (psnr, ssim)


# ------------------------------------------------------------------ the method


def test_published_method_reads_the_released_files(data_root, published_root):
    method = get_method("published:SRGAN-VGG54", published_root=published_root)
    assert method.name == "published:srgan-vgg54" and method.availability() is None
    head = next(im for im in load_dataset("set5", data_root) if im.name == "head.png")
    sr = method.upscale(head.lr, dataset="set5", name="head.png")
    np.testing.assert_array_equal(sr, read_image(published_root / RELEASE / "srgan-vgg54/set5/head.png")[0])
    bsd = load_dataset("bsd100", data_root)[0]
    with pytest.raises(MissingOutput, match="not available"):
        method.upscale(bsd.lr, dataset="bsd100", name=bsd.name)
    with pytest.raises(SrbenchError, match="published methods: srresnet-mse, srgan-vgg54"):
        get_method("published:srgan-vgg22")


def test_all_includes_installed_published_methods(tmp_path, published_root):
    chosen, skipped = select_methods(["all"], {"published_root": published_root, "checkpoint_root": tmp_path})
    assert [m.name for m in chosen][-2:] == ["published:srresnet-mse", "published:srgan-vgg54"]
    chosen, skipped = select_methods(["all"], {"published_root": tmp_path / "none", "checkpoint_root": tmp_path})
    assert "published:srgan-vgg54" not in [m.name for m in chosen]
    assert "srbench datasets fetch --datasets ledig2017" in skipped["published:srgan-vgg54"]


def _damaged_copy(published_root: Path, dest: Path) -> Path:
    """A copy of the release with four labelled kinds of damage (SYNTHETIC damage to real files)."""
    shutil.copytree(published_root / RELEASE, dest / RELEASE)
    folder = dest / RELEASE / "srgan-vgg54"
    (folder / "set5/bird.png").unlink()  # missing
    pixels = np.array(Image.open(folder / "set5/baby.png").convert("RGB"))
    pixels[0, 0] ^= 1
    Image.fromarray(pixels).save(folder / "set5/baby.png")  # altered: one pixel, a valid PNG
    data = (folder / "set14/zebra.png").read_bytes()
    (folder / "set14/zebra.png").write_bytes(data[: len(data) // 2])  # truncated
    (folder / "set14/notes.txt").write_text("extra\n")  # extra
    return dest


def test_missing_or_altered_files_are_reported_file_by_file_and_never_averaged(tmp_path, data_root, published_root,
                                                                                capsys):
    root = _damaged_copy(published_root, tmp_path / "pub")
    code = main(["datasets", "verify", "--datasets", RELEASE, "--published-root", str(root)])
    out = capsys.readouterr().out.splitlines()
    assert code == 1
    expected = [f"{RELEASE}/srgan-vgg54/set5/bird.png: missing",
                f"{RELEASE}/srgan-vgg54/set5/baby.png: altered (sha256",
                f"{RELEASE}/srgan-vgg54/set14/zebra.png: altered (",
                f"{RELEASE}/srgan-vgg54/set14/zebra.png: unreadable image",
                f"{RELEASE}/srgan-vgg54/set14/notes.txt: extra file, not in the manifest"]
    for start in expected:
        assert sum(line.startswith(start) for line in out) == 1, (start, out)
    assert len(out) == len(expected) + 1 and out[-1].startswith("5 problem(s)")

    code = main(["run", "--methods", "published:srgan-vgg54,published:srresnet-mse", "--datasets", "set5,set14",
                 "--data-root", str(data_root), "--published-root", str(root), "--protocol", "paper",
                 "--out", str(tmp_path / "run"), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0
    assert "published:srgan-vgg54 covers 3/5 of set5 (missing bird.png; altered, not measured baby.png (sha256" in out
    assert "published:srgan-vgg54 covers 13/14 of set14 (altered, not measured zebra.png (" in out
    assert "published:srresnet-mse covers 5/5 of set5" in out
    summary = pd.read_csv(tmp_path / "run" / "summary.csv").set_index(["dataset", "method"])
    assert summary.loc[("set5", "published:srgan-vgg54"), "n"] == 3 and np.isnan(
        summary.loc[("set5", "published:srgan-vgg54"), "psnr"])
    assert summary.loc[("set14", "published:srgan-vgg54"), "n"] == 13
    per_image = pd.read_csv(tmp_path / "run" / "per_image.csv")
    assert not per_image[(per_image.method == "published:srgan-vgg54")
                         & per_image.image.isin(["baby.png", "bird.png", "zebra.png"])].size

    from srbench import report

    report.build_report([tmp_path / "run"], [], tmp_path / "report", data_root=data_root, published_root=root)
    t2 = pd.read_csv(tmp_path / "report" / "table2.csv", keep_default_na=False, dtype=str)
    cell = t2[(t2.dataset == "set5") & (t2.label == "SRGAN (authors' images)") & (t2.metric == "psnr")].iloc[0]
    assert cell.ours == "" and cell.note.startswith("partial coverage: 3 of 5 images")


# ------------------------------------------------------------------ fetch


def test_fetch_from_the_shared_folder_then_verify(tmp_path, published_root, capsys):
    root = tmp_path / "data"
    for source in (published_root, published_root / RELEASE):  # the folder holding ledig2017/, or ledig2017/ itself
        code = main(["datasets", "fetch", "--datasets", RELEASE, "--source", str(source), "--data-root", str(root),
                     "--no-progress", "--force"])
        out = capsys.readouterr().out
        assert code == 0 and f"{RELEASE}: installed 38 files" in out
    assert sorted(p.name for p in (root / "published").iterdir()) == [RELEASE]  # no scratch folder left
    assert published.verify_release(RELEASE, root / "published" / RELEASE) == []
    code = main(["datasets", "list", "--data-root", str(root)])
    assert code == 0 and f"{RELEASE}      38   11.8  present" in capsys.readouterr().out


def test_fetch_over_http_like_the_public_source(tmp_path, published_root, serve, capsys):  # noqa: F811
    """raw.githubusercontent.com's layout (HOST/owner/repo/COMMIT/result/...) and GitHub's archive of the commit
    (Super-Resolution-COMMIT/result/...), served on 127.0.0.1."""
    files = source_layout(published_root / RELEASE)
    archive = make_zip(tmp_path / "a.zip", {**files, "README.md": b"other files of the repository\n"},
                       top=f"Super-Resolution-{COMMIT}/")
    base = serve({**{f"owenqyzhang/Super-Resolution/{COMMIT}/{k}": v for k, v in files.items()},
                  f"owenqyzhang/Super-Resolution/archive/{COMMIT}.zip": archive.read_bytes()})
    for i, source in enumerate((f"{base}/owenqyzhang/Super-Resolution/{COMMIT}",
                                f"{base}/owenqyzhang/Super-Resolution/archive/{COMMIT}.zip")):
        root = tmp_path / f"pub{i}"
        code = main(["datasets", "fetch", "--datasets", RELEASE, "--source", source, "--published-root", str(root),
                     "--no-progress"])
        out, err = capsys.readouterr()
        assert code == 0, err
        assert f"{RELEASE}: installed 38 files" in out
        assert published.verify_release(RELEASE, root / RELEASE) == []
        assert sorted(p.name for p in root.iterdir()) == [RELEASE]


def test_fetch_refuses_an_altered_file_and_installs_nothing(tmp_path, published_root, serve, capsys):  # noqa: F811
    files = source_layout(published_root / RELEASE)
    bad = "result/SRGAN/images/comic_SRGAN-VGG54.png"
    files[bad] = files[bad][:-1] + bytes([files[bad][-1] ^ 1])
    base = serve(files)
    root = tmp_path / "pub"
    code = main(["datasets", "fetch", "--datasets", RELEASE, "--source", base, "--published-root", str(root),
                 "--no-progress"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1
    assert f"{RELEASE}/srgan-vgg54/set14/comic.png: checksum mismatch" in err
    assert not root.exists()


def test_default_public_source_offline(tmp_path, capsys):
    """No --source: the pinned public commit; on this offline machine one clear line and nothing left behind."""
    root = tmp_path / "pub"
    code = main(["datasets", "fetch", "--datasets", RELEASE, "--published-root", str(root), "--timeout", "10",
                 "--no-progress"])
    out, err = capsys.readouterr()
    if code == 0:
        assert published.verify_release(RELEASE, root / RELEASE) == []
    else:
        assert code == 2 and err.count("\n") == 1 and "cannot reach raw.githubusercontent.com" in err
        assert not root.exists()


# ------------------------------------------------------------------ MOS studies


def test_mos_study_with_the_authors_images_and_an_external_folder(tmp_path, data_root, published_root):
    from srbench.mos_app.create import create_study
    from srbench.mos_app.study import StudyError, load_study

    external = tmp_path / "mine" / "set5"  # an external: folder (bicubic outputs written as files)
    external.mkdir(parents=True)
    bicubic = get_method("bicubic")
    for im in load_dataset("set5", data_root):
        Image.fromarray(bicubic.upscale(im.lr, dataset="set5", name=im.name)).save(external / im.name)
    methods = ["bicubic", "published:srgan-vgg54", f"external:mine={tmp_path / 'mine'}"]
    out = create_study(tmp_path / "study", name="authors", methods=methods, datasets=["set5"], data_root=data_root,
                       calibration=0, method_settings={"published_root": str(published_root)})
    study = load_study(out, verify=True)
    by = {(i.method, i.image): i for i in study.items}
    assert {m for m, _ in by} == {"hr", "bicubic", "published:srgan-vgg54", "mine"}
    released = read_image(published_root / RELEASE / "srgan-vgg54/set5/head.png")[0]
    np.testing.assert_array_equal(read_image(study.root / by[("published:srgan-vgg54", "head.png")].path)[0],
                                  released)
    with pytest.raises(StudyError, match="published:srgan-vgg54 covers 0/100 of bsd100 .not released"):
        create_study(tmp_path / "study2", name="x", methods=methods[:2], datasets=["set5", "bsd100"],
                     data_root=data_root, calibration=0, method_settings={"published_root": str(published_root)})
    assert not (tmp_path / "study2").exists()
