"""U-Net of the paper (section II.B, Fig. 2), in PyTorch.

Encoder: per level two 3x3 convolutions ('same' padding, ReLU), then 2x2 max pooling; filters
8, 16, 32, 64, 128, 256 (the paper's best: "network depth up to 256 kernel features, starting with
8"). Decoder: per level a 2x2 transposed convolution (stride 2), concatenation with the encoder
feature map of the same size (skip connection), two 3x3 convolutions. Output: 1x1 convolution to
``out_channels`` (channel 0 = disc; optionally 6 more, one per disc level T12-L1..L5-S1) and a
sigmoid (added at export; ``forward`` returns logits). Dropout (grid-searched 0.1..0.5 in the
paper) sits between the two convolutions of each block. Input 1x256x256 (any size divisible by
2**(levels-1) works).
"""

from __future__ import annotations

import torch
from torch import nn

from training.models.discnet import _glorot

PAPER_FILTERS = (8, 16, 32, 64, 128, 256)


def unet_divisor(filters) -> int:
    """What the input's height and width must divide by: the U-Net halves them once per level below the top."""
    return 2 ** (len(filters) - 1)


def _block(cin: int, cout: int, dropout: float) -> nn.Sequential:
    layers: list[nn.Module] = [nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]
    if dropout > 0:
        layers.append(nn.Dropout(dropout))
    layers += [nn.Conv2d(cout, cout, 3, padding=1), nn.ReLU(inplace=True)]
    return nn.Sequential(*layers)


class UNet(nn.Module):
    def __init__(
        self,
        in_channels: int = 1,
        out_channels: int = 1,
        filters: tuple[int, ...] = PAPER_FILTERS,
        dropout: float = 0.1,
    ):
        super().__init__()
        filters = tuple(int(f) for f in filters)
        self.filters = filters
        self.down = nn.ModuleList()
        c = in_channels
        for f in filters:
            self.down.append(_block(c, f, dropout))
            c = f
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ModuleList()
        self.dec = nn.ModuleList()
        for f_hi, f_lo in zip(filters[::-1][:-1], filters[::-1][1:]):
            self.up.append(nn.ConvTranspose2d(f_hi, f_lo, 2, stride=2))
            self.dec.append(_block(2 * f_lo, f_lo, dropout))
        self.head = nn.Conv2d(filters[0], out_channels, 1)
        _glorot(self)

    @property
    def divisor(self) -> int:
        return unet_divisor(self.filters)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for i, block in enumerate(self.down):
            x = block(x)
            if i < len(self.down) - 1:
                skips.append(x)
                x = self.pool(x)
        for up, dec in zip(self.up, self.dec):
            x = up(x)
            x = dec(torch.cat([x, skips.pop()], dim=1))
        return self.head(x)
