"""Baseline CNNs of the paper's comparison, adapted to 64x64x3 crops (own implementations; no
torchvision). Strides and pools of the large-image stems are reduced where the original design
would shrink a 64x64 input below 1x1; heads end in ``num_classes`` logits.

LeNet, AlexNet, NiN and GoogLeNet live here; VGG, DenseNet121 and ResNet50 (with torchvision-compatible
parameter names so that ImageNet state_dicts load for transfer learning) in their own modules.
"""

from __future__ import annotations

import torch
from torch import nn


def _flat_size(features: nn.Module, in_channels: int, size: int) -> int:
    with torch.no_grad():
        return int(torch.flatten(features(torch.zeros(1, in_channels, size, size)), 1).shape[1])


class LeNet(nn.Module):
    """LeNet-5 (LeCun 1998) with ReLU and max pooling: conv 6@5x5 (pad 2), pool, conv 16@5x5, pool,
    FC 120, FC 84, FC n."""

    def __init__(self, num_classes: int = 3, in_channels: int = 3, input_size: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 6, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
            nn.Conv2d(6, 16, 5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(2),
        )
        n = _flat_size(self.features, in_channels, input_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Linear(n, 120),
            nn.ReLU(inplace=True),
            nn.Linear(120, 84),
            nn.ReLU(inplace=True),
            nn.Linear(84, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


class AlexNet(nn.Module):
    """AlexNet (Krizhevsky 2012): five convolutions and three pools, then FC 4096, FC 4096, FC n with
    dropout 0.5. For 64x64: first conv 96@11x11 stride 2 (not 4)."""

    def __init__(self, num_classes: int = 3, in_channels: int = 3, input_size: int = 64):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, 96, 11, stride=2, padding=5),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, 5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2),
        )
        n = _flat_size(self.features, in_channels, input_size)
        self.classifier = nn.Sequential(
            nn.Flatten(),
            nn.Dropout(0.5),
            nn.Linear(n, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(0.5),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        return self.classifier(self.features(x))


def _nin_block(cin: int, cout: int, k: int, s: int, p: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, s, p),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 1),
        nn.ReLU(inplace=True),
        nn.Conv2d(cout, cout, 1),
        nn.ReLU(inplace=True),
    )


class NiN(nn.Module):
    """Network in Network (Lin 2013): mlpconv blocks (conv + two 1x1 convs) and global average
    pooling of a last block with ``num_classes`` channels. First block 96@11x11 stride 2 for 64x64."""

    def __init__(self, num_classes: int = 3, in_channels: int = 3, input_size: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            _nin_block(in_channels, 96, 11, 2, 5),
            nn.MaxPool2d(3, 2),
            _nin_block(96, 256, 5, 1, 2),
            nn.MaxPool2d(3, 2),
            _nin_block(256, 384, 3, 1, 1),
            nn.MaxPool2d(3, 2),
            nn.Dropout(0.5),
            _nin_block(384, num_classes, 3, 1, 1),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
        )

    def forward(self, x):
        return self.net(x)


class Inception(nn.Module):
    def __init__(self, cin: int, c1: int, c2: tuple[int, int], c3: tuple[int, int], c4: int):
        super().__init__()
        r = nn.ReLU(inplace=True)
        self.b1 = nn.Sequential(nn.Conv2d(cin, c1, 1), r)
        self.b2 = nn.Sequential(
            nn.Conv2d(cin, c2[0], 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c2[0], c2[1], 3, padding=1),
            nn.ReLU(inplace=True),
        )
        self.b3 = nn.Sequential(
            nn.Conv2d(cin, c3[0], 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(c3[0], c3[1], 5, padding=2),
            nn.ReLU(inplace=True),
        )
        self.b4 = nn.Sequential(nn.MaxPool2d(3, 1, 1), nn.Conv2d(cin, c4, 1), nn.ReLU(inplace=True))

    def forward(self, x):
        return torch.cat([self.b1(x), self.b2(x), self.b3(x), self.b4(x)], dim=1)


class GoogLeNet(nn.Module):
    """GoogLeNet / Inception v1 (Szegedy 2014) without the auxiliary classifiers: stem (7x7/2 conv,
    pool, 1x1, 3x3, pool), inception 3a-3b, pool, 4a-4e, pool, 5a-5b, global average pool,
    dropout 0.4, FC n. At 64x64 the last inception stage runs on 2x2 maps."""

    def __init__(self, num_classes: int = 3, in_channels: int = 3, input_size: int = 64):
        super().__init__()
        self.net = nn.Sequential(
            nn.Conv2d(in_channels, 64, 7, 2, 3),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
            nn.Conv2d(64, 64, 1),
            nn.ReLU(inplace=True),
            nn.Conv2d(64, 192, 3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2, 1),
            Inception(192, 64, (96, 128), (16, 32), 32),
            Inception(256, 128, (128, 192), (32, 96), 64),
            nn.MaxPool2d(3, 2, 1),
            Inception(480, 192, (96, 208), (16, 48), 64),
            Inception(512, 160, (112, 224), (24, 64), 64),
            Inception(512, 128, (128, 256), (24, 64), 64),
            Inception(512, 112, (144, 288), (32, 64), 64),
            Inception(528, 256, (160, 320), (32, 128), 128),
            nn.MaxPool2d(3, 2, 1),
            Inception(832, 256, (160, 320), (32, 128), 128),
            Inception(832, 384, (192, 384), (48, 128), 128),
            nn.AdaptiveAvgPool2d(1),
            nn.Flatten(),
            nn.Dropout(0.4),
            nn.Linear(1024, num_classes),
        )

    def forward(self, x):
        return self.net(x)
