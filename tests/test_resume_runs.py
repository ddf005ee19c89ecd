"""The library half of the resumable commands (issue 14: no library logic in geomlib.cli):
``survey_to_file`` and ``comparison_to_file``'s resume check, in process, on branches the
kill-and-resume tests of the commands do not reach."""

from __future__ import annotations

import pytest

from geomlib._src.core.files import ResumeError
from geomlib._src.defense.runs import read_comparison_to_resume, run_settings
from geomlib._src.recipes.shipped import parts_folder, survey_plan, survey_to_file
from geomlib._src.survey import save_survey, times_path


def _plan(seed=0):
    return survey_plan(["patches-test"], ["linear"], 2, 1, 1, seed, chunk_size=2)


def test_survey_to_file_keeps_reruns_and_refuses(tmp_path):
    out = tmp_path / "s.npz"
    events = []
    results, resume = survey_to_file(_plan(), out, on_start=events.append,
                                     on_pair=lambda k, r: events.append((k, r is None)))
    key = "patches-test/linear"
    assert list(results) == [key] and resume.kept == () and resume.total == 4 and resume.in_file == 0
    assert events == [resume, (key, True), (key, False)]
    assert times_path(out).is_file() and not parts_folder(out).exists()
    first = out.read_bytes()

    events.clear()
    _, again = survey_to_file(_plan(), out, on_pair=lambda k, r: events.append((k, r is None)))
    assert again.kept == (key,) and again.in_file == 4 and events == [(key, False)] and out.read_bytes() == first

    _, other = survey_to_file(_plan(seed=1), out)  # another seed: the pair is run again
    assert other.rerun == (key,) and other.kept == ()

    single = tmp_path / "single.npz"
    save_survey(results[key], single)
    with pytest.raises(ResumeError, match="holds a single survey result") as err:
        survey_to_file(_plan(), single)
    assert err.value.kind == "foreign"
    _, fresh = survey_to_file(_plan(), single, restart=True)  # restart: overwritten
    assert fresh.kept == () and not fresh.others

    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"garbage")
    with pytest.raises(ResumeError, match=f"cannot resume from {damaged}") as err:
        survey_to_file(_plan(), damaged)
    assert err.value.kind == "damaged" and damaged.read_bytes() == b"garbage"


def test_comparison_resume_check(tmp_path):
    meta = {"data": "mnist", "seed": 0, "images": [3, 4], "settings": {"eps": [0.1]}, "temperature": 0.05}
    assert run_settings(meta) == {"data": "mnist", "seed": 0, "n_images": 2, "eps": [0.1], "temperature": 0.05,
                                  "worst_case": None, "digits": "common", "bpda": False}   # a file from before both
    full = {**meta, "digits": "all", "settings": {"eps": [0.1], "bpda": True}}
    assert run_settings(full)["digits"] == "all" and run_settings(full)["bpda"] is True
    budget = {"steps": 100, "n_targets": 3, "queries": 1000, "restarts": 1}   # the worst case's budget decides too
    with_budget = {**meta, "settings": {"eps": [0.1], "worst_case": budget}}
    assert run_settings(with_budget)["worst_case"] == budget and run_settings(with_budget) != run_settings(meta)
    assert read_comparison_to_resume(tmp_path / "none.npz", ["linear"], run_settings(meta)) is None
    damaged = tmp_path / "damaged.npz"
    damaged.write_bytes(b"garbage")
    with pytest.raises(ResumeError, match="damaged.npz: not a readable comparison file") as err:
        read_comparison_to_resume(damaged, ["linear"], run_settings(meta))
    assert err.value.kind == "damaged" and isinstance(err.value, ValueError)
