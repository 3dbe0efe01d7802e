"""Transfer learning (paper section II.B): an ImageNet-trained backbone without its classifier,
frozen, with new trainable layers on top; trained to convergence, then the whole model is unfrozen
and fine-tuned at LR 1e-5.

Backbones: VGG16, VGG19, DenseNet121 (torchvision parameter names: pass the path of a torchvision
ImageNet state_dict, e.g. ``vgg16-397923af.pth``; only ``features.*`` is used). Xception is not
implemented (Keras' Xception needs inputs of at least 71x71, so the paper must have resized; it was
also the weakest in Table VII).

New head: global average pooling -> FC 256 + ReLU -> dropout 0.5 -> FC n (logits).
Input: the usual crop / 255, normalised inside the model with the ImageNet mean and std, so the
exported model takes the same input as DiscNet.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from training.models.densenet import DenseNet121, rename_old_keys
from training.models.vgg import VGG

BACKBONES = ("vgg16", "vgg19", "densenet121")
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def _backbone(name: str) -> nn.Module:
    if name in ("vgg16", "vgg19"):
        return VGG(name, num_classes=1000)
    if name == "densenet121":
        return DenseNet121(num_classes=1000)
    raise ValueError(f"unknown transfer backbone {name!r} (have {BACKBONES})")


def load_imagenet_features(backbone: nn.Module, path: str) -> int:
    """Load ``features.*`` tensors from a torchvision-style state_dict file; returns how many."""
    state = torch.load(path, map_location="cpu", weights_only=True)
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    state = rename_old_keys(state)
    feats = {k[len("features.") :]: v for k, v in state.items() if k.startswith("features.")}
    if not feats:
        raise ValueError(f"{path}: no 'features.*' tensors (expected a torchvision-style state_dict)")
    missing, unexpected = backbone.features.load_state_dict(feats, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ValueError(
            f"{path}: state_dict does not match the backbone (missing {missing[:3]}, unexpected {unexpected[:3]})"
        )
    return len(feats)


class TransferNet(nn.Module):
    def __init__(
        self,
        backbone: str = "vgg16",
        num_classes: int = 3,
        in_channels: int = 3,
        input_size: int = 64,
        weights: str | None = None,
        hidden: int = 256,
        dropout: float = 0.5,
    ):
        super().__init__()
        if in_channels != 3:
            raise ValueError("ImageNet backbones take 3 channels")
        self.backbone_name = backbone
        base = _backbone(backbone)
        if weights:
            load_imagenet_features(base, weights)
        self.features = base.features
        self.post_relu = backbone.startswith("densenet")
        channels = base.feature_channels
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1))
        self.head = nn.Sequential(
            nn.Linear(channels, hidden), nn.ReLU(inplace=True), nn.Dropout(dropout), nn.Linear(hidden, num_classes)
        )

    def freeze_backbone(self, frozen: bool = True) -> None:
        for p in self.features.parameters():
            p.requires_grad = not frozen
        self._frozen = frozen

    def train(self, mode: bool = True):
        super().train(mode)
        if mode and getattr(self, "_frozen", False):
            # Keras: BatchNorm layers of a frozen base run in inference mode.
            for m in self.features.modules():
                if isinstance(m, nn.modules.batchnorm._BatchNorm):
                    m.eval()
        return self

    def forward(self, x):
        x = self.features((x - self.mean) / self.std)
        if self.post_relu:
            x = F.relu(x)
        return self.head(torch.flatten(F.adaptive_avg_pool2d(x, 1), 1))
