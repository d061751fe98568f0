"""Certified and natural accuracy of classifiers (Section 5.3's LP-Certify column).

:func:`certified_accuracy` is the fraction of examples whose prediction convex-adversarial
(Wong et al., 2018) proves constant over the whole l2 ball B(x, eps), with its exact l2
dual bound (``norm_type="l2"``: no random projections, so the number is deterministic).
:func:`natural_accuracy` is the plain accuracy.
"""

from __future__ import annotations

import torch
import torch.nn as nn

from intrinsic_rob.core.devices import device_of, eval_mode
from intrinsic_rob.core.errors import InputError
from intrinsic_rob.core.validation import check_value


def _check_data(x: torch.Tensor, y: torch.Tensor, batch_size: int) -> None:
    check_value("batch_size", batch_size, low=1, integer=True)
    if x.shape[0] < 1 or y.shape != x.shape[:1]:
        raise InputError(f"x must hold N >= 1 examples and y their N labels, got shapes {tuple(x.shape)} and "
                         f"{tuple(y.shape)}")


def check_certifiable(net: nn.Module, sample: torch.Tensor) -> None:
    """Raise :class:`InputError` unless convex-adversarial can bound ``net`` on inputs shaped like ``sample`` (B, ...).

    The network must be an ``nn.Sequential`` of the layers convex-adversarial bounds
    (Linear, Conv2d without groups or dilation, ReLU, BatchNorm2d, Flatten), and each
    ``Conv2d``'s transpose (which
    convex-adversarial applies with ``conv_transpose2d`` and no ``output_padding``) must
    give back the convolution's input size: (H + 2 padding - kernel) divisible by the
    stride. Otherwise the bound fails deep inside convex-adversarial with a shape error.
    Runs one example through ``net`` in eval mode (its mode is restored).

    Example:
        >>> check_certifiable(nn.Sequential(nn.Conv2d(1, 2, 4, stride=2, padding=1)), torch.zeros(1, 1, 8, 8))
        >>> check_certifiable(nn.Sequential(nn.Conv2d(1, 2, 3, stride=2, padding=1)),
        ...                   torch.zeros(1, 1, 8, 8))  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        intrinsic_rob.core.errors.InputError: net[0] (Conv2d) does not invert to its input size 8x8 ... (got 7x7); ...
    """
    if not isinstance(net, nn.Sequential):
        raise InputError(f"net must be an nn.Sequential (convex-adversarial walks its layers), "
                         f"got {type(net).__name__}")
    for i, layer in enumerate(net):
        known = isinstance(layer, (nn.Linear, nn.Conv2d, nn.ReLU, nn.BatchNorm2d)) or "Flatten" in type(layer).__name__
        if not known:
            raise InputError(f"net[{i}] must be a Linear, Conv2d, ReLU, BatchNorm2d or Flatten layer (what "
                             f"convex-adversarial bounds), got {type(layer).__name__}")
        if isinstance(layer, nn.Conv2d) and (layer.groups != 1 or tuple(layer.dilation) != (1, 1)):
            raise InputError(f"net[{i}] (Conv2d) must have groups 1 and dilation 1 (convex-adversarial ignores "
                             f"them), got groups {layer.groups} and dilation {tuple(layer.dilation)}")
    z = sample[:1].to(device_of(net))
    with eval_mode(net), torch.no_grad():  # no batch-norm statistics updated
        for i, layer in enumerate(net):
            out = layer(z)
            if isinstance(layer, nn.Conv2d):
                back = torch.nn.functional.conv_transpose2d(out, layer.weight, stride=layer.stride,
                                                            padding=layer.padding)
                if back.shape[-2:] != z.shape[-2:]:
                    raise InputError(
                        f"net[{i}] (Conv2d) does not invert to its input size {z.shape[-2]}x{z.shape[-1]} under "
                        f"convex-adversarial's transposed convolution (got {back.shape[-2]}x{back.shape[-1]}); choose "
                        "kernel, stride and padding with (H + 2 padding - kernel) divisible by the stride")
            z = out


def certified_mask(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                   batch_size: int = 10) -> torch.Tensor:
    """(N,) bool: whether convex-adversarial certifies ``net``'s label y_i on all of B(x_i, eps) (l2).

    Per batch, ``robust_loss(net, eps, x, y, norm_type="l2", size_average=False)``
    returns ``err``, True where the dual network's upper bound on some z_j - z_y is not
    below the bound for y (the example is *not* certified); the mask is its negation.
    Computed in eval mode under ``torch.no_grad`` on ``net``'s device; results on the CPU.

    The certified region is the whole ball, not clipped to the image box [0, 1]^D:
    convex-adversarial's ``bounded_input`` option is honoured only for l-infinity balls
    and ignored for l2 (book appendix, defect 8). A certificate over B(x, eps) is still a
    valid certificate for B(x, eps) intersected with [0, 1]^D, the set the PGD attack
    searches, since that set is smaller; it is only more conservative than a box-aware
    certificate could be.

    The exact l2 bound propagates an identity matrix of the input's size through the
    network, and one row per unstable ReLU of the batch: memory grows with the batch,
    hence the small default (the original implementation's test batch, 10).
    """
    from convex_adversarial import robust_loss

    check_value("eps", eps, low=0)
    _check_data(x, y, batch_size)
    check_certifiable(net, x)
    device = device_of(net)
    out = []
    with eval_mode(net), torch.no_grad():
        for i in range(0, x.shape[0], batch_size):
            xb, yb = x[i : i + batch_size].to(device), y[i : i + batch_size].to(device)
            _, err = robust_loss(net, float(eps), xb, yb, norm_type="l2", size_average=False)
            out.append((~err).cpu())
    return torch.cat(out)


def certified_accuracy(net: nn.Sequential, x: torch.Tensor, y: torch.Tensor, eps: float, *,
                       batch_size: int = 10) -> float:
    """Fraction of (x, y) certified robust for l2 radius eps by convex-adversarial's exact l2 bound.

    See :func:`certified_mask` (eval mode, batches of ``batch_size``, region not clipped to
    [0, 1]: book appendix, defect 8). At eps = 0 it equals the natural accuracy (up to
    exact ties of logits); it decreases with eps.

    Args:
        net: an ``nn.Sequential`` of Conv2d / Linear / ReLU / Flatten layers
            (:func:`~intrinsic_rob.models.classifiers.lp_certify_net`).
        x: (N, ...) inputs. y: (N,) labels.
        eps: the l2 radius.

    Example:
        >>> net = nn.Sequential(nn.Flatten(), nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3))
        >>> x, y = torch.rand(6, 1, 2, 2), torch.tensor([0, 1, 2, 0, 1, 2])
        >>> certified_accuracy(net, x, y, 0.0) == natural_accuracy(net, x, y)
        True
        >>> certified_accuracy(net, x, y, 10.0)
        0.0
    """
    return float(certified_mask(net, x, y, eps, batch_size=batch_size).float().mean())


def natural_accuracy(model: nn.Module, x: torch.Tensor, y: torch.Tensor, *, batch_size: int = 1024) -> float:
    """Fraction of x (N, ...) that ``model`` labels y (N,), in eval mode (:func:`~intrinsic_rob.models.classifiers.predict`).

    Example:
        >>> model = nn.Sequential(nn.Flatten(), nn.Linear(4, 3))
        >>> 0.0 <= natural_accuracy(model, torch.rand(5, 1, 2, 2), torch.zeros(5, dtype=torch.long)) <= 1.0
        True
    """
    from intrinsic_rob.models.classifiers import predict

    _check_data(x, y, batch_size)
    return float((predict(model, x, batch_size=batch_size) == y.cpu()).float().mean())
