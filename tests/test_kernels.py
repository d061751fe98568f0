"""torch's CPU code paths are pinned: the package's environment, oneDNN's deterministic mode, NNPACK off."""

from __future__ import annotations

import functools
import os
import subprocess
import sys

import pytest
import torch

from intrinsic_rob.core import kernels
from intrinsic_rob.core.errors import InputError

_TRAIN = """
import hashlib, torch, torch.nn as nn
import intrinsic_rob
from intrinsic_rob.models.training import FitConfig, SupervisedTask, fit
torch.manual_seed(0)
model = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, stride=2), nn.ReLU(),
                      nn.Flatten(), nn.Linear(8 * 13 * 13, 10))
x, y = torch.randn(64, 1, 28, 28), torch.randint(0, 10, (64,))
fit(SupervisedTask(model, torch.optim.SGD(model.parameters(), lr=0.1)), x, y, FitConfig(epochs=2, batch_size=16),
    progress=False)
print(hashlib.sha256(b"".join(p.detach().numpy().tobytes() for p in model.parameters())).hexdigest())
"""


def _python(code: str, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k not in kernels.PORTABLE_ENVIRONMENT}
    return subprocess.run([sys.executable, "-c", code], env={**environ, **env}, capture_output=True, text=True,
                          timeout=300)


@functools.cache
def _has_avx512() -> bool:
    done = _python("import torch; print(torch.backends.cpu.get_cpu_capability())")
    return done.stdout.strip() == "AVX512"


def test_importing_the_package_pins_the_environment_before_torch_reads_it():
    done = _python("import os, intrinsic_rob, torch; "
                   "print(os.environ['ATEN_CPU_CAPABILITY'], os.environ['MKL_CBWR'], os.environ['ONEDNN_MAX_CPU_ISA'], "
                   "torch.backends.cpu.get_cpu_capability())")
    aten, mkl, onednn, capability = done.stdout.split()
    assert (aten, mkl, onednn) == ("avx2", "COMPATIBLE", "AVX2")
    assert capability != "AVX512"


def test_a_variable_already_set_is_left_alone():
    env = {"ATEN_CPU_CAPABILITY": "default"}
    added = kernels.pin_environment(env)
    assert "ATEN_CPU_CAPABILITY" not in added and added["MKL_CBWR"] == "COMPATIBLE"
    assert env == {**kernels.PORTABLE_ENVIRONMENT, "ATEN_CPU_CAPABILITY": "default"}


#: :func:`kernels.fingerprints` on the pinned code paths, as the book's notebooks were computed (an AMD EPYC
#: machine with AVX-512; the digests are those of any x86-64 machine that runs the book's arithmetic as it does).
BOOK_FINGERPRINTS = {"aten": "8fb10707e3b0", "mkl": "f5ee41ed9109", "onednn-conv": "cee6933e4dfc",
                     "onednn-deconv": "bf265af0b9a9", "onednn-brgconv": "c71f63c95a97", "openblas": "7f53b3a616de",
                     "openblas-linear": "95ca8801fc04"}

_FINGERPRINTS = "import json, intrinsic_rob.core.kernels as k; print(json.dumps(k.fingerprints()))"


def test_this_machine_computes_the_books_bits():
    """Each library the book's numbers pass through gives the book's bits here; where one does not, the
    committed notebooks cannot be reproduced on this machine, and the failure names the library."""
    import json

    done = _python(_FINGERPRINTS)
    assert done.returncode == 0, done.stderr
    here = json.loads(done.stdout)
    differ = sorted(name for name in BOOK_FINGERPRINTS if here[name] != BOOK_FINGERPRINTS[name])
    assert not differ, (f"this machine's {', '.join(differ)} give other bits than the book's on the pinned code "
                        f"paths: {here}")


def test_each_pinned_variable_changes_its_own_fingerprint():
    """The fingerprints can fail: MKL's automatic branch gives other bits than its compatible one on any
    processor, and (where the processor has them) ATen's, oneDNN's and OpenBLAS's wider kernels do too."""
    import json

    pinned = json.loads(_python(_FINGERPRINTS).stdout)
    wider = [("mkl", "MKL_CBWR", "AUTO")]
    if _has_avx512():
        wider += [("aten", "ATEN_CPU_CAPABILITY", "avx512"), ("onednn-conv", "ONEDNN_MAX_CPU_ISA", "AVX512_CORE"),
                  ("openblas", "OPENBLAS_CORETYPE", "SkylakeX")]
    for name, variable, value in wider:
        other = json.loads(_python(_FINGERPRINTS, **{variable: value}).stdout)
        assert other[name] != pinned[name], variable
        library = name.split("-")[0]  # the other libraries' digests stay as they were
        assert {k: v for k, v in other.items() if not k.startswith(library)} == {
            k: v for k, v in pinned.items() if not k.startswith(library)}, variable


@pytest.mark.skipif(not _has_avx512(), reason="needs a processor with AVX-512 to run torch's other kernels")
def test_a_process_on_other_kernels_is_refused_in_one_line():
    done = _python("import intrinsic_rob.core.kernels as k\ntry:\n    k.use_portable_cpu_kernels()\n"
                   "except Exception as e:\n    print(type(e).__name__, e)", ATEN_CPU_CAPABILITY="avx512")
    assert done.stdout.startswith("InputError ATEN_CPU_CAPABILITY must be 'avx2'")
    assert "AVX512 kernels" in done.stdout


def test_use_portable_cpu_kernels_sets_onednn_deterministic_and_nnpack_off():
    with kernels.portable_cpu_kernels():
        torch.backends.mkldnn.deterministic = False
        torch.backends.nnpack.set_flags(True)
        kernels.use_portable_cpu_kernels()
        assert torch.backends.mkldnn.deterministic and not torch._C._get_nnpack_enabled()


def test_trained_weights_are_those_of_the_pinned_environment():
    # Started with none of the variables set, the package pins all three before torch, MKL and oneDNN read them:
    # the weights are those of a process started with them set.
    unset = _python(_TRAIN)
    pinned = _python(_TRAIN, **kernels.PORTABLE_ENVIRONMENT)
    assert unset.returncode == 0, unset.stderr
    assert unset.stdout == pinned.stdout


@pytest.mark.skipif(not _has_avx512(), reason="needs a processor with AVX-512 to run other kernels")
def test_the_pinned_kernels_change_the_weights_on_an_avx512_machine():
    # What the pinning is for: each of the three variables, set to AVX-512 by hand, changes the trained weights.
    pinned = _python(_TRAIN).stdout
    for name, wider in (("ATEN_CPU_CAPABILITY", "avx512"), ("ONEDNN_MAX_CPU_ISA", "AVX512_CORE"),
                        ("MKL_CBWR", "AUTO")):
        assert _python(_TRAIN, **{name: wider}).stdout != pinned, name


def test_refusal_is_an_input_error(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    with kernels.portable_cpu_kernels(), pytest.raises(InputError, match="ATEN_CPU_CAPABILITY must be 'avx2'"):
        kernels.use_portable_cpu_kernels()


def test_portable_linear_is_f_linear_with_its_gradients():
    """PortableLinear computes what nn.Linear does (to float rounding), with the same parameters and gradients,
    and leaves everything but float32 CPU matrices to F.linear."""
    import torch.nn.functional as F

    from intrinsic_rob.core.blas import PortableLinear, portable_linear

    torch.manual_seed(0)
    plain, portable = torch.nn.Linear(7, 5), PortableLinear(7, 5)
    portable.load_state_dict(plain.state_dict())
    x = torch.randn(4, 7, requires_grad=True)
    for layer in (plain, portable):
        layer.zero_grad()
    outs, grads = [], []
    for layer in (plain, portable):
        xi = x.detach().clone().requires_grad_(True)
        out = layer(xi)
        (out.square().sum()).backward()
        outs.append(out.detach())
        grads.append((xi.grad, layer.weight.grad, layer.bias.grad))
    assert torch.allclose(outs[0], outs[1], atol=1e-5)
    for a, b in zip(*grads):
        assert torch.allclose(a, b, atol=1e-5)
    # no bias, a frozen weight: only the input's gradient
    w = torch.randn(5, 7)
    xi = x.detach().clone().requires_grad_(True)
    portable_linear(xi, w).sum().backward()
    assert torch.allclose(xi.grad, w.sum(0).expand(4, 7), atol=1e-5)
    # float64 and batched inputs go to F.linear unchanged
    x64 = torch.randn(3, 7, dtype=torch.float64)
    assert torch.equal(portable_linear(x64, w.double()), F.linear(x64, w.double()))
    x3 = torch.randn(2, 3, 7)
    assert torch.equal(portable_linear(x3, w), F.linear(x3, w))


def test_portable_linear_gives_the_same_bits_on_any_thread_count():
    """OpenBLAS's Haswell kernels sum in another order on two threads: PortableLinear multiplies on one, so its
    bits do not depend on torch's thread count (a chapter's two, a generated split's one)."""
    from intrinsic_rob.core import blas

    g = torch.Generator().manual_seed(0)
    x, w = torch.randn(300, 256, generator=g), torch.randn(500, 256, generator=g)
    threads = torch.get_num_threads()
    out = {}
    try:
        for n in (1, 2):
            torch.set_num_threads(n)
            out[n] = blas.portable_linear(x, w)
    finally:
        torch.set_num_threads(threads)
    assert torch.equal(out[1], out[2])


def test_importing_the_package_first_pins_numpys_openblas_and_numpy_first_is_refused():
    """The package sets OPENBLAS_CORETYPE before numpy loads OpenBLAS (nothing it imports first loads numpy);
    a process that loaded numpy on other kernels is refused in one line."""
    probe = ("import intrinsic_rob.core.kernels as k; import numpy; "
             "print(k._openblas_core(), k.use_portable_cpu_kernels())")
    done = _python(probe)
    assert done.returncode == 0, done.stderr
    if "OPENBLAS_CORETYPE" not in kernels.PORTABLE_ENVIRONMENT:
        pytest.skip("OpenBLAS is pinned on x86-64 only")
    assert done.stdout.split()[0].lower() == "haswell"
    native = _python("import numpy, threadpoolctl; print([i.get('architecture') for i in "
                     "threadpoolctl.threadpool_info() if i.get('internal_api') == 'openblas'][0])").stdout.strip()
    if native.lower() == "haswell":
        pytest.skip("this processor's own OpenBLAS kernels are the pinned ones")
    refused = _python("import numpy\nimport intrinsic_rob.core.kernels as k\ntry:\n    k.use_portable_cpu_kernels()\n"
                      "except Exception as e:\n    print(type(e).__name__, e)")
    assert refused.stdout.startswith("InputError OPENBLAS_CORETYPE must be 'Haswell' when numpy loads")
