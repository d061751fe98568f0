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
# None: the profile's value for Chapter 4 (lib/intrinsic_rob/profiles.py).
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

from intrinsic_rob import paper
from intrinsic_rob.book import setup_chapter
from intrinsic_rob.datasets import generated_mnist
from intrinsic_rob.devices import resolve_device
from intrinsic_rob.profiles import resolve_parameters, robust_run_values
from intrinsic_rob.results import module_digest, write_table
from intrinsic_rob.robust import evaluate_robustness, load_or_train_run

globals().update(resolve_parameters("04_robust", profile, globals()))
ROOT = setup_chapter()
DEVICE = resolve_device(device)
mnist = generated_mnist(globals(), root=ROOT, device=DEVICE)  # Chapter 4's generator, splits and models
source, train, test, data_id = mnist.source, mnist.train, mnist.test, mnist.data_id
n_eval = len(test) if eval_size is None else min(eval_size, len(test))
n_certify = n_eval if certify_size is None else min(certify_size, n_eval)
x_eval, y_eval = test.x[:n_eval], test.y[:n_eval]

model, history, _ = load_or_train_run("mnist", method, robust_run_values(globals()), seed + trial, train.x, train.y,
                                      data_id=data_id, group=profile, device=DEVICE, progress=False)
certify = (x_eval[:n_certify], y_eval[:n_certify]) if method == "lp" else None
rows = evaluate_robustness(model.to(DEVICE), x_eval, y_eval, eps_values=list(paper.TABLE3_EPSILONS),
                           pgd_steps=pgd_steps, seed=seed + trial, certify=certify)
write_table(rows.assign(training_seed=seed + trial), "table3_trial", profile, ROOT,
            extra={"generator": source.description, "generator_sha256": module_digest(source.generator),
                   "training_data": data_id, "weights_sha256": module_digest(model), "pgd_steps": pgd_steps,
                   "evaluated": n_eval, "certified_on": n_certify})
for row in rows.itertuples():
    glue(row.metric if row.metric == "natural" else f"{row.metric}_eps{row.eps:g}", float(row.value), display=False)
glue("final_training_loss", float(history[-1]["loss"]), display=False)
rows
