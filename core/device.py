"""Pick the compute device in one place: CUDA, then Apple's MPS, then the CPU."""

from __future__ import annotations

import torch

DEVICE_CHOICES = ("auto", "cpu", "cuda", "mps")
PRECISIONS = ("auto", "float32")  # auto: bfloat16 inference where the device computes it natively


def resolve_device(choice: str | torch.device | None = "auto") -> torch.device:
    """'auto' takes the fastest available device; asking for an absent GPU raises ValueError."""
    if isinstance(choice, torch.device):
        return choice
    choice = (choice or "auto").lower()
    if choice == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if choice.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError("No CUDA GPU is available here; choose the CPU (or 'auto').")
    if choice == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("Apple's Metal (MPS) GPU is not available here; choose the CPU (or 'auto').")
    if choice not in DEVICE_CHOICES and not choice.startswith("cuda:"):
        raise ValueError(f"Unknown device '{choice}'; use one of {', '.join(DEVICE_CHOICES)}.")
    return torch.device(choice)


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"GPU ({torch.cuda.get_device_name(device)})"
    if device.type == "mps":
        return "GPU (Apple Metal)"
    return f"CPU ({torch.get_num_threads()} threads)"


def native_bfloat16(device: torch.device) -> bool:
    """Whether ``device`` is a CPU with native bfloat16 arithmetic (Intel AMX tiles or AVX-512 BF16),
    where bfloat16 convolutions run about twice as fast as float32 ones; elsewhere they are emulated
    and slower, so inference stays float32."""
    if device.type != "cpu":
        return False
    probes = ("_is_amx_tile_supported", "_is_avx512_bf16_supported")  # torch.cpu's own capability checks
    try:
        return any(bool(getattr(torch.cpu, probe)()) for probe in probes if hasattr(torch.cpu, probe))
    except RuntimeError:
        return False


def check_precision(precision: str) -> None:
    """ValueError unless ``precision`` is one of PRECISIONS."""
    if precision not in PRECISIONS:
        raise ValueError(f"unknown precision '{precision}'; choose one of {', '.join(PRECISIONS)}")


def inference_dtype(device: torch.device, precision: str = "auto") -> torch.dtype | None:
    """The reduced type the networks run inference in on ``device`` (None: float32)."""
    check_precision(precision)
    return torch.bfloat16 if precision == "auto" and native_bfloat16(device) else None


def inference_type_name(device: torch.device, precision: str = "auto") -> str:
    """"bfloat16" or "float32": the type the networks infer in on ``device`` (for reports)."""
    return str(inference_dtype(device, precision) or torch.float32).removeprefix("torch.")
