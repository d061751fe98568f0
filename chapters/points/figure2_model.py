# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3 (ipykernel)
#     language: python
#     name: python3
# ---

# %% [markdown]
# # One point of Figure 2: one intermediate robust classifier, measured
#
# A point of the sweeps behind Chapter 5's Figure 2: the model `method` kept after
# `epoch` epochs of Chapter 4's training (trained and cached when missing). On Chapter
# 5's attacked digits it measures the risk, the PGD-L2 robustness and the
# in-distribution robustness at each ε of Table 3 (and LP-Certify's certified accuracy),
# each digit's minimal in-distribution perturbation and, digit by digit, whether each
# attack fooled it. It writes the tables `figure2_point`, `figure2_outcomes` and
# `figure2_distances`. Chapter 5 runs one sweep per method over its
# kept epochs, for example:
#
#     intrinsic-rob sweep chapters/points/figure2_model.py --profile paper \
#         --grid method=trades --grid epoch=5,10,15,20 --name figure2_mnist_trades
#
# Its other parameters are Chapter 5's, with the same profile values.

# %% tags=["parameters"]
profile = "quick"
method = "trades"
epoch = 1
# None: the profile's value for Chapter 5 (lib/intrinsic_rob/pipeline/profiles.py).
seed = None
acgan_epochs = None
acgan_steps = None
acgan_lr = None
acgan_ema_decay = None
mnist_sizes = None
robust_epochs = None
robust_inner_steps = None
robust_ramp_epochs = None
lp_epochs = None
lp_ramp_epochs = None
lp_train_size = None
lp_proj = None
snapshot_every = None
pgd_steps = None
certify_size = None
device = None
indist_size = None
indist_method = None
indist_budget = None
indist_search_steps = None
indist_max_iterations = None
indist_fit_steps = None
indist_fit_restarts = None

# %%
import numpy as np
import pandas as pd
from myst_nb import glue

from intrinsic_rob import paper
from intrinsic_rob.core.devices import resolve_device
from intrinsic_rob.data.datasets import generated_mnist
from intrinsic_rob.estimators.certify import certified_accuracy
from intrinsic_rob.estimators.in_dist import fitted_latents, measure_model
from intrinsic_rob.models.methods import get_method
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.experiments import Evaluation, model_at_epoch, robust_model
from intrinsic_rob.pipeline.profiles import in_dist_settings, mnist_data, resolve_parameters, robust_training
from intrinsic_rob.pipeline.results import module_digest, write_table

globals().update(resolve_parameters("05_in_distribution", profile, globals()))
RUN = setup_chapter(profile)
DEVICE = resolve_device(device)
SETTINGS = in_dist_settings(globals())
mnist = generated_mnist(mnist_data(globals()), RUN, device=DEVICE)  # Chapter 4's data
source, test = mnist.source, mnist.test
gen = source.generator.to(DEVICE).eval()
ATTACKED = Evaluation(pgd_steps=pgd_steps, eval_size=indist_size, certify_size=certify_size)
n_attack, n_certify = ATTACKED.counts(len(test))  # digits attacked, of which certified
x, y = test.x[:n_attack].to(DEVICE), test.y[:n_attack].to(DEVICE)

z_fit, _ = fitted_latents(gen, x, y, SETTINGS, seed=seed, description=source.description, group=profile,
                          artifacts=RUN.artifacts)
trained = robust_model(robust_training(globals()), "mnist", method, seed, mnist, RUN,
                       device=DEVICE)  # Chapter 4's model, from the cache
model = model_at_epoch(trained, "mnist", method, epoch).to(DEVICE)
frame, result, outcomes = measure_model(gen, model, x, y, z_fit, eps_values=list(paper.TABLE3_EPSILONS),
                                        pgd_steps=pgd_steps, settings=SETTINGS, seed=seed)
certifies = get_method(method).certified  # LP-Certify's network only
frame["certified"] = [certified_accuracy(model, x[:n_certify], y[:n_certify], e) if certifies else np.nan
                      for e in frame["eps"]]
meta = {"generator": source.description, "generator_sha256": module_digest(gen), "weights_sha256": module_digest(model),
        "attacked": n_attack, "certified_on": n_certify, "pgd_steps": pgd_steps,
        "in_distribution_settings": SETTINGS.describe(), "z_init": "optimised"}
write_table(frame, "figure2_point", RUN, extra=meta)
write_table(outcomes, "figure2_outcomes", RUN, extra=meta)
write_table(pd.DataFrame({"digit": np.arange(n_attack), "distance": result.distance.cpu().numpy(),
                          "evaluations": result.evaluations}), "figure2_distances", RUN, extra=meta)
glue("risk", float(frame["risk"].iloc[0]), display=False)
for row in frame.itertuples():
    glue(f"unconstrained_eps{row.eps:g}", float(row.unconstrained), display=False)
    glue(f"in_distribution_eps{row.eps:g}", float(row.in_distribution), display=False)
glue("evaluations", int(result.evaluations), display=False)
frame
