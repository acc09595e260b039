"""Which torch devices this machine has, detected at run time, and what each can compute."""

from __future__ import annotations

import torch

from checkers.errors import DeviceUnavailable


def available_devices() -> list[str]:
    """`cpu` always, then `cuda` and `mps` when torch reports them usable."""
    devices = ["cpu"]
    if torch.cuda.is_available():
        devices.append("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        devices.append("mps")
    return devices


def resolve_devices(requested: str) -> list[str]:
    """`auto` -> every available device; a named device must exist, else DeviceUnavailable."""
    present = available_devices()
    if requested == "auto":
        return present
    if requested not in ("cpu", "cuda", "mps"):
        raise DeviceUnavailable(f"unknown device {requested!r}; choose one of auto, cpu, cuda, mps")
    if requested not in present:
        raise DeviceUnavailable(
            f"device {requested!r} is not available on this machine (present: {', '.join(present)}); "
            "use --device auto or --device cpu"
        )
    return [requested]


def supports(device: str, dtype: torch.dtype) -> bool:
    """MPS has no float64; everything else computes every floating dtype we use."""
    return not (device == "mps" and dtype == torch.float64)
