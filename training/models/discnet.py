"""DiscNet, the paper's classifier (section III.B), in PyTorch.

Layer hyperparameters not stated in the paper were chosen so that, with a 64x64x3 input and 3
classes, the parameter count is exactly the paper's (342,691 total, 256,163 trainable, 86,528
non-trainable, counted as Keras does: BatchNorm moving mean/variance are non-trainable). They are
the Keras defaults:

  input 3x64x64
  Conv2D(16, 7x7, padding='valid', ReLU)        -> 16x58x58   (2,368 params)
  MaxPool2D(3x3, stride 1, padding='same')     -> 16x58x58
  Conv2D(32, 3x3, padding='valid', ReLU)        -> 32x56x56   (4,640)
  Conv2D(64, 4x4, padding='valid', ReLU)        -> 64x53x53   (32,832)
  AveragePooling2D() = 2x2, stride 2, 'valid'   -> 64x26x26
  Flatten                                       -> 43,264
  Dropout(0.4)
  BatchNormalization (eps 1e-3, momentum 0.99)  -> 4 x 43,264 = 173,056 (86,528 non-trainable)
  Dense(3, softmax)                             -> 129,795

Flatten order: PyTorch flattens C,H,W; Keras H,W,C. Only matters when importing Keras weights.
``forward`` returns logits; softmax is added at export time.
"""

from __future__ import annotations

import torch
from torch import nn


def _glorot(module: nn.Module) -> None:
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.Linear, nn.ConvTranspose2d)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


class DiscNet(nn.Module):
    def __init__(
        self,
        num_classes: int = 3,
        in_channels: int = 3,
        input_size: int = 64,
        dropout: float = 0.4,
        filters: tuple[int, int, int] = (16, 32, 64),
    ):
        super().__init__()
        f1, f2, f3 = filters
        self.features = nn.Sequential(
            nn.Conv2d(in_channels, f1, 7),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(3, stride=1, padding=1),
            nn.Conv2d(f1, f2, 3),
            nn.ReLU(inplace=True),
            nn.Conv2d(f2, f3, 4),
            nn.ReLU(inplace=True),
            nn.AvgPool2d(2),
        )
        side = (input_size - 6 - 2 - 3) // 2
        n = f3 * side * side
        self.dropout = nn.Dropout(dropout)
        self.bn = nn.BatchNorm1d(n, eps=1e-3, momentum=0.01)
        self.fc = nn.Linear(n, num_classes)
        _glorot(self)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = torch.flatten(self.features(x), 1)
        return self.fc(self.bn(self.dropout(x)))
