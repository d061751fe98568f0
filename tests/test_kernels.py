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
    assert (aten, mkl, onednn) == ("avx2", "AVX2", "AVX2")
    assert capability != "AVX512"


def test_a_variable_already_set_is_left_alone():
    env = {"ATEN_CPU_CAPABILITY": "default"}
    assert kernels.pin_environment(env) == {"MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}
    assert env == {"ATEN_CPU_CAPABILITY": "default", "MKL_CBWR": "AVX2", "ONEDNN_MAX_CPU_ISA": "AVX2"}


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
                        ("MKL_CBWR", "AVX512")):
        assert _python(_TRAIN, **{name: wider}).stdout != pinned, name


def test_refusal_is_an_input_error(monkeypatch):
    monkeypatch.setattr(torch.backends.cpu, "get_cpu_capability", lambda: "AVX512")
    with kernels.portable_cpu_kernels(), pytest.raises(InputError, match="ATEN_CPU_CAPABILITY must be 'avx2'"):
        kernels.use_portable_cpu_kernels()
