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
# # One trial of Table 3: one robust classifier, trained and evaluated
#
# A point of the sweep behind Chapter 4's Table 3: the classifier of `method`, trained
# with seed `seed + trial` on Chapter 4's generated MNIST training set (Table 4's
# settings at the profile's lengths; cached, with its intermediate models) and evaluated
# on its test set: natural accuracy, PGD-L2 robust accuracy at each ε of Table 3 and,
# for LP-Certify, certified accuracy. It writes the table `table3_trial` and glues the
# same numbers. Chapter 4 runs the sweep, one point per method and trial:
#
#     intrinsic-rob sweep chapters/points/robust_trial.py --profile paper \
#         --grid method=lp,adv,trades --grid trial=0,1,2,3,4,5,6,7,8,9 --name table3_mnist --repeat trial
#
# Its other parameters are Chapter 4's, with the same profile values.

# %% tags=["parameters"]
profile = "quick"
method = "trades"
trial = 0
# None: the profile's value for Chapter 4 (lib/intrinsic_rob/pipeline/profiles.py).
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
eval_size = None
certify_size = None
device = None

# %%
from myst_nb import glue

from intrinsic_rob.core.devices import resolve_device
from intrinsic_rob.data.datasets import generated_mnist
from intrinsic_rob.pipeline.book import setup_chapter
from intrinsic_rob.pipeline.experiments import evaluate_trial, robust_model
from intrinsic_rob.pipeline.profiles import evaluation, mnist_data, resolve_parameters, robust_training
from intrinsic_rob.pipeline.results import module_digest, write_table

globals().update(resolve_parameters("04_robust", profile, globals()))
RUN = setup_chapter(profile)
DEVICE = resolve_device(device)
mnist = generated_mnist(mnist_data(globals()), RUN, device=DEVICE)  # Chapter 4's data

trained = robust_model(robust_training(globals()), "mnist", method, seed + trial, mnist, RUN,
                       device=DEVICE)
trial_result = evaluate_trial(trained.model, mnist.test, evaluation(globals()), method=method, seed=seed + trial,
                              device=DEVICE)
rows = trial_result.rows
write_table(rows.assign(training_seed=seed + trial), "table3_trial", RUN,
            extra={"generator": mnist.source.description, "generator_sha256": module_digest(mnist.source.generator),
                   "training_data": mnist.data_id, "weights_sha256": module_digest(trained.model),
                   "pgd_steps": pgd_steps, "evaluated": trial_result.evaluated,
                   "certified_on": trial_result.certified_on})
for row in rows.itertuples():
    glue(row.metric if row.metric == "natural" else f"{row.metric}_eps{row.eps:g}", float(row.value), display=False)
glue("final_training_loss", float(trained.history[-1]["loss"]), display=False)
rows
