"""Reduced-precision inference for the frozen encoder and the colorization sub-net.

CPUs with native bfloat16 arithmetic (Intel's AMX tiles or AVX-512 BF16) run the networks'
convolutions about twice as fast in bfloat16 as in float32. Where a module's ``inference_dtype``
is set (:func:`set_inference_dtype`, by ``core.networks.place_net``), the methods decorated with
:func:`reduced_precision` run under ``torch.autocast`` to that type whenever no gradient is
wanted, and hand back float32 tensors: callers see the same types and shapes as ever, and the
results differ by rounding (the encoder's maps keep a mean cosine similarity of 0.999 or more to
the float32 ones, single cells down to about 0.99). Training never sets it: a pass that records
gradients runs as its caller set it up (float32, or the trainer's own autocast, training.engine).
"""

from __future__ import annotations

import functools
from typing import Any, Callable, TypeVar

import torch
from torch import nn

F = TypeVar("F", bound=Callable[..., Any])


def reduced_precision(method: F) -> F:
    """Decorate a module method to run in the module's ``inference_dtype`` (None: as it is)."""

    @functools.wraps(method)
    def run(self: nn.Module, *args: Any, **kwargs: Any) -> Any:
        placement = getattr(self, "inference_dtype", None)
        if placement is None or torch.is_grad_enabled() or torch.is_autocast_enabled(placement[0]):
            return method(self, *args, **kwargs)
        device_type, dtype = placement
        with torch.autocast(device_type=device_type, dtype=dtype):
            out = method(self, *args, **kwargs)
        return as_float32(out)

    return run  # type: ignore[return-value]


def as_float32(value: Any) -> Any:
    """``value`` with every floating tensor in it (nested in dicts, tuples, lists) as float32."""
    if isinstance(value, torch.Tensor):
        return value.float() if value.is_floating_point() else value
    if isinstance(value, dict):
        return {key: as_float32(item) for key, item in value.items()}
    if isinstance(value, (tuple, list)):
        return type(value)(as_float32(item) for item in value)
    return value


def set_inference_dtype(net: nn.Module, device: torch.device, dtype: torch.dtype | None) -> nn.Module:
    """Give every submodule of ``net`` that supports it (a class attribute ``inference_dtype``) the
    reduced type ``dtype`` on ``device`` (None: float32). Returns ``net``."""
    for module in net.modules():
        if hasattr(type(module), "inference_dtype"):
            module.inference_dtype = None if dtype is None else (device.type, dtype)
    return net
