"""Chapter 9's table (what reproduced): the series' findings beside the published numbers,
one row each.

A :class:`Finding` is built from results, never from retyped numbers: a curvature survey
(:class:`geomlib.SurveyResult` per ``"dictionary/circuit"``, as :func:`geomlib.load_survey`
reads them or :func:`geomlib.run_survey` makes them), attack sizes and template cosines per
model (:func:`geomlib.msd_at_confidence`, :func:`geomlib.template_cosine`), or a model
comparison (:func:`geomlib.load_comparison`). The published side is :data:`PUBLISHED`, each
entry with its source. :func:`find_result_files` reads whichever result files are present
in a folder at run time, so a table rebuilt later shows the results committed then.

It lives with the figures because it is the view of chapter 9: it reads results through
the public geomlib functions and turns them into a Markdown table.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np
from jax.typing import ArrayLike

from geomlib import (
    ClassifierMeasures,
    PredictionMeasures,
    SurveyResult,
    comparison_summary,
    hierarchical_rank_correlation,
    load_comparison,
    load_predictions,
    load_robustness_run,
    load_survey,
    prediction_summary,
    seed_groups,
)

__all__ = ["PUBLISHED", "Finding", "ResultFiles", "accuracy_findings", "comparison_findings", "find_result_files",
           "prediction_findings",
           "findings_table", "msd_findings", "robustness_findings", "survey_findings"]

_PAITON = "Paiton et al. 2020"

#: The published side of each finding: key -> (statement or numbers, source). MSD pairs are
#: (without LCA, with LCA) means for MNIST, read off the paper's plots.
PUBLISHED: dict[str, tuple[object, str]] = {
    "exo": ("almost all planes exo-origin (c2 > 0)", _PAITON),
    "comparison_vs_random": ("comparison planes bend more than random planes", _PAITON),
    "overcompleteness": ("curvature grows with overcompleteness: 2x < 4x < 10x", _PAITON),
    "controls": ("linear and pointwise neurons: straight contours, c2 = 0", _PAITON),
    "msd/mlp-2/lca-mlp-2": ((0.0069, 0.0134), f"{_PAITON}, 2 layers, 768 LCA neurons"),
    "msd/mlp-3/lca-mlp-3": ((0.0027, 0.0122), f"{_PAITON}, 3 layers, 768 LCA neurons"),
    "semantic": ("adversarial images against the LCA network look like the target digit", _PAITON),
}


@dataclass(frozen=True)
class Finding:
    """One row of the table: a claim, the published side, ours, and the verdict.

    Attributes:
      chapter: the chapter that measures it (int).
      claim: what is claimed, in a few words.
      published: the published number or statement, with its source.
      ours: our number(s), as text.
      basis: where ours come from (a results file, or "computed here" with its size).
      verdict: ``"reproduced"``, ``"partly"``, ``"not reproduced"`` or ``"new here"``.
    """

    chapter: int
    claim: str
    published: str
    ours: str
    basis: str
    verdict: str


def _published(key: str) -> str:
    what, source = PUBLISHED[key]
    return f"{what} ({source})"


def survey_findings(surveys: Mapping[str, SurveyResult], basis: str) -> list[Finding]:
    """Findings of the curvature survey (chapters 3-4) from surveys keyed ``"dictionary/circuit"``.

    Rules: *exo-origin* is reproduced when at least 90% of every LCA survey's planes have
    c2 > 0; *comparison > random* when the median c2 of comparison planes exceeds that of
    random planes for every dictionary; *overcompleteness* (dictionaries ordered by their
    number of neurons) when both medians grow at every step, partly when some do;
    *controls* when every linear and ReLU survey has max |c2| < 1e-6. The published
    overcompleteness claim spans three sizes (2x, 4x, 10x): with fewer, at best "partly".

    Args:
      surveys: e.g. ``{"patches-2x/lca": SurveyResult, "patches-2x/relu": ...}``.
      basis: where they come from, written in the table.

    Returns:
      the findings that the surveys given can answer (none for an empty mapping).
    """
    lca = {k.split("/")[0]: s for k, s in surveys.items() if s.model == "lca"}
    out = []
    if lca:
        exo = {d: float(np.mean(s.c2[np.isfinite(s.c2)] > 0)) for d, s in lca.items()}
        out.append(Finding(4, "LCA neurons' contours bend exo-origin", _published("exo"),
                           ", ".join(f"{d}: {v:.0%} of planes" for d, v in exo.items()), basis,
                           "reproduced" if min(exo.values()) >= 0.9 else "not reproduced"))
        med = {d: {kind: float(np.nanmedian(s.c2[:, s.kind == kind])) for kind in ("comparison", "random")}
               for d, s in lca.items()}
        out.append(Finding(4, "competitors' planes bend more", _published("comparison_vs_random"),
                           ", ".join(f"{d}: {m['comparison']:.3f} vs {m['random']:.3f}" for d, m in med.items())
                           + " (median c2, comparison vs random)", basis,
                           "reproduced" if all(m["comparison"] > m["random"] for m in med.values()) else "not reproduced"))
        if len(lca) > 1:
            order = sorted(lca, key=lambda d: lca[d].config.get("dictionary_shape", [0, 0])[-1])
            grows = [med[b][kind] > med[a][kind] for a, b in zip(order, order[1:]) for kind in ("comparison", "random")]
            verdict = "reproduced" if all(grows) else "partly" if any(grows) else "not reproduced"
            if verdict == "reproduced" and len(order) < 3:  # the published claim spans 2x, 4x and 10x
                verdict = f"partly ({len(order)} of 3 sizes)"
            ours = "; ".join(f"{kind} " + ", ".join(f"{med[d][kind]:.3f}" for d in order) for kind in ("comparison", "random"))
            out.append(Finding(4, "bend grows with overcompleteness", _published("overcompleteness"),
                               f"median c2, {ours} ({', '.join(order)})", basis, verdict))
    controls = {k: float(np.nanmax(np.abs(s.c2))) for k, s in surveys.items() if s.model in ("linear", "relu")}
    if controls:
        worst = max(controls.values())
        out.append(Finding(2, "straight contours without competition", _published("controls"),
                           f"max |c2| {worst:.1e} over {len(controls)} linear/ReLU surveys", basis,
                           "reproduced" if worst < 1e-6 else "not reproduced"))
    return out


def msd_findings(msd: Mapping[str, ArrayLike], basis: str, *, templates: Mapping[str, ArrayLike] | None = None
                 ) -> list[Finding]:
    """Attack size with and without an LCA layer (chapter 6), and the perturbations' content.

    For each published pair (:data:`PUBLISHED` ``"msd/MLP/LCA"``) whose two models are in
    ``msd``: the mean MSD of each and the ratio LCA / MLP. Rule: reproduced when our ratio
    is at least the square root of the published one (half the published effect or more on
    a log scale); partly when it is at least 1.1 but smaller; not reproduced below 1.1 (an
    LCA layer that enlarges attacks by less than 10%). With ``templates``: the median template cosine of the LCA
    models against the MLPs (reproduced when the LCA's is higher for every pair).

    Args:
      msd: model name -> MSD per image ``(B,)`` (NaN: confidence not reached; left out).
      basis: where they come from.
      templates: model name -> template cosine per image ``(B,)``, or None.

    Returns:
      the findings for the pairs present.
    """
    out, pairs = [], []
    for key, (published, source) in PUBLISHED.items():
        if not key.startswith("msd/"):
            continue
        pub_mlp, pub_lca = published
        mlp_name, lca_name = key.split("/")[1:]
        if mlp_name not in msd or lca_name not in msd:
            continue
        pairs.append((mlp_name, lca_name))
        ours = {m: float(np.nanmean(np.asarray(msd[m], dtype=np.float64))) for m in (mlp_name, lca_name)}
        ratio, pub_ratio = ours[lca_name] / ours[mlp_name], pub_lca / pub_mlp
        verdict = ("reproduced" if ratio >= np.sqrt(pub_ratio) else "partly" if ratio >= 1.1 else "not reproduced")
        out.append(Finding(6, f"LCA layer enlarges attacks: {lca_name} vs {mlp_name}",
                           f"MSD {pub_lca:.4f} vs {pub_mlp:.4f}, ratio {pub_ratio:.1f} ({source})",
                           f"MSD {ours[lca_name]:.4f} vs {ours[mlp_name]:.4f}, ratio {ratio:.2f}", basis, verdict))
    if templates is not None and pairs:
        med = {m: float(np.nanmedian(np.asarray(templates[m], dtype=np.float64))) for pair in pairs for m in pair}
        higher = all(med[lca] > med[mlp] for mlp, lca in pairs)
        out.append(Finding(6, "attacks on LCA networks draw the target digit", _published("semantic"),
                           "median template cosine " + ", ".join(f"{lca} {med[lca]:.2f} vs {mlp} {med[mlp]:.2f}"
                                                                 for mlp, lca in pairs), basis,
                           "reproduced" if higher else "not reproduced"))
    return out


def comparison_findings(results: Mapping[str, ClassifierMeasures], basis: str, *, seed: int = 0,
                        n_boot: int = 2000) -> list[Finding]:
    """Findings of a model comparison (chapter 8; :func:`geomlib.load_comparison`'s results).

    The attack sizes and template cosines of :func:`msd_findings` (sign attack) for the pairs
    present, their accuracy at the smallest radius measured under PGD-10 and, where the file
    has it, under the worst case of strong attacks (:func:`accuracy_findings`),
    their decision-boundary curvature at the DeepFool point, and Spearman's rho across models
    between the boundary curvature and the DeepFool distance with its bootstrap CI over digits
    and the p-value of a permutation test over models (both from one
    :func:`geomlib.hierarchical_rank_correlation`; new here).

    Args:
      results: model name -> :class:`ClassifierMeasures`, the same images for every model (extra
        seeds ``"<name>-s<k>"`` grouped with their configuration for the rank correlation).
      basis: where they come from.
      seed, n_boot: of the bootstrap.

    Returns:
      the findings.
    """
    out = msd_findings({m: r.msd for m, r in results.items()}, basis,
                       templates={m: r.template_msd for m, r in results.items()})
    summary = comparison_summary(results)
    pairs = _pairs(results)
    for prefix, attack in (("pgd@", "PGD-10"), ("worst@", "the worst case of strong attacks")):
        radii = sorted((k for k in summary if k.startswith(prefix)), key=lambda k: float(k[len(prefix):]))
        if radii:
            out += accuracy_findings({m: summary[radii[0]][m] for m in results}, float(radii[0][len(prefix):]),
                                     basis, attack=attack)
    if pairs:
        kappa = summary["boundary_curvature"]
        out.append(Finding(5, "LCA layer curves the decision boundary", "not reported (neuron contours only)",
                           "median max |κ| at the DeepFool point " + ", ".join(
                               f"{b} {kappa[b]:.2f} vs {a} {kappa[a]:.2f}" for a, b in pairs), basis, "new here"))
    groups = seed_groups(results)     # several seeds of a configuration ("<name>-s<k>") are one unit
    if len(groups) >= 3:
        # one seed per configuration: the bootstrap over images alone, i.e. rank_correlation's rho and interval
        rc = hierarchical_rank_correlation(groups, "boundary_curvature", "deepfool_distance", n_boot=n_boot, seed=seed)
        seeds = max(len(g) for g in groups.values())
        units = (f"{len(groups)} models (interval over digits; permutation test over models" if seeds == 1 else
                 f"{len(groups)} configurations x up to {seeds} seeds (seed means; interval over seeds, then "
                 f"digits; permutation test over configurations")
        out.append(Finding(8, "more curved boundary, farther boundary", "not reported",
                           f"Spearman rho {rc.rho:+.2f} [{rc.low:+.2f}, {rc.high:+.2f}] over {units} "
                           f"p = {rc.p_value:.2g})", basis, "new here"))
    return out


def _pairs(models) -> list[tuple[str, str]]:
    """The published (MLP, LCA) pairs whose two models are both in ``models``."""
    pairs = [tuple(key.split("/")[1:]) for key in PUBLISHED if key.startswith("msd/")]
    return [(a, b) for a, b in pairs if a in models and b in models]


def accuracy_findings(accuracy: Mapping[str, float], eps: float, basis: str, *, attack: str = "PGD"
                      ) -> list[Finding]:
    """Accuracy under L-inf PGD at ``eps`` with and without an LCA layer (chapter 7; new here:
    the paper reports attack size, not accuracy).

    Args:
      accuracy: model name -> accuracy in [0, 1] under the attack.
      eps: the radius.
      basis: where they come from (one attack's accuracy is an upper bound: say which).
      attack: the attack, named in the claim.

    Returns:
      one finding, or none when no published pair is in ``accuracy``.
    """
    pairs = _pairs(accuracy)
    if not pairs:
        return []
    return [Finding(7, f"LCA layer raises accuracy under {attack}, L∞ ε = {eps:g}", "not reported (attack size only)",
                    ", ".join(f"{b} {accuracy[b]:.0%} vs {a} {accuracy[a]:.0%}" for a, b in pairs), basis, "new here")]


def findings_table(findings: Sequence[Finding], links: Mapping[int, str] | None = None) -> str:
    """The findings as one Markdown table, in chapter order (stable); chapter numbers link to
    ``links[chapter]`` when given."""
    links = links or {}
    rows = ["| chapter | claim | published | here | from | verdict |", "|---|---|---|---|---|---|"]
    for f in sorted(findings, key=lambda f: f.chapter):
        ch = f"[{f.chapter}]({links[f.chapter]})" if f.chapter in links else str(f.chapter)
        cells = [ch, f.claim, f.published, f.ours, f.basis, f"**{f.verdict}**"]
        rows.append("| " + " | ".join(c.replace("|", "\\|") for c in cells) + " |")
    return "\n".join(rows)


def robustness_findings(run: Mapping, basis: str) -> list[Finding]:
    """Findings of the robustness evaluation (chapter 7; :func:`geomlib.load_robustness_run`'s dict).

    For each published (MLP, LCA) pair evaluated: accuracy at the smallest radius under PGD-10
    and under the worst case of the run's attacks (``worst/NAME/pgd10`` and ``.../robust``),
    and, where measured, the median minimal L2 perturbation (``minimal/NAME/distance``,
    finite values, with how many digits that is). Both are new here: the paper reports the sign attack's MSD.

    Args:
      run: the arrays of a robustness run (``settings`` with ``eps`` among them).
      basis: where they come from.

    Returns:
      the findings for the pairs present.
    """
    eps = float(np.min(run["settings"]["eps"])) if "eps" in run.get("settings", {}) else float("nan")
    e = int(np.argmin(run["settings"]["eps"])) if np.isfinite(eps) else 0
    out = []
    worst = _pairs({k.split("/")[1] for k in run if k.startswith("worst/") and k.endswith("/robust")})
    if worst:
        acc = {m: {kind: float(np.mean(np.asarray(run[f"worst/{m}/{kind}"])[e])) for kind in ("pgd10", "robust")}
               for pair in worst for m in pair}
        out.append(Finding(7, f"LCA layer's accuracy under attack, L∞ ε = {eps:g}, PGD-10 vs worst case",
                           "not reported (attack size only)",
                           "; ".join(f"{b} {acc[b]['pgd10']:.0%} → {acc[b]['robust']:.0%}, {a} {acc[a]['pgd10']:.0%} → "
                                     f"{acc[a]['robust']:.0%}" for a, b in worst), basis, "new here"))
    minimal = _pairs({k.split("/")[1] for k in run if k.startswith("minimal/") and k.endswith("/distance")})
    if minimal:
        med, counts = {}, set()
        for m in {m for pair in minimal for m in pair}:
            d = np.asarray(run[f"minimal/{m}/distance"], dtype=np.float64)
            med[m] = float(np.median(d[np.isfinite(d)])) if np.isfinite(d).any() else float("nan")
            counts.add(int(np.isfinite(d).sum()))
        measured = f"{min(counts)}" if len(counts) == 1 else f"{min(counts)}-{max(counts)}"
        out.append(Finding(7, "LCA layer enlarges the minimal L2 perturbation (adaptive attacks)",
                           "not reported (sign-attack MSD only)",
                           ", ".join(f"{b} {med[b]:.2f} vs {a} {med[a]:.2f}" for a, b in minimal)
                           + f" (median L2 distance, {measured} digits per model)", basis, "new here"))
    return out


def prediction_findings(measures: Mapping[str, PredictionMeasures], basis: str) -> list[Finding]:
    """The per-digit prediction test of chapter 8 (:func:`geomlib.prediction_summary`; new here):
    how much of the spread of each model's smallest adversarial distances the boundary's distance
    r alone and the second-order model at the DeepFool point explain (R² of log distance, range
    over the models), and on how many digits the boundary curves within that distance (r κ₊ > 1).

    Args:
      measures: model name -> :class:`geomlib.PredictionMeasures` (:func:`geomlib.load_predictions`).
      basis: where they come from.

    Returns:
      one finding (none for no models).
    """
    if not measures:
        return []
    s = prediction_summary(measures)
    r2 = np.array([v.test.r2 for v in s.values()])
    flat = np.array([v.test.r2_flat for v in s.values()])
    curved = sum(v.test.n_curved for v in s.values())
    used = sum(v.test.n_images for v in s.values())
    return [Finding(8, "the boundary's local geometry predicts each digit's adversarial distance", "not reported",
                    f"R² of log distance over {len(s)} models: r alone {flat.min():.2f}-{flat.max():.2f}, "
                    f"paraboloid at the DeepFool point {r2.min():.2f}-{r2.max():.2f}; "
                    f"r κ₊ > 1 on {curved} of {used} digits x models", basis, "new here")]


@dataclass(frozen=True)
class ResultFiles:
    """Result files found in a folder: ``surveys`` (path -> surveys by ``"dictionary/circuit"``),
    ``comparisons`` (path -> ``(results, metadata)`` of :func:`geomlib.load_comparison`) and
    ``robustness`` (path -> the arrays of :func:`geomlib.load_robustness_run`) and ``predictions``
    (path -> ``(measures, metadata)`` of :func:`geomlib.load_predictions`)."""

    surveys: dict[str, dict[str, SurveyResult]]
    comparisons: dict[str, tuple[dict[str, ClassifierMeasures], dict]]
    robustness: dict[str, dict]
    predictions: dict[str, tuple[dict[str, PredictionMeasures], dict]] = field(default_factory=dict)


def find_result_files(directory: str | os.PathLike, pattern: str = "*.npz") -> ResultFiles:
    """Read every file matching ``pattern`` in ``directory`` (and its subfolders) that is a
    survey, a model comparison, a robustness run or a prediction file; other files (parameters, damaged files)
    are skipped.

    Args:
      directory: a folder (a missing folder gives no files).
      pattern: glob of the file names.

    Returns:
      :class:`ResultFiles`, paths relative to ``directory``, sorted.
    """
    if isinstance(directory, (bool, bytes)) or not isinstance(directory, (str, os.PathLike)) or not os.fspath(directory):
        raise TypeError(f"directory: expected a folder path (str or os.PathLike), got {directory!r}")
    root = Path(directory)
    surveys, comparisons, robustness, predictions = {}, {}, {}, {}
    for path in sorted(root.rglob(pattern)) if root.is_dir() else []:
        name = str(path.relative_to(root))
        try:
            got = load_survey(path)
            surveys[name] = got if isinstance(got, dict) else {f"{got.config.get('name', path.stem)}/{got.model}": got}
            continue
        except (ValueError, KeyError, OSError):
            pass
        try:
            comparisons[name] = load_comparison(path)
            continue
        except (ValueError, KeyError, OSError):
            pass
        try:
            robustness[name] = load_robustness_run(path)
            continue
        except (ValueError, KeyError, OSError):
            pass
        try:
            predictions[name] = load_predictions(path)
        except (ValueError, KeyError, OSError):
            pass
    return ResultFiles(surveys, comparisons, robustness, predictions)
