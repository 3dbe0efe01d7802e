"""``python -m training <command>``: train, evaluate, compare, crossval, export, gridsearch,
retrain-all, finetune. Run any command with ``--help``."""

from __future__ import annotations

import argparse
import json
import os
import sys

from training import __version__


def _floats(s: str) -> list[float]:
    return [float(v) for v in s.split(",") if v.strip()]


def _ints(s: str) -> list[int]:
    return [int(v) for v in s.split(",") if v.strip()]


def _filter_sets(s: str) -> list:
    """'8-16-32-64,16-32-64-128' -> [[8,16,32,64],[16,32,64,128]]"""
    return [[int(x) for x in part.split("-")] for part in s.split(",") if part.strip()]


def add_train_args(p: argparse.ArgumentParser, task_required: bool = True) -> None:
    p.add_argument(
        "--task",
        choices=["segmentation", "classification", "seg", "cls"],
        default=None if task_required else "classification",
        required=task_required,
    )
    p.add_argument("--view", choices=["sagittal", "axial"], required=True)
    p.add_argument(
        "--data",
        action="append",
        required=True,
        help="data folder (phantom, SPIDER or Mendeley layout); repeat to combine; or one .npz written by `pack`",
    )
    p.add_argument("--out", default=None, help="run folder (default training/runs/<command>-<task>-<view>)")
    p.add_argument("--epochs", type=int, default=None, help="default: 35 (segmentation, paper), 100 (classification)")
    p.add_argument("--max-steps", type=int, default=None, help="stop after this many optimizer steps (per phase)")
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument(
        "--lr", type=float, default=None, help="default: 0.01 U-Net, 1e-5 DiscNet/baselines, 1e-3 transfer head"
    )
    p.add_argument(
        "--optimizer", choices=["sgd", "adam"], default=None, help="default: sgd (U-Net), adam (classifiers)"
    )
    p.add_argument("--momentum", type=float, default=0.9)
    p.add_argument("--beta1", type=float, default=0.9)
    p.add_argument("--beta2", type=float, default=0.9, help="paper: 0.9 for DiscNet")
    p.add_argument("--eps", type=float, default=1e-8)
    p.add_argument("--weight-decay", type=float, default=0.0)
    p.add_argument(
        "--patience", type=int, default=10, help="early stopping patience (epochs without a better validation loss)"
    )
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--filters",
        type=lambda s: [int(x) for x in s.replace(",", "-").split("-")],
        default=None,
        help="e.g. 8-16-32-64-128-256 (U-Net) or 16-32-64 (DiscNet)",
    )
    p.add_argument("--dropout", type=float, default=None)
    p.add_argument("--seg-size", type=int, default=256, help="U-Net input size (paper 256)")
    p.add_argument(
        "--crop-size",
        type=int,
        default=None,
        help="segmentation: train on random crops of this size (e.g. the paper's 256) of the --seg-size letterbox; "
        "validation, test and the exported model use the whole letterbox",
    )
    p.add_argument(
        "--smooth-masks",
        action="store_true",
        help="segmentation: letterbox the masks by bilinear resizing kept where >= 0.5 (not nearest); the model card "
        "then upsamples probabilities bilinearly before thresholding",
    )
    p.add_argument("--seg-levels", action="store_true", help="U-Net: 6 extra output channels, one per disc level")
    p.add_argument("--no-augment", action="store_true")
    p.add_argument(
        "--augment-extra",
        action="store_true",
        help="segmentation: also random scale (0.85-1.15), rotation (+-12 deg), shift (6 %%) and gamma (0.7-1.5), "
        "beyond the paper's flip and brightness",
    )
    p.add_argument(
        "--augment-mri",
        action="store_true",
        help="segmentation: also a smooth multiplicative bias field (log-amplitude up to 0.3) and Rician noise (sigma "
        "0-8 grey levels), with probability 0.8",
    )
    p.add_argument(
        "--oversample",
        default=None,
        metavar="SOURCE=FRACTION",
        help="training draws (with replacement) give the images of one data source (patient-id prefix, e.g. "
        "mendeley-axial) this fraction of each epoch",
    )
    p.add_argument("--class-weights", choices=["none", "balanced"], default="none")
    p.add_argument("--split", default=None, help="reuse a split JSON instead of making one")
    p.add_argument(
        "--seg-model",
        default=None,
        help="segmentation model (models/<name> or a run folder) to crop images without masks",
    )
    p.add_argument(
        "--init",
        default=None,
        help="start from the weights of an earlier run of the same architecture (run folder or checkpoint.pt) or of a "
        "shipped model (models/<name>: its model.onnx)",
    )
    p.add_argument(
        "--drop-bulge", action="store_true", help="axial: 4 classes without 'bulge' (paper's second experiment)"
    )
    p.add_argument(
        "--both",
        choices=["drop", "l4l5", "l5s1"],
        default="drop",
        help="sagittal images with both L4-L5 and L5-S1 herniated",
    )
    p.add_argument("--no-eval-train", action="store_true", help="skip the final metrics on the training part")
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument(
        "--lr-schedule",
        choices=["constant", "cosine", "cosine-time"],
        default="constant",
        help="cosine: per step from --lr down to 0.02 x --lr over min(--max-steps, epochs x steps per epoch); "
        "cosine-time: the same curve over the wall-clock --time-limit",
    )
    p.add_argument(
        "--monitor",
        choices=["loss", "metric"],
        default="loss",
        help="early stopping and best weights by validation loss, or by validation Dice / balanced accuracy",
    )
    p.add_argument("--workers", type=int, default=0, help="DataLoader worker processes")
    p.add_argument(
        "--time-limit",
        type=float,
        default=None,
        help="stop training after this many seconds (per phase), keeping the best weights",
    )


def config_from(args, command: str):
    from training.engine import TrainConfig

    task = {"seg": "segmentation", "cls": "classification"}.get(args.task, args.task)
    out = args.out or f"training/runs/{command}-{task[:3]}-{args.view}"
    return TrainConfig(
        task=task,
        view=args.view,
        arch=getattr(args, "model", None),
        data=args.data,
        out=out,
        epochs=args.epochs,
        max_steps=args.max_steps,
        batch_size=args.batch_size,
        lr=args.lr,
        optimizer=args.optimizer,
        momentum=args.momentum,
        beta1=args.beta1,
        beta2=args.beta2,
        eps=args.eps,
        weight_decay=args.weight_decay,
        patience=args.patience,
        seed=args.seed,
        filters=args.filters,
        dropout=args.dropout,
        seg_size=args.seg_size,
        seg_levels=args.seg_levels,
        crop_size=getattr(args, "crop_size", None),
        smooth_masks=getattr(args, "smooth_masks", False),
        augment=not args.no_augment,
        augment_extra=getattr(args, "augment_extra", False),
        augment_mri=getattr(args, "augment_mri", False),
        oversample=getattr(args, "oversample", None),
        class_weights=args.class_weights,
        split=args.split,
        seg_model=args.seg_model,
        pretrained=getattr(args, "pretrained", None),
        finetune_epochs=getattr(args, "finetune_epochs", 20),
        finetune_lr=getattr(args, "finetune_lr", 1e-5),
        drop_bulge=args.drop_bulge,
        both=args.both,
        device=args.device,
        progress=not args.quiet,
        eval_train=not args.no_eval_train,
        init=getattr(args, "init", None),
        lr_schedule=args.lr_schedule,
        monitor=args.monitor,
        workers=args.workers,
        time_limit=args.time_limit,
        command="python -m training " + " ".join(sys.argv[1:]) if command == "train" else None,
    )


def build_parser() -> argparse.ArgumentParser:
    from training.models import CLASSIFIERS, SEGMENTERS, TRANSFER

    ap = argparse.ArgumentParser(
        prog="python -m training",
        description="lumbar-ai training (PyTorch): U-Net segmentation, DiscNet classification",
    )
    ap.add_argument("--version", action="version", version=__version__)
    sub = ap.add_subparsers(dest="command", required=True)

    p = sub.add_parser("train", help="train one model (writes a run folder with checkpoint, metrics, plots)")
    add_train_args(p)
    p.add_argument(
        "--model",
        choices=list(SEGMENTERS + CLASSIFIERS + TRANSFER) + ["vgg19"],
        default=None,
        help="default: unet / discnet",
    )
    p.add_argument("--pretrained", default=None, help="transfer models: torchvision-style ImageNet state_dict file")
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--finetune-lr", type=float, default=1e-5)

    p = sub.add_parser(
        "pack",
        help="prepare a training run's data (split, letterbox / crops) into one .npz for `train --data FILE.npz`",
    )
    add_train_args(p)
    p.add_argument(
        "--extra-train",
        action="append",
        default=[],
        help="data folder whose records all go to the training part (patient ids get @<seed>); repeatable",
    )
    p.add_argument(
        "--extra-max",
        type=int,
        default=None,
        help="keep a seeded random subset of this many records of each --extra-train folder",
    )
    p.add_argument(
        "--add-predicted",
        default="",
        help="classification: comma-separated parts (e.g. train,val) that also get crops cut with --seg-model's "
        "predicted masks, as the pipeline cuts them",
    )

    p = sub.add_parser("evaluate", help="evaluate a model folder or run on a data folder; metrics JSON last on stdout")
    p.add_argument("--model", required=True, help="models/<name> (model.onnx + model.json) or a training run folder")
    p.add_argument("--data", required=True)
    p.add_argument(
        "--seg-model", default=None, help="classification on data without masks: segmentation model to crop with"
    )
    p.add_argument("--split", default=None, help="split JSON: evaluate only one part of it")
    p.add_argument("--part", default="test", choices=["train", "val", "test"])
    p.add_argument("--out", default=None, help="also write a report folder")
    p.add_argument("--both", choices=["drop", "l4l5", "l5s1"], default="drop")
    p.add_argument(
        "--predicted-masks",
        action="store_true",
        help="classification: crop with --seg-model's masks even where the data has ground-truth masks (as the "
        "pipeline crops)",
    )
    p.add_argument("--device", default="auto")
    p.add_argument("--quiet", action="store_true")

    p = sub.add_parser("compare", help="train the paper's 8 CNNs on one split; Table VII-like markdown")
    add_train_args(p, task_required=False)
    p.add_argument("--models", default=",".join(CLASSIFIERS), help="comma-separated architectures")
    p.add_argument(
        "--transfer", action="append", default=[], help="ARCH=STATE_DICT, e.g. vgg16-tl=vgg16.pth (repeatable)"
    )
    p.add_argument("--finetune-epochs", type=int, default=20)
    p.add_argument("--finetune-lr", type=float, default=1e-5)

    p = sub.add_parser("crossval", help="k-fold cross-validation by patient (paper: 10)")
    add_train_args(p)
    p.add_argument("--model", default=None)
    p.add_argument("--folds", type=int, default=10)

    p = sub.add_parser("gridsearch", help="grid search over the paper's ranges")
    add_train_args(p)
    p.add_argument("--model", default=None)
    p.add_argument("--batch-sizes", type=_ints, default=None, help="default 6,8,10,12")
    p.add_argument(
        "--lrs",
        type=_floats,
        default=None,
        help="default: 0.1..0.9, 0.01..0.09, 0.001..0.009 (seg); 1e-3,1e-4,1e-5 (cls)",
    )
    p.add_argument("--filter-sets", type=_filter_sets, default=None, help="e.g. 8-16-32-64,16-32-64-128")
    p.add_argument("--dropouts", type=_floats, default=None, help="default 0.1,0.2,0.3,0.4,0.5")
    p.add_argument("--max-trials", type=int, default=None, help="random subset of the combinations (seeded)")

    def add_grading_args(p):
        p.add_argument(
            "--data", required=True, help="SPIDER layout: sagittal_t2/ + radiological_gradings.csv (+ overview.csv)"
        )
        p.add_argument("--seg-model", default=None, help="sagittal U-Net (default models/sag-seg-unet)")
        p.add_argument("--out", required=True)
        p.add_argument("--cache", default=None, help="an .npz of the disc crops, written on first use and read after")
        p.add_argument("--epochs", type=int, default=16)
        p.add_argument("--lr", type=float, default=2e-3)
        p.add_argument("--width", type=int, default=24)
        p.add_argument("--dropout", type=float, default=0.3)
        p.add_argument("--herniation-pos-weight", type=float, default=4.0)
        p.add_argument("--seed", type=int, default=0)

    p = sub.add_parser(
        "grading-crossval",
        help="sag-grading: per-disc multi-task grader, k-fold by patient on SPIDER (crossval.md, calibration.png)",
    )
    add_grading_args(p)
    p.add_argument("--folds", type=int, default=10)
    p.add_argument("--bootstrap", type=int, default=1000, help="patient-bootstrap resamples for the 95 %% CIs")

    p = sub.add_parser(
        "grading-ship", help="sag-grading: train on all patients but a validation tenth and export models/sag-grading"
    )
    add_grading_args(p)
    p.add_argument("--version", dest="model_version", default="0.1.0")
    p.add_argument("--crossval", default=None, help="a grading-crossval folder whose figures go into the card")

    p = sub.add_parser(
        "finetune",
        help="fine-tune ax-cls-discnet and sag-grading on a site's crops (written by `lumbar finetune`); a new models "
        "folder",
    )
    p.add_argument(
        "--work",
        required=True,
        help="the folder `lumbar finetune` wrote the crops to (inputs.json, axial.u8, grading.u8)",
    )
    p.add_argument(
        "--base", required=True, help="the models folder to start from (its other models are copied unchanged)"
    )
    p.add_argument("--out", required=True, help="the new models folder")
    p.add_argument("--split", default="80:10:10", help="train:validation:test percentages of the patients")
    p.add_argument("--folds", type=int, default=None, help="k-fold by patient instead of --split")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--epochs", type=int, default=15)
    p.add_argument("--batch-size", type=int, default=16)
    p.add_argument("--lr", type=float, default=None, help="learning rate of both models (default 3e-4)")

    p = sub.add_parser("export", help="ONNX (opset 17) + model card from a training run")
    p.add_argument("--run", required=True, help="training run folder or checkpoint.pt")
    p.add_argument("--out", required=True, help="models/<name>")
    p.add_argument("--name", default=None)
    p.add_argument("--version", dest="model_version", default="0.1.0")
    p.add_argument("--fixed-batch", action="store_true", help="batch dimension fixed to 1 (default dynamic)")
    p.add_argument(
        "--limitations", default=None, help="text for the card's 'limitations' (what the figures do not say)"
    )

    p = sub.add_parser("retrain-all", help="retrain and export the four shipped models")
    p.add_argument("--spider", default=None, help="SPIDER folder (e.g. ../shared/data/spider)")
    p.add_argument("--phantom", default=None, help="phantom training layout folder")
    p.add_argument("--models-dir", default="models")
    p.add_argument("--runs-dir", default="training/runs/retrain")
    p.add_argument("--version", dest="model_version", default="0.1.0")
    p.add_argument("--seg-epochs", type=int, default=None)
    p.add_argument("--cls-epochs", type=int, default=None)
    p.add_argument("--max-steps", type=int, default=None)
    p.add_argument("--seg-size", type=int, default=256)
    p.add_argument(
        "--filters", type=lambda s: [int(x) for x in s.replace(",", "-").split("-")], default=None, help="U-Net filters"
    )
    p.add_argument("--seg-lr", type=float, default=None)
    p.add_argument("--seg-optimizer", choices=["sgd", "adam"], default=None)
    p.add_argument("--cls-lr", type=float, default=None)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument(
        "--only", default=None, help="comma-separated subset of sag-seg-unet,ax-seg-unet,sag-cls-discnet,ax-cls-discnet"
    )
    p.add_argument("--quiet", action="store_true")
    return ap


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    cmd = args.command
    if cmd == "train":
        from training.engine import train

        res = train(config_from(args, "train"))
        print(
            json.dumps(
                {
                    "run": res["run"],
                    "test": _short(res["metrics"].get("test")),
                    "val": _short(res["metrics"].get("val")),
                },
                default=str,
            )
        )
    elif cmd == "pack":
        from training.pack import pack

        if not args.out or not args.out.endswith(".npz"):
            raise SystemExit("pack: --out FILE.npz")
        cfg = config_from(args, "pack")
        res = pack(
            cfg,
            args.out,
            args.extra_train,
            args.extra_max,
            command=" ".join(["python -m training", *(argv if argv is not None else sys.argv[1:])]),
            add_predicted=args.add_predicted.split(","),
        )
        print(json.dumps(res))
    elif cmd == "evaluate" and _card_task(args.model) == "grading":
        from training.evaluate import print_result
        from training.grading import evaluate_grading

        try:
            res = evaluate_grading(args.model, args.data, args.seg_model, args.split, args.part)
        except (FileNotFoundError, ValueError) as e:
            print(f"evaluate: {e}", file=sys.stderr)
            return 2
        print_result(res)
    elif cmd in ("grading-crossval", "grading-ship"):
        from training import grading as G

        r = G.Recipe(
            epochs=args.epochs,
            lr=args.lr,
            width=args.width,
            dropout=args.dropout,
            herniation_pos_weight=args.herniation_pos_weight,
            seed=args.seed,
        )

        def log(m):
            print(m, file=sys.stderr, flush=True)

        if cmd == "grading-crossval":
            res = G.run_crossval(args.data, args.out, r, args.folds, args.seg_model, args.cache, args.bootstrap, log)
            print(res["markdown"])
            print(json.dumps(res["headline"]))
        else:
            card = G.ship(
                args.data, args.out, r, args.model_version, args.seg_model, args.cache, args.crossval, log=log
            )
            print(
                json.dumps(
                    {
                        "model": args.out,
                        "sha256": card["sha256"],
                        "validation": card["metrics"]["validation"],
                        "export_check": card["export_check"],
                    }
                )
            )
    elif cmd == "evaluate":
        from training.evaluate import evaluate, print_result

        print_result(
            evaluate(
                args.model,
                args.data,
                args.seg_model,
                args.split,
                args.part,
                args.out,
                args.both,
                args.device,
                not args.quiet,
                args.predicted_masks,
            )
        )
    elif cmd == "compare":
        from training.experiments import compare

        args.task = "classification"
        transfer = dict(t.split("=", 1) for t in args.transfer)
        res = compare(
            config_from(args, "compare"),
            config_from(args, "compare").out,
            [a for a in args.models.split(",") if a],
            transfer,
        )
        print(res["markdown"])
    elif cmd == "crossval":
        from training.experiments import crossval

        cfg = config_from(args, "crossval")
        print(crossval(cfg, cfg.out, args.folds)["markdown"])
    elif cmd == "gridsearch":
        from training.experiments import gridsearch

        cfg = config_from(args, "gridsearch")
        grid = {
            k: v
            for k, v in {
                "batch_size": args.batch_sizes,
                "lr": args.lrs,
                "filters": args.filter_sets,
                "dropout": args.dropouts,
            }.items()
            if v
        }
        print(gridsearch(cfg, cfg.out, grid, args.max_trials)["markdown"])
    elif cmd == "finetune":
        from training.finetune import main as finetune_main

        return finetune_main(args)
    elif cmd == "export":
        from training.export import export

        card = export(
            args.run,
            args.out,
            args.name,
            args.model_version,
            dynamic_batch=not args.fixed_batch,
            limitations=args.limitations,
        )
        print(json.dumps({"model": args.out, "sha256": card["sha256"], "export_check": card.get("export_check")}))
    elif cmd == "retrain-all":
        from training.experiments import retrain_all

        extra = {
            "segmentation": {
                k: v
                for k, v in {
                    "seg_size": args.seg_size,
                    "filters": args.filters,
                    "lr": args.seg_lr,
                    "optimizer": args.seg_optimizer,
                }.items()
                if v is not None
            },
            "classification": {k: v for k, v in {"lr": args.cls_lr}.items() if v is not None},
        }
        done = retrain_all(
            args.spider,
            args.phantom,
            args.models_dir,
            args.runs_dir,
            args.model_version,
            args.seg_epochs,
            args.cls_epochs,
            args.max_steps,
            args.seed,
            args.only.split(",") if args.only else None,
            extra,
            not args.quiet,
        )
        print(
            json.dumps({k: {kk: vv for kk, vv in v.items() if kk != "metrics"} for k, v in done.items()}, default=str)
        )
    return 0


def _card_task(model: str) -> str | None:
    path = os.path.join(model, "model.json")
    if not os.path.isfile(path):
        return None
    with open(path) as f:
        return json.load(f).get("task")


def _short(m):
    if not m:
        return None
    keys = ("dice", "iou", "accuracy", "balanced_accuracy", "loss")
    return {k: m[k] for k in keys if k in m}


if __name__ == "__main__":
    sys.exit(main())
