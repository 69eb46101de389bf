"""Copy a training run's weights into a weights folder the app reads, registered under a name.

    python -m training.export runs/colornet resources/weights/colornet.pt --name colornet

A finished (or stopped) run leaves ``weights.pt``; for a run still in progress the weights can also
be taken from its checkpoint ``last.pt`` (``--checkpoint``). ``--average START.pt --share A`` writes
instead A x the run's weights + (1 - A) x the weights it was fine-tuned from (a weight-space
ensemble, Wortsman et al. 2022, *Robust fine-tuning of zero-shot models*): between the two nets'
behaviours, often better than both. Input weights the starting net lacks (user-hint channels) count
as zero there, and a run grown wider than its start (``--width``) averages with the start grown the
same way (:func:`grown`).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Sequence

import torch

from core.weights import WeightsRecord, load_weights, save_weights


def run_weights(run_dir: Path | str, from_checkpoint: bool = False) -> tuple[str, dict, dict[str, torch.Tensor], dict]:
    """A run's (kind, model_args, state_dict, metadata): from ``weights.pt``, or from the checkpoint
    ``last.pt`` when there is none or ``from_checkpoint`` asks for it."""
    run_dir = Path(run_dir)
    weights = run_dir / "weights.pt"
    if weights.is_file() and not from_checkpoint:
        data = load_weights(weights)
        return data["kind"], data["model_args"], data["state_dict"], dict(data["metadata"])
    state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    model_args = state["model_args"]
    if state["task"] in ("colornet", "finetune"):
        kind, state_dict = "colornet", state["model"]
    elif state["task"] == "decoder":  # the checkpoint holds the frozen encoder too
        kind, prefix = "decoder", "transfer.decoder."
        state_dict = {k[len(prefix):]: v for k, v in state["model"].items() if k.startswith(prefix)}
    else:
        raise ValueError(f"{run_dir}: cannot export a '{state['task']}' checkpoint")
    info = {"steps": state["step"], "config": state["config"], "validation": state["history"][-1] if state.get("history") else {}}
    return kind, model_args, state_dict, info


def export_run(
    run_dir: Path | str,
    out: Path | str,
    name: str | None = None,
    metadata: dict | None = None,
    from_checkpoint: bool = False,
    average: Path | str | None = None,
    share: float = 0.5,
) -> WeightsRecord:
    """Write a run's weights to ``out`` (registered as ``name`` if given); with ``average``, the
    weights file the run started from, write ``share`` x the run's weights + (1 - ``share``) x those
    instead (averaged before anything is written: one file, one manifest entry)."""
    kind, model_args, state_dict, info = run_weights(run_dir, from_checkpoint)
    info.update(metadata or {})
    if average is not None:
        start = load_weights(average)
        if start["kind"] != kind:
            raise ValueError(f"{average} holds {start['kind']} weights, the run {kind} weights")
        state_dict = average_weights(state_dict, start["state_dict"], share, _transposed(kind, model_args))
        info["average"] = {"start": Path(average).name, "share": share}
    return save_weights(out, kind, model_args, state_dict, info, register_as=name)


def grown(base: torch.Tensor, like: torch.Tensor, transposed: bool = False) -> torch.Tensor:
    """``base``, a layer of a narrower net, embedded in the shape of ``like``, the same layer of a
    wider one (fresh from its initialiser): ``base``'s values in the leading corner, ``like``'s for
    the new units, and zero from the new inputs to the old outputs. Grown layer by layer, the wide
    net computes exactly what the narrow one did, and its new units start learning at once (Net2Net's
    function-preserving widening, Chen et al. 2016, with fresh units instead of copies).
    ``transposed``: the weight of a transposed convolution, shaped (in, out, ...)."""
    if base.shape == like.shape:
        return base.clone()
    if base.dim() != like.dim() or any(b > n for b, n in zip(base.shape, like.shape)) or base.shape[2:] != like.shape[2:]:
        raise ValueError(f"{tuple(base.shape)} cannot grow into {tuple(like.shape)}")
    result = like.detach().clone()
    result[tuple(slice(0, size) for size in base.shape)] = base
    if base.dim() >= 2:
        out_dim, in_dim = (1, 0) if transposed else (0, 1)
        old_outputs = [slice(None)] * base.dim()
        old_outputs[out_dim] = slice(0, base.shape[out_dim])
        old_outputs[in_dim] = slice(base.shape[in_dim], None)
        result[tuple(old_outputs)] = 0
    return result


def transposed_weights(net: torch.nn.Module) -> frozenset[str]:
    """The keys of ``net``'s transposed-convolution weights (shaped (in, out, ...)), for :func:`grown`."""
    return frozenset(f"{name}.weight" for name, module in net.named_modules() if isinstance(module, torch.nn.ConvTranspose2d))


def _transposed(kind: str, model_args: dict) -> frozenset[str]:
    """:func:`transposed_weights` of the net a weights file of ``kind`` with ``model_args`` holds."""
    if kind != "colornet":
        return frozenset()
    from core.models import ColorNet

    return transposed_weights(ColorNet(**model_args))


def average_weights(
    tuned: dict[str, torch.Tensor], start: dict[str, torch.Tensor], share: float, transposed: frozenset[str] = frozenset()
) -> dict[str, torch.Tensor]:
    """``share`` x ``tuned`` + (1 - ``share``) x ``start``, key by key (same architecture, except that
    ``start`` may be narrower: new input channels, or a net grown from it; :func:`grown` embeds it
    so that it computes what it did, and ``transposed`` names the weights shaped (in, out, ...))."""
    if not 0.0 <= share <= 1.0:
        raise ValueError(f"the share of the fine-tuned weights must be within 0 and 1, got {share}")
    if set(tuned) != set(start):
        raise ValueError("the two weights files hold different layers: not a fine-tune of one another")
    mixed = {}
    for key, value in tuned.items():
        base = start[key]
        if base.shape != value.shape:
            try:
                base = grown(base, value, transposed=key in transposed)
            except ValueError as error:
                raise ValueError(f"{key}: {error}") from None
        mixed[key] = torch.lerp(base.float(), value.float(), share).to(value.dtype) if value.is_floating_point() else value.clone()
    return mixed


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path, help="training output folder (weights.pt or last.pt)")
    parser.add_argument("out", type=Path, help="weights file to write")
    parser.add_argument("--name", help="register the file under this name in its folder's manifest")
    parser.add_argument("--checkpoint", action="store_true", help="take the weights from last.pt even if weights.pt exists")
    parser.add_argument("--metadata", type=Path, help="JSON file of extra metadata (e.g. evaluation scores)")
    parser.add_argument("--average", type=Path, metavar="START.pt", help="average with the weights the run started from")
    parser.add_argument("--share", type=float, default=0.5, help="the run's share in that average (default 0.5)")
    args = parser.parse_args(argv)
    extra = json.loads(args.metadata.read_text()) if args.metadata else None
    try:
        record = export_run(args.run_dir, args.out, args.name, extra, args.checkpoint, args.average, args.share)
    except ValueError as error:
        parser.error(str(error))
    print(f"wrote {record.file} ({record.kind}, sha256 {record.sha256[:12]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
