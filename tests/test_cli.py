from __future__ import annotations

import json
import subprocess
import sys

import pytest

from intrinsic_rob.cli import main

MNIST_L = "7.9 8.6 8.3 7.8 10.3 11.0 9.5 7.8 9.3 10.9".split()
ISSUE_ARGS = ["bound", "--alpha", "0.015", "--eps", "1", "2", "3", "--lipschitz", *MNIST_L,
              "--radius", "0.5", "--delta", "0.001", "--per-class-risk"]


def test_bound_table(capsys):
    assert main(ISSUE_ARGS) == 0
    out = capsys.readouterr().out
    assert "0.9822" in out and "0.9776" in out and "0.9721" in out
    assert "L_max = 11" in out


def test_bound_json(capsys):
    assert main([*ISSUE_ARGS, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "alpha": 0.015,
        "delta": 0.001,
        "lipschitz_max": 11.0,
        "radius": 0.5,
        "per_class_risk": True,
        "results": [
            {"eps": e, "robustness_bound": b, "capped": False, "lipschitz_used": 11.0, "eps_over_lipschitz": e / 11.0}
            for e, b in ((1.0, 0.9822), (2.0, 0.9776), (3.0, 0.9721))
        ],
    }


def test_bound_class_probs_and_falpha(capsys):
    args = ["bound", "--alpha", "0.05", "--eps", "1", "--lipschitz", "1", "--global-lipschitz", "--class-probs",
            *["0.1"] * 10, "--json"]
    assert main(args) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["per_class_risk"] is False
    assert data["results"][0]["robustness_bound"] == pytest.approx(0.9159, abs=1e-4)


def test_any_alpha_solves_a4(capsys):
    args = ["bound", "--alpha", "0.15", "--eps", "1", "--lipschitz", "14.9", "--radius", "0.5", "--class-probs",
            *["0.1"] * 10, "--any-alpha", "--json"]
    assert main(args) == 0
    assert json.loads(capsys.readouterr().out)["results"][0]["robustness_bound"] == pytest.approx(0.8473, abs=1e-4)


@pytest.mark.parametrize(
    "args, needle",
    [
        (["--alpha", "1.5", "--eps", "1", "--lipschitz", "3"], "alpha"),
        (["--alpha", "0", "--eps", "1", "--lipschitz", "3"], "alpha"),
        (["--alpha", "0.1", "--eps", "-1", "--lipschitz", "3"], "eps"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "0"], "lipschitz"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3", "--delta", "1"], "delta"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3", "3", "--class-probs", "0.5", "0.6"], "class_probs"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3", "3", "3", "--class-probs", "0.5", "0.5"], "class-probs"),
        (["--alpha", "0.15", "--eps", "1", "--lipschitz", *["3"] * 10], "alpha / class_probs"),
        (["--alpha", "x", "--eps", "1", "--lipschitz", "3"], "--alpha"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3"], "--radius is required"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3", "--radius", "0"], "radius must be > 0"),
        (["--alpha", "0.1", "--eps", "1", "--lipschitz", "3", "--radius", "1", "--global-lipschitz"], "exclude"),
        (["--eps", "1", "--lipschitz", "3"], "--alpha"),
    ],
)
def test_bad_input_is_one_line_and_status_2(capsys, args, needle):
    if "--radius" not in args and "--global-lipschitz" not in args and needle != "--radius is required":
        args = [*args, "--radius", "0.5"]
    assert main(["bound", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("intrinsic-rob: error:")
    assert needle in err


def test_console_script_has_no_traceback():
    proc = subprocess.run(
        [sys.executable, "-m", "intrinsic_rob.cli", "bound", "--alpha", "2", "--eps", "1", "--lipschitz", "1", "--radius", "1"],
        capture_output=True, text=True,
    )
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr and proc.stderr.count("\n") == 1


def test_book_rejects_unknown_profile(capsys):
    assert main(["book", "--profile", "huge"]) == 2
    err = capsys.readouterr().err
    assert "--profile: invalid choice: 'huge'" in err and "quick" in err and err.count("\n") == 1


@pytest.mark.parametrize("command", [["bound"], ["lipschitz"], ["data", "generate"], ["bench", "lipschitz"],
                                     ["bench", "attack"], ["bench", "in-dist"], ["recognisability"], ["book"],
                                     ["robust"], ["in-dist"]])
def test_every_option_has_help(command, capsys):
    """Each option of each command says what it does (argparse prints a help string after it)."""
    from intrinsic_rob.cli import build_parser

    parser = build_parser()
    for word in command:
        parser = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction").choices[word]
    missing = [a.option_strings[0] for a in parser._actions if a.option_strings and not a.help]
    assert not missing, f"{' '.join(command)}: options without help: {missing}"


def test_profile_choices_are_the_profiles():
    """The command lists the profiles without importing them (and torch) at start-up; they must agree."""
    from intrinsic_rob.cli import build_parser
    from intrinsic_rob.pipeline.profiles import PROFILES

    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for command in ("book", "lipschitz", "recognisability", "robust", "in-dist"):
        option = next(a for a in subparsers[command]._actions if "--profile" in a.option_strings)
        assert sorted(option.choices) == sorted(PROFILES), command


def test_robust_command_trains_evaluates_and_writes_tidy_rows(tmp_path, quick_acgan_cache, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    base = [sys.executable, "-m", "intrinsic_rob.cli", "robust", "--dataset", "mnist", "--profile", "quick",
            "--epochs", "1", "--train-size", "64", "--test-size", "16", "--pgd-steps", "2", "--no-progress",
            "--seed", "3"]
    proc = subprocess.run(base + ["--method", "trades"], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "98.3 +- 0.1%" in proc.stdout  # the paper's TRADES natural accuracy beside ours
    table = pd.read_csv(tmp_path / "results" / "quick" / "robust_mnist_trades_seed3.csv")
    assert list(table.columns) == ["dataset", "method", "seed", "eps", "metric", "value"]
    assert table["metric"].tolist() == ["natural", "pgd", "pgd", "pgd"] and table["eps"].tolist() == [0, 1, 2, 3]
    assert table["value"].between(0, 1).all() and (table["seed"] == 3).all()


def test_recognisability_command_judges_the_generated_digits_and_writes_their_table(tmp_path, quick_acgan_cache,
                                                                                   monkeypatch):
    import pandas as pd

    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    args = [sys.executable, "-m", "intrinsic_rob.cli", "recognisability", "--dataset", "mnist", "--profile", "quick",
            "--classifier-epochs", "1", "--test-size", "20", "--no-progress"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "results" / "quick" / "mnist_generated_recognisability.csv")
    assert set(table["profile"]) == {"quick"} and len(table) > 0


@pytest.mark.parametrize("extra, message", [
    (["--method", "sgd"], "argument --method: invalid choice"),
    (["--method", "adv", "--eps", "0"], "--eps must be > 0, got 0"),
    (["--method", "adv", "--pgd-steps", "0"], "--pgd-steps must be >= 1, got 0"),
    (["--method", "lp", "--dataset", "imagenet10"], "--method lp is available for --dataset mnist only"),
])
def test_robust_command_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    args = ["robust", "--profile", "quick", *extra]
    if "--dataset" not in extra:
        args += ["--dataset", "mnist"]
    proc = subprocess.run([sys.executable, "-m", "intrinsic_rob.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "results").exists()


def test_in_dist_command_attacks_an_intermediate_model_and_writes_tidy_rows(tmp_path, quick_acgan_cache, monkeypatch):
    import pandas as pd

    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    args = [sys.executable, "-m", "intrinsic_rob.cli", "in-dist", "--dataset", "mnist", "--profile", "quick",
            "--method", "trades", "--epochs", "4", "--epoch", "3", "--train-size", "64", "--size", "6",
            "--budget", "8", "--pgd-steps", "2", "--seed", "3", "--no-progress", "--z-init", "recorded"]
    proc = subprocess.run(args, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    table = pd.read_csv(tmp_path / "results" / "quick" / "in_dist_mnist_trades_epoch3_seed3_recorded_alm.csv")
    assert list(table.columns) == ["dataset", "method", "epoch", "seed", "eps", "risk", "unconstrained robustness",
                                   "in-distribution robustness"]
    assert table["eps"].tolist() == [1, 2, 3] and (table["epoch"] == 3).all()
    assert table[["risk", "unconstrained robustness", "in-distribution robustness"]].stack().between(0, 1).all()
    robust = table["in-distribution robustness"]
    assert (robust <= 1 - table["risk"] + 1e-12).all() and robust.is_monotonic_decreasing


@pytest.mark.parametrize("extra, message", [
    (["--method", "sgd"], "argument --method: invalid choice"),
    (["--method", "adv", "--eps", "-1"], "--eps must be > 0, got -1"),
    (["--method", "adv", "--search-steps", "0"], "--search-steps must be >= 1, got 0"),
    (["--method", "adv", "--budget", "0"], "--budget must be >= 1, got 0"),
    (["--method", "adv", "--attack", "fmn"], "argument --attack: invalid choice"),
    (["--method", "adv", "--z-init", "random"], "argument --z-init: invalid choice"),
    (["--method", "lp", "--dataset", "imagenet10"], "--method lp is available for --dataset mnist only"),
])
def test_in_dist_command_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    args = ["in-dist", "--profile", "quick", *extra]
    if "--dataset" not in extra:
        args += ["--dataset", "mnist"]
    proc = subprocess.run([sys.executable, "-m", "intrinsic_rob.cli", *args], capture_output=True, text=True)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("extra, message", [
    (["--budgets", "100", "0"], "--budgets must be >= 1, got 0"),
    (["--image-steps", "-3"], "--image-steps must be >= 1, got -3"),
    (["--examples", "0"], "argument --examples: must be in 1..1000, got 0"),
    (["--examples", "ten"], "argument --examples: must be an integer in 1..1000, got 'ten'"),
])
def test_bench_in_dist_bad_input_is_one_line_and_writes_nothing(tmp_path, monkeypatch, extra, message):
    monkeypatch.setenv("INTRINSIC_ROB_RESULTS", str(tmp_path / "results"))
    proc = subprocess.run([sys.executable, "-m", "intrinsic_rob.cli", "bench", "in-dist", *extra], capture_output=True,
                          text=True)
    assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    assert not (tmp_path / "results").exists()


@pytest.mark.parametrize("args, message", [
    (["bench", "attack", "--batch", "0"], "argument --batch: must be in 1..4096, got 0"),
    (["bench", "attack", "--steps", "10001"], "argument --steps: must be in 1..10000, got 10001"),
    (["sweep", "04_robust", "--workers", "0"], "argument --workers: must be in 1..1024, got 0"),
])
def test_numeric_options_state_their_range_in_one_line(capsys, args, message):
    assert main(args) == 2
    err = capsys.readouterr().err
    assert message in err and err.count("\n") == 1, err


def test_data_generate_checks_its_output_folder_before_any_work(tmp_path, monkeypatch):
    monkeypatch.setenv("INTRINSIC_ROB_ARTIFACTS", str(tmp_path / "artifacts"))
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    for out, message in [("/proc/forbidden", "--out: cannot write to /proc/forbidden"),
                         (str(blocker), f"--out must be a folder, got the file {blocker}"),
                         (str(blocker / "below"), f"--out: cannot write to {blocker / 'below'}")]:
        proc = subprocess.run([sys.executable, "-m", "intrinsic_rob.cli", "data", "generate", "--dataset", "mnist",
                               "--profile", "quick", "--out", out], capture_output=True, text=True, timeout=120)
        assert proc.returncode == 2 and message in proc.stderr and proc.stderr.count("\n") == 1, proc.stderr
    # refused before the generator was trained or loaded: nothing in the artifacts folder
    assert not (tmp_path / "artifacts").exists()
