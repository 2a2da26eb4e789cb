"""Headless Chromium for the tests, through Playwright for Python pointed at the system's browser
(Debian's ``chromium``; ``$NOVELTY_CHROMIUM`` overrides the path). Nothing is downloaded."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


def chromium_path() -> str | None:
    """The browser executable: ``$NOVELTY_CHROMIUM``, else the first of :data:`CANDIDATES` on the PATH."""
    given = os.environ.get("NOVELTY_CHROMIUM")
    if given:
        return given if Path(given).is_file() else None
    for name in CANDIDATES:
        found = shutil.which(name)
        if found:
            return found
    return None


def need_browser(skip: bool = True) -> str | None:
    """The browser's path; where Chromium or Playwright is missing, skip the test naming what is
    missing (``skip=False``: return None instead)."""
    reason = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        reason = "Playwright for Python is not installed (pip install -r requirements.txt)"
    path = chromium_path()
    if path is None:
        reason = "no Chromium found (apt-get install chromium, or set NOVELTY_CHROMIUM)"
    if reason is not None:
        if skip:
            pytest.skip(reason)
        return None
    return path


def launch(playwright, path: str):
    """Headless Chromium at ``path`` (no sandbox when running as root, as in containers)."""
    args = ["--no-sandbox"] if hasattr(os, "geteuid") and os.geteuid() == 0 else []
    return playwright.chromium.launch(executable_path=path, headless=True, args=args)


_MEDIA_JS = """
async () => {
  const images = [...document.images].map((img, i) => ({i, ok: img.complete && img.naturalWidth > 0,
                                                       src: img.currentSrc.slice(0, 40)}));
  const audio = await Promise.all([...document.querySelectorAll('audio')].map((a, i) => new Promise(resolve => {
    const done = () => resolve({i, duration: a.duration, error: a.error ? a.error.code : null,
                                src: (a.currentSrc || '').slice(0, 40)});
    if (a.readyState >= 1) { done(); return; }
    a.addEventListener('loadedmetadata', done, {once: true});
    a.addEventListener('error', done, {once: true});
    a.preload = 'metadata';
    a.load();
    setTimeout(done, 20000);
  })));
  return {images, audio};
}
"""


def check_media(page_path: str | Path, timeout_ms: int = 120_000) -> dict:
    """Open an HTML file in headless Chromium; return the number of images and audio elements and
    the ones that failed: an image that did not decode, an audio element with no duration above 0."""
    from playwright.sync_api import sync_playwright

    path = need_browser()
    with sync_playwright() as p:
        browser = launch(p, path)
        try:
            page = browser.new_page()
            page.goto(Path(page_path).resolve().as_uri(), wait_until="load", timeout=timeout_ms)
            found = page.evaluate(_MEDIA_JS)
        finally:
            browser.close()
    bad_images = [i for i in found["images"] if not i["ok"]]
    bad_audio = [a for a in found["audio"] if a["error"] is not None or not (a["duration"] or 0) > 0]
    return {"images": len(found["images"]), "bad_images": bad_images,
            "audio": len(found["audio"]), "bad_audio": bad_audio}
