"""Training loops for segmentation (U-Net) and classification (DiscNet, baselines, transfer).

Paper settings used as defaults:
- U-Net: stochastic gradient descent, LR 0.01, batch size 8, 35 epochs ("optimal number of epochs
  was 35"), dropout grid-searched 0.1..0.5 (default 0.1). Momentum 0.9 is our assumption (the
  paper names no momentum). Loss: binary cross-entropy + soft Dice (the paper names no loss).
- DiscNet: Adam, LR 1e-5, beta1 0.9, beta2 0.9, eps 1e-8 (section III.B), categorical
  cross-entropy, early stopping. The other CNNs use the same optimizer settings except where a
  command line option says otherwise; transfer learning trains the head at ``--lr`` (default 1e-3)
  and fine-tunes everything at 1e-5.
- Augmentation (training only): horizontal flip (axial: left <-> right labels swapped) and
  brightness x U(0.8, 1.2). Beyond the paper, segmentation only: ``--augment-extra`` (similarity transform,
  gamma) and ``--augment-mri`` (:class:`MRIAugment`: smooth multiplicative bias field, Rician noise); any task:
  ``--oversample SOURCE=FRACTION`` (training draws with replacement: that data source makes up FRACTION of each epoch).

Early stopping watches the validation loss (patience ``--patience`` epochs) and restores the best
weights. ``--max-steps`` caps optimizer steps (tests, smoke runs). Device: CUDA when available.
"""

from __future__ import annotations

import json
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from training import __version__
from training import metrics as M
from training import preprocess as P
from training import report as R
from training import splits as S
from training.data import CropDataset, SegDataset, build_crops, seg_arrays, seg_classes
from training.datasets import classes_for, credits_for, fixed_parts, load_records, patient_strata
from training.inference import CHECKPOINT_NAME, Runner, pick_device
from training.pack import is_packed, load_packed
from training.models import DISPLAY, TRANSFER, build_model, count_params
from training.models.unet import PAPER_FILTERS as PAPER_UNET_FILTERS
from training.models.unet import unet_divisor

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
    seg_size: int = P.SEG_SIZE
    crop_size: int | None = None  # segmentation: train on random crops of this size of the seg_size letterbox
    smooth_masks: bool = False  # segmentation: letterbox masks by bilinear resizing + 0.5 (not nearest); card: bilinear-probability upsampling
    seg_levels: bool = False
    augment: bool = True
    augment_extra: bool = False  # segmentation: + scale/rotation/shift and gamma (beyond the paper)
    augment_mri: bool = False  # segmentation: + smooth multiplicative bias field and Rician noise (MRIAugment)
    oversample: str | None = None  # 'SOURCE=FRACTION': training draws (with replacement) give that source FRACTION of each epoch
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
    lr_schedule: str = "constant"  # constant | cosine (per optimizer step, over the step budget) | cosine-time (over --time-limit)
    monitor: str = "loss"  # early stopping / best weights: validation 'loss' or 'metric' (Dice; balanced accuracy)
    workers: int = 0  # DataLoader worker processes (augmentation runs there)
    time_limit: float | None = None  # seconds of training (per phase) after which the run stops, keeping the best weights
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


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)


def make_optimizer(cfg: TrainConfig, params, lr: float | None = None) -> torch.optim.Optimizer:
    lr = cfg.lr if lr is None else lr
    params = [p for p in params if p.requires_grad]
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=lr, momentum=cfg.momentum, weight_decay=cfg.weight_decay)
    if cfg.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, betas=(cfg.beta1, cfg.beta2), eps=cfg.eps, weight_decay=cfg.weight_decay)
    raise ValueError(f"unknown optimizer {cfg.optimizer!r}")


def seg_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Binary cross-entropy + (1 - soft Dice), averaged over channels."""
    bce = F.binary_cross_entropy_with_logits(logits, target)
    p = torch.sigmoid(logits)
    dims = (0, 2, 3)
    inter = (p * target).sum(dims)
    den = p.sum(dims) + target.sum(dims)
    soft_dice = ((2 * inter + 1.0) / (den + 1.0)).mean()
    return bce + (1 - soft_dice)


# ------------------------------------------------------------------------------------------------
# Data preparation
# ------------------------------------------------------------------------------------------------


def load_all(cfg: TrainConfig) -> list:
    records = []
    for d in cfg.data:
        records += load_records(d, cfg.task, cfg.view, both=cfg.both, drop_bulge=cfg.drop_bulge)
    if not records:
        raise SystemExit(f"no {cfg.task} records for view {cfg.view} in {cfg.data}")
    return records


def make_split(cfg: TrainConfig, records) -> dict:
    if cfg.split:
        split = S.read_split(cfg.split)
    else:
        # data sets that fix their own split (annotated axial slices: labels.csv's test slices only ever go to
        # test) keep it; every other patient is split as usual
        fixed = fixed_parts(records, cfg.seed)
        free = [r for r in records if r.patient_id not in fixed]
        strata = patient_strata(free) if cfg.task == "classification" else {p: r.source for r in free for p in [r.patient_id]}
        split = S.split_patients([r.patient_id for r in free], seed=cfg.seed, strata=strata)
        if fixed:
            for p, part in fixed.items():
                split[part].append(p)
            for part in ("train", "val", "test"):
                split[part] = sorted(split[part])
            sources = sorted({p.split(":", 1)[0] for p in fixed})
            split["method"] = (f"{split['method']} + " if free else "") + f"fixed by the data set ({', '.join(sources)}: its test part; seeded validation slices from its train part)"
    S.check_disjoint(split)
    return split


def prepare(cfg: TrainConfig, records, split: dict) -> dict:
    """Arrays per part: {'train': ..., 'val': ..., 'test': ...}."""
    parts = {}
    predictor = None
    if cfg.task == "classification" and cfg.seg_model and any(r.mask_path is None for r in records):
        predictor = Runner(cfg.seg_model, cfg.device).segment
    for name in ("train", "val", "test"):
        recs = S.select(records, split.get(name, []))
        if cfg.task == "segmentation":
            imgs, tgts = seg_arrays(recs, cfg.seg_size, cfg.seg_levels, cfg.progress, desc=f"load {name}", smooth=cfg.smooth_masks)
            parts[name] = {"images": imgs, "targets": tgts, "ids": [r.sample_id for r in recs], "patients": [r.patient_id for r in recs]}
        else:
            parts[name] = build_crops(recs, cfg.view, predictor, cfg.progress, desc=f"crops {name}")
    return parts


def class_weights(labels: np.ndarray, n: int, mode: str) -> torch.Tensor | None:
    if mode != "balanced" or len(labels) == 0:
        return None
    counts = np.bincount(labels, minlength=n).astype(float)
    w = np.where(counts > 0, len(labels) / (n * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


# ------------------------------------------------------------------------------------------------
# Epoch loops
# ------------------------------------------------------------------------------------------------

COSINE_FLOOR = 0.02  # cosine schedule: the LR falls from lr to lr * COSINE_FLOOR


def cosine_factor(step: int, total: int, floor: float = COSINE_FLOOR) -> float:
    """LR multiplier after ``step`` of ``total`` optimizer steps: half a cosine from 1 to ``floor``."""
    if total <= 0:
        return 1.0
    t = min(step, total) / total
    return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * t))


@dataclass
class MRIAugment(P.Augment):
    """``--augment-mri`` (segmentation, beyond the paper): after the flip / similarity / gamma / brightness of
    :class:`preprocess.Augment`, with probability ``mri_p`` a smooth multiplicative bias field (coil
    inhomogeneity: exp of a random ``g`` x ``g`` grid, g in 2..``bias_grid``, bicubic-upsampled and scaled to a
    log-amplitude up to ``bias``, i.e. up to x1.35 / x0.74 at the default 0.3) and Rician noise (magnitude of the
    image plus complex Gaussian noise, sigma uniform in ``noise_sigma`` grey levels). Masks are unchanged;
    the image stays uint8 of the same shape."""

    mri_p: float = 0.8
    bias: float = 0.3
    bias_grid: int = 4
    noise_sigma: tuple[float, float] = (0.0, 8.0)

    def segmentation(self, image: np.ndarray, mask: np.ndarray, rng: np.random.Generator):
        image, mask = super().segmentation(image, mask, rng)
        if rng.random() < self.mri_p:
            image = self.intensity(image, rng)
        return image, mask

    def intensity(self, image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        import cv2

        h, w = image.shape[-2:]
        g = int(rng.integers(2, self.bias_grid + 1))
        field = cv2.resize(rng.standard_normal((g, g)).astype(np.float32), (w, h), interpolation=cv2.INTER_CUBIC)
        field /= max(float(np.abs(field).max()), 1e-6)
        x = image.astype(np.float64) * np.exp(rng.uniform(0.0, self.bias) * field)
        sigma = rng.uniform(*self.noise_sigma)
        if sigma > 0:
            x = np.hypot(x + rng.normal(0.0, sigma, x.shape), rng.normal(0.0, sigma, x.shape))
        return np.clip(np.floor(x + 0.5), 0, 255).astype(np.uint8)


def oversample_weights(patients: list[str], spec: str | None) -> np.ndarray | None:
    """``--oversample SOURCE=FRACTION``: per training image the draw weight that gives the images of SOURCE (the
    patient id's prefix before ':', e.g. ``mendeley-axial``) FRACTION of the draws and the rest 1 - FRACTION,
    uniformly within each; None without a spec."""
    if not spec:
        return None
    src, _, frac_s = spec.rpartition("=")
    frac = float(frac_s)
    if not src or not 0 < frac < 1:
        raise SystemExit(f"--oversample {spec!r}: expected SOURCE=FRACTION with 0 < FRACTION < 1")
    mine = np.array([p.split(":", 1)[0] == src for p in patients], dtype=bool)
    k, n = int(mine.sum()), len(mine)
    if k == 0:
        raise SystemExit(f"--oversample: no training image of source {src!r}")
    if k == n:
        return None
    return np.where(mine, frac / k, (1 - frac) / (n - k))


def _worker_init(_worker_id: int) -> None:
    """Each DataLoader worker (new every epoch) draws its augmentation from its own seeded stream."""
    info = torch.utils.data.get_worker_info()
    if info is not None and hasattr(info.dataset, "rng"):
        info.dataset.rng = np.random.default_rng(torch.initial_seed() % 2**32)


class StepBudget:
    def __init__(self, max_steps: int | None, time_limit: float | None = None):
        self.max_steps = max_steps
        self.steps = 0
        self.deadline = None if time_limit is None else time.time() + time_limit
        self.timed_out = False

    @property
    def done(self) -> bool:
        if self.deadline is not None and time.time() >= self.deadline:
            self.timed_out = True
        return (self.max_steps is not None and self.steps >= self.max_steps) or self.timed_out


def _train_epoch(model, loader, opt, loss_fn, device, budget: StepBudget, progress: bool, desc: str, sched=None) -> tuple[float, float | None]:
    """One pass over the (augmented) training data; returns mean loss and, for classification,
    the running accuracy on the training batches (as Keras reports it)."""
    model.train()
    total, n, correct = 0.0, 0, 0
    classify = None
    for x, y in tqdm(loader, desc=desc, disable=not progress, leave=False):
        if budget.done:
            break
        x, y = x.to(device), y.to(device)
        opt.zero_grad(set_to_none=True)
        out = model(x)
        loss = loss_fn(out, y)
        loss.backward()
        opt.step()
        if sched is not None:
            sched.step()
        budget.steps += 1
        total += float(loss.detach()) * len(x)
        n += len(x)
        classify = y.dtype == torch.long
        if classify:
            correct += int((out.detach().argmax(1) == y).sum())
    if not n:
        return float("nan"), None
    return total / n, (correct / n if classify else None)


@torch.no_grad()
def predict_logits(model, x: np.ndarray | torch.Tensor, device, batch_size: int = 16) -> torch.Tensor:
    model.eval()
    outs = []
    for i in range(0, len(x), batch_size):
        xb = torch.as_tensor(x[i : i + batch_size]).to(device)
        outs.append(model(xb).float().cpu())
    return torch.cat(outs) if outs else torch.zeros(0)


def eval_seg(model, part: dict, device, batch_size: int = 8) -> tuple[float | None, dict | None, np.ndarray | None]:
    if len(part["images"]) == 0:
        return None, None, None
    ds = SegDataset(part["images"], part["targets"])
    x = torch.stack([ds[i][0] for i in range(len(ds))])
    y = torch.from_numpy(part["targets"].astype(np.float32))
    logits = predict_logits(model, x, device, batch_size)
    loss = float(seg_loss(logits, y))
    pred = (torch.sigmoid(logits[:, 0]) > 0.5).numpy()
    m = M.segmentation_metrics(pred, part["targets"][:, 0])
    return loss, m, pred


def eval_cls(model, part: dict, classes, device, weights=None) -> tuple[float | None, dict | None, np.ndarray | None]:
    if len(part["crops"]) == 0:
        return None, None, None
    x = np.stack([P.crop_to_input(c) for c in part["crops"]])
    logits = predict_logits(model, x, device)
    y = torch.from_numpy(part["labels"])
    loss = float(F.cross_entropy(logits, y, weight=weights))
    prob = torch.softmax(logits, 1).numpy()
    m = M.classification_metrics(part["labels"], prob.argmax(1), classes, prob)
    return loss, m, prob


# ------------------------------------------------------------------------------------------------
# Main entry
# ------------------------------------------------------------------------------------------------


def _fit(cfg, model, parts, classes, device, epochs: int, lr: float, phase: str, history: list, weights) -> None:
    seg = cfg.task == "segmentation"
    aug = None
    if cfg.augment:
        aug_cls = MRIAugment if cfg.augment_mri and cfg.task == "segmentation" else P.Augment
        aug = aug_cls(extra=cfg.augment_extra and cfg.task == "segmentation")
    if seg:
        train_ds = SegDataset(parts["train"]["images"], parts["train"]["targets"], aug, cfg.seed, crop=cfg.crop_size)
        loss_fn = seg_loss
    else:
        train_ds = CropDataset(parts["train"]["crops"], parts["train"]["labels"], classes, cfg.view, aug, cfg.seed)
        w = weights.to(device) if weights is not None else None

        def loss_fn(logits, y):
            return F.cross_entropy(logits, y, weight=w)

    if len(train_ds) == 0:
        raise SystemExit("the training part is empty")
    g = torch.Generator()
    g.manual_seed(cfg.seed)
    workers = {"num_workers": cfg.workers, "worker_init_fn": _worker_init} if cfg.workers > 0 else {}
    draw = oversample_weights(list(parts["train"].get("patients", [])), cfg.oversample)
    order = {"shuffle": True, "generator": g} if draw is None else {"sampler": torch.utils.data.WeightedRandomSampler(torch.as_tensor(draw, dtype=torch.double), len(train_ds), replacement=True, generator=g)}
    loader = DataLoader(train_ds, batch_size=cfg.batch_size, drop_last=len(train_ds) > cfg.batch_size and not seg, pin_memory=device.type == "cuda", **order, **workers)
    opt = make_optimizer(cfg, model.parameters(), lr)
    budget = StepBudget(cfg.max_steps, cfg.time_limit)
    sched = None
    if cfg.lr_schedule == "cosine":
        total = epochs * len(loader) if cfg.max_steps is None else min(cfg.max_steps, epochs * len(loader))
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda step: cosine_factor(step, total))
    elif cfg.lr_schedule == "cosine-time":
        # the same half cosine over the wall-clock budget: the LR has fallen to the floor when --time-limit is up,
        # however many steps the machine managed (validation time included); train() checked --time-limit
        t_sched, limit = time.time(), float(cfg.time_limit)
        sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda _step: cosine_factor(min(time.time() - t_sched, limit), limit))
    elif cfg.lr_schedule != "constant":
        raise ValueError(f"unknown lr schedule {cfg.lr_schedule!r}")
    best, best_state, bad = math.inf, None, 0
    for epoch in range(1, epochs + 1):
        t_epoch = time.time()
        tr_loss, tr_acc = _train_epoch(model, loader, opt, loss_fn, device, budget, cfg.progress, f"{phase} epoch {epoch}/{epochs}", sched)
        row = {"epoch": len(history) + 1, "phase": phase, "train_loss": tr_loss, "steps": budget.steps}
        if seg:
            vl, vm, _ = eval_seg(model, parts["val"], device)
            row.update(val_loss=vl, val_dice=vm and vm["dice"], val_iou=vm and vm["iou"])
        else:
            vl, vm, _ = eval_cls(model, parts["val"], classes, device, weights)
            row.update(train_accuracy=tr_acc, val_loss=vl, val_accuracy=vm and vm["accuracy"], val_balanced_accuracy=vm and vm["balanced_accuracy"])
        if sched is not None:
            row["lr"] = opt.param_groups[0]["lr"]
        row["seconds"] = round(time.time() - t_epoch, 2)
        history.append(row)
        if cfg.progress:
            tqdm.write(json.dumps({k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()}))
        monitor = vl if vl is not None else tr_loss
        if cfg.monitor == "metric" and vm is not None:
            # higher is better: Dice (segmentation), balanced accuracy (classification); ties -> lower loss
            score = vm["dice"] if seg else vm["balanced_accuracy"]
            monitor = -score + 1e-6 * min(vl, 1e3)
        elif cfg.monitor not in ("loss", "metric"):
            raise ValueError(f"unknown monitor {cfg.monitor!r}")
        if monitor < best - 1e-6:
            best, bad = monitor, 0
            best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            bad += 1
            if bad >= cfg.patience:
                break
        if budget.done:
            break
    if budget.timed_out:
        history[-1]["stopped"] = "time limit"
    if best_state is not None:
        model.load_state_dict(best_state)


def check_seg_sizes(cfg: TrainConfig) -> None:
    """The U-Net halves its input once per level below the top: the letterbox and the training crops must divide
    by 2**(levels-1) (32 for the paper's six levels), and a crop must fit in the letterbox."""
    div = unet_divisor(cfg.filters or PAPER_UNET_FILTERS)
    for what, v in (("--seg-size", cfg.seg_size), ("--crop-size", cfg.crop_size)):
        if v is not None and (v < div or v % div):
            raise SystemExit(f"{what} {v} must be a multiple of {div} (the U-Net pools {div.bit_length() - 1} times)")
    if cfg.crop_size is not None and cfg.crop_size > cfg.seg_size:
        raise SystemExit(f"--crop-size {cfg.crop_size} is larger than the letterbox (--seg-size {cfg.seg_size})")


def train(cfg: TrainConfig, prepared: tuple | None = None) -> dict:
    """Train one model; ``prepared`` = (records, split, parts) reuses data made for another run."""
    cfg = cfg.resolved()
    if cfg.lr_schedule == "cosine-time" and not (cfg.time_limit and cfg.time_limit > 0):
        raise SystemExit("--lr-schedule cosine-time needs --time-limit (seconds, > 0)")
    seed_everything(cfg.seed)
    device = pick_device(cfg.device)
    if device.type == "cuda":
        torch.backends.cudnn.benchmark = True  # fixed input sizes: let cuDNN pick its fastest kernels
    os.makedirs(cfg.out, exist_ok=True)
    t_start = time.time()
    packed = None
    if prepared is None and cfg.data and all(is_packed(d) for d in cfg.data):
        if len(cfg.data) != 1:
            raise SystemExit("one packed .npz at a time (pack several data folders into one with `python -m training pack`)")
        if cfg.split:
            raise SystemExit("a packed .npz carries its own split: leave --split out")
        packed, split, parts = load_packed(cfg.data[0])
        if (packed["task"], packed["view"]) != (cfg.task, cfg.view):
            raise SystemExit(f"{cfg.data[0]} holds {packed['task']}/{packed['view']} data, not {cfg.task}/{cfg.view}")
        cfg.seg_size, cfg.seg_levels, cfg.both, cfg.drop_bulge = packed["seg_size"], packed["seg_levels"], packed["both"], packed["drop_bulge"]
        cfg.smooth_masks = bool(packed.get("smooth_masks", False))
    elif prepared is None:
        records = load_all(cfg)
        split = make_split(cfg, records)
        parts = prepare(cfg, records, split)
    else:
        records, split, parts = prepared
    S.write_split(split, os.path.join(cfg.out, "split.json"))
    seg = cfg.task == "segmentation"
    if seg:
        check_seg_sizes(cfg)
    classes = seg_classes(cfg.seg_levels) if seg else list(classes_for(cfg.view, cfg.drop_bulge))
    arch_kwargs = {"num_classes": len(classes), "in_channels": 1 if seg else 3, "input_size": cfg.seg_size if seg else P.CROP_SIZE}
    if cfg.filters:
        arch_kwargs["filters"] = list(cfg.filters)
    if cfg.dropout is not None:
        arch_kwargs["dropout"] = cfg.dropout
    model = build_model(cfg.arch, weights=cfg.pretrained, **arch_kwargs).to(device)
    if cfg.init:
        from training.inference import init_state_dict

        model.load_state_dict(init_state_dict(cfg.init, model))
    weights = None if seg else class_weights(parts["train"]["labels"], len(classes), cfg.class_weights)
    history: list[dict] = []
    if cfg.arch in TRANSFER:
        model.freeze_backbone(True)
        params_frozen = count_params(model)
        _fit(cfg, model, parts, classes, device, cfg.epochs, cfg.lr, "frozen", history, weights)
        model.freeze_backbone(False)
        _fit(cfg, model, parts, classes, device, cfg.finetune_epochs, cfg.finetune_lr, "finetune", history, weights)
    else:
        params_frozen = None
        _fit(cfg, model, parts, classes, device, cfg.epochs, cfg.lr, "train", history, weights)

    results, preds = {}, {}
    for name in ("train", "val", "test"):
        if name == "train" and not cfg.eval_train:
            results[name] = None
            continue
        if seg:
            loss, m, _ = eval_seg(model, parts[name], device)
        else:
            loss, m, prob = eval_cls(model, parts[name], classes, device, weights)
            preds[name] = prob
        if m is not None:
            m["loss"] = loss
        results[name] = m
    data_credits = packed["training_data"] if packed else [credits_for(d) for d in cfg.data]
    counts = {k: (len(v["images"]) if seg else len(v["crops"])) for k, v in parts.items()}
    skipped = {} if seg else {k: len(v.get("skipped", [])) for k, v in parts.items()}
    ckpt = {
        "format": "lumbar-ai-checkpoint/1",
        "training_version": __version__,
        "arch": cfg.arch,
        "arch_kwargs": arch_kwargs,
        "task": cfg.task,
        "view": cfg.view,
        "classes": classes,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "preprocessing": P.seg_preprocessing_spec(cfg.seg_size, cfg.smooth_masks, cfg.crop_size) if seg else P.preprocessing_spec(cfg.view),
        "upsample": ("bilinear-probability" if cfg.smooth_masks else "nearest-mask") if seg else None,
        "training_data": data_credits,
        "metrics": {k: _compact(v, seg) for k, v in results.items() if v},
        "images": counts,
        "split": {k: split.get(k) for k in ("method", "seed")},
        "config": asdict(cfg),
        "params": count_params(model),
        "torch_version": torch.__version__,
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "seconds": round(time.time() - t_start, 1),
        "history_tail": history[-1] if history else None,
    }
    torch.save(ckpt, os.path.join(cfg.out, CHECKPOINT_NAME))
    R.write_json(asdict(cfg), os.path.join(cfg.out, "config.json"))
    R.write_json(history, os.path.join(cfg.out, "history.json"))
    R.write_json({"task": cfg.task, "view": cfg.view, "arch": cfg.arch, "classes": classes, "images": counts, "skipped_no_disc": skipped, "params": ckpt["params"], "params_frozen_phase": params_frozen, "parts": results, "seconds": round(time.time() - t_start, 1)}, os.path.join(cfg.out, "metrics.json"))
    if not seg:
        for name in ("val", "test"):
            if preds.get(name) is not None:
                R.write_json({"ids": parts[name]["ids"], "labels": parts[name]["labels"], "probs": preds[name], "mask_source": parts[name]["mask_source"]}, os.path.join(cfg.out, f"predictions_{name}.json"))
    if cfg.plots:
        R.plot_curves(history, cfg.out, cfg.task)
        final = results.get("test") or results.get("val")
        fpart = "test" if results.get("test") else "val"
        if not seg and final:
            R.plot_confusion(final["confusion_matrix"], classes, os.path.join(cfg.out, "confusion.png"), f"Confusion matrix ({fpart})")
            R.plot_roc_pr(parts[fpart]["labels"], preds[fpart], classes, cfg.out)
    info = {
        "model": DISPLAY.get(cfg.arch, cfg.arch),
        "task": cfg.task,
        "view": cfg.view,
        "data": ", ".join(f"{c['name']} ({c['kind']})" for c in data_credits),
        "images (train/val/test)": f"{counts['train']}/{counts['val']}/{counts['test']}" + (f" (skipped, no disc found: {sum(skipped.values())})" if skipped and sum(skipped.values()) else ""),
        "patients (train/val/test)": f"{len(split['train'])}/{len(split['val'])}/{len(split['test'])}",
        "epochs run": len(history),
        "optimizer steps": history[-1]["steps"] if history else 0,
        "optimizer": f"{cfg.optimizer} lr {cfg.lr}" + (f" betas ({cfg.beta1}, {cfg.beta2}) eps {cfg.eps}" if cfg.optimizer == "adam" else f" momentum {cfg.momentum}"),
        "batch size": cfg.batch_size,
        "parameters": ckpt["params"],
        "device": str(device) + (f" ({torch.cuda.get_device_name(device)})" if device.type == "cuda" else ""),
        "seconds": round(time.time() - t_start, 1),
    }
    if cfg.lr_schedule != "constant":
        info["LR schedule"] = f"{cfg.lr_schedule} (to {COSINE_FLOOR} x LR)"
    if history and history[-1].get("stopped"):
        info["stopped"] = history[-1]["stopped"]
    R.write_summary(cfg.out, f"Training run: {cfg.name or os.path.basename(cfg.out)}", cfg.task, info, results)
    return {"run": cfg.out, "metrics": results, "history": history, "classes": classes, "checkpoint": os.path.join(cfg.out, CHECKPOINT_NAME)}


def _compact(m: dict, seg: bool) -> dict:
    if seg:
        return {k: m[k] for k in ("dice", "iou", "accuracy", "precision", "recall", "mean_dice", "n_images") if k in m}
    return {
        "accuracy": m["accuracy"],
        "balanced_accuracy": m["balanced_accuracy"],
        "macro_f1": m["macro"]["f1"],
        "weighted_f1": m["weighted"]["f1"],
        "macro_roc_auc": m["macro"].get("roc_auc"),
        "per_class_recall": {c: v["recall"] for c, v in m["per_class"].items()},
        "n": m["n"],
    }
