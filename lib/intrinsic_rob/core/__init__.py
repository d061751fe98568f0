"""Foundations every other subpackage uses: the one error type, range checks, torch's CPU kernels, devices,
progress bars and the cache.

Modules:
    errors      InputError, the one error type for bad user input
    validation  range checks declared beside each configuration field (Checked, bounded)
    kernels     torch's CPU code paths pinned, so that numbers agree across x86-64 machines
    devices     where tensors live, models' device and eval mode, thread limits
    progress    progress bars a caller (or $TQDM_DISABLE) can turn off
    artifacts   the cache of models and data: keyed by configuration, written atomically, verified on load
"""
