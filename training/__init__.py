"""lumbar-ai training: U-Net disc segmentation and DiscNet herniation classification (PyTorch).

Reproduces Sustersic et al., "A Deep Learning Model for Automatic Detection and Classification of
Disc Herniation in Magnetic Resonance Images". Run ``python -m training --help``.
"""

__version__ = "0.1.0"
