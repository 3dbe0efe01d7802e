import pytest
import torch

from training.models import CLASSIFIERS, TRANSFER, build_model, count_params
from training.models.unet import PAPER_FILTERS, UNet


def test_discnet_parameter_count_matches_paper():
    m = build_model("discnet", num_classes=3, in_channels=3, input_size=64)
    assert count_params(m) == {"total": 342_691, "trainable": 256_163, "non_trainable": 86_528}
    # layer shapes: 3x64x64 -> 16x58x58 -> pool same -> 32x56x56 -> 64x53x53 -> avgpool 64x26x26
    x = torch.zeros(2, 3, 64, 64)
    assert m.features(x).shape == (2, 64, 26, 26)
    assert m(x).shape == (2, 3)
    assert m.bn.eps == 1e-3 and abs(m.bn.momentum - 0.01) < 1e-12  # Keras defaults
    assert m.dropout.p == 0.4


@pytest.mark.parametrize("arch", CLASSIFIERS + ("vgg19",))
def test_classifier_forward_shapes(arch):
    torch.manual_seed(0)
    m = build_model(arch, num_classes=5).eval()
    with torch.no_grad():
        y = m(torch.rand(2, 3, 64, 64))
    assert y.shape == (2, 5) and torch.isfinite(y).all()


def test_unet_paper_architecture():
    u = UNet()
    assert u.filters == PAPER_FILTERS == (8, 16, 32, 64, 128, 256)
    convs = [m for m in u.modules() if isinstance(m, torch.nn.Conv2d)]
    assert all(c.kernel_size == (3, 3) for c in convs[:-1]) and convs[-1].kernel_size == (1, 1)
    ups = [m for m in u.modules() if isinstance(m, torch.nn.ConvTranspose2d)]
    assert len(ups) == 5 and all(t.kernel_size == (2, 2) and t.stride == (2, 2) for t in ups)
    with torch.no_grad():
        assert u.eval()(torch.rand(1, 1, 256, 256)).shape == (1, 1, 256, 256)
        multi = UNet(out_channels=7, filters=(4, 8, 16))
        assert multi(torch.rand(2, 1, 32, 32)).shape == (2, 7, 32, 32)


@pytest.mark.parametrize("arch", TRANSFER)
def test_transfer_models_forward(arch):
    m = build_model(arch, num_classes=3).eval()
    with torch.no_grad():
        assert m(torch.rand(1, 3, 64, 64)).shape == (1, 3)
