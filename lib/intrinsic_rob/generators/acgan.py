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
import math
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from intrinsic_rob.core.artifacts import artifact_dir
from intrinsic_rob.core.blas import PortableLinear
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.validation import Checked, bounded
from intrinsic_rob.data.mnist import ImageSet
from intrinsic_rob.estimators.spectral import certified_lipschitz_bound
from intrinsic_rob.models.training import FitConfig, fit, load_or_fit, seeded


@dataclass(frozen=True)
class ACGANConfig(Checked):
    """Training configuration; its hash (with the data's identity) names the cache entry."""

    z_dim: int = bounded(100, low=1, integer=True)
    num_classes: int = bounded(10, low=1, integer=True)
    epochs: int = bounded(25, low=1, integer=True)
    batch_size: int = bounded(64, low=1, integer=True)
    lr: float = bounded(2e-4, low=0, low_open=True)
    beta1: float = bounded(0.5, low=0, high=1, high_open=True)
    beta2: float = bounded(0.999, low=0, high=1, high_open=True)
    seed: int = bounded(0, low=0, integer=True)
    #: Decay of an exponential moving average of the generator's weights and batch-norm
    #: statistics, kept during training and used as the trained generator; 0 keeps the
    #: last iterate, as the original implementation did.
    ema_decay: float = bounded(0.0, low=0, high=1, high_open=True)


@dataclass(frozen=True)
class ACGANRecipe(Checked):
    """How long and how an ACGAN trains, whatever the data: what a profile or a chapter chooses.

    The length is ``epochs`` or ``steps`` optimisation steps (exactly one of them; steps
    are converted to whole epochs for the data at hand, so a recipe can match the
    original's number of steps on a smaller training set). :meth:`config` makes the full
    :class:`ACGANConfig` for a training set.

    Example:
        >>> ACGANRecipe(steps=23_450).config(5000, seed=0).epochs, ACGANRecipe(epochs=8).config(5000, seed=0).epochs
        (297, 8)
    """

    epochs: int | None = bounded(None, low=1, integer=True, optional=True)
    steps: int | None = bounded(None, low=1, integer=True, optional=True)
    lr: float = bounded(2e-4, low=0, low_open=True)
    ema_decay: float = bounded(0.0, low=0, high=1, high_open=True)

    def __post_init__(self) -> None:
        super().__post_init__()
        if (self.epochs is None) == (self.steps is None):
            raise InputError(f"give exactly one of epochs and steps (ints >= 1), got epochs={self.epochs!r}, "
                             f"steps={self.steps!r}")

    def config(self, data_size: int, num_classes: int = 10, *, seed: int) -> ACGANConfig:
        """The training configuration for ``data_size`` training images and ``num_classes`` classes."""
        epochs = self.epochs
        if epochs is None:
            per_epoch = math.ceil(data_size / ACGANConfig.batch_size)
            epochs = math.ceil(self.steps / per_epoch)
        return ACGANConfig(epochs=epochs, seed=seed, num_classes=num_classes, lr=self.lr, ema_decay=self.ema_decay)


def recipe_text(config: ACGANConfig, data_size: int) -> str:
    """A short description of how an ACGAN was trained: steps, learning rate, weight averaging.

    Example:
        >>> recipe_text(ACGANConfig(epochs=8, lr=8e-4, ema_decay=0.99), 5000)
        '632 steps of Adam at 0.0008, weights averaged with decay 0.99'
    """
    steps = config.epochs * math.ceil(data_size / config.batch_size)
    text = f"{steps:,} steps of Adam at {config.lr:g}"
    if config.ema_decay > 0:
        text += f", weights averaged with decay {config.ema_decay:g}"
    return text


#: Fields added after the first release and the value that reproduces the earlier training;
#: at that value they stay out of the cache key, so generators trained before they existed
#: are still found.
_NEUTRAL_FIELDS = {"ema_decay": 0.0}

#: The finished generator's file in its cache folder.
GENERATOR_FILE = "generator.safetensors"


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
            PortableLinear(z_dim + num_classes, 1024),
            nn.BatchNorm1d(1024),
            nn.ReLU(),
            PortableLinear(1024, 128 * 7 * 7),
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

    @property
    def feature_side(self) -> int:
        """Side of the square feature map the linear layers' output is reshaped to (7 by default).

        Derived from the layer shapes: the last linear layer's outputs are
        (channels of the first transposed convolution) x side x side.

        Example:
            >>> ACGANGenerator().feature_side
            7
        """
        outputs, channels = self.fc[3].out_features, self.deconv[0].in_channels
        side = math.isqrt(outputs // channels)
        if side * side * channels != outputs:
            raise InputError(f"fc output {outputs} is not {channels} square feature maps")
        return side

    def certified_lipschitz_bound(self) -> tuple[float, list[tuple[str, float]]]:
        """Certified upper bound on the generator's global l2 Lipschitz constant in z, and its factors.

        The product of the layers' spectral norms (batch norm folded in, eval mode), from
        :func:`intrinsic_rob.estimators.spectral.certified_lipschitz_bound`: it bounds every local
        constant of Condition 4.1 from above (Section 5.2 compares it with Algorithm 1's
        estimates). The label's one-hot columns of the first layer are constant within a
        class, so only the z columns count; the output map (tanh + 1) / 2 contributes 1/2,
        the last factor.

        Returns:
            (bound, [(layer description, factor), ...]), bound the product of the factors.

        Example:
            >>> _ = torch.manual_seed(0)
            >>> bound, factors = ACGANGenerator().eval().certified_lipschitz_bound()
            >>> factors[-1], bound > 0
            (('output map (t + 1) / 2', 0.5), True)
        """
        layers = [*self.fc, *self.deconv]
        value, factors = certified_lipschitz_bound(layers, input_side=self.feature_side,
                                                   first_columns=slice(0, self.z_dim))
        factors.append(("output map (t + 1) / 2", 0.5))
        return value * 0.5, factors

    def forward_flops(self) -> float:
        """Multiply-adds x 2 of one forward pass (one image), counted from the layer shapes.

        Linear: in x out (the one-hot label's columns included); transposed convolution:
        C_in x C_out x kh x kw x H_in x W_in, the input side starting at
        :attr:`feature_side` and following each layer's output size. Batch norm,
        activations and additions are ignored (they are not matrix work). The benchmark
        (:mod:`intrinsic_rob.bench.speed`) turns timings into FLOP rates with it.

        Example:
            >>> ACGANGenerator().forward_flops()
            26316800.0
        """
        macs = 0
        side = self.feature_side
        for m in [*self.fc, *self.deconv]:
            if isinstance(m, nn.Linear):
                macs += m.in_features * m.out_features
            elif isinstance(m, nn.ConvTranspose2d):
                kh, kw = m.kernel_size
                macs += m.in_channels * m.out_channels * kh * kw * side * side
                side = _transposed_output_side(m, side)
        return 2.0 * macs


def _transposed_output_side(m: nn.ConvTranspose2d, side: int) -> int:
    """Output side of a transposed convolution on a square input of this side (PyTorch's formula)."""
    return ((side - 1) * m.stride[0] - 2 * m.padding[0] + m.dilation[0] * (m.kernel_size[0] - 1)
            + m.output_padding[0] + 1)


class RawScaleACGAN(nn.Module):
    """An ACGAN generator measured on its own tanh output in [-1, 1], as the original code did.

    ``forward(z, y) = generator.raw(z, y)``: twice the project's [0, 1] images minus 1, so
    every Lipschitz ratio is exactly twice as large (Section 5.2's comparison with the
    original implementation's scale). It has ``z_dim`` and ``num_classes`` (the project's
    generator interface) and deliberately no ``for_inference()``: the estimators evaluate
    the generator's own layers.

    Example:
        >>> gen = ACGANGenerator().eval()
        >>> raw = RawScaleACGAN(gen)
        >>> z, y = torch.randn(2, 100), torch.tensor([0, 1])
        >>> raw.z_dim, raw.num_classes, bool(torch.equal(raw(z, y), gen.raw(z, y)))
        (100, 10, True)
    """

    def __init__(self, generator: ACGANGenerator) -> None:
        super().__init__()
        self.generator = generator
        self.z_dim, self.num_classes = generator.z_dim, generator.num_classes

    def forward(self, z: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.generator.raw(z, y)


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
            PortableLinear(128 * 7 * 7, 1024),
            nn.BatchNorm1d(1024),
            nn.LeakyReLU(0.2),
        )
        self.real_fake = PortableLinear(1024, 1)
        self.classes = PortableLinear(1024, num_classes)

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


class ACGANTask:
    """The ACGAN's optimisation step for :func:`intrinsic_rob.models.training.fit`.

    Each step updates the discriminator (real/fake and class heads on real and generated
    images), then the generator (fool the real/fake head, be classified as the requested
    label), then the weight average. Batches arrive in [0, 1] and are mapped to the
    generator's [-1, 1] here. The networks are initialised from ``config.seed`` without
    disturbing the caller's random state.
    """

    def __init__(self, config: ACGANConfig) -> None:
        self.config = config
        def build() -> tuple[ACGANGenerator, ACGANDiscriminator]:
            gen, disc = ACGANGenerator(config.z_dim, config.num_classes), ACGANDiscriminator(config.num_classes)
            return gen.apply(_init_weights), disc.apply(_init_weights)

        self.gen, self.disc = seeded(build, config.seed)
        betas = (config.beta1, config.beta2)
        self.ema = copy.deepcopy(self.gen).requires_grad_(False) if config.ema_decay > 0 else None
        # The average is checkpointed and moved like the networks; it is never trained.
        self.modules = {"generator": self.gen, "discriminator": self.disc,
                        **({"ema_generator": self.ema} if self.ema is not None else {})}
        self.optimizers = {
            "opt_generator": torch.optim.Adam(self.gen.parameters(), lr=config.lr, betas=betas),
            "opt_discriminator": torch.optim.Adam(self.disc.parameters(), lr=config.lr, betas=betas),
        }

    def step(self, x: torch.Tensor, y: torch.Tensor, rng: torch.Generator, step: int) -> dict[str, float]:
        cfg, gen, disc = self.config, self.gen, self.disc
        real, labels = x * 2.0 - 1.0, y
        b = real.shape[0]
        # Drawn on the CPU generator, so that every device trains on the same noise.
        z = torch.randn(b, cfg.z_dim, generator=rng).to(x.device)
        fake_labels = torch.randint(0, cfg.num_classes, (b,), generator=rng).to(x.device)
        fake = gen.raw(z, fake_labels)

        rf_real, cls_real = disc(real)
        rf_fake, cls_fake = disc(fake.detach())
        loss_d = (
            F.binary_cross_entropy_with_logits(rf_real, torch.ones_like(rf_real))
            + F.binary_cross_entropy_with_logits(rf_fake, torch.zeros_like(rf_fake))
            + F.cross_entropy(cls_real, labels)
            + F.cross_entropy(cls_fake, fake_labels)
        )
        opt_d = self.optimizers["opt_discriminator"]
        opt_d.zero_grad(set_to_none=True)
        loss_d.backward()
        opt_d.step()

        rf_gen, cls_gen = disc(fake)
        loss_g = F.binary_cross_entropy_with_logits(rf_gen, torch.ones_like(rf_gen)) + F.cross_entropy(
            cls_gen, fake_labels
        )
        opt_g = self.optimizers["opt_generator"]
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        if self.ema is not None:
            _ema_update(self.ema, gen, cfg.ema_decay, step)
        return {
            "loss_d": loss_d.item(),
            "loss_g": loss_g.item(),
            "d_real": torch.sigmoid(rf_real).mean().item(),
            "d_fake": torch.sigmoid(rf_fake).mean().item(),
            "class_acc_real": (cls_real.argmax(1) == labels).float().mean().item(),
        }

    def extra_state(self) -> dict[str, Any]:
        return {}

    def load_extra_state(self, state: dict[str, Any]) -> None:
        pass

    def trained(self) -> ACGANGenerator:
        """The generator the run produces: the weight average if kept, else the last iterate."""
        return self.ema if self.ema is not None else self.gen


def _fit_config(config: ACGANConfig) -> FitConfig:
    return FitConfig(epochs=config.epochs, batch_size=config.batch_size, seed=config.seed)


def _check_images(data: ImageSet) -> None:
    if data.x.shape[1:] != (1, 28, 28):
        raise InputError(f"data must be (N, 1, 28, 28) images, got {tuple(data.x.shape)}")


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
    device: torch.device | str | None = None,
) -> TrainResult:
    """Train (or resume training) an ACGAN with :func:`intrinsic_rob.models.training.fit`, checkpointing every epoch.

    ``folder/checkpoint.pt`` holds both networks, both optimisers, the weight average and
    the history after the last finished epoch; a run that is killed restarts from it and
    ends with the same weights as an uninterrupted run. ``on_batch(epoch, step)`` is
    called after every optimisation step (tests use it to interrupt a run).
    """
    _check_images(data)
    task = ACGANTask(config)
    history = fit(task, data.x, data.y, _fit_config(config), folder=folder, progress=progress, desc="ACGAN",
                  on_batch=on_batch, device=device)
    return TrainResult(task.trained().cpu(), history, folder)


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


def acgan_cached(config: ACGANConfig, data: ImageSet, group: str, artifacts: Path | None = None) -> bool:
    """Whether :func:`load_or_train_acgan` with these arguments finds its finished generator in the cache.

    Example:
        >>> import tempfile
        >>> acgan_cached(ACGANConfig(epochs=1), ImageSet(torch.zeros(4, 1, 28, 28), torch.arange(4), "toy"), "toy",
        ...              Path(tempfile.mkdtemp()))
        False
    """
    return (artifact_dir("acgan", acgan_cache_key(config, data), group, artifacts) / GENERATOR_FILE).is_file()


def load_or_train_acgan(
    config: ACGANConfig,
    data: ImageSet,
    group: str,
    artifacts: Path | None = None,
    *,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> TrainResult:
    """The cached generator for (config, data), training (or resuming) it when absent, on ``device``.

    The cache folder is ``artifacts/<group>/acgan-<hash of config and data>``; ``group``
    only sorts the folders (the book uses the profile's name). The finished generator is
    ``generator.safetensors`` with the training history in its header, usable on its
    own (``checkpoint.pt`` is only needed to resume training). A generator file that is
    missing, corrupted or does not match its checksum is rebuilt from the last intact
    checkpoint; it is never silently used. Two processes asking for the same generator at
    once train it once.
    """
    _check_images(data)
    folder = artifact_dir("acgan", acgan_cache_key(config, data), group, artifacts)
    fitted = load_or_fit(lambda: ACGANTask(config), data.x, data.y, _fit_config(config), folder,
                         filename=GENERATOR_FILE, progress=progress, desc="ACGAN", device=device)
    gen = ACGANGenerator(config.z_dim, config.num_classes)
    gen.load_state_dict(fitted.weights)
    gen.eval()
    return TrainResult(gen, fitted.history, folder)
