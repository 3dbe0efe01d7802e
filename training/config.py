"""Training configuration: :class:`TrainConfig` (every option of ``python -m training train``), the paper's
defaults (:data:`PAPER`) it resolves to, and the size rules of the segmentation inputs (:func:`check_seg_sizes`).
The paper settings behind the defaults are spelled out in :mod:`training.engine`."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

from training.models import TRANSFER
from training.models.unet import PAPER_FILTERS as PAPER_UNET_FILTERS
from training.models.unet import unet_divisor
from training.preprocess import SEG_SIZE

PAPER = {
    "segmentation": {"optimizer": "sgd", "lr": 0.01, "batch_size": 8, "epochs": 35},
    "discnet": {"optimizer": "adam", "lr": 1e-5, "betas": (0.9, 0.9), "eps": 1e-8},
    "finetune_lr": 1e-5,
}


@dataclass
class TrainConfig:
    task: str = "classification"  # segmentation | classification
    view: str = "sagittal"  # sagittal | axial
    arch: str | None = None  # unet for segmentation; discnet ... for classification
    data: list[str] = field(default_factory=list)
    out: str = "training/runs/run"
    epochs: int | None = None
    max_steps: int | None = None
    batch_size: int = 8
    lr: float | None = None
    optimizer: str | None = None  # sgd | adam
    momentum: float = 0.9
    beta1: float = 0.9
    beta2: float = 0.9
    eps: float = 1e-8
    weight_decay: float = 0.0
    patience: int = 10
    seed: int = 0
    filters: list[int] | None = None
    dropout: float | None = None
    seg_size: int = SEG_SIZE
    crop_size: int | None = None  # segmentation: train on random crops of this size of the seg_size letterbox
    # segmentation: letterbox masks by bilinear resizing + 0.5 (not nearest); card: bilinear-probability upsampling
    smooth_masks: bool = False
    seg_levels: bool = False
    augment: bool = True
    augment_extra: bool = False  # segmentation: + scale/rotation/shift and gamma (beyond the paper)
    augment_mri: bool = False  # segmentation: + smooth multiplicative bias field and Rician noise (MRIAugment)
    oversample: str | None = (
        None  # 'SOURCE=FRACTION': training draws (with replacement) give that source FRACTION of each epoch
    )
    class_weights: str = "none"  # none | balanced
    split: str | None = None  # reuse a split JSON
    seg_model: str | None = None  # to crop images without masks
    pretrained: str | None = None  # transfer learning: torchvision ImageNet state_dict
    init: str | None = None  # start from the weights of an earlier run (checkpoint.pt or its folder)
    finetune_epochs: int = 20
    finetune_lr: float = PAPER["finetune_lr"]
    drop_bulge: bool = False
    both: str = "drop"
    device: str = "auto"
    progress: bool = True
    plots: bool = True
    eval_train: bool = True  # final metrics on the training part too (Table II has them)
    name: str | None = None
    lr_schedule: str = (
        "constant"  # constant | cosine (per optimizer step, over the step budget) | cosine-time (over --time-limit)
    )
    monitor: str = "loss"  # early stopping / best weights: validation 'loss' or 'metric' (Dice; balanced accuracy)
    workers: int = 0  # DataLoader worker processes (augmentation runs there)
    time_limit: float | None = (
        None  # seconds of training (per phase) after which the run stops, keeping the best weights
    )
    command: str | None = None  # the command line that started the run (written into the checkpoint and card)

    def resolved(self) -> TrainConfig:
        c = TrainConfig(**asdict(self))
        if c.arch is None:
            c.arch = "unet" if c.task == "segmentation" else "discnet"
        if c.task == "segmentation":
            c.optimizer = c.optimizer or PAPER["segmentation"]["optimizer"]
            c.lr = c.lr if c.lr is not None else PAPER["segmentation"]["lr"]
            c.epochs = c.epochs if c.epochs is not None else PAPER["segmentation"]["epochs"]
        else:
            c.optimizer = c.optimizer or "adam"
            if c.lr is None:
                c.lr = 1e-3 if c.arch in TRANSFER else PAPER["discnet"]["lr"]
            c.epochs = c.epochs if c.epochs is not None else 100
        return c


def check_seg_sizes(cfg: TrainConfig) -> None:
    """The U-Net halves its input once per level below the top: the letterbox and the training crops must divide
    by 2**(levels-1) (32 for the paper's six levels), and a crop must fit in the letterbox."""
    div = unet_divisor(cfg.filters or PAPER_UNET_FILTERS)
    for what, v in (("--seg-size", cfg.seg_size), ("--crop-size", cfg.crop_size)):
        if v is not None and (v < div or v % div):
            raise SystemExit(f"{what} {v} must be a multiple of {div} (the U-Net pools {div.bit_length() - 1} times)")
    if cfg.crop_size is not None and cfg.crop_size > cfg.seg_size:
        raise SystemExit(f"--crop-size {cfg.crop_size} is larger than the letterbox (--seg-size {cfg.seg_size})")
