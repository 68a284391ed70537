"""The command line: the main job end to end on small settings, its outputs and its refusals."""

import json

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
    assert (out / "gates_text_first.png").stat().st_size > 0
    assert (out / "scores_leave_one_domain_out.png").stat().st_size > 0
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
        (["evaluate", "--data", "README.md"], "--data takes"),
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
        "--text-only applies to text-only data": ["--data", str(pkl), "--text-only"],
        "--task regression does not apply": ["--data", str(reviews), "--task", "regression"],
        "apply only with --data": ["--text-only"],
    }
    for message, args in cases.items():
        assert main(["evaluate", *args, "--output", str(tmp_path / "out")]) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "out").exists()
