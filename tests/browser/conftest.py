"""Fixtures for the real-browser tests: a JupyterLab server on a temporary copy of the
notebooks, Debian's Chromium through Playwright, and screenshots kept for failures.

No Chromium (or no Playwright) is not a silent pass: every browser test is skipped
with the reason, and the terminal summary ends with a counted, upper-case line
``BROWSER TESTS SKIPPED: N (...)``. With Chromium present nothing here skips.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path

import pytest

from . import jlab

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]

_skipped: list[str] = []


def _artifact_root(config) -> Path:
    return Path(os.environ.get("RG_TEST_ARTIFACTS", Path(config.rootpath) / "test-artifacts"))


def pytest_configure(config):
    config.addinivalue_line("markers", "browser: drives JupyterLab in headless Chromium (tests/browser)")


def _in_here(item) -> bool:
    return HERE in Path(str(item.path)).resolve().parents


def pytest_collection_modifyitems(config, items):
    reason = jlab.browser_unavailable_reason()
    for item in items:
        if not _in_here(item) or item.get_closest_marker("browser") is None:
            continue
        if reason:
            item.add_marker(pytest.mark.skip(reason=f"BROWSER TEST SKIPPED: {reason}"))


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)
    if report.skipped and _in_here(item) and item.get_closest_marker("browser") is not None:
        _skipped.append(item.nodeid)


def pytest_terminal_summary(terminalreporter, exitstatus, config):
    if not _skipped:
        return
    reason = jlab.browser_unavailable_reason() or "see the skip reasons above (-rs)"
    terminalreporter.section("browser tests", sep="=", red=True, bold=True)
    terminalreporter.write_line(f"BROWSER TESTS SKIPPED: {len(_skipped)} ({reason})", red=True, bold=True)
    for nodeid in _skipped:
        terminalreporter.write_line(f"  skipped: {nodeid}", red=True)


# ------------------------------------------------------------------------- fixtures


@pytest.fixture(scope="session")
def lab_server(tmp_path_factory, request):
    """JupyterLab on 127.0.0.1:<free port>, temporary token and profile, serving a
    temporary copy of ``notebooks/`` (the repo is never modified). Shut down after the
    session, also when a test failed."""
    reason = jlab.browser_unavailable_reason()
    if reason:
        pytest.skip(f"BROWSER TEST SKIPPED: {reason}")
    work = tmp_path_factory.mktemp("jupyterlab")
    root = jlab.copy_notebooks(REPO / "notebooks", work / "notebooks")
    server = jlab.LabServer(root, work / "lab")
    try:
        server.start()
    except Exception:
        server.stop()
        raise
    try:
        yield server
    finally:
        server.stop()
        if getattr(request.session, "testsfailed", 0):
            dest = _artifact_root(request.config)
            dest.mkdir(parents=True, exist_ok=True)
            shutil.copy(server.log_path, dest / "jupyter-lab.log")


@pytest.fixture(scope="session")
def browser():
    """Debian's Chromium (``/usr/bin/chromium``) launched headless by Playwright."""
    reason = jlab.browser_unavailable_reason()
    if reason:
        pytest.skip(f"BROWSER TEST SKIPPED: {reason}")
    from playwright.sync_api import sync_playwright

    pw = sync_playwright().start()
    try:
        b = jlab.launch_browser(pw)
        try:
            yield b
        finally:
            b.close()
    finally:
        pw.stop()


class Artifacts:
    """Screenshots and notes collected during a test; written to disk only if it fails
    (or always, with RG_KEEP_ARTIFACTS=1), to ``test-artifacts/<test name>/``."""

    def __init__(self):
        self.files: dict[str, bytes] = {}

    def add(self, name: str, data: bytes | str) -> None:
        self.files[name] = data.encode() if isinstance(data, str) else data

    def shot(self, name: str, png: bytes) -> None:
        if png:
            self.add(f"{name}.png", png)


@pytest.fixture
def artifacts(request):
    art = Artifacts()
    yield art
    rep = getattr(request.node, "rep_call", None)
    keep = os.environ.get("RG_KEEP_ARTIFACTS") == "1"  # also for passing tests
    if rep is not None and (rep.failed or keep) and art.files:
        safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", request.node.name).strip("_")
        dest = _artifact_root(request.config) / safe
        dest.mkdir(parents=True, exist_ok=True)
        for name, data in art.files.items():
            (dest / name).write_bytes(data)
        request.node.user_properties.append(("artifacts", str(dest)))
        print(f"\nbrowser test artifacts: {dest}")


@pytest.fixture
def notebook_page(browser, lab_server, artifacts, request):
    """Factory: ``open(path)`` -> an opened :class:`jlab.NotebookPage` in a fresh
    browser context; page closed, kernel shut down and a full-page screenshot kept
    (for failures) afterwards."""
    contexts, pages = [], []

    def open_(path: str) -> jlab.NotebookPage:
        ctx = browser.new_context(viewport=jlab.VIEWPORT)
        contexts.append(ctx)
        nb = jlab.NotebookPage(ctx.new_page(), lab_server, path)
        pages.append(nb)
        return nb.open()

    try:
        yield open_
    finally:
        for nb in pages:
            try:
                artifacts.shot(f"page-{Path(nb.path).stem}", nb.page.screenshot(full_page=False, timeout=10000))
                if nb.js_errors or nb.console_errors:
                    artifacts.add(f"console-{Path(nb.path).stem}.txt",
                                  "\n".join(nb.js_errors + nb.console_errors))
            except Exception:
                pass
            nb.close()
        for ctx in contexts:
            try:
                ctx.close()
            except Exception:
                pass
        lab_server.shutdown_kernels()
        artifacts.add("jupyter-lab.log.txt", lab_server.log_tail(200))
