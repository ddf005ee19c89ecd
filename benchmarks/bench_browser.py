"""Slider-to-pixels latency of each notebook's main explorer, in the real browser.

For every ``notebooks/NN-*.ipynb`` with an ``rg-slider-theta`` (else any ``rg-slider-*``)
slider: JupyterLab (temporary copy, temporary token, loopback port) in headless
Debian Chromium runs the notebook, then for each neuron of the explorer's
``rg-dropdown-neuron`` the slider is swept over ``values`` settings typed into its
readout. One sample is the time from the Enter key that changes the value (captured in
the page before the widget handles it) to the frame painted after the new figure
image was decoded (``requestAnimationFrame`` then a task, in the page's clock).

The in-kernel part comes from the explorer's own ``timings`` (read over a second
kernel client): ``compute`` (geometry on the grid), ``draw`` (matplotlib artists and
Agg draw) and ``png`` (encode + send), so the rest of the latency is transport
(comm message both ways, JupyterLab, ipywidgets) and the browser (decode, paint).

Explorers of slow neurons (LCA) draw a coarse preview first and the full-resolution
figure once the slider rests (``geomlib.widgets.PREVIEW_SECONDS``): for them each
sample has two times, Enter -> preview painted and Enter -> full figure painted.

Targets (2 cores): p95 <= 150 ms per linear/pointwise/MLP explorer at 64 x 64; for LCA
explorers the preview within 200 ms and the full-resolution field within 1 s (p95; the
grid sizes are printed).

Usage: ``python -m benchmarks.bench_browser [--quick]`` or ``run(quick=False)``.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

from tests.browser import jlab  # noqa: E402

TARGET_P95_MS = 150.0
TARGET_GRID = 64
TARGET_PREVIEW_MS = 200.0
TARGET_FULL_MS = 1000.0

# Kernel-side query (user_expressions, nothing added to the notebook's namespace):
# every live widget that records per-update timings (geomlib.widgets.PlaneExplorer).
_EXPLORERS = ("[w for w in list(__import__('ipywidgets').widgets.widget._instances.values()) "
              "if hasattr(w, 'timings') and hasattr(w, 'last_timing')]")
_CLEAR = f"__import__('json').dumps([w.timings.clear() for w in {_EXPLORERS}])"
_READ = (f"__import__('json').dumps([dict(n=int(w.coords.shape[0]), "
         f"timings=[dict(t) for t in w.timings]) for w in {_EXPLORERS}])")
# Does a slider change of each explorer draw a coarse preview first (a slow neuron)?
_PREVIEWS = (f"__import__('json').dumps([bool(getattr(w, '_preview_coords', None) is not None and "
             f"w._full_seconds > __import__('geomlib.widgets').widgets.PREVIEW_SECONDS) for w in {_EXPLORERS}])")

_JS_DROPDOWN_OF = """(el) => {
  let scope = el.parentElement;
  while (scope && !scope.classList.contains('jp-OutputArea-output')) {
    const d = scope.querySelector('[class~="rg-dropdown-neuron"] select');
    if (d) return d;
    scope = scope.parentElement;
  }
  return null;
}"""


def _percentile(xs: list[float], q: float) -> float:
    """Linear-interpolated percentile (q in [0, 100]) of a non-empty list."""
    s = sorted(xs)
    k = (len(s) - 1) * q / 100
    lo, hi = int(k), min(int(k) + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (k - lo)


def _median(xs):
    return statistics.median(xs) if xs else float("nan")


class _Sweep:
    def __init__(self, nb: jlab.NotebookPage, slider: jlab.Slider):
        self.nb, self.page, self.slider = nb, nb.page, slider
        self.figure = nb.figure_locator(slider)
        self.figure.evaluate(jlab._JS_INSTALL_PROBE)

    def settle(self, timeout: float = jlab.UPDATE_TIMEOUT) -> None:
        deadline = time.monotonic() + timeout
        while self.nb.server.kernel_state(self.nb.kernel_id) != "idle":
            if time.monotonic() > deadline:
                raise RuntimeError("kernel still busy")
            time.sleep(0.05)
        time.sleep(0.1)

    def step(self, value: float, preview: bool = False) -> dict:
        """Type ``value``, press Enter, wait for the repaint (and with ``preview``, for the
        full-resolution repaint that follows the preview); return the event (ms)."""
        self.nb.type_value(self.slider, value, enter=False)
        n0 = self.page.evaluate("() => window.__rgProbe.events.length")
        self.page.keyboard.press("Enter")
        wanted = 2 if preview else 1
        self.page.wait_for_function(f"n0 => window.__rgProbe.events.length >= n0 + {wanted}", arg=n0,
                                    timeout=jlab.UPDATE_TIMEOUT * 1000, polling=20)
        ev = self.page.evaluate("n0 => window.__rgProbe.events[n0]", n0)
        full = self.page.evaluate(f"n0 => window.__rgProbe.events[n0 + {wanted - 1}]", n0)
        self.settle()
        extra = self.page.evaluate("() => window.__rgProbe.events.length") - n0 - wanted
        return {"latency": ev["painted"] - ev["t0"], "arrive": ev["src"] - ev["t0"],
                "paint": ev["painted"] - ev["src"], "full": full["painted"] - ev["t0"], "extra_updates": extra}


def _bench_notebook(nb: jlab.NotebookPage, name: str, n_values: int, all_neurons: bool) -> list[dict]:
    sliders = nb.sliders()
    slider = next((s for s in sliders if s.name == "theta"), sliders[0] if sliders else None)
    if slider is None:
        return []
    sweep = _Sweep(nb, slider)
    dropdown = nb.slider_locator(slider).element_handle().evaluate_handle(_JS_DROPDOWN_OF).as_element()
    neurons = [None]
    if dropdown is not None:
        neurons = dropdown.evaluate("d => Array.from(d.options).map(o => o.textContent)")
        current = dropdown.evaluate("d => d.options[d.selectedIndex].textContent")
        neurons = neurons if all_neurons else [current]
    rows = []
    lo, hi = slider.min, slider.max
    for neuron in neurons:
        if neuron is not None and dropdown.evaluate("d => d.options[d.selectedIndex].textContent") != neuron:
            dropdown.select_option(label=neuron)
            sweep.settle()
            time.sleep(0.3)
            sweep.settle()
        # warm-up: two updates (first-use compilation), not timed; the second tells whether
        # this neuron is drawn with a preview first
        for v in jlab._sweep_values(lo, hi, 2, current=jlab._to_float(nb.readout(slider))):
            sweep.step(v)
            sweep.settle(), time.sleep(1.5), sweep.settle()  # a full-resolution update may follow
        previews = nb.kernel.evaluate(_PREVIEWS)
        preview = len(previews) == 1 and previews[0]
        nb.kernel.evaluate(_CLEAR)
        samples = []
        values = jlab._sweep_values(lo, hi, n_values, current=jlab._to_float(nb.readout(slider)))
        # alternate ends of the range so consecutive values are far apart (no caching luck)
        order = [values[i // 2] if i % 2 == 0 else values[-1 - i // 2] for i in range(len(values))]
        for v in order:
            samples.append(sweep.step(v, preview))
        kernel = [e for e in nb.kernel.evaluate(_READ) if e["timings"]]
        every = kernel[0]["timings"] if len(kernel) == 1 else []
        grid = kernel[0]["n"] if len(kernel) == 1 else None
        # the in-kernel split of the first repaint (the preview, for slow neurons)
        timings = [t for t in every if bool(t.get("preview")) == preview]
        full = [s["full"] for s in samples]
        lat = [s["latency"] for s in samples]
        k_total = [1e3 * t.get("total", float("nan")) for t in timings]
        row = {
            "notebook": name, "neuron": neuron or "-", "slider": slider.label, "grid": grid,
            "n": len(lat), "median_ms": _median(lat), "p95_ms": _percentile(lat, 95), "max_ms": max(lat),
            "arrive_ms": _median([s["arrive"] for s in samples]),
            "paint_ms": _median([s["paint"] for s in samples]),
            "kernel_ms": _median(k_total),
            "compute_ms": _median([1e3 * t.get("compute", float("nan")) for t in timings]),
            "draw_ms": _median([1e3 * (t.get("artists", 0.0) + t.get("draw", float("nan"))) for t in timings]),
            "png_ms": _median([1e3 * t.get("png", float("nan")) for t in timings]),
            "renders": len(every), "preview": preview,
            "preview_grid": next((t["grid"] for t in every if t.get("preview")), None),
            "full_median_ms": _median(full) if preview else float("nan"),
            "full_p95_ms": _percentile(full, 95) if preview else float("nan"),
            "full_kernel_ms": _median([1e3 * t["total"] for t in every if not t.get("preview")]),
            "extra_updates": sum(s["extra_updates"] for s in samples),
        }
        row["kernel_share"] = row["kernel_ms"] / row["median_ms"] if row["median_ms"] else float("nan")
        if preview:
            ok = row["p95_ms"] <= TARGET_PREVIEW_MS and row["full_p95_ms"] <= TARGET_FULL_MS
            row["target"] = "PASS" if ok else "MISS"
        else:
            row["target"] = ("PASS" if row["p95_ms"] <= TARGET_P95_MS else "MISS") if grid == TARGET_GRID else "(report)"
        rows.append(row)
        print(f"  {name} / {row['neuron']}: median {row['median_ms']:.0f} ms, p95 {row['p95_ms']:.0f} ms"
              + (f" (preview {row['preview_grid']}x{row['preview_grid']}); full {grid}x{grid}: median "
                 f"{row['full_median_ms']:.0f} ms, p95 {row['full_p95_ms']:.0f} ms" if preview else ""), flush=True)
    return rows


def _table(rows: list[dict]) -> str:
    head = ["notebook", "neuron", "grid", "n", "median", "p95", "max", "arrive", "paint",
            "kernel", "compute", "draw", "png", "kernel share", "full median", "full p95", "target"]
    body = []
    for r in rows:
        if "error" in r:
            body.append([r["notebook"], "ERROR: " + r["error"][:80]] + [""] * (len(head) - 2))
            continue
        ms = lambda x: "-" if x != x else f"{x:.0f}"  # noqa: E731  (NaN -> "-")
        grid = f"{r['grid']}x{r['grid']}" if r["grid"] else "?"
        if r.get("preview"):
            grid = f"{r['preview_grid']}->{grid}"
        body.append([r["notebook"], r["neuron"], grid, str(r["n"]),
                     ms(r["median_ms"]), ms(r["p95_ms"]), ms(r["max_ms"]), ms(r["arrive_ms"]), ms(r["paint_ms"]),
                     ms(r["kernel_ms"]), ms(r["compute_ms"]), ms(r["draw_ms"]), ms(r["png_ms"]),
                     "-" if r["kernel_share"] != r["kernel_share"] else f"{100 * r['kernel_share']:.0f}%",
                     ms(r["full_median_ms"]), ms(r["full_p95_ms"]), r["target"]])
    widths = [max(len(h), *(len(row[i]) for row in body)) if body else len(h) for i, h in enumerate(head)]
    line = lambda cells: "  ".join(c.ljust(w) if i < 2 else c.rjust(w)  # noqa: E731
                                   for i, (c, w) in enumerate(zip(cells, widths)))
    return "\n".join([line(head), line(["-" * w for w in widths])] + [line(b) for b in body])


def checks(rows: list[dict]) -> list:
    """The rows' figures that have a target, as benchmark checks
    (for the summary of ``python -m benchmarks``): p95 at 64 x 64; preview and full p95 of
    explorers with a preview; a notebook that failed is a MISS."""
    from benchmarks._timing import Check

    out = []
    for r in rows:
        if "error" in r:
            out.append(Check(f"browser {r['notebook']}: ran", float("nan"), 0.0))
        elif r.get("preview"):
            name = f"browser {r['notebook']} / {r['neuron']}"
            out.append(Check(f"{name}: preview {r['preview_grid']}x{r['preview_grid']} p95 (ms)", r["p95_ms"],
                             TARGET_PREVIEW_MS))
            out.append(Check(f"{name}: full {r['grid']}x{r['grid']} p95 (ms)", r["full_p95_ms"], TARGET_FULL_MS))
        elif r["grid"] == TARGET_GRID:
            out.append(Check(f"browser {r['notebook']} / {r['neuron']}: {TARGET_GRID}x{TARGET_GRID} p95 (ms)",
                             r["p95_ms"], TARGET_P95_MS))
    return out


def run(quick: bool = False) -> list[dict]:
    """Run the browser latency benchmark; print and return one row per (notebook, neuron).

    ``quick``: the first neuron only, 6 values (smoke run); else every neuron, 24 values.
    Returns [] (after saying why) when no Chromium or Playwright is available.
    """
    print("Browser: slider value change -> updated figure painted (JupyterLab, headless Chromium)"
          + (" (QUICK)" if quick else ""), flush=True)
    reason = jlab.browser_unavailable_reason()
    if reason:
        print(f"BROWSER BENCHMARK SKIPPED: {reason}")
        return []
    from playwright.sync_api import sync_playwright

    n_values = 6 if quick else 24
    rows: list[dict] = []
    t_start = time.perf_counter()
    with jlab.lab_server(REPO / "notebooks") as server, sync_playwright() as pw:
        browser = jlab.launch_browser(pw)
        try:
            for path in jlab.notebook_paths(REPO):
                ctx = browser.new_context(viewport=jlab.VIEWPORT)
                nb = jlab.NotebookPage(ctx.new_page(), server, path.name)
                try:
                    nb.open()
                    nb.run_all()
                    errors = nb.errors()
                    if errors:
                        rows.append({"notebook": path.name, "error": errors[0].splitlines()[0]})
                        continue
                    rows += _bench_notebook(nb, path.name, n_values, all_neurons=not quick)
                except Exception as err:  # one broken notebook must not hide the others
                    rows.append({"notebook": path.name, "error": f"{type(err).__name__}: {err}".splitlines()[0]})
                finally:
                    nb.close()
                    ctx.close()
                    server.shutdown_kernels()
        finally:
            browser.close()
    print()
    print(_table(rows))
    print()
    print("ms, medians over the sweep unless named. arrive: Enter -> new image in the page; paint: "
          "decode + next frame; kernel = compute (field on the grid) + draw (matplotlib artists + Agg) "
          "+ png (encode, send); kernel share = kernel / median latency; the rest is comm transport, "
          "JupyterLab/ipywidgets and the browser. Grid 16->40x40: a coarse preview, then the full grid; "
          "median .. kernel describe the preview, full median/p95: Enter -> full-resolution figure painted. "
          f"Targets: p95 <= {TARGET_P95_MS:.0f} ms at {TARGET_GRID}x{TARGET_GRID} (other grids: report only); "
          f"with a preview, preview p95 <= {TARGET_PREVIEW_MS:.0f} ms and full p95 <= {TARGET_FULL_MS:.0f} ms.")
    for r in rows:
        if "error" not in r and (r["renders"] != r["n"] * (2 if r["preview"] else 1) or r["extra_updates"]):
            print(f"  ! {r['notebook']} / {r['neuron']}: {r['renders']} renders in the kernel and "
                  f"{r['extra_updates']} extra figure updates for {r['n']} value changes")
    print(f"[{time.perf_counter() - t_start:.0f} s; load average {_loadavg()}]")
    return rows


def _loadavg() -> str:
    try:
        return "/".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.bench_browser", description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="first neuron only, 6 values")
    args = ap.parse_args(argv)
    run(quick=args.quick)
    return 0


if __name__ == "__main__":
    sys.exit(main())
