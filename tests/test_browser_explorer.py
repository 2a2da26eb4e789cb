"""Notebook 03's explorer in a real browser: JupyterLab on a local port with a token, notebook 03
run top to bottom at SMOKE size in headless Chromium (Debian's ``chromium`` driven by Playwright for
Python, see ``browser.py``), a slider moved with the keyboard, and the spectrogram image and the
audio player checked to change (new bytes, a picture that decodes, a sound with a duration) within
the latency target. Skipped, naming what is missing, where Chromium or Playwright is not there."""

import json
import os
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import nbformat
import pytest
from browser import launch, need_browser

from helpers.display.explorer import CSS

pytestmark = [pytest.mark.slow, pytest.mark.data]

REPO = Path(__file__).resolve().parents[1]
NOTEBOOK = REPO / "notebooks" / "03_audio_vae.ipynb"
#: the explorer's own target is 100 ms per update (decode + phase reconstruction, issue 5, checked
#: on the kernel side by notebook 03 and benchmarks/audio_vae.py); from the browser a move also
#: crosses the websocket twice, encodes PNG and WAV and redraws, so the bound on the median here is
#: wider: it still catches a broken path (no update) or one slowed by an order of magnitude
BROWSER_LATENCY_S = 1.0
MOVES = ("PageUp", "PageUp", "PageDown", "PageDown", "PageUp")  # a key moves the slider 5 steps (0.25)
RUN_ALL_TIMEOUT_S = 300  # notebook 03 at SMOKE size takes about 45 s headless on a 2-core CPU
#: JupyterLab user settings for the test: every cell kept in the page (no virtual scrolling, so
#: the explorer's output exists wherever the page is scrolled), no news or update checks
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {"fetchNews": "false",
                                                                         "checkForUpdates": False},
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _smoke_copy(folder: Path) -> Path:
    """Notebook 03 with ``SMOKE = True`` injected after its parameters cell, by papermill (as the
    notebook tests and ``make smoke`` run it), saved unexecuted into ``folder``."""
    from papermill.iorw import load_notebook_node
    from papermill.parameterize import parameterize_notebook

    nb = parameterize_notebook(load_notebook_node(str(NOTEBOOK)), {"SMOKE": True}, kernel_name="python3",
                               language="python")
    path = folder / NOTEBOOK.name
    nbformat.write(nb, str(path))
    return path


def _processes_mentioning(text: str) -> list[int]:
    """Ids of the processes whose command line contains ``text`` (this test's kernels)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


def _stop(server: subprocess.Popen, runtime: Path) -> None:
    """Stop the Lab server (it shuts its kernels down); then end whatever of ours is left: the
    server's process group and any kernel still holding a connection file under ``runtime``."""
    if server.poll() is None:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()
    deadline = time.time() + 10
    while (left := _processes_mentioning(str(runtime))) and time.time() < deadline:
        time.sleep(0.5)
    for pid in left:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


@pytest.fixture
def lab(tmp_path):
    """JupyterLab serving a SMOKE copy of notebook 03 on a free local port, with a token; its
    kernels see a fresh run store and one thread. Stopped with its kernels at teardown, even when
    the test fails."""
    need_browser()
    work, runtime, settings = tmp_path / "lab", tmp_path / "runtime", tmp_path / "lab-settings"
    work.mkdir()
    _smoke_copy(work)
    for name, value in LAB_SETTINGS.items():
        target = settings / name
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(json.dumps(value))
    port, token = _free_port(), secrets.token_hex(16)
    env = {**os.environ, "NOVELTY_RUNS_DIR": str(tmp_path / "runs"), "OMP_NUM_THREADS": "1",
           "JUPYTER_CONFIG_DIR": str(tmp_path / "jupyter-config"), "JUPYTER_RUNTIME_DIR": str(runtime),
           "JUPYTERLAB_SETTINGS_DIR": str(settings), "JUPYTERLAB_WORKSPACES_DIR": str(tmp_path / "workspaces"),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO), os.environ.get("PYTHONPATH")) if p)}
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
           f"--ServerApp.token={token}", f"--ServerApp.root_dir={work}", "--ServerApp.port_retries=0",
           "--LabApp.expose_app_in_browser=True", "--ServerApp.allow_root=True",
           "--ServerApp.terminals_enabled=False"]
    log_path = tmp_path / "lab.log"
    with open(log_path, "w") as log:
        server = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{base}/api/status?token={token}", timeout=2) as r:
                    json.load(r)
                break
            except OSError:
                if server.poll() is not None or time.time() > deadline:
                    raise RuntimeError(f"JupyterLab did not answer on {base}:\n{log_path.read_text()[-3000:]}")
                time.sleep(0.3)
        yield {"url": f"{base}/lab/tree/{NOTEBOOK.name}?token={token}", "log": log_path}
    finally:
        _stop(server, runtime)


# ------------------------------------------------------------------ scripts run in the page
_NOTEBOOK_READY = """() => {
  const app = window.jupyterapp, nb = app && app.shell.currentWidget;
  return !!(nb && nb.content && nb.content.model && nb.sessionContext && nb.sessionContext.isReady
            && nb.sessionContext.session && nb.sessionContext.session.kernel);
}"""

_RUN_ALL = """() => {
  window.__runAll = null;
  window.jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__runAll = {ok: ok !== false}; }, err => { window.__runAll = {ok: false, error: String(err)}; });
}"""

_CELLS = """() => {
  const nb = window.jupyterapp.shell.currentWidget, cells = nb.content.model.cells, errors = [];
  let code = 0, ran = 0;
  for (let i = 0; i < cells.length; i++) {
    const c = cells.get(i);
    if (c.type !== 'code' || !c.sharedModel.getSource().trim()) continue;
    code += 1;
    if (c.executionCount !== null) ran += 1;
    for (const o of c.outputs.toJSON()) if (o.output_type === 'error') errors.push(`cell ${i}: ${o.ename}: ${o.evalue}`);
  }
  return {code, ran, errors};
}"""

#: the explorer's parts (CSS classes from helpers.display.explorer.CSS), once both carry a source
_PARTS = """(css) => {
  const box = document.querySelector('.' + css.box);
  const img = box && box.querySelector('img.' + css.image), audio = box && box.querySelector('audio.' + css.audio);
  return !!(img && audio && img.getAttribute('src') && audio.getAttribute('src') && img.complete && img.naturalWidth > 0);
}"""

#: a log of what happens in the page (performance.now() times): keys pressed in the explorer, new
#: sources of the image and the audio player, the image decoded, the audio's metadata loaded
_WATCH = """(css) => {
  const box = document.querySelector('.' + css.box);
  const img = box.querySelector('img.' + css.image), audio = box.querySelector('audio.' + css.audio);
  const log = window.__explorerLog = [];
  new MutationObserver(ms => ms.forEach(m => log.push({what: m.target === img ? 'img' : 'audio', t: performance.now()})))
    .observe(box, {attributes: true, attributeFilter: ['src'], subtree: true});
  img.addEventListener('load', () => log.push({what: 'img-load', t: performance.now()}));
  audio.addEventListener('loadedmetadata', () => log.push({what: 'audio-load', t: performance.now()}));
  box.addEventListener('keydown', e => log.push({what: 'key', t: performance.now()}), true);
}"""

#: once the last key's update has arrived: the latency from the key to the later of the decoded
#: image and the new audio source, and the images' and sounds' bytes (digests) for comparison
_UPDATED = """(css) => {
  const log = window.__explorerLog, k = log.map(e => e.what).lastIndexOf('key');
  if (k < 0) return null;
  const after = log.slice(k + 1), first = w => after.find(e => e.what === w);
  const img = first('img'), load = after.find(e => e.what === 'img-load' && img && e.t >= img.t), audio = first('audio');
  if (!img || !load || !audio) return null;
  return {latency_ms: Math.max(load.t, audio.t) - log[k].t, image_ms: load.t - log[k].t, audio_ms: audio.t - log[k].t};
}"""

_CONTENT = """async (css) => {
  const box = document.querySelector('.' + css.box);
  const img = box.querySelector('img.' + css.image), audio = box.querySelector('audio.' + css.audio);
  const digest = async url => {
    const bytes = await (await fetch(url)).arrayBuffer();
    const d = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
    return [...d].map(x => x.toString(16).padStart(2, '0')).join('') + ':' + bytes.byteLength;
  };
  if (audio.readyState < 1) await new Promise(resolve => {
    audio.addEventListener('loadedmetadata', resolve, {once: true});
    audio.addEventListener('error', resolve, {once: true});
    setTimeout(resolve, 10000);
  });
  return {image: await digest(img.src), audio: await digest(audio.src), width: img.naturalWidth,
          height: img.naturalHeight, duration: audio.duration, audio_error: audio.error ? audio.error.code : null,
          info: box.querySelector('.' + css.info).textContent};
}"""


def test_moving_a_slider_changes_the_spectrogram_and_the_sound(lab, tmp_path):
    from playwright.sync_api import TimeoutError as PlaywrightTimeout
    from playwright.sync_api import sync_playwright

    started = time.perf_counter()
    with sync_playwright() as p:
        browser = launch(p, need_browser())
        try:
            page = browser.new_page(viewport={"width": 1400, "height": 1000})
            try:
                page.goto(lab["url"], wait_until="domcontentloaded", timeout=120_000)
                page.wait_for_function(_NOTEBOOK_READY, timeout=120_000, polling=250)
                opened_s = time.perf_counter() - started
                page.evaluate(_RUN_ALL)
                try:
                    page.wait_for_function("() => window.__runAll !== null", timeout=RUN_ALL_TIMEOUT_S * 1000,
                                           polling=500)
                except PlaywrightTimeout:
                    pytest.fail(f"notebook 03 did not finish within {RUN_ALL_TIMEOUT_S} s: {page.evaluate(_CELLS)}")
                run_all = page.evaluate("() => window.__runAll")
                cells = page.evaluate(_CELLS)
                ran_s = time.perf_counter() - started - opened_s
                assert run_all["ok"] and not cells["errors"], (run_all, cells["errors"])
                assert cells["ran"] == cells["code"], cells
                page.wait_for_function(_PARTS, arg=CSS, timeout=30_000, polling=100)
                page.evaluate(_WATCH, CSS)
                before = page.evaluate(_CONTENT, CSS)
                slider = page.locator(f".{CSS['box']} .{CSS['slider']}").first
                knob = slider.locator(".noUi-handle").first
                knob.scroll_into_view_if_needed()
                moves = []
                for key in MOVES:
                    readout = slider.locator(".widget-readout").inner_text()
                    knob.focus()
                    page.keyboard.press(key)
                    try:
                        handle = page.wait_for_function(_UPDATED, arg=CSS, timeout=30_000, polling=20)
                    except PlaywrightTimeout:
                        pytest.fail(f"{key}: no new spectrogram and sound within 30 s (events in the page: "
                                    f"{page.evaluate('() => window.__explorerLog')})")
                    times = handle.json_value()
                    after = page.evaluate(_CONTENT, CSS)
                    new_readout = slider.locator(".widget-readout").inner_text()
                    assert new_readout != readout, f"{key}: the slider did not move ({readout})"
                    assert after["image"] != before["image"], f"{key}: the same spectrogram came back"
                    assert after["audio"] != before["audio"], f"{key}: the same sound came back"
                    assert after["width"] > 0 and after["height"] > 0
                    assert after["audio_error"] is None and after["duration"] > 0.5, after
                    moves.append({**times, "key": key, "slider": new_readout, "kernel": after["info"]})
                    before = after
            except BaseException:  # pytest.fail included: keep what the page showed
                try:
                    page.screenshot(path=str(tmp_path / "failure.png"), full_page=True)
                except Exception:  # noqa: BLE001 - a crashed page has no picture to give
                    pass
                print(f"\nscreenshot: {tmp_path / 'failure.png'}; Lab log: {lab['log']}")
                raise
        finally:
            browser.close()
    total_s = time.perf_counter() - started
    latencies = [m["latency_ms"] for m in moves]
    median = statistics.median(latencies)
    print(f"\nLab opened the notebook in {opened_s:.1f} s; notebook 03 (SMOKE) ran in the browser in {ran_s:.1f} s "
          f"({cells['code']} code cells); whole browser session {total_s:.1f} s")
    for m in moves:
        print(f"  {m['key']:>8} -> slider {m['slider']:>5}: image {m['image_ms']:.0f} ms, audio {m['audio_ms']:.0f} ms "
              f"after the key ({m['kernel']} in the kernel)")
    kernel = statistics.median(float(m["kernel"].split()[2]) for m in moves)  # "updated in N ms"
    print(f"slider -> new spectrogram and sound: median {median:.0f} ms, max {max(latencies):.0f} ms over "
          f"{len(moves)} moves (bound {1000 * BROWSER_LATENCY_S:.0f} ms); the kernel's update itself: median "
          f"{kernel:.0f} ms")
    assert median <= 1000 * BROWSER_LATENCY_S, latencies
