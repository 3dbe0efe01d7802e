import pytest
import torch

from training.engine import TrainConfig, train
from training.inference import load_checkpoint
from training.models.densenet import DenseNet121
from training.models.transfer import TransferNet, load_imagenet_features
from training.models.vgg import VGG


def _old_style(state):
    """torchvision's published densenet weights spell norm1 as 'norm.1'."""
    out = {}
    for k, v in state.items():
        for a in ("norm1", "norm2", "conv1", "conv2", "relu1", "relu2"):
            k = k.replace(f".{a}.", f".{a[:-1]}.{a[-1]}.") if ".denselayer" in k else k
        out[k] = v
    return out


def test_densenet_old_keys_load(tmp_path):
    torch.manual_seed(1)
    src = DenseNet121(num_classes=1000)
    path = str(tmp_path / "densenet121.pth")
    torch.save(_old_style(src.state_dict()), path)
    net = TransferNet("densenet121", num_classes=3, weights=path)
    assert torch.equal(net.features.conv0.weight, src.features.conv0.weight)
    assert torch.equal(
        net.features.denseblock2.denselayer3.norm1.running_mean, src.features.denseblock2.denselayer3.norm1.running_mean
    )


def test_bad_checkpoint_rejected(tmp_path):
    path = str(tmp_path / "x.pth")
    torch.save({"features.0.weight": torch.zeros(1)}, path)
    with pytest.raises((ValueError, RuntimeError)):
        load_imagenet_features(VGG("vgg16", 1000), path)


def test_transfer_freeze_then_finetune(tmp_path):
    from training.tests import fakedata

    phantom_dir = fakedata.make_phantom(str(tmp_path / "ph"), n_patients=5, per_view=1)
    torch.manual_seed(0)
    src = VGG("vgg16", num_classes=1000)  # random "ImageNet" checkpoint, torchvision names
    weights = str(tmp_path / "vgg16.pth")
    torch.save(src.state_dict(), weights)
    net = TransferNet("vgg16", 3, weights=weights)
    assert torch.equal(net.features[0].weight, src.features[0].weight)
    net.freeze_backbone(True)
    assert not any(p.requires_grad for p in net.features.parameters())
    assert all(p.requires_grad for p in net.head.parameters())

    def vgg16_tl(out, **options):
        return train(
            TrainConfig(
                task="classification",
                view="sagittal",
                arch="vgg16-tl",
                data=[phantom_dir],
                out=out,
                epochs=1,
                max_steps=2,
                pretrained=weights,
                batch_size=4,
                progress=False,
                plots=False,
                **options,
            )
        )

    # frozen phase only (no fine-tuning): backbone unchanged, head trained
    out1 = str(tmp_path / "frozen")
    vgg16_tl(out1, finetune_epochs=0)
    sd = load_checkpoint(out1)["state_dict"]
    assert torch.equal(sd["features.0.weight"], src.features[0].weight)
    assert torch.equal(sd["features.28.weight"], src.features[28].weight)

    # frozen + fine-tune at LR 1e-5: backbone moves (a little)
    out2 = str(tmp_path / "finetuned")
    res = vgg16_tl(out2, finetune_epochs=1, patience=100)
    sd = load_checkpoint(out2)["state_dict"]
    assert [h["phase"] for h in res["history"]] == ["frozen", "finetune"]
    assert not torch.equal(sd["features.28.weight"], src.features[28].weight)
    diff = (sd["features.28.weight"] - src.features[28].weight).abs().max().item()
    assert 0 < diff < 1e-3
