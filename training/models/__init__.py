"""Model registry: ``build_model(arch, ...)``.

Segmentation: ``unet``. Classification (the paper's eight CNNs): ``discnet``, ``lenet``,
``alexnet``, ``vgg16``, ``nin``, ``googlenet``, ``densenet121``, ``resnet50``. Transfer learning:
``vgg16-tl``, ``vgg19-tl``, ``densenet121-tl`` (``weights=`` a torchvision ImageNet state_dict).
"""

from __future__ import annotations

from torch import nn

from training.models.baselines import AlexNet, GoogLeNet, LeNet, NiN
from training.models.densenet import DenseNet121
from training.models.discnet import DiscNet
from training.models.resnet import ResNet50
from training.models.transfer import TransferNet
from training.models.unet import PAPER_FILTERS, UNet
from training.models.vgg import vgg16, vgg19

CLASSIFIERS = ("discnet", "lenet", "alexnet", "vgg16", "nin", "googlenet", "densenet121", "resnet50")
TRANSFER = ("vgg16-tl", "vgg19-tl", "densenet121-tl")
SEGMENTERS = ("unet",)
DISPLAY = {
    "discnet": "DiscNet",
    "lenet": "LeNet",
    "alexnet": "AlexNet",
    "vgg16": "VGG16",
    "nin": "NiN",
    "googlenet": "GoogLeNet",
    "densenet121": "DenseNet121",
    "resnet50": "ResNet50",
    "unet": "U-Net",
    "vgg16-tl": "VGG16 (transfer)",
    "vgg19-tl": "VGG19 (transfer)",
    "densenet121-tl": "DenseNet121 (transfer)",
    "vgg19": "VGG19",
}


def build_model(arch: str, num_classes: int = 3, in_channels: int = 3, input_size: int = 64, **kw) -> nn.Module:
    if arch == "unet":
        return UNet(
            in_channels=in_channels,
            out_channels=num_classes,
            filters=tuple(kw.get("filters") or PAPER_FILTERS),
            dropout=kw.get("dropout", 0.1),
        )
    if arch == "discnet":
        extra = {k: kw[k] for k in ("dropout", "filters") if kw.get(k) is not None}
        if "filters" in extra:
            extra["filters"] = tuple(extra["filters"])
        return DiscNet(num_classes, in_channels, input_size, **extra)
    if arch in TRANSFER:
        return TransferNet(arch[:-3], num_classes, in_channels, input_size, weights=kw.get("weights"))
    simple = {
        "lenet": LeNet,
        "alexnet": AlexNet,
        "nin": NiN,
        "googlenet": GoogLeNet,
        "densenet121": DenseNet121,
        "resnet50": ResNet50,
        "vgg16": vgg16,
        "vgg19": vgg19,
    }
    if arch in simple:
        return simple[arch](num_classes=num_classes, in_channels=in_channels, input_size=input_size)
    raise ValueError(f"unknown architecture {arch!r}")


def count_params(model: nn.Module) -> dict:
    """Parameter counts as Keras reports them: BatchNorm moving mean/variance are non-trainable
    weights; frozen parameters are non-trainable; PyTorch's ``num_batches_tracked`` is not a weight."""
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    frozen = sum(p.numel() for p in model.parameters() if not p.requires_grad)
    stats = 0
    for m in model.modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm) and m.track_running_stats:
            stats += m.running_mean.numel() + m.running_var.numel()
    return {"total": trainable + frozen + stats, "trainable": trainable, "non_trainable": frozen + stats}


__all__ = [
    "CLASSIFIERS",
    "TRANSFER",
    "SEGMENTERS",
    "DISPLAY",
    "build_model",
    "count_params",
    "DiscNet",
    "UNet",
    "TransferNet",
]
