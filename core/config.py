"""How a :class:`core.api.Colorizer` is set up: which networks, on which device, and the pipeline's
tunable numbers. Built once per program from the user's options (:meth:`ColorizerConfig.from_options`);
what the user edits per photo lives in :class:`core.edit.Edit` instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, fields

from core.device import check_precision
from core.edit import DEFAULT_WORKING_SIZE, WORKING_SIZE_RANGE
from core.weights import DEFAULT_COLORNET

ENCODERS = ("efficientnet_lite0", "vgg19")
CORRESPONDENCES = ("warp", "match")

RANDOM_WEIGHTS_ENV = "HEIRLOOM_ALLOW_RANDOM_WEIGHTS"  # developer option: untrained nets when weights are missing

# The pipeline's numbers, named once (training/colornet_task.py reads the hint density too).
TRANSFER_HINT_DENSITY = 0.003  # share of working pixels sampled as hints from the coarse transfer
HINT_PATCH = 3  # side of the square patch a sampled hint covers, in working pixels


@dataclass(frozen=True)
class ColorizerConfig:
    working_size: int = DEFAULT_WORKING_SIZE  # short side of the working image (an Edit may ask for another)
    device: str = "auto"  # auto | cpu | cuda | mps
    # auto: the frozen encoder and the colorization sub-net infer in bfloat16 on CPUs that compute
    # it natively (core.models.precision; about twice as fast), float32 elsewhere; float32: always.
    precision: str = "auto"
    colornet: str = DEFAULT_COLORNET  # weights name (registry) or path to a weights file
    encoder: str = "efficientnet_lite0"  # efficientnet_lite0 (bundled) | vgg19 (user-supplied weights)
    decoder: str = ""  # weights name or path; "" = the default decoder of the encoder
    hint_density: float = TRANSFER_HINT_DENSITY  # transfer-sampled hints: without the soft warp, or at blend 0
    hint_patch: int = HINT_PATCH
    # Content matching (core.matching): where a reference shows the same things as the photo, its
    # colours there become hints, and the AdaIN blend is scaled by how much each region is matched.
    # An Edit with match_content=False turns both off for that edit.
    match_references: bool = True
    match_threshold: float = 0.75  # cosine similarity a mutual match needs to become a hint
    content_aware: bool = True  # scale the blend by content similarity (off: the same blend everywhere)
    similarity_range: tuple[float, float] = (0.55, 0.75)  # similarity ramped to blend strength 0..1
    match_scales: tuple[float, ...] = (0.8, 1.0, 1.25)  # sizes of the reference (relative) that matching compares
    match_clearance: float = 0.125  # share of the short side around matched cells kept free of sampled hints
    # How reference colours are found where the photo shows the same things (core.correspondence):
    # "warp" attends from every photo cell over the reference's cells (and its mirror image);
    # "match" pins only mutual best matches (the earlier, stricter content matching).
    correspondence: str = "warp"
    # The user's hints come first (core.user_edit): they claim the region they land in (the
    # references' sampled hints step aside there), a sub-net with a user-hint input reads them in
    # channels of their own, and their colour is spread over the claim edge-aware. Off: the user's
    # hints are only sub-net inputs, as in the paper.
    user_edit: bool = True
    seed: int = 0
    allow_random_weights: bool = False  # tests and benchmarks: random nets when weights are missing

    def __post_init__(self) -> None:
        low_size, high_size = WORKING_SIZE_RANGE
        if not low_size <= self.working_size <= high_size:
            raise ValueError(f"working size must be between {low_size} and {high_size} pixels, got {self.working_size}")
        check_precision(self.precision)
        if self.encoder not in ENCODERS:
            raise ValueError(f"unknown encoder '{self.encoder}'; choose one of {', '.join(ENCODERS)}")
        if not -1.0 <= self.match_threshold <= 1.0:
            raise ValueError(f"match threshold is a cosine similarity in [-1, 1], got {self.match_threshold}")
        low, high = self.similarity_range
        if not -1.0 <= low < high <= 1.0:
            raise ValueError(f"similarity range must satisfy -1 <= low < high <= 1, got {self.similarity_range}")
        if not self.match_scales or not all(0.25 <= scale <= 4.0 for scale in self.match_scales):
            raise ValueError(f"match scales must be between 0.25 and 4, got {self.match_scales}")
        if self.correspondence not in CORRESPONDENCES:
            raise ValueError(f"unknown correspondence '{self.correspondence}'; choose one of {', '.join(CORRESPONDENCES)}")
        if not 0.0 <= self.match_clearance <= 1.0:
            raise ValueError(f"match clearance must be between 0 and 1, got {self.match_clearance}")

    @property
    def decoder_name(self) -> str:
        return self.decoder or f"decoder-{self.encoder}"

    @classmethod
    def from_options(
        cls,
        *,
        device: str | None = None,
        model: str | os.PathLike | None = None,
        working_size: int | None = None,
        encoder: str | None = None,
        decoder: str | os.PathLike | None = None,
        matching: bool = True,
        content_aware: bool = True,
        hint_density: float | None = None,
        allow_random_weights: bool | None = None,
        **tuning,
    ) -> "ColorizerConfig":
        """The config for the user-level options of the app, the CLI, the evaluation and the benchmarks.

        ``None`` keeps a default; ``model`` names the colorization sub-net (registered name or file);
        ``allow_random_weights=None`` reads the developer switch ``HEIRLOOM_ALLOW_RANDOM_WEIGHTS``.
        ``tuning`` passes any other field (e.g. ``match_scales``) through unchanged.
        """
        unknown = set(tuning) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown colorizer option(s): {', '.join(sorted(unknown))}")
        options: dict = dict(tuning, match_references=bool(matching), content_aware=bool(content_aware))
        if allow_random_weights is None:
            allow_random_weights = os.environ.get(RANDOM_WEIGHTS_ENV, "").strip().lower() in ("1", "true", "yes")
        options["allow_random_weights"] = bool(allow_random_weights)
        for name, value in (
            ("device", device), ("colornet", model), ("working_size", working_size), ("encoder", encoder),
            ("decoder", decoder), ("hint_density", hint_density),
        ):
            if value is not None:
                options[name] = os.fspath(value) if isinstance(value, os.PathLike) else value
        return cls(**options)
