"""``mcnbench report --html``: one self-contained page, checked as HTML and in a headless browser."""
from __future__ import annotations

import os
import re
import subprocess
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote, urlparse

import numpy as np
import pytest

from mcnbench.cli import main as cli
from mcnbench.report.significance import TEST_NAME

pytest_plugins = ("conftest_views",)  # view_results: oracle and noise on the tiny world
ENSURE = Path(__file__).parent / "browser" / "ensure_chromium.sh"


class Refs(HTMLParser):
    """Every resource and link of a page: (tag, attribute, value)."""

    def __init__(self):
        super().__init__()
        self.refs: list[tuple[str, str, str]] = []
        self.ids: set[str] = set()

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href") and value is not None:
                self.refs.append((tag, name, value))
            if name == "id":
                self.ids.add(value)


@pytest.fixture(scope="module")
def page(view_results, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("html") / "report"
    assert cli(["report", str(view_results), "--reference", "oracle", "--html", str(out),
                "--n-boot", "300"]) == 0
    return out / "index.html"


def test_every_image_and_link_resolves_on_disk(page):
    refs = Refs()
    refs.feed(page.read_text(encoding="utf-8"))
    assert {t for t, _, _ in refs.refs} >= {"img", "a"}
    imgs = [v for t, _, v in refs.refs if t == "img"]
    assert {"recall_at_k.png", "timelines.png", "embedding_map.png"} <= set(imgs)
    for tag, attr, value in refs.refs:
        url = urlparse(value)
        assert not url.scheme and not url.netloc, f"<{tag} {attr}={value!r}> is not a local file"
        if not url.path:  # an in-page anchor
            assert url.fragment in refs.ids, value
            continue
        target = page.parent / unquote(url.path)
        # images are files; links may also name a folder (the results folder the page came from)
        ok = target.is_file() if tag == "img" else target.exists()
        assert ok, f"<{tag} {attr}={value!r}> does not resolve"
    assert not re.search(r"<(script|link)\b", page.read_text()), "the page must load nothing"


def test_table_marks_significance_and_names_the_test(page):
    text = page.read_text(encoding="utf-8")
    assert TEST_NAME in text
    noise = re.search(r"<tr><td>noise</td>(.*?)</tr>", text).group(1)
    assert noise.count("<sup class='sig'>") >= 4          # oracle is far better on every retrieval metric
    assert "title='Δ vs oracle = " in noise and "95% CI" in noise
    assert "<tr class='ref'><td>oracle</td>" in text and "<sup class='sig'>" not in \
        re.search(r"<tr class='ref'>(.*?)</tr>", text).group(1)


def test_protocol_notes_provenance_and_the_browser(page, view_results):
    text = page.read_text(encoding="utf-8")
    for task in ("youcook2", "msrvtt", "crosstask", "mining_youtube"):
        assert f"id='task-{task}'" in text
    assert "Mining YouTube zero-shot action segmentation" in text  # the task module's own notes
    assert "config hash" in text and "fingerprint" in text and "commit" in text
    assert text.count("oracle/youcook2/seed") >= 1 or "youcook2/seed0.json" in text
    assert "Cluster browser: oracle on youcook2" in text
    purity = float(re.search(r"<b>purity ([0-9.]+)</b>", text).group(1))
    assert purity > 0.9  # oracle embeddings: clusters are the true concepts


def _blank(png: Path) -> tuple[float, float]:
    from matplotlib.image import imread

    img = imread(png)[..., :3]
    return float(img.std()), float((img.mean(axis=2) < 0.9).mean())


def test_page_renders_in_a_headless_browser(page, tmp_path):
    found = subprocess.run(["bash", str(ENSURE)], capture_output=True, text=True, timeout=900)
    if found.returncode != 0:
        pytest.skip(f"no headless Chromium: {found.stderr.strip()}")
    chromium = found.stdout.strip().splitlines()[-1]
    shot = tmp_path / "page.png"
    cmd = [chromium, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
           "--no-first-run", "--disable-component-update", "--disable-sync", "--disable-quic",
           f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1280,2000",
           "--virtual-time-budget=5000", f"--screenshot={shot}", page.as_uri()]
    run = subprocess.run(cmd, capture_output=True, text=True, timeout=180,
                         env={**os.environ, "HOME": str(tmp_path)})
    assert run.returncode == 0 and shot.is_file(), run.stderr[-2000:]
    spread, inked = _blank(shot)
    assert spread > 0.05 and inked > 0.02, (spread, inked)  # text, tables and figures drawn
    # a blank page of the same size is recognised as blank by the same check
    blank = tmp_path / "blank.html"
    blank.write_text("<!DOCTYPE html><html><body></body></html>")
    subprocess.run([*cmd[:-2], f"--screenshot={tmp_path / 'blank.png'}", blank.as_uri()],
                   capture_output=True, timeout=180, env={**os.environ, "HOME": str(tmp_path)})
    assert _blank(tmp_path / "blank.png")[1] < 0.001
    assert np.isfinite(spread)


def test_a_figures_companion_table_is_linked_not_drawn(view_results, tmp_path):
    from mcnbench.report import build_table, load
    from mcnbench.report.html import write_html

    df = load(view_results)
    png, md = tmp_path / "learning_curves.png", tmp_path / "learning_curves.md"
    png.write_bytes(b"\x89PNG\r\n\x1a\n")
    md.write_text("| model |\n")
    html = write_html(df, tmp_path, table=build_table(df), roots=[view_results],
                      figures=[png, md], files=[md]).read_text(encoding="utf-8")
    refs = Refs()
    refs.feed(html)
    assert [v for t, _, v in refs.refs if t == "img"] == ["learning_curves.png"]
    assert [v for t, _, v in refs.refs if t == "a" and v == "learning_curves.md"] == ["learning_curves.md"]
