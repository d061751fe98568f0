"""ACGAN on MNIST (Odena et al., 2017), as used for the paper's generated MNIST (Section 5.1).

Architecture and optimiser follow the original implementation: a generator that maps a
100-dimensional Gaussian latent plus a one-hot label through two linear layers and two
transposed convolutions to a 28x28 tanh image, and a discriminator with a real/fake head
and a 10-class head; Adam 2e-4, betas (0.5, 0.999), batch 64.

The public call ``generator(z, y)`` returns images in [0, 1] (the tanh output mapped by
(t + 1) / 2), so that Lipschitz constants are measured on the scale of the data.
"""

from __future__ import annotations

import copy
import json
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from ..artifacts import artifact_dir, load_checkpoint, load_tensors_and_metadata, save_checkpoint, save_tensors
from ..data import ImageSet
from ..errors import InputError
from ..progress import progress_bar


@dataclass(frozen=True)
class ACGANConfig:
    """Training configuration; its hash (with the data's identity) names the cache entry."""

    z_dim: int = 100
    num_classes: int = 10
    epochs: int = 25
    batch_size: int = 64
    lr: float = 2e-4
    beta1: float = 0.5
    beta2: float = 0.999
    seed: int = 0
    #: Decay of an exponential moving average of the generator's weights and batch-norm
    #: statistics, kept during training and used as the trained generator; 0 keeps the
    #: last iterate, as the original implementation did.
    ema_decay: float = 0.0

    def __post_init__(self) -> None:
        for name in ("z_dim", "num_classes", "epochs", "batch_size"):
            if getattr(self, name) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.lr > 0:
            raise InputError(f"lr must be > 0, got {self.lr}")
        if not 0.0 <= self.ema_decay < 1.0:
            raise InputError(f"ema_decay must be in [0, 1), got {self.ema_decay}")


#: Fields added after the first release and the value that reproduces the earlier training;
#: at that value they stay out of the cache key, so generators trained before they existed
#: are still found.
_NEUTRAL_FIELDS = {"ema_decay": 0.0}


class ACGANGenerator(nn.Module):
    """G(z, y): (B, z_dim) x (B,) -> (B, 1, 28, 28) in [0, 1].

    Example:
        >>> g = ACGANGenerator().eval()
        >>> x = g(torch.randn(3, 100), torch.tensor([0, 1, 2]))
        >>> tuple(x.shape), bool(x.min() >= 0) and bool(x.max() <= 1)
        ((3, 1, 28, 28), True)
    """

    def __init__(self, z_dim: int = 100, num_classes: int = 10) -> None:
        super().__init__()
        self.z_dim = z_dim
        self.num_classes = num_classes
        self.fc = nn.Sequential(
            nn.Linear(z_dim + num_classes, 1024),
            nn.BatchNorm1d(1024),
            nn.ReLU(),
            nn.Linear(1024, 128 * 7 * 7),
            nn.BatchNorm1d(128 * 7 * 7),
            nn.ReLU(),
        )
        self.deconv = nn.Sequential(
            nn.ConvTranspose2d(128, 64, 4, 2, 1),
            nn.BatchNorm2d(64),
            nn.ReLU(),
            nn.ConvTranspose2d(64, 1, 4, 2, 1),
            nn.Tanh(),
        )

    def raw(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """The network's own output, tanh in [-1, 1] (what the discriminator sees)."""
        onehot = F.one_hot(y, self.num_classes).to(z.dtype)
        h = self.fc(torch.cat([z, onehot], dim=1))
        return self.deconv(h.view(-1, 128, 7, 7))

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return (self.raw(z, y) + 1.0) * 0.5

    def for_inference(self) -> "FoldedACGAN":
        """An equivalent eval-mode module that is faster to evaluate (see :class:`FoldedACGAN`)."""
        return FoldedACGAN(self)


def _bn_affine(bn: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """Eval-mode batch norm as y = scale * x + shift."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    return scale, bn.bias - bn.running_mean * scale


class FoldedACGAN(nn.Module):
    """The eval-mode ACGAN generator with batch norm folded into the preceding layers.

    Equal to ``ACGANGenerator.eval()`` up to float rounding. The one-hot label's columns
    of the first layer become a per-class bias (no concatenation), every batch norm
    becomes part of a weight and bias, and activations run in place. It is a snapshot: it
    does not follow later changes to the generator's weights.
    """

    def __init__(self, gen: ACGANGenerator) -> None:
        super().__init__()
        self.z_dim, self.num_classes = gen.z_dim, gen.num_classes
        fc0, bn0, _, fc1, bn1, _ = gen.fc
        deconv0, bn2, _, deconv1, _ = gen.deconv
        with torch.no_grad():
            s0, b0 = _bn_affine(bn0)
            w0 = fc0.weight * s0[:, None]
            self.register_buffer("w_z", w0[:, : gen.z_dim].T.contiguous())
            self.register_buffer("class_bias", (w0[:, gen.z_dim :].T + fc0.bias * s0 + b0).contiguous())
            s1, b1 = _bn_affine(bn1)
            self.register_buffer("w_1", (fc1.weight * s1[:, None]).T.contiguous())
            self.register_buffer("b_1", (fc1.bias * s1 + b1).contiguous())
            s2, b2 = _bn_affine(bn2)
            where = dict(device=deconv0.weight.device, dtype=deconv0.weight.dtype)
            self.deconv0 = nn.ConvTranspose2d(128, 64, 4, 2, 1, **where)
            self.deconv0.weight.copy_(deconv0.weight * s2[None, :, None, None])
            self.deconv0.bias.copy_(deconv0.bias * s2 + b2)
            self.deconv1 = nn.ConvTranspose2d(64, 1, 4, 2, 1, **where)
            self.deconv1.load_state_dict(deconv1.state_dict())
        self.requires_grad_(False)
        self.eval()

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        h = torch.relu_(torch.addmm(self.class_bias[y], z, self.w_z))
        return self._from_second_preactivation(torch.addmm(self.b_1, h, self.w_1))

    def _from_second_preactivation(self, pre: torch.Tensor) -> torch.Tensor:
        h = torch.relu_(pre).view(-1, 128, 7, 7)
        x = torch.relu_(self.deconv0(h))
        return (torch.tanh(self.deconv1(x)) + 1.0) * 0.5

    def ball_evaluator(self, z: torch.Tensor, label: int) -> Callable[[torch.Tensor], torch.Tensor]:
        """An exact evaluator of g(z + offsets, label) for many offsets around one z.

        Algorithm 1 evaluates thousands of neighbours of each z, and in a ball of radius
        0.5 only a few first-layer units change sign (about 16 of 1024 per neighbour for
        the book's ACGAN). With D the first layer's active pattern at z and p' = p + dW
        the first-layer pre-activation of the neighbour z + d,

            relu(p') = D p' + c,   c = relu(p') - D p'  (non-zero only where a unit flips),

        so the second layer's pre-activation is
        [b_1 + (D p) W_1] + d (W_z D W_1) + c_F W_1[F], F the units that flip anywhere in
        the batch. The (z_dim, 6272) matrix W_z D W_1 is formed once per z; each neighbour
        then costs z_dim + |F| multiply-adds per second-layer output instead of 1024. The
        rest of the network is evaluated as in :meth:`forward`; results agree with it up
        to float rounding.

        Args:
            z: (z_dim,) the centre.
            label: the class.

        Returns:
            A function mapping offsets (c, z_dim) to images (c, 1, 28, 28) in [0, 1].

        Example:
            >>> _ = torch.manual_seed(0)
            >>> f = ACGANGenerator().eval().for_inference()
            >>> z, d = torch.randn(100), 0.1 * torch.randn(5, 100)
            >>> y = torch.full((5,), 3)
            >>> bool(torch.allclose(f.ball_evaluator(z, 3)(d), f(z + d, y), atol=1e-5))
            True
        """
        pre = torch.addmm(self.class_bias[label], z[None], self.w_z)[0]
        active = pre > 0
        idx = active.nonzero()[:, 0]
        w1_active = self.w_1[idx]
        centre = torch.addmm(self.b_1, pre[idx][None], w1_active)[0]
        linear = self.w_z[:, idx] @ w1_active
        mask = active.to(pre.dtype)

        def evaluate(offsets: torch.Tensor) -> torch.Tensor:
            p = torch.addmm(pre, offsets, self.w_z)
            flips = ((p > 0) != active).any(dim=0).nonzero()[:, 0]
            p_f = p[:, flips]
            correction = torch.relu(p_f) - p_f * mask[flips]
            # Two products rather than one over concatenations: `linear` is not copied per call.
            second = torch.addmm(centre, offsets, linear)
            second.addmm_(correction, self.w_1[flips])
            return self._from_second_preactivation(second)

        return evaluate


class ACGANDiscriminator(nn.Module):
    """D(x) -> (real/fake logit (B,), class logits (B, 10)) for x in [-1, 1]."""

    def __init__(self, num_classes: int = 10) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(1, 64, 4, 2, 1),
            nn.LeakyReLU(0.2),
            nn.Conv2d(64, 128, 4, 2, 1),
            nn.BatchNorm2d(128),
            nn.LeakyReLU(0.2),
            nn.Flatten(),
            nn.Linear(128 * 7 * 7, 1024),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2),
        )
        self.real_fake = nn.Linear(1024, 1)
        self.classes = nn.Linear(1024, num_classes)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        h = self.features(x)
        return self.real_fake(h).squeeze(1), self.classes(h)


def _init_weights(module: nn.Module) -> None:
    if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
        nn.init.normal_(module.weight, 0.0, 0.02)
        nn.init.zeros_(module.bias)
    elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
        nn.init.normal_(module.weight, 1.0, 0.02)
        nn.init.zeros_(module.bias)


def _epoch_rng(seed: int, epoch: int) -> torch.Generator:
    """Every random draw of an epoch comes from here, so a resumed run replays it exactly."""
    return torch.Generator().manual_seed(seed * 1_000_003 + epoch)


@dataclass
class TrainResult:
    """A trained generator (eval mode) and its per-epoch training history."""

    generator: ACGANGenerator
    history: list[dict[str, float]]
    folder: Path


def train_acgan(
    config: ACGANConfig,
    data: ImageSet,
    folder: Path,
    *,
    progress: bool = True,
    on_batch: Callable[[int, int], None] | None = None,
) -> TrainResult:
    """Train (or resume training) an ACGAN, checkpointing every epoch in ``folder``.

    ``folder/checkpoint.pt`` holds both networks, both optimisers and the history after
    the last finished epoch; a run that is killed restarts from it and, because each
    epoch's shuffling and noise come from a generator seeded by (seed, epoch), ends with
    the same weights as an uninterrupted run. ``on_batch(epoch, step)`` is called after
    every optimisation step (tests use it to interrupt a run).
    """
    if data.x.shape[1:] != (1, 28, 28):
        raise InputError(f"data must be (N, 1, 28, 28) images, got {tuple(data.x.shape)}")
    # Seed the initialisation without disturbing the caller's global random state.
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        gen = ACGANGenerator(config.z_dim, config.num_classes)
        disc = ACGANDiscriminator(config.num_classes)
        gen.apply(_init_weights)
        disc.apply(_init_weights)
    betas = (config.beta1, config.beta2)
    opt_g = torch.optim.Adam(gen.parameters(), lr=config.lr, betas=betas)
    opt_d = torch.optim.Adam(disc.parameters(), lr=config.lr, betas=betas)
    ema = copy.deepcopy(gen).requires_grad_(False) if config.ema_decay > 0 else None
    history: list[dict[str, float]] = []
    start = 0
    ckpt_path = folder / "checkpoint.pt"
    state = load_checkpoint(ckpt_path)
    if state is not None:
        gen.load_state_dict(state["generator"])
        disc.load_state_dict(state["discriminator"])
        opt_g.load_state_dict(state["opt_generator"])
        opt_d.load_state_dict(state["opt_discriminator"])
        if ema is not None:
            ema.load_state_dict(state["ema_generator"])
        history = list(state["history"])
        start = int(state["epoch"]) + 1

    x_all = data.x * 2.0 - 1.0  # the discriminator works in the generator's [-1, 1]
    y_all = data.y
    n = x_all.shape[0]
    steps = math.ceil(n / config.batch_size)
    gen.train()
    disc.train()
    bar = progress_bar(total=config.epochs * steps, initial=start * steps, desc="ACGAN", enabled=progress, unit="step")
    for epoch in range(start, config.epochs):
        rng = _epoch_rng(config.seed, epoch)
        order = torch.randperm(n, generator=rng)
        sums = {"loss_d": 0.0, "loss_g": 0.0, "d_real": 0.0, "d_fake": 0.0, "class_acc_real": 0.0}
        for step in range(steps):
            idx = order[step * config.batch_size : (step + 1) * config.batch_size]
            real, labels = x_all[idx], y_all[idx]
            b = real.shape[0]
            z = torch.randn(b, config.z_dim, generator=rng)
            fake_labels = torch.randint(0, config.num_classes, (b,), generator=rng)
            fake = gen.raw(z, fake_labels)

            # Discriminator: real/fake on both, class on both.
            rf_real, cls_real = disc(real)
            rf_fake, cls_fake = disc(fake.detach())
            loss_d = (
                F.binary_cross_entropy_with_logits(rf_real, torch.ones_like(rf_real))
                + F.binary_cross_entropy_with_logits(rf_fake, torch.zeros_like(rf_fake))
                + F.cross_entropy(cls_real, labels)
                + F.cross_entropy(cls_fake, fake_labels)
            )
            opt_d.zero_grad(set_to_none=True)
            loss_d.backward()
            opt_d.step()

            # Generator: fool the real/fake head, be classified as the requested label.
            rf_gen, cls_gen = disc(fake)
            loss_g = F.binary_cross_entropy_with_logits(rf_gen, torch.ones_like(rf_gen)) + F.cross_entropy(
                cls_gen, fake_labels
            )
            opt_g.zero_grad(set_to_none=True)
            loss_g.backward()
            opt_g.step()
            if ema is not None:
                _ema_update(ema, gen, config.ema_decay, epoch * steps + step + 1)

            sums["loss_d"] += loss_d.item() * b
            sums["loss_g"] += loss_g.item() * b
            sums["d_real"] += torch.sigmoid(rf_real).mean().item() * b
            sums["d_fake"] += torch.sigmoid(rf_fake).mean().item() * b
            sums["class_acc_real"] += (cls_real.argmax(1) == labels).float().mean().item() * b
            bar.update(1)
            if on_batch is not None:
                on_batch(epoch, step)
        record = {"epoch": float(epoch + 1), **{k: v / n for k, v in sums.items()}}
        history.append(record)
        bar.set_postfix(loss_d=f"{record['loss_d']:.3f}", loss_g=f"{record['loss_g']:.3f}")
        save_checkpoint(
            ckpt_path,
            {
                "epoch": epoch,
                "generator": gen.state_dict(),
                "discriminator": disc.state_dict(),
                "opt_generator": opt_g.state_dict(),
                "opt_discriminator": opt_d.state_dict(),
                **({"ema_generator": ema.state_dict()} if ema is not None else {}),
                "history": history,
                "config": asdict(config),
            },
        )
    bar.close()
    trained = ema if ema is not None else gen
    trained.eval()
    return TrainResult(trained, history, folder)


@torch.no_grad()
def _ema_update(ema: nn.Module, model: nn.Module, decay: float, step: int) -> None:
    """ema <- d * ema + (1 - d) * model after optimisation step ``step`` (1-based), for weights
    and batch-norm statistics alike.

    d = (decay - decay^t) / (1 - decay^t) removes the average's start-up bias, so the random
    initial weights carry no weight (d = 0 at the first step): after t steps the average
    weighs the iterates as a normalised geometric series. It depends only on the step count,
    so a resumed run continues it exactly.
    """
    d = (decay - decay**step) / (1.0 - decay**step)
    for e, m in zip(ema.state_dict().values(), model.state_dict().values()):
        if e.dtype.is_floating_point:
            e.mul_(d).add_(m, alpha=1.0 - d)
        else:  # batch norm's step counter
            e.copy_(m)


def acgan_cache_key(config: ACGANConfig, data: ImageSet) -> dict:
    """What identifies a trained ACGAN: its configuration and the data it saw."""
    fields = {k: v for k, v in asdict(config).items() if not (k in _NEUTRAL_FIELDS and v == _NEUTRAL_FIELDS[k])}
    return {**fields, "data": data.source, "data_size": len(data)}


def load_or_train_acgan(
    config: ACGANConfig,
    data: ImageSet,
    profile: str,
    root: Path | None = None,
    *,
    progress: bool = True,
) -> TrainResult:
    """The cached generator for (config, data), training (or resuming) it when absent.

    The finished generator is ``generator.safetensors``, with the training history in its
    header, so it is usable on its own (copied to another machine without the much larger
    ``checkpoint.pt``, which is only needed to resume training). A generator file that is
    missing, corrupted or does not match its checksum is rebuilt from the last intact
    checkpoint; it is never silently used.
    """
    folder = artifact_dir("acgan", acgan_cache_key(config, data), profile, root)
    path = folder / "generator.safetensors"
    loaded = load_tensors_and_metadata(path)
    history: list[dict[str, float]] | None = None
    if loaded is not None:
        weights, metadata = loaded
        if "history" in metadata:
            history = json.loads(metadata["history"])
        else:  # written before the history moved into the header: take it from the checkpoint
            state = load_checkpoint(folder / "checkpoint.pt")
            if state is not None and int(state["epoch"]) + 1 == config.epochs:
                history = list(state["history"])
                save_tensors(path, weights, metadata=_history_metadata(history))
    if loaded is not None and history is not None:
        gen = ACGANGenerator(config.z_dim, config.num_classes)
        gen.load_state_dict(weights)
        gen.eval()
        return TrainResult(gen, history, folder)
    result = train_acgan(config, data, folder, progress=progress)
    save_tensors(path, result.generator.state_dict(), metadata=_history_metadata(result.history))
    return result


def _history_metadata(history: list[dict[str, float]]) -> dict[str, str]:
    return {"history": json.dumps(history)}
