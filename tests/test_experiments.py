"""The experiments layer: typed settings built once from a profile, the same recipe as before for every model,
a trial's counts, and a kept intermediate model read back."""

from __future__ import annotations

import pytest
import torch

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.data.datasets import GeneratedData, GeneratedSet, GeneratorSource
from intrinsic_rob.models import training
from intrinsic_rob.models.methods import PAPER_METHODS
from intrinsic_rob.models.robust import RobustTraining, table4_config
from intrinsic_rob.pipeline.experiments import Evaluation, evaluate_trial, model_at_epoch, robust_model
from intrinsic_rob.pipeline.profiles import PROFILES, evaluation, in_dist_settings, mnist_data, robust_training
from intrinsic_rob.pipeline.run import Run


def _as_before(values: dict, method: str, seed: int):
    """The recipe the profile's flat values gave before they were typed (written out by hand)."""
    if method == "lp":
        overrides = {"epochs": values["lp_epochs"], "lp_ramp_epochs": values["lp_ramp_epochs"],
                     "lp_proj": values["lp_proj"]}
    else:
        overrides = {"epochs": values["robust_epochs"], "steps": values["robust_inner_steps"],
                     "eps_ramp_epochs": values["robust_ramp_epochs"]}
    return table4_config("mnist", method, seed=seed, snapshot_every=values["snapshot_every"],
                         **{k: v for k, v in overrides.items() if v is not None})


@pytest.mark.parametrize("profile", sorted(PROFILES))
@pytest.mark.parametrize("chapter", ["04_robust", "05_in_distribution"])
def test_typed_training_gives_every_profile_the_recipe_its_values_gave(profile, chapter):
    values = PROFILES[profile].parameters(chapter)
    lengths = robust_training(values)
    for method in PAPER_METHODS:
        assert lengths.config("mnist", method, 4) == _as_before(values, method, 4)
    assert lengths.train_size("lp") == values["lp_train_size"] and lengths.train_size("adv") is None
    assert mnist_data(values).sizes == tuple(values["mnist_sizes"])
    assert mnist_data(values).acgan == PROFILES[profile].acgan
    assert evaluation(values).pgd_steps == values["pgd_steps"]


def test_in_dist_settings_take_the_profile_values_and_overrides():
    values = PROFILES["quick"].parameters("05_in_distribution")
    assert in_dist_settings(values).budget == values["indist_budget"]
    assert in_dist_settings(values, method="cw", max_iterations=50, search_steps=None).max_iterations == 50
    assert in_dist_settings(values, search_steps=None).search_steps == values["indist_search_steps"]


def test_with_epochs_replaces_the_length_the_method_reads():
    lengths = RobustTraining(epochs=6, lp_epochs=2)
    assert lengths.with_epochs("lp", 5) == RobustTraining(epochs=6, lp_epochs=5)
    assert lengths.with_epochs("trades", 1) == RobustTraining(epochs=1, lp_epochs=2)


def test_evaluation_counts_and_bad_sizes():
    assert Evaluation(pgd_steps=5, eval_size=50, certify_size=100).counts(80) == (50, 50)
    assert Evaluation(pgd_steps=5, certify_size=10).counts(80) == (80, 10)
    with pytest.raises(InputError, match="^pgd_steps must be >= 1, got 0"):
        Evaluation(pgd_steps=0)
    with pytest.raises(InputError, match="^eval_size must be >= 1, got 0"):
        Evaluation(pgd_steps=1, eval_size=0)


def _toy_data() -> GeneratedData:
    x = torch.linspace(0, 1, 24 * 784).reshape(24, 1, 28, 28)
    y = torch.arange(24) % 10
    split = GeneratedSet(x, y, torch.zeros(24, 2))
    return GeneratedData(GeneratorSource(None, "toy", pretrained=False), split, split, "toy")  # type: ignore[arg-type]


def test_robust_model_trains_once_keeps_its_epochs_and_is_evaluated_as_table3(tmp_path):
    data = _toy_data()
    lengths = RobustTraining(epochs=2, inner_steps=1, ramp_epochs=0, snapshot_every=1)
    run = Run.from_environment(tmp_path, "toy", {})
    trained = robust_model(lengths, "mnist", "adv", 0, data, run)
    again = robust_model(lengths, "mnist", "adv", 0, data, run)
    assert again.folder == trained.folder and len(trained.history) == 2
    first = model_at_epoch(trained, "mnist", "adv", 1)
    last = model_at_epoch(trained, "mnist", "adv", 2)
    assert all(torch.equal(a, b) for a, b in zip(last.state_dict().values(), trained.model.state_dict().values()))
    assert not all(torch.equal(a, b) for a, b in zip(first.state_dict().values(), last.state_dict().values()))
    with pytest.raises(InputError, match=r"^--epoch must be one of the kept epochs \[1, 2\] of adv, got 7$"):
        model_at_epoch(trained, "mnist", "adv", 7, name="--epoch")
    trial = evaluate_trial(trained.model, data.test, Evaluation(pgd_steps=2, eval_size=10), method="adv", seed=0,
                           eps_values=(1.0,))
    assert (trial.evaluated, trial.certified_on) == (10, 10)
    assert trial.rows["metric"].tolist() == ["natural", "pgd"] and trial.rows["value"].between(0, 1).all()


def test_a_method_with_fewer_training_examples_trains_on_the_first_ones(tmp_path, monkeypatch):
    seen = {}

    def capture(make_task, x, y, config, folder, **kwargs):
        seen["size"] = len(x)
        raise KeyboardInterrupt  # the data is all this test needs: no training

    monkeypatch.setattr(training, "load_or_fit", capture)
    with pytest.raises(KeyboardInterrupt):
        robust_model(RobustTraining(lp_train_size=7), "mnist", "lp", 0, _toy_data(),
                     Run.from_environment(tmp_path, "toy", {}))
    assert seen["size"] == 7


def test_every_dataset_is_one_record_its_consumers_read():
    from intrinsic_rob.data.datasets import DATASETS, class_names, get_dataset, make_generator
    from intrinsic_rob.models.methods import ADV
    from intrinsic_rob.models.robust import make_robust_model, table4_config

    assert list(DATASETS) == ["mnist", "imagenet10"]
    for name, spec in DATASETS.items():
        net = make_robust_model(name, "adv")
        assert net(torch.zeros(2, *spec.input_shape)).shape == (2, len(class_names(name)))
        assert ADV.model_id(name) == spec.classifier_id
        assert table4_config(name, "adv").weight_decay == spec.sgd_weight_decay
        assert list(spec.paper_lipschitz) == class_names(name)  # the paper's Table 1 or 2, one row per class
    with pytest.raises(InputError, match="^dataset must be one of mnist, imagenet10, got 'cifar10'$"):
        make_generator("cifar10", seed=0)
    with pytest.raises(InputError, match="^unconditional is available for mnist only"):
        class_names("imagenet10", unconditional=True)
    assert get_dataset("mnist").z_init == "optimised" and get_dataset("imagenet10").z_init == "recorded"


def test_no_intrinsic_rob_variable_is_read_below_the_entry_points():
    """The environment is read where a run starts (intrinsic_rob.pipeline.run, called by the chapter set-up and the
    command line); everything else receives the values. progress.py reads tqdm's own TQDM_DISABLE. Setting a
    variable (``os.environ[name] = value``, as the chapter set-up does for BLAS libraries loaded later) is not
    reading one."""
    import re
    from pathlib import Path

    import intrinsic_rob

    reads = re.compile(r"os\.environ\.get\(|os\.environ\[[^\]]*\](?!\s*=[^=])|os\.getenv\(|environ\.get\(")
    readers = {path.name for path in Path(intrinsic_rob.__file__).parent.rglob("*.py")
               if reads.search(path.read_text())}
    assert readers == {"run.py", "progress.py"}, readers
    progress = (Path(intrinsic_rob.__file__).parent / "core" / "progress.py").read_text()
    assert [m.group(0) for m in re.finditer(r"os\.environ\.get\((\w+)", progress)] == ["os.environ.get(DISABLE_ENV"]


def test_models_trained_at_once_in_workers_are_those_trained_in_turn(tmp_path):
    """robust_models trains what is missing in one-thread worker processes; the weights (and the cache they fill)
    are those of training here, in turn, on this process's threads."""
    from intrinsic_rob.pipeline.experiments import robust_models

    data = _toy_data()
    lengths = RobustTraining(epochs=1, inner_steps=1, ramp_epochs=0, lp_epochs=1, lp_proj=None)
    methods = ["adv", "trades", "lp"]
    in_turn = {m: robust_model(lengths, "mnist", m, 0, data, Run.from_environment(tmp_path / "turn", "toy", {}))
               for m in methods}
    run = Run.from_environment(tmp_path / "workers", "toy", {})
    robust_model(lengths, "mnist", "lp", 0, data, run)  # one cached already: only the others train in workers
    at_once = robust_models(lengths, "mnist", methods, 0, data, run)
    assert list(at_once) == methods
    for m in methods:
        assert at_once[m].history == in_turn[m].history
        assert all(torch.equal(a, b) for a, b in zip(at_once[m].model.state_dict().values(),
                                                     in_turn[m].model.state_dict().values())), m
