"""The training loop: seeding, optimizer, LR schedule, augmentation for segmentation beyond the paper
(:class:`MRIAugment`), ``--oversample`` draw weights, class weights, the step / time budget, one epoch
(:func:`_train_epoch`) and a whole phase with validation, early stopping and best weights (:func:`fit`)."""

from __future__ import annotations

import json
import math
import random
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch
from torch.nn import functional as F
from torch.utils.data import DataLoader
from tqdm import tqdm

from training import preprocess as P
from training.config import TrainConfig
from training.data import CropDataset, SegDataset
from training.scoring import eval_cls, eval_seg, seg_loss


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


def class_weights(labels: np.ndarray, n: int, mode: str) -> torch.Tensor | None:
    if mode != "balanced" or len(labels) == 0:
        return None
    counts = np.bincount(labels, minlength=n).astype(float)
    w = np.where(counts > 0, len(labels) / (n * np.maximum(counts, 1)), 0.0)
    return torch.tensor(w, dtype=torch.float32)


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


def _train_epoch(
    model, loader, opt, loss_fn, device, budget: StepBudget, progress: bool, desc: str, sched=None
) -> tuple[float, float | None]:
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


def fit(cfg, model, parts, classes, device, epochs: int, lr: float, phase: str, history: list, weights) -> None:
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
    order = (
        {"shuffle": True, "generator": g}
        if draw is None
        else {
            "sampler": torch.utils.data.WeightedRandomSampler(
                torch.as_tensor(draw, dtype=torch.double), len(train_ds), replacement=True, generator=g
            )
        }
    )
    loader = DataLoader(
        train_ds,
        batch_size=cfg.batch_size,
        drop_last=len(train_ds) > cfg.batch_size and not seg,
        pin_memory=device.type == "cuda",
        **order,
        **workers,
    )
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
        sched = torch.optim.lr_scheduler.LambdaLR(
            opt, lambda _step: cosine_factor(min(time.time() - t_sched, limit), limit)
        )
    elif cfg.lr_schedule != "constant":
        raise ValueError(f"unknown lr schedule {cfg.lr_schedule!r}")
    best, best_state, bad = math.inf, None, 0
    for epoch in range(1, epochs + 1):
        t_epoch = time.time()
        tr_loss, tr_acc = _train_epoch(
            model, loader, opt, loss_fn, device, budget, cfg.progress, f"{phase} epoch {epoch}/{epochs}", sched
        )
        row = {"epoch": len(history) + 1, "phase": phase, "train_loss": tr_loss, "steps": budget.steps}
        if seg:
            vl, vm, _ = eval_seg(model, parts["val"], device)
            row.update(val_loss=vl, val_dice=vm and vm["dice"], val_iou=vm and vm["iou"])
        else:
            vl, vm, _ = eval_cls(model, parts["val"], classes, device, weights)
            row.update(
                train_accuracy=tr_acc,
                val_loss=vl,
                val_accuracy=vm and vm["accuracy"],
                val_balanced_accuracy=vm and vm["balanced_accuracy"],
            )
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
