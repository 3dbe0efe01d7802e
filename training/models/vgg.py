"""VGG16 / VGG19 (Simonyan & Zisserman 2014). ``features`` uses torchvision's layer indices so an
ImageNet ``vgg16``/``vgg19`` state_dict's ``features.*`` tensors load as they are. For 64x64 the
convolutional part ends at 512x2x2; the classifier (as Keras' ``include_top`` at that size) is
flatten -> FC 4096 -> FC 4096 -> FC n with dropout 0.5."""

from __future__ import annotations

import torch
from torch import nn

CFG = {
    "vgg16": [64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M"],
    "vgg19": [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M", 512, 512, 512, 512, "M", 512, 512, 512, 512, "M"],
}


def make_features(cfg: list, in_channels: int = 3) -> nn.Sequential:
    layers: list[nn.Module] = []
    c = in_channels
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(2, 2))
        else:
            layers += [nn.Conv2d(c, v, 3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers)


class VGG(nn.Module):
    def __init__(self, depth: str = "vgg16", num_classes: int = 3, in_channels: int = 3, input_size: int = 64):
        super().__init__()
        self.features = make_features(CFG[depth], in_channels)
        side = input_size // 32
        self.classifier = nn.Sequential(
            nn.Linear(512 * side * side, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, num_classes),
        )
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                nn.init.zeros_(m.bias)

    feature_channels = 512

    def forward(self, x):
        return self.classifier(torch.flatten(self.features(x), 1))


def vgg16(num_classes: int = 3, in_channels: int = 3, input_size: int = 64) -> VGG:
    return VGG("vgg16", num_classes, in_channels, input_size)


def vgg19(num_classes: int = 3, in_channels: int = 3, input_size: int = 64) -> VGG:
    return VGG("vgg19", num_classes, in_channels, input_size)
