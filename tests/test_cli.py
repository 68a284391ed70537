"""The command line: the main job end to end on small settings, its outputs and its refusals."""

import json
import re

import numpy as np
import pytest

from sklearn_seqinv.cli import main

QUICK = [
    "--n-samples",
    "240",
    "--max-epochs",
    "3",
    "--methods",
    "text_first",
    "erm",
    "linear",
    "-q",
]


def test_evaluate_writes_results_tables_and_plots(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["evaluate", *QUICK, "--output", str(out)]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {r["method"] for r in results["summary"]} == {"text_first", "erm", "linear"}
    assert {r["protocol"] for r in results["records"]} == {"leave_one_domain_out", "single_source"}
    assert "has0_acc2 mean / worst" in (out / "results.md").read_text()
    from matplotlib.image import imread

    for plot in ("gates_text_first.png", "scores_leave_one_domain_out.png"):
        image = imread(out / plot)  # a PNG that decodes, and something drawn on it
        assert image.shape[0] > 100 and image.shape[1] > 100
        assert len(np.unique(image.reshape(-1, image.shape[-1]), axis=0)) > 10
    printed = capsys.readouterr().out
    assert "| leave_one_domain_out | text_first |" in printed and "Done in" in printed


def test_evaluate_refuses_to_overwrite_results_unless_asked(tmp_path, capsys):
    out = tmp_path / "run"
    out.mkdir()
    (out / "results.json").write_text("{}")
    assert main(["evaluate", *QUICK, "--output", str(out)]) == 2
    assert "--overwrite" in capsys.readouterr().err
    assert (out / "results.json").read_text() == "{}"


def test_default_output_is_a_new_folder_in_the_working_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    args = [*QUICK, "--protocols", "leave_one_domain_out", "--methods", "linear"]
    assert main(["evaluate", *args]) == 0
    assert main(["evaluate", *args]) == 0
    folders = sorted(p.name for p in tmp_path.iterdir())
    assert len(folders) == 2 and all(f.startswith("seqinv-results-") for f in folders)


def test_evaluate_on_the_reviews_layout_with_simulated_video(tmp_path, shared_data, capsys):
    folder = shared_data / "reviews4"
    if not folder.is_dir():
        pytest.skip("shared/data/reviews4 is absent")
    out = tmp_path / "reviews"
    args = [
        "--data",
        str(folder),
        "--methods",
        "linear",
        "--protocols",
        "leave_one_domain_out",
        "-q",
        "--output",
        str(out),
    ]
    assert main(["evaluate", *args]) == 0
    results = json.loads((out / "results.json").read_text())
    assert results["modalities"] == {"text": 384, "video": 20}
    assert {r["target"] for r in results["records"]} == {"books", "dvd", "electronics", "kitchen"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["evaluate", "--data", "/no/such/file.pkl"], "no such file"),
        (["evaluate", "--data", "README.md"], "the data takes MMSA .pkl files"),
    ],
)
def test_bad_data_arguments_exit_with_a_clear_error(args, message, capsys):
    assert main(args) == 2
    assert message in capsys.readouterr().err


def test_invalid_numbers_are_rejected_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--n-samples", "0"])
    assert "positive integer" in capsys.readouterr().err


def test_demo_prints_selection_and_held_out_accuracy(capsys):
    assert main(["demo", "--n-samples", "240"]) == 0
    out = capsys.readouterr().out
    assert "Selected text features" in out and "Held-out domain accuracy" in out


def test_benchmark_runs_seeds_and_summarizes(tmp_path, capsys):
    out = tmp_path / "bench"
    args = [
        "benchmark",
        "--seeds",
        "2",
        "--n-samples",
        "200",
        "--max-epochs",
        "2",
        "--methods",
        "linear",
        "--protocols",
        "leave_one_domain_out",
        "-q",
        "--output",
        str(out),
    ]
    assert main(args) == 0
    assert (out / "seed0" / "results.json").is_file() and (out / "seed1" / "results.json").is_file()
    table = (out / "benchmark.md").read_text()
    assert "| leave_one_domain_out | linear |" in table


def _actions(parser):
    import argparse

    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for sub in action.choices.values():
                yield from _actions(sub)
        elif not isinstance(action, (argparse._HelpAction, argparse._VersionAction)):
            yield action


def test_every_option_has_help_text():
    from sklearn_seqinv.cli import build_parser

    missing = [a.option_strings or a.dest for a in _actions(build_parser()) if not a.help]
    assert not missing


def test_help_does_not_import_torch():
    import subprocess
    import sys

    code = (
        "import sys, contextlib, io\n"
        "from sklearn_seqinv.cli import main\n"
        "with contextlib.suppress(SystemExit), contextlib.redirect_stdout(io.StringIO()):\n"
        "    main(['evaluate', '--help'])\n"
        "print('torch' in sys.modules)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_flags_that_cannot_apply_are_errors(tmp_path, capsys):
    pkl = tmp_path / "mosi.pkl"
    pkl.write_bytes(b"not read: the flag is refused first")
    reviews = tmp_path / "reviews"
    reviews.mkdir()
    (reviews / "reviews.csv").write_text("domain,label,rating,text\n")
    cases = {
        "text_only applies to text-only data": ["--data", str(pkl), "--text-only"],
        "task='regression' does not apply": ["--data", str(reviews), "--task", "regression"],
        "apply only to data paths": ["--text-only"],
        "names no context_group": ["--context"],
    }
    for message, args in cases.items():
        assert main(["evaluate", *args, "--output", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def _scores_of(folder):
    results = json.loads((folder / "results.json").read_text())
    del results["arguments"]["output"]  # the two runs write to two folders
    return {k: v for k, v in results.items() if k != "seconds"}


@pytest.fixture(scope="module")
def serial_run(tmp_path_factory):
    """The folder of one uninterrupted QUICK run, its fits one at a time in this process."""
    whole = tmp_path_factory.mktemp("serial") / "whole"
    assert main(["evaluate", *QUICK, "--n-jobs", "1", "--output", str(whole)]) == 0
    return whole


def test_an_interrupted_run_resumes_to_the_same_results(serial_run, tmp_path, monkeypatch, capsys):
    import sklearn_seqinv.evaluation._schedule as schedule

    whole, cut = serial_run, tmp_path / "cut"
    serial = [*QUICK, "--n-jobs", "1"]  # the fits run in this process, where the patch is
    fit_unit, calls = schedule.fit_unit, []

    def stopped_at_the_fifth_fit(*args, **kwargs):
        calls.append(args[-1])
        if len(calls) == 5:
            raise KeyboardInterrupt  # Ctrl-C in the middle of the fifth fit
        return fit_unit(*args, **kwargs)

    monkeypatch.setattr(schedule, "fit_unit", stopped_at_the_fifth_fit)
    assert main(["evaluate", *serial, "--output", str(cut)]) == 130
    assert "--resume" in capsys.readouterr().err
    assert not (cut / "results.json").exists()
    lines = (cut / "progress.jsonl").read_text().splitlines()
    assert len(lines) == 1 + 4  # the header, then the four finished fits
    # A kill while a line was being written leaves half a line: it is ignored.
    with open(cut / "progress.jsonl", "a") as handle:
        handle.write('{"key": ["single_source", ["0"], "er')
    counted = []
    monkeypatch.setattr(
        schedule, "fit_unit", lambda *a, **k: counted.append(1) or fit_unit(*a, **k)
    )
    assert main(["evaluate", *serial, "--output", str(cut), "--resume"]) == 0
    assert len(counted) == 24 - 4  # (4 + 4 splits) x 3 methods, minus the finished ones
    assert _scores_of(cut) == _scores_of(whole)
    assert not (cut / "progress.jsonl").exists()


def test_resume_refuses_what_it_cannot_finish(tmp_path, capsys):
    assert main(["evaluate", *QUICK, "--resume"]) == 2
    assert "--resume needs --output" in capsys.readouterr().err
    assert main(["evaluate", *QUICK, "--resume", "--output", str(tmp_path)]) == 2
    assert "no progress.jsonl" in capsys.readouterr().err
    (tmp_path / "progress.jsonl").write_text('{"checkpoint_of": {"seed": 1}}\n')
    assert main(["evaluate", *QUICK, "--resume", "--output", str(tmp_path)]) == 2
    assert "checkpoint of another run" in capsys.readouterr().err


def test_parallel_fits_give_the_same_results_as_one_at_a_time(serial_run, tmp_path):
    one, two = serial_run, tmp_path / "two"
    assert main(["evaluate", *QUICK, "--n-jobs", "2", "--output", str(two)]) == 0
    ours, theirs = _scores_of(one), _scores_of(two)
    assert ours.pop("arguments")["n_jobs"] == 1
    assert theirs.pop("arguments")["n_jobs"] == 2
    # Every fit runs on one thread whatever --n-jobs: the same sums in the same order.
    assert ours == theirs
    # The plots too are all there (rendered in parallel with --n-jobs 2).
    assert sorted(p.name for p in one.iterdir()) == sorted(p.name for p in two.iterdir())


def test_evaluate_detects_a_bclstm_folder_and_runs_its_official_split(
    tmp_path, make_bclstm_folder, capsys
):
    folder = make_bclstm_folder(tmp_path / "mosi")
    out = tmp_path / "out"
    args = ["--data", str(folder), "--max-epochs", "3", "--methods", "text_first", "linear"]
    args += ["--corruptions", "video:noise", "audio:missing", "-q", "--output", str(out)]
    assert main(["evaluate", *args]) == 0
    results = json.loads((out / "results.json").read_text())
    assert {r["protocol"] for r in results["records"]} == {"official_split"}
    assert {r["target"] for r in results["records"]} <= {f"test/group{k}" for k in range(4)}
    assert (out / "corruptions.png").is_file()
    assert "Test-time corruptions" in (out / "results.md").read_text()


def test_a_malformed_corruption_is_refused_by_the_parser(capsys):
    with pytest.raises(SystemExit):
        main(["evaluate", "--corruptions", "video-noise"])
    assert "MODALITY:KIND" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["evaluate", "benchmark", "demo"])
def test_help_states_each_default_once(command, capsys):
    from sklearn_seqinv.cli import build_parser

    with pytest.raises(SystemExit):
        build_parser().parse_args([command, "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: None)" not in text and "(default: False)" not in text
    assert text.count("(default:") == len(re.findall(r"\(default: [^)]*\)", text))
    assert not re.search(r"\(default:[^)]*\)[^(]*\(default:", text.split("--quiet")[-1][:80])
    assert "print only the results table, no progress (default" not in text
