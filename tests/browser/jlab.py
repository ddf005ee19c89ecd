"""Drive JupyterLab in headless Chromium: what a reader sees, not what nbval sees.

Shared by the browser tests (``tests/browser``) and the browser benchmark
(``benchmarks/bench_browser.py``). Three layers:

* :class:`LabServer` starts ``jupyter lab`` on a free loopback port with a random token
  and throw-away config, settings, runtime and workspace dirs, serving a temporary copy
  of the notebooks (so a test run never touches the repo), and always shuts it down.
  Its kernels run with ``GEOMLIB_SMOKE=1`` (:mod:`geomlib.smoke`): the notebooks use
  their smoke sizes (fewer digits, planes, attack steps), since here only "it runs and
  the sliders redraw" is checked; nbval checks the printed numbers at full size.
* :func:`launch_browser` starts Debian's Chromium (``/usr/bin/chromium``) through
  Playwright for Python; nothing is downloaded by a test tool.
* :class:`NotebookPage` opens a notebook, runs all cells through the Run menu, waits for
  the kernel to go idle, collects every error (error outputs, tracebacks, widget
  errors, uncaught page errors), finds the ``rg-slider-*`` sliders and the
  ``rg-figure`` each one drives, moves a slider (drag or typed readout) and reads the
  figure's bytes.

Settings that keep a fresh profile free of blocking dialogs (news toast, kernel
chooser) are written as JupyterLab user settings before the server starts, so the
harness never has to click around them.

Playwright is imported lazily: this module imports without it (pytest collects it for
doctests, and the skip logic needs to say *why* a browser is missing).

>>> Slider(name="theta", index=0).selector
'[class~="rg-slider-theta"]'
>>> _sweep_values(0.0, 180.0, 4, current=0.0)
[36.0, 72.0, 108.0, 144.0]
>>> _to_float("\u22121.20")
-1.2
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any, Callable, Iterator

#: Debian's Chromium; RG_CHROMIUM overrides it.
DEFAULT_CHROMIUM = "/usr/bin/chromium"
#: Headless flags: no sandbox (root in CI containers), no GPU, no background traffic.
CHROMIUM_ARGS = (
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--password-store=basic",
)
#: The kernel name the notebooks are saved with (registered by `make install`; the
#: harness registers its own copy pointing at this interpreter, so it always exists).
KERNEL_NAME = "response-geometry"
VIEWPORT = {"width": 1400, "height": 1000}

#: Upper bounds (seconds). Generous for 2 shared cores, but bounded: a hang fails.
SERVER_START_TIMEOUT = float(os.environ.get("RG_BROWSER_SERVER_TIMEOUT", 90))
PAGE_TIMEOUT = float(os.environ.get("RG_BROWSER_PAGE_TIMEOUT", 60))
RUN_ALL_TIMEOUT = float(os.environ.get("RG_BROWSER_RUN_TIMEOUT", 600))
UPDATE_TIMEOUT = float(os.environ.get("RG_BROWSER_UPDATE_TIMEOUT", 60))

#: JupyterLab user settings written before start: no news toast, no update check, no
#: extension manager (no network), the preferred kernel starts without a chooser,
#: every cell stays in the DOM (no windowing), no autosave into the temp copy.
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {
        "fetchNews": "false", "checkForUpdates": False, "doNotDisturbMode": False},
    "@jupyterlab/notebook-extension/tracker": {
        "windowingMode": "none", "autoStartDefaultKernel": True, "kernelShutdown": False},
    "@jupyterlab/extensionmanager-extension/plugin": {"enabled": False},
    "@jupyterlab/apputils-extension/sessionDialogs": {"skipKernelRestartDialog": True},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
}

#: Set to "1" for the kernels (LabServer(smoke=True), the default): geomlib.smoke.ENV_VAR.
SMOKE_ENV = "GEOMLIB_SMOKE"

_TRACEBACK_MARKERS = ("Traceback (most recent call last)", "Exception in comm_msg")


# --------------------------------------------------------------------------- browser


def chromium_path() -> str:
    """Path of the Chromium binary to drive (RG_CHROMIUM, else /usr/bin/chromium)."""
    return os.environ.get("RG_CHROMIUM", DEFAULT_CHROMIUM)


def browser_unavailable_reason() -> str | None:
    """Why the browser tests cannot run here, or None when they can."""
    path = chromium_path()
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        return (f"no Chromium at {path} (run tools/ensure_chromium.sh as root, or "
                f"`apt-get install chromium`; RG_CHROMIUM=/path overrides)")
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError as err:
        return f"Playwright for Python is not installed ({err}); pip install -e '.[dev]'"
    return None


def launch_browser(playwright, headless: bool = True):
    """Launch Debian's Chromium through Playwright (never a browser Playwright downloads)."""
    return playwright.chromium.launch(
        executable_path=chromium_path(), headless=headless, args=list(CHROMIUM_ARGS),
        timeout=PAGE_TIMEOUT * 1000)


# ---------------------------------------------------------------------------- server


def free_port() -> int:
    """A TCP port that is free on 127.0.0.1 right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def copy_notebooks(src: Path, dst: Path) -> Path:
    """Copy ``src`` (a notebooks folder) to ``dst``, without checkpoints; return dst."""
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    if src.is_dir():
        shutil.copytree(src, dst, ignore=ignore, dirs_exist_ok=True)
    else:
        dst.mkdir(parents=True, exist_ok=True)
    return dst


class LabServer:
    """``jupyter lab`` on 127.0.0.1:<free port> with a temporary token and profile.

    Everything it writes (config, user settings, workspaces, runtime files, kernel
    connection files, IPython profile) lives under ``work``; ``root`` is the served
    directory (a temporary copy of the notebooks). Use as a context manager, or call
    :meth:`start` and :meth:`stop` (stop is idempotent and always kills the process
    tree in the end).
    """

    def __init__(self, root: Path, work: Path, smoke: bool = True):
        self.root = Path(root)
        self.work = Path(work)
        self.smoke = smoke
        self.token = secrets.token_hex(24)
        self.port: int | None = None
        self.proc: subprocess.Popen | None = None
        self.log_path = self.work / "jupyter-lab.log"
        self._log = None

    # -- setup
    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _prepare(self) -> dict:
        dirs = {k: self.work / k for k in ("config", "data", "runtime", "settings", "workspaces",
                                           "path", "ipython")}
        for d in dirs.values():
            d.mkdir(parents=True, exist_ok=True)
        for plugin, values in LAB_SETTINGS.items():
            f = dirs["settings"] / f"{plugin}.jupyterlab-settings"
            f.parent.mkdir(parents=True, exist_ok=True)
            f.write_text(json.dumps(values, indent=1))
        # Our own kernelspec named like the project's, running this interpreter: the
        # saved kernelspec always matches (no "Select Kernel" dialog), even before
        # `make install` registered it.
        spec = dirs["path"] / "kernels" / KERNEL_NAME
        spec.mkdir(parents=True, exist_ok=True)
        (spec / "kernel.json").write_text(json.dumps({
            "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f",
                     "{connection_file}"],
            "display_name": "Python (response-geometry)", "language": "python",
            "metadata": {"debugger": False}}, indent=1))
        env = dict(os.environ)
        for var in ("JUPYTER_TOKEN", "JPY_SESSION_NAME", "JUPYTER_PREFER_ENV_PATH", SMOKE_ENV):
            env.pop(var, None)
        if self.smoke:  # kernels inherit the server's environment
            env[SMOKE_ENV] = "1"
        # No announcements feed at all (news_url None), the app object readable from the
        # page (for kernel status and cell models), no culling, no shutdown on idle.
        (dirs["config"] / "jupyter_server_config.json").write_text(json.dumps({
            "LabApp": {"news_url": None, "expose_app_in_browser": True},
            "ServerApp": {"terminals_enabled": False, "shutdown_no_activity_timeout": 0},
            "MappingKernelManager": {"cull_idle_timeout": 0},
        }, indent=1))
        env.update(
            JUPYTER_CONFIG_DIR=str(dirs["config"]), JUPYTER_DATA_DIR=str(dirs["data"]),
            JUPYTER_RUNTIME_DIR=str(dirs["runtime"]), JUPYTER_PATH=str(dirs["path"]),
            IPYTHONDIR=str(dirs["ipython"]), PYTHONUNBUFFERED="1", PYDEVD_DISABLE_FILE_VALIDATION="1")
        self._dirs = dirs
        return env

    def _command(self) -> list[str]:
        d = self._dirs
        return [
            sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root",
            "--ip=127.0.0.1", f"--port={self.port}", "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}", "--ServerApp.password=",
            f"--ServerApp.root_dir={self.root}",
            f"--LabApp.user_settings_dir={d['settings']}", f"--LabApp.workspaces_dir={d['workspaces']}",
        ]

    # -- lifecycle
    def start(self) -> "LabServer":
        env = self._prepare()
        last = ""
        for _ in range(3):  # a port can be taken between free_port() and bind
            self.port = free_port()
            self._log = open(self.log_path, "ab")
            self.proc = subprocess.Popen(self._command(), cwd=self.root, env=env, stdin=subprocess.DEVNULL,
                                         stdout=self._log, stderr=subprocess.STDOUT, start_new_session=True)
            try:
                self._wait_ready()
                return self
            except RuntimeError as err:
                last = str(err)
                self.stop()
                if "address already in use" not in self.log_tail().lower():
                    break
        raise RuntimeError(f"JupyterLab did not start: {last}\n--- server log ---\n{self.log_tail()}")

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + SERVER_START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"jupyter lab exited with code {self.proc.returncode}")
            try:
                self.api("/api/status", timeout=2)
                # the lab page itself (static assets and page config) must answer too
                self.get(f"/lab?token={self.token}", timeout=10)
                return
            except (OSError, urllib.error.URLError, ValueError):
                time.sleep(0.25)
        raise RuntimeError(f"no answer from {self.base_url} within {SERVER_START_TIMEOUT:.0f} s")

    def stop(self) -> None:
        """Shut the server and its kernels down (REST shutdown, then signals)."""
        proc, self.proc = self.proc, None
        if proc is not None and proc.poll() is None:
            kernel_pids = _descendant_pids(proc.pid)
            with contextlib.suppress(Exception):
                self.api("/api/shutdown", method="POST", timeout=5)
            with contextlib.suppress(subprocess.TimeoutExpired):
                proc.wait(timeout=20)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGTERM)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
            if proc.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=10)
            _kill_pids(kernel_pids)  # kernels run in their own sessions
        if self._log is not None:
            self._log.close()
            self._log = None

    def __enter__(self) -> "LabServer":
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # -- REST
    def get(self, path: str, timeout: float = 10) -> bytes:
        req = urllib.request.Request(self.base_url + path, headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.read()

    def api(self, path: str, method: str = "GET", timeout: float = 10) -> Any:
        req = urllib.request.Request(self.base_url + path, method=method, data=b"" if method != "GET" else None,
                                     headers={"Authorization": f"token {self.token}"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            body = r.read()
        return json.loads(body) if body.strip() else None

    def kernel_state(self, kernel_id: str) -> str:
        """The server's view of a kernel's execution_state ('idle', 'busy', ...)."""
        return self.api(f"/api/kernels/{kernel_id}", timeout=5)["execution_state"]

    def shutdown_kernels(self) -> None:
        """Delete every session (and so its kernel): frees the cores between notebooks."""
        with contextlib.suppress(Exception):
            for s in self.api("/api/sessions"):
                with contextlib.suppress(Exception):
                    self.api(f"/api/sessions/{s['id']}", method="DELETE", timeout=20)

    def connection_file(self, kernel_id: str) -> Path:
        return self._dirs["runtime"] / f"kernel-{kernel_id}.json"

    def log_tail(self, n: int = 60) -> str:
        try:
            lines = self.log_path.read_text(errors="replace").splitlines()
        except OSError:
            return ""
        return "\n".join(lines[-n:])

    def notebook_url(self, path: str, workspace: str | None = None) -> str:
        """URL that opens ``path``; in its own fresh workspace so that no notebook an
        earlier page opened is restored next to it."""
        ws = workspace or f"rg-{secrets.token_hex(6)}"
        return f"{self.base_url}/lab/workspaces/{ws}/tree/{path}?token={self.token}"


def _descendant_pids(pid: int) -> list[int]:
    try:
        import psutil
        return [c.pid for c in psutil.Process(pid).children(recursive=True)]
    except Exception:
        return []


def _kill_pids(pids: list[int]) -> None:
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)


@contextlib.contextmanager
def lab_server(notebooks: Path, extra: dict[str, str] | None = None,
               work: Path | None = None, smoke: bool = True) -> Iterator[LabServer]:
    """A running :class:`LabServer` on a temporary copy of ``notebooks`` (plus ``extra``
    files: name -> text); removed afterwards unless ``work`` was given. ``smoke``: run
    the kernels with ``GEOMLIB_SMOKE=1`` (smoke sizes, see :mod:`geomlib.smoke`)."""
    own = work is None
    work = Path(tempfile.mkdtemp(prefix="rg-lab-")) if own else Path(work)
    try:
        root = copy_notebooks(Path(notebooks), work / "notebooks")
        for name, text in (extra or {}).items():
            (root / name).parent.mkdir(parents=True, exist_ok=True)
            (root / name).write_text(text)
        with LabServer(root, work / "lab", smoke=smoke) as server:
            yield server
    finally:
        if own:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------------- kernel side


class KernelSide:
    """A second client of a notebook's kernel (same connection file as JupyterLab's).

    Watches IOPub for errors the page may not show (a traceback from a widget
    callback goes to the log console, not to a cell), and runs small queries for the
    benchmark. All messages are broadcast on IOPub, so this sees everything; errors of
    cells run by the page are left to the page's own check (no double count).
    """

    def __init__(self, connection_file: Path):
        from jupyter_client import BlockingKernelClient

        self.client = BlockingKernelClient()
        self.client.load_connection_file(str(connection_file))
        self.client.start_channels(shell=True, iopub=True, stdin=False, hb=False, control=False)
        self.client.wait_for_ready(timeout=PAGE_TIMEOUT)
        self.errors: list[str] = []

    def drain(self) -> list[str]:
        """Read all queued IOPub messages; return (and keep) the errors among them."""
        new = []
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=0.05)
            except Exception:  # queue.Empty
                break
            kind, content = msg["header"]["msg_type"], msg["content"]
            if msg.get("parent_header", {}).get("msg_type") == "execute_request":
                continue  # a cell's own output: the page shows (and we check) it there
            if kind == "error":
                new.append(f"{content.get('ename')}: {content.get('evalue')}")
            elif kind == "stream" and any(m in content.get("text", "") for m in _TRACEBACK_MARKERS):
                new.append(content["text"].strip()[-2000:])
        self.errors.extend(new)
        return new

    def evaluate(self, expression: str, setup: str = "", timeout: float = 30) -> Any:
        """Run ``setup`` silently, evaluate ``expression`` (which must give a JSON string)
        in the kernel, and return that JSON decoded."""
        reply = self.client.execute(setup or "pass", silent=True, store_history=False,
                                    user_expressions={"r": expression}, reply=True, timeout=timeout)
        content = reply["content"]
        if content["status"] != "ok":
            raise RuntimeError(f"kernel query failed: {content.get('ename')}: {content.get('evalue')}")
        r = content["user_expressions"]["r"]
        if r["status"] != "ok":
            raise RuntimeError(f"kernel query failed: {r.get('ename')}: {r.get('evalue')}")
        text = r["data"]["text/plain"]
        import ast
        return json.loads(ast.literal_eval(text))

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.client.stop_channels()


# ---------------------------------------------------------------------- page helpers

# JavaScript run in the page. `window.jupyterapp` exists because the server's config
# sets LabApp.expose_app_in_browser; it is only *read* (kernel status, cell models).
_JS_PANEL = """
const app = window.jupyterapp;
const panel = app && app.shell.currentWidget;
const ok = panel && panel.content && panel.sessionContext;
"""

_JS_KERNEL_READY = "() => {" + _JS_PANEL + """
  if (!ok) return false;
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return !!(k && k.status === 'idle' && k.connectionStatus === 'connected'
            && document.querySelector('.jp-NotebookPanel .jp-Notebook .jp-Cell'));
}"""

_JS_RUN_DONE = "() => {" + _JS_PANEL + """
  if (!ok) return false;
  const k = panel.sessionContext.session && panel.sessionContext.session.kernel;
  if (k && ['dead', 'autorestarting', 'restarting'].includes(k.status)) return 'kernel ' + k.status;
  if (!k || k.status !== 'idle') return false;
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const p = cell.node.querySelector('.jp-InputPrompt');
    if (p && p.textContent.includes('*')) return false;
  }
  return 'idle';
}"""

_JS_CELL_REPORT = "() => {" + _JS_PANEL + """
  if (!ok) return null;
  const cells = [];
  panel.content.widgets.forEach((cell, i) => {
    if (cell.model.type !== 'code') return;
    const source = cell.model.sharedModel.getSource();
    const outputs = [];
    for (let j = 0; j < cell.model.outputs.length; j++) outputs.push(cell.model.outputs.get(j).toJSON());
    cells.push({index: i, empty: !source.trim(), count: cell.model.executionCount,
                head: source.split('\\n')[0].slice(0, 80), outputs});
  });
  return {kernel: panel.sessionContext.session.kernel.id, path: panel.context.path, cells};
}"""

# Errors a reader sees in the page outside cell outputs: widget render failures, the
# explorer's own status line ("error: ..."), Lab dialogs.
_JS_PAGE_ERRORS = """() => {
  const out = [];
  for (const el of document.querySelectorAll('.jp-NotebookPanel .jupyter-widgets, .jp-NotebookPanel .jp-OutputArea-output')) {
    const t = (el.innerText || '').trim();
    if (/^Error (displaying|rendering) widget/i.test(t) || el.classList.contains('widget-error'))
      out.push('widget error: ' + t.slice(0, 300));
  }
  for (const el of document.querySelectorAll('[class*="rg-status"]')) {
    const t = (el.innerText || '').trim();
    if (/\\berror\\b/i.test(t)) out.push('explorer status: ' + t.slice(0, 300));
  }
  return [...new Set(out)];
}"""

_JS_DIALOGS = """() => Array.from(document.querySelectorAll('.jp-Dialog, .Toastify__toast'))
  .filter(e => e.offsetParent !== null || e.getClientRects().length)
  .map(e => (e.innerText || '').trim().replace(/\\s+/g, ' ').slice(0, 200))"""

# Sliders by their rg-slider-* class; each one's figure is the rg-figure (else the
# first img/canvas) in the nearest ancestor that holds one.
_JS_SLIDERS = """() => {
  const out = [];
  const seen = new Map();
  for (const el of document.querySelectorAll('.jp-NotebookPanel [class*="rg-slider-"]')) {
    const cls = Array.from(el.classList).find(c => c.startsWith('rg-slider-'));
    if (!cls) continue;
    const name = cls.slice('rg-slider-'.length);
    let scope = el.parentElement, fig = null;
    while (scope && !scope.classList.contains('jp-OutputArea-output')) {
      fig = scope.querySelector('.rg-figure') || null;
      if (fig) break;
      scope = scope.parentElement;
    }
    if (!fig && scope) fig = scope.querySelector('.rg-figure, img, canvas');
    const index = seen.get(name) || 0;
    seen.set(name, index + 1);
    const h = el.querySelector('.noUi-handle');
    out.push({name, index, has_figure: !!fig,
              min: h ? parseFloat(h.getAttribute('aria-valuemin')) : null,
              max: h ? parseFloat(h.getAttribute('aria-valuemax')) : null});
  }
  return out;
}"""

# Digest of a figure element: its image bytes (img: fetch its blob/data URL) or its
# canvas pixels (toDataURL), as "sha256-prefix:length".
_JS_FIGURE_DIGEST = """async (el) => {
  let bytes;
  if (el.tagName === 'CANVAS') {
    bytes = new TextEncoder().encode(el.toDataURL('image/png'));
  } else if (el.tagName === 'IMG') {
    if (!el.src) return 'empty';
    const r = await fetch(el.src);
    bytes = new Uint8Array(await r.arrayBuffer());
  } else {
    bytes = new TextEncoder().encode(el.innerHTML);
  }
  const h = new Uint8Array(await crypto.subtle.digest('SHA-256', bytes));
  return Array.from(h.slice(0, 12)).map(x => x.toString(16).padStart(2, '0')).join('') + ':' + bytes.length;
}"""

_JS_FIGURE_OF = """(el) => {
  let scope = el.parentElement;
  while (scope) {
    const f = scope.querySelector('.rg-figure');
    if (f) return f;
    if (scope.classList.contains('jp-OutputArea-output')) return scope.querySelector('img, canvas');
    scope = scope.parentElement;
  }
  return null;
}"""

# Benchmark probe: t0 when Enter is pressed in a readout (capture phase, before the
# widget's own handler sends the value), then for each new figure src: decoded and
# the frame after it painted (requestAnimationFrame, then a macrotask).
_JS_INSTALL_PROBE = """(fig) => {
  if (!window.__rgProbe) {
    window.__rgProbe = {t0: null, events: []};
    document.addEventListener('keydown', e => {
      if (e.key === 'Enter' && e.target && e.target.classList && e.target.classList.contains('widget-readout'))
        window.__rgProbe.t0 = performance.now();
    }, true);
  }
  if (fig.__rgObserved) return;
  fig.__rgObserved = true;
  new MutationObserver(() => {
    const t0 = window.__rgProbe.t0, tSrc = performance.now();
    const done = () => requestAnimationFrame(() => setTimeout(() =>
      window.__rgProbe.events.push({t0, src: tSrc, painted: performance.now()}), 0));
    (fig.decode ? fig.decode() : Promise.resolve()).then(done, done);
  }).observe(fig, {attributes: true, attributeFilter: ['src']});
}"""


@dataclasses.dataclass
class Slider:
    """One ``rg-slider-<name>`` slider on the page (index: n-th with that name)."""

    name: str
    index: int
    min: float | None = None
    max: float | None = None
    has_figure: bool = True

    @property
    def selector(self) -> str:
        return f'[class~="rg-slider-{self.name}"]'

    @property
    def label(self) -> str:
        return self.name if self.index == 0 else f"{self.name}#{self.index}"


@dataclasses.dataclass
class Move:
    """What happened when a slider was moved."""

    slider: str
    method: str
    value_before: str
    value_after: str
    figure_before: str
    figure_after: str
    seconds: float
    errors: list[str]

    @property
    def changed(self) -> bool:
        return self.figure_before != self.figure_after


class NotebookPage:
    """A notebook open in JupyterLab in one browser page."""

    def __init__(self, page, server: LabServer, path: str):
        self.page = page
        self.server = server
        self.path = path
        self.kernel_id: str | None = None
        self.kernel: KernelSide | None = None
        self.js_errors: list[str] = []
        self.console_errors: list[str] = []
        page.set_default_timeout(PAGE_TIMEOUT * 1000)
        page.on("pageerror", lambda e: self.js_errors.append(f"{e}"[:500]))
        page.on("console", lambda m: self.console_errors.append(m.text[:500]) if m.type == "error" else None)

    # -- open / run
    def open(self) -> "NotebookPage":
        """Load the notebook and wait for its kernel to be idle; fail on any dialog."""
        self.page.goto(self.server.notebook_url(self.path), wait_until="domcontentloaded")
        self.page.wait_for_selector(".jp-NotebookPanel .jp-Notebook", state="visible")
        try:
            self.page.wait_for_function(_JS_KERNEL_READY, polling=250, timeout=PAGE_TIMEOUT * 1000)
        except Exception as err:
            raise AssertionError(f"{self.path}: kernel never became idle after opening "
                                 f"(dialogs: {self.dialogs()})") from err
        dialogs = self.dialogs()
        assert not dialogs, f"{self.path}: a dialog or toast blocks a fresh profile: {dialogs}"
        self.kernel_id = self.page.evaluate("() => {" + _JS_PANEL +
                                            " return panel.sessionContext.session.kernel.id; }")
        self.kernel = KernelSide(self.server.connection_file(self.kernel_id))
        return self

    def dialogs(self) -> list[str]:
        """Texts of visible dialogs and toast notifications."""
        return self.page.evaluate(_JS_DIALOGS)

    def run_all(self, timeout: float = RUN_ALL_TIMEOUT) -> float:
        """Run > Run All Cells through the menu bar; wait until every cell ran and the
        kernel is idle. Return the seconds it took."""
        t0 = time.monotonic()
        self.page.get_by_role("menubar").get_by_role("menuitem", name="Run", exact=True).click()
        self.page.get_by_role("menu").get_by_role("menuitem", name="Run All Cells", exact=True).click()
        self.wait_idle(timeout)
        return time.monotonic() - t0

    def wait_idle(self, timeout: float = RUN_ALL_TIMEOUT) -> None:
        """Until no cell shows [*], the kernel is idle in the page and on the server,
        twice in a row 0.3 s apart."""
        deadline = time.monotonic() + timeout
        stable = 0
        while stable < 2:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AssertionError(f"{self.path}: kernel still busy after {timeout:.0f} s")
            try:
                state = self.page.wait_for_function(_JS_RUN_DONE, polling=250, timeout=left * 1000).json_value()
            except Exception as err:
                if "Timeout" not in type(err).__name__:
                    raise
                raise AssertionError(f"{self.path}: kernel still busy after {timeout:.0f} s "
                                     f"(dialogs: {self.dialogs()})") from err
            if state != "idle":
                raise AssertionError(f"{self.path}: {state} (dialogs: {self.dialogs()})\n"
                                     f"--- server log ---\n{self.server.log_tail(30)}")
            idle = self.server.kernel_state(self.kernel_id) == "idle"
            stable = stable + 1 if idle else 0
            time.sleep(0.3)

    def cell_report(self) -> dict:
        return self.page.evaluate(_JS_CELL_REPORT)

    def errors(self) -> list[str]:
        """Everything that reads as an error: error outputs, tracebacks in any output,
        code cells that did not run, widget errors, a dialog or toast on screen (e.g.
        "Kernel Restarting"), uncaught page errors, errors seen on the kernel's IOPub."""
        found = []
        report = self.cell_report()
        for cell in report["cells"]:
            where = f"cell {cell['index']} ({cell['head']!r})"
            if not cell["empty"] and cell["count"] is None:
                found.append(f"{where} did not run")
            for out in cell["outputs"]:
                if out.get("output_type") == "error":
                    tb = "\n".join(out.get("traceback") or [])
                    found.append(f"{where}: {out.get('ename')}: {out.get('evalue')}\n{_strip_ansi(tb)[-1500:]}")
                elif out.get("output_type") == "stream":
                    text = out.get("text") or ""
                    text = "".join(text) if isinstance(text, list) else text
                    if any(m in text for m in _TRACEBACK_MARKERS):
                        found.append(f"{where}: traceback on {out.get('name')}:\n{text[-1500:]}")
        found += self.page.evaluate(_JS_PAGE_ERRORS)
        found += [f"dialog or notification on screen: {d}" for d in self.dialogs()]
        found += [f"uncaught page error: {e}" for e in self.js_errors]
        if self.kernel is not None:
            self.kernel.drain()
            found += [f"kernel IOPub: {e}" for e in self.kernel.errors]
        return found

    # -- sliders and figures
    def sliders(self) -> list[Slider]:
        return [Slider(**s) for s in self.page.evaluate(_JS_SLIDERS)]

    def slider_locator(self, slider: Slider):
        return self.page.locator(f".jp-NotebookPanel {slider.selector}").nth(slider.index)

    def figure_locator(self, slider: Slider):
        """The figure a slider drives (as an element handle)."""
        handle = self.slider_locator(slider).element_handle()
        fig = handle.evaluate_handle(_JS_FIGURE_OF)
        el = fig.as_element()
        if el is None:
            raise AssertionError(f"slider {slider.label}: no rg-figure (or img/canvas) next to it")
        return el

    def figure_digest(self, figure) -> str:
        return figure.evaluate(_JS_FIGURE_DIGEST)

    def readout(self, slider: Slider) -> str:
        return self.slider_locator(slider).locator(".widget-readout").inner_text().strip()

    def drag(self, slider: Slider, fraction: float = 0.3) -> None:
        """Drag the handle by ``fraction`` of the track, toward the side with more room."""
        loc = self.slider_locator(slider)
        loc.scroll_into_view_if_needed()
        track = loc.locator(".noUi-base").bounding_box()
        hb = loc.locator(".noUi-handle").bounding_box()
        x, y = hb["x"] + hb["width"] / 2, hb["y"] + hb["height"] / 2
        right = x < track["x"] + track["width"] / 2
        dx = fraction * track["width"] * (1 if right else -1)
        self.page.mouse.move(x, y)
        self.page.mouse.down()
        self.page.mouse.move(x + dx, y, steps=6)
        self.page.mouse.up()

    def type_value(self, slider: Slider, value, enter: bool = True) -> None:
        """Type ``value`` into the slider's readout (then Enter, which applies it)."""
        r = self.slider_locator(slider).locator(".widget-readout")
        r.scroll_into_view_if_needed()
        r.click()
        self.page.keyboard.press("Control+A")
        self.page.keyboard.type(_fmt(value))
        if enter:
            self.page.keyboard.press("Enter")

    def wait_settled(self, figure, before: str, timeout: float = UPDATE_TIMEOUT) -> str:
        """After a change: wait until the kernel is idle and the figure stopped changing.

        Returns the final digest. Ends early once the kernel has been idle for 2 s with
        the figure still equal to ``before`` (a dead slider), else when the figure
        differs from ``before`` and held still for 0.6 s with the kernel idle.
        """
        deadline = time.monotonic() + timeout
        time.sleep(0.3)  # the comm message is on its way
        idle_since = None
        last, last_change = self.figure_digest(figure), time.monotonic()
        while time.monotonic() < deadline:
            now = time.monotonic()
            idle = self.server.kernel_state(self.kernel_id) == "idle"
            idle_since = (idle_since or now) if idle else None
            d = self.figure_digest(figure)
            if d != last:
                last, last_change = d, now
            if idle_since is not None:
                if last != before and now - last_change >= 0.6 and now - idle_since >= 0.6:
                    return last
                if last == before and now - idle_since >= 2.0:
                    return last
            time.sleep(0.15)
        return self.figure_digest(figure)

    def move(self, slider: Slider, shots: Callable[[str, bytes], None] | None = None) -> Move:
        """Move a slider as a reader would (drag its handle; if the value did not change,
        drag across the track for a selection slider, else type a new value into its
        readout) and report what the figure did.

        ``shots(name, png)`` receives screenshots of the figure before and after.
        """
        figure = self.figure_locator(slider)
        self.wait_idle(UPDATE_TIMEOUT)
        before = self.figure_digest(figure)
        value0 = self.readout(slider)
        if shots:
            shots(f"{slider.label}-before", _screenshot(figure))
        if self.kernel is not None:
            self.kernel.drain()
        known = set(self.errors())
        t0 = time.monotonic()
        self.drag(slider)
        method = "drag"
        if _to_float(value0) is None and not _wait_for(lambda: self.readout(slider) != value0, 3.0):
            # a selection slider of a few named options: its readout takes no typed value,
            # and 30% of the track may not reach the next option, so drag across it instead
            self.drag(slider, fraction=0.9)
            method = "long drag"
        if not _wait_for(lambda: self.readout(slider) != value0, 3.0):
            self.type_value(slider, _new_value(slider.min, slider.max, value0))
            method = "readout"
            _wait_for(lambda: self.readout(slider) != value0, 3.0)
        value1 = self.readout(slider)
        after = self.wait_settled(figure, before)
        seconds = time.monotonic() - t0
        if shots:
            shots(f"{slider.label}-after", _screenshot(figure))
        errs = [e for e in self.errors() if e not in known]
        return Move(slider.label, method, value0, value1, before, after, seconds, errs)

    def close(self) -> None:
        if self.kernel is not None:
            self.kernel.close()
            self.kernel = None


# -------------------------------------------------------------------------- helpers


def _screenshot(el) -> bytes:
    try:
        el.scroll_into_view_if_needed(timeout=5000)
        return el.screenshot(timeout=10000)
    except Exception:
        return b""


def _wait_for(cond: Callable[[], bool], timeout: float, every: float = 0.1) -> bool:
    deadline = time.monotonic() + timeout
    while True:
        if cond():
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(every)


def _to_float(text: str) -> float | None:
    """A readout as a number (d3-format writes U+2212 for minus)."""
    try:
        return float(str(text).replace("\u2212", "-"))
    except (TypeError, ValueError):
        return None


def _fmt(value) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return str(value)


def _new_value(lo: float | None, hi: float | None, readout: str) -> float | int:
    """A value in [lo, hi] other than the current ``readout`` (an integer if the readout
    shows one).

    >>> _new_value(0, 1, "0"), _new_value(0.0, 180.0, "54"), _new_value(-1.0, 1.0, "0.00")
    (1, 135, -0.5)
    """
    current = _to_float(readout)
    if lo is None or hi is None or current is None:
        return 1
    target = lo + (hi - lo) * (0.75 if current < lo + (hi - lo) / 2 else 0.25)
    if "." in readout:
        return round(target, 6)
    target = round(target)
    if target == current:
        target = current + 1 if current + 1 <= hi else current - 1
    return int(target)


def _sweep_values(lo: float, hi: float, n: int, current: float | None = None) -> list[float]:
    """n values spread inside (lo, hi), none equal to ``current``."""
    vals = [lo + (hi - lo) * (i + 1) / (n + 1) for i in range(n)]
    if current is not None:
        eps = (hi - lo) / (4 * (n + 1))
        vals = [v + eps if abs(v - current) < eps else v for v in vals]
    return [round(v, 6) for v in vals]


def _strip_ansi(text: str) -> str:
    import re
    return re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", text)


def notebook_paths(repo: Path) -> list[Path]:
    """The series' notebooks: ``notebooks/NN-*.ipynb``, sorted."""
    return sorted((Path(repo) / "notebooks").glob("[0-9][0-9]-*.ipynb"))
