"""Networks: one nn.Module per file."""

from core.models.colornet import ColorNet
from core.models.decoder import TransferDecoder
from core.models.efficientnet_lite0 import EfficientNetLite0Encoder
from core.models.encoder import Encoder, Tap
from core.models.transfer import ReferenceStats, TransferNet
from core.models.vgg19 import VGG19Encoder

__all__ = [
    "ColorNet",
    "EfficientNetLite0Encoder",
    "Encoder",
    "ReferenceStats",
    "Tap",
    "TransferDecoder",
    "TransferNet",
    "VGG19Encoder",
]
