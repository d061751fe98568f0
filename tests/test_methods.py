"""The methods registry: every consumer reads it, so a fourth robust-training method is one record (the worked
example of DESIGN.md, run here)."""

from __future__ import annotations

from types import MappingProxyType

import pandas as pd
import pytest
import torch

from intrinsic_rob.core.errors import InputError
from intrinsic_rob.models import methods
from intrinsic_rob.models.classifiers import load_or_train_classifier
from intrinsic_rob.models.methods import ADV, METHODS, PAPER_METHODS, Floor, Method, get_method
from intrinsic_rob.models.robust import RobustConfig, make_robust_loss, make_robust_model
from intrinsic_rob.models.training import cross_entropy_loss
from intrinsic_rob.pipeline.floors import floor_failures


def test_the_registry_holds_table3s_methods_in_order():
    assert list(METHODS) == ["lp", "adv", "trades"] and PAPER_METHODS == ("lp", "adv", "trades")
    assert [m.paper_name for m in METHODS.values()] == ["LP-Certify", "Adv-Train", "TRADES"]
    with pytest.raises(InputError, match="^method must be one of 'lp', 'adv', 'trades', got 'mart'$"):
        RobustConfig(method="mart")
    with pytest.raises(InputError, match="^method 'lp' is available for dataset 'mnist' only"):
        RobustConfig(method="lp", dataset="imagenet10")


def test_a_fourth_method_is_one_record(monkeypatch, tmp_path):
    natural = Method(name="natural", paper_name="Natural training", datasets=("mnist",),
                     make_model=ADV.make_model, model_id=ADV.model_id,
                     make_loss=lambda config, steps_per_epoch: cross_entropy_loss, floor=Floor(natural=0.5))
    monkeypatch.setattr(methods, "METHODS", MappingProxyType({**methods.METHODS, "natural": natural}))

    config = RobustConfig(method="natural", epochs=1, batch_size=8, steps=0)
    assert make_robust_loss(config) is cross_entropy_loss
    assert type(make_robust_model("mnist", "natural")).__name__ == "SevenLayerCNN"
    x, y = torch.rand(16, 1, 28, 28), torch.arange(16) % 10
    trained = load_or_train_classifier(config, x, y, data_id="toy", artifacts=tmp_path, progress=False)
    assert trained.folder.name.startswith("robust-") and len(trained.history) == 1
    rows = pd.DataFrame([{"method": "natural", "seed": 0, "eps": 0.0, "metric": "natural", "value": 0.4}])
    assert floor_failures(rows) == ["Natural training (seed 0): natural accuracy 40.0% is below its floor of 50%"]
    with pytest.raises(InputError, match="available for dataset 'mnist' only"):
        get_method("natural", "imagenet10")
