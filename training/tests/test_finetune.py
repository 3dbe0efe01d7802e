"""training/finetune.py (issue 15): the patient-level split, the masked grading loss, the pipeline's level rule, the
multiple-instance choice of slices, the grader rebuilt from its ONNX file, and a whole run on a small crops folder."""

import json
import os

import numpy as np
import pytest
import torch

from training import finetune as FT
from training import grading as G
from training.inference import Runner

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS = os.path.join(ROOT, "models")


def _studies(n: int, per_patient: int = 1) -> list[dict]:
    diag = ["healthy", "bulge", "central", "left", "right"]
    return [
        {
            "study": f"S{i:03d}",
            "patient": f"P{i // per_patient:03d}",
            "levels": {"L4-L5": diag[i % 5], "L5-S1": diag[(i + 2) % 5]},
        }
        for i in range(n)
    ]


# ----------------------------------------------------------------------------------------------
# Split by patient
# ----------------------------------------------------------------------------------------------


def test_holdout_split_is_by_patient_80_10_10_and_seeded():
    studies = _studies(60, per_patient=2)  # 30 patients, two studies each
    patients = sorted({s["patient"] for s in studies})
    [part], rep = FT.make_splits(patients, FT.patient_strata(studies), 3, None, None)
    assert part is rep
    tr, va, te = (set(part[k]) for k in ("train", "val", "test"))
    assert (len(tr), len(va), len(te)) == (24, 3, 3)
    assert tr | va | te == set(patients) and not (tr & va or tr & te or va & te)
    assert rep["method"] == "holdout-80:10:10-by-patient"
    # every study of a patient goes where its patient goes
    rows = [{"patient": s["patient"]} for s in studies]
    for ps in (tr, va, te):
        m = FT._mask(rows, ps)
        assert {r["patient"] for r, k in zip(rows, m) if k} == ps
        assert m.sum() == 2 * len(ps)
    assert FT.make_splits(patients, FT.patient_strata(studies), 3, None, None)[1] == rep
    assert FT.make_splits(patients, FT.patient_strata(studies), 4, None, None)[1]["test"] != rep["test"]
    # another split
    [p2], _ = FT.make_splits(patients, {}, 0, (50, 25, 25), None)
    assert (len(p2["train"]), len(p2["val"]), len(p2["test"])) == (14, 8, 8)


def test_kfold_tests_every_patient_once_and_validates_on_the_next_fold():
    patients = [f"P{i:02d}" for i in range(10)]
    parts, cv = FT.make_splits(patients, {}, 0, None, 4)
    assert len(parts) == 4 and cv["method"] == "4-fold-by-patient"
    assert sorted(p for part in parts for p in part["test"]) == patients
    for k, part in enumerate(parts):
        assert part["val"] == cv["folds"][(k + 1) % 4]
        assert set(part["train"]) == set(patients) - set(part["val"]) - set(part["test"])


def test_strata_and_too_few_patients():
    studies = [
        {"study": "a", "patient": "P1", "levels": {"L4-L5": "healthy"}},
        {"study": "b", "patient": "P1", "levels": {"L4-L5": "left"}},
        {"study": "c", "patient": "P2", "levels": {"L5-S1": "bulge"}},
        {"study": "d", "patient": "P3", "levels": {"L5-S1": "healthy"}},
    ]
    assert FT.patient_strata(studies) == {"P1": "h", "P2": "b", "P3": "-"}
    with pytest.raises(FT.FinetuneError, match="at least 3 patients"):
        FT.make_splits(["P1", "P2"], {}, 0, None, None)
    with pytest.raises(FT.FinetuneError, match="4-fold cross-validation needs at least 4 patients"):
        FT.make_splits(["P1", "P2", "P3"], {}, 0, None, 4)
    with pytest.raises(FT.FinetuneError, match="summing to 100"):
        FT.parse_split("80:10:5")
    assert FT.parse_split("70:15:15") == (70, 15, 15)


# ----------------------------------------------------------------------------------------------
# Masked grading loss
# ----------------------------------------------------------------------------------------------


def _logits_and_targets(n=12, seed=0):
    rng = np.random.default_rng(seed)
    logits = torch.tensor(rng.normal(size=(n, len(G.BINARY) + 4)), dtype=torch.float32, requires_grad=True)
    y = np.concatenate([rng.integers(0, 2, (n, len(G.BINARY))), rng.integers(1, 6, (n, 1))], 1).astype(np.float32)
    return logits, y


def test_masked_loss_equals_the_grading_loss_when_everything_is_labelled():
    logits, y = _logits_and_targets()
    r = G.Recipe(herniation_pos_weight=3.0)
    pos_w = torch.ones(len(G.BINARY))
    pos_w[0] = 3.0
    ours = FT.masked_grading_loss(logits, torch.from_numpy(y), pos_w)
    theirs = G.loss_fn(logits, torch.from_numpy(y), r)
    assert float(ours.detach()) == pytest.approx(float(theirs.detach()), rel=1e-6)


def test_masked_loss_gives_unlabelled_outputs_no_gradient():
    logits, y = _logits_and_targets()
    y[:, 3:6] = np.nan  # modic, endplate, spondylolisthesis: never labelled at a site
    y[::2, 1] = np.nan  # bulging labelled on half the discs
    y[:5, len(G.BINARY)] = np.nan  # Pfirrmann missing on five
    loss = FT.masked_grading_loss(logits, torch.from_numpy(y))
    loss.backward()
    g = logits.grad.numpy()
    assert np.all(g[:, 3:6] == 0)
    assert np.all(g[::2, 1] == 0) and np.all(g[1::2, 1] != 0)
    assert np.all(g[:5, len(G.BINARY) :] == 0) and np.all(g[5:, len(G.BINARY) :] != 0)
    assert np.all(g[:, 0] != 0)
    # the labelled entries' loss is the plain loss over them: labelled binary entries, then the labelled grades
    lt = logits.detach()
    yt = torch.from_numpy(y)
    m = ~torch.isnan(yt[:, : len(G.BINARY)])
    lb = torch.nn.functional.binary_cross_entropy_with_logits(lt[:, : len(G.BINARY)][m], yt[:, : len(G.BINARY)][m])
    keep = ~torch.isnan(yt[:, len(G.BINARY)])
    grade = yt[keep, len(G.BINARY)]
    target = torch.stack([(grade > k).float() for k in range(1, 5)], 1)
    lo = torch.nn.functional.binary_cross_entropy_with_logits(lt[keep, len(G.BINARY) :], target)
    assert float(loss) == pytest.approx(float(lb + lo), rel=1e-6)


def test_grading_targets_from_site_rows():
    rows = [
        {"herniation": 1, "bulging": None, "narrowing": 0, "pfirrmann": 4},
        {"herniation": 0, "bulging": 1, "narrowing": None, "pfirrmann": None},
    ]
    y = FT.grading_targets(rows)
    assert y.shape == (2, len(G.BINARY) + 1)
    assert y[0, 0] == 1 and np.isnan(y[0, 1]) and y[0, 2] == 0 and y[0, -1] == 4
    assert y[1, 1] == 1 and np.isnan(y[1, 2]) and np.isnan(y[1, -1])
    assert np.isnan(y[:, 3:6]).all()


# ----------------------------------------------------------------------------------------------
# Axial: the pipeline's level rule and the slices a level trains on
# ----------------------------------------------------------------------------------------------


def test_level_probabilities_is_the_pipelines_max_herniation_rule():
    # packages/pipeline/src/axial.test.ts: a left herniation that only the middle slice of three cuts
    prob = np.array([[0.97, 0.01, 0.01, 0.005, 0.005], [0.1, 0.02, 0.03, 0.8, 0.05], [0.98, 0.01, 0.005, 0.0, 0.005]])
    rows = [{"area": a} for a in (1000, 1400, 900)]
    p = FT.level_probabilities(prob, rows, [0, 1, 2])
    total = 3300
    mh = (1000 * 0.97 + 1400 * 0.1 + 900 * 0.98) / total
    mb = (1000 * 0.01 + 1400 * 0.02 + 900 * 0.01) / total
    assert p[3] == pytest.approx(0.8) and p[2] == pytest.approx(0.03) and p[4] == pytest.approx(0.05)
    assert p[0] == pytest.approx(0.12 * mh / (mh + mb)) and p[1] == pytest.approx(0.12 * mb / (mh + mb))
    assert p.sum() == pytest.approx(1.0)


def test_level_groups_leave_out_small_slices_and_training_picks_the_most_herniated_slice():
    rows = [
        {"study": "S1", "patient": "P1", "level": "L4-L5", "area": 1000, "diagnosis": "left"},
        {"study": "S1", "patient": "P1", "level": "L4-L5", "area": 1400, "diagnosis": "left"},
        {"study": "S1", "patient": "P1", "level": "L4-L5", "area": 500, "diagnosis": "left"},  # < 0.6 x 1400
        {"study": "S1", "patient": "P1", "level": "L5-S1", "area": 900, "diagnosis": "bulge"},
        {"study": "S1", "patient": "P1", "level": "L5-S1", "area": 1000, "diagnosis": "bulge"},
    ]
    assert FT.level_groups(rows) == {("S1", "L4-L5"): [0, 1], ("S1", "L5-S1"): [3, 4]}

    class Fixed(torch.nn.Module):
        """Says 'left' on crops whose first pixel is bright, 'healthy' on the others."""

        def forward(self, x):
            bright = (x[:, 0, 0, 0] > 0.5).float()
            out = torch.zeros(len(x), 5)
            out[:, 3] = 10 * bright
            out[:, 0] = 10 * (1 - bright)
            return out

    x = np.zeros((5, 3, 64, 64), np.uint8)
    x[0, :, 0, 0] = 255  # the first slice shows the herniation
    idx, y = FT.axial_training_set(Fixed(), x, rows, np.ones(5, bool))
    assert sorted(zip(idx.tolist(), y.tolist())) == [(0, 3), (3, 1), (4, 1)]
    x[0, :, 0, 0], x[1, :, 0, 0] = 0, 255
    idx, _ = FT.axial_training_set(Fixed(), x, rows, np.ones(5, bool))
    assert 1 in idx and 0 not in idx


def test_augment_swaps_left_and_right_with_the_flip():
    x = np.zeros((200, 3, 4, 4), np.uint8)
    x[:, :, :, 0] = 200  # bright on the image's left
    y = np.full(200, FT.AXIAL_CLASSES.index("left"))
    xa, ya = FT.augment_axial(x, y, np.random.default_rng(0))
    flipped = xa[:, 0, 0, 3] > 0
    assert 40 < flipped.sum() < 160
    assert np.all(ya[flipped] == FT.AXIAL_CLASSES.index("right")) and np.all(
        ya[~flipped] == FT.AXIAL_CLASSES.index("left")
    )


def test_level_figures():
    f = FT.level_figures(["healthy", "left", "left", "bulge"], ["healthy", "left", "right", "healthy"])
    assert f["accuracy"] == 0.5
    assert f["balanced_accuracy"] == pytest.approx((1 + 0.5 + 0) / 3)
    assert f["herniation_sensitivity"] == 1.0 and f["herniation_specificity"] == 1.0


# ----------------------------------------------------------------------------------------------
# Models from their ONNX files, versions
# ----------------------------------------------------------------------------------------------


def test_grader_and_axial_classifier_rebuilt_from_their_onnx_files_compute_the_same():
    x = (np.random.default_rng(1).random((6, 3, 64, 64)) * 255).astype(np.uint8)
    net = FT.grading_net_from_onnx(os.path.join(MODELS, "sag-grading"))
    gref = Runner(os.path.join(MODELS, "sag-grading"))(FT.to_float(x))
    assert np.abs(FT.predict_grading(net, x) - gref).max() < 1e-5
    m = FT.axial_model(os.path.join(MODELS, "ax-cls-discnet"))
    ref = Runner(os.path.join(MODELS, "ax-cls-discnet"))(FT.to_float(x))
    assert np.abs(FT.predict_axial(m, x) - ref).max() < 1e-5
    # frozen BatchNorm keeps the folded layers exact in training mode (dropout off to compare)
    net.train()
    FT.freeze_batchnorm(net)
    net.drop.p = 0.0
    with torch.no_grad():
        assert np.abs(G.GradingNet.to_probabilities(net(torch.from_numpy(FT.to_float(x)))).numpy() - gref).max() < 1e-5


def test_site_version_and_float_bits():
    assert FT.site_version("0.4.0", "20261207") == "0.4.0+site.20261207"
    assert FT.site_version("0.4.0+site.20260101", "20261207") == "0.4.0+site.20261207"
    k = np.arange(256, dtype=np.uint8)
    # the node's tensors are float32(k / 255) rounded once from double; so are ours
    assert np.array_equal(FT.to_float(k), np.array([np.float32(v / 255) for v in range(256)], np.float32))


# ----------------------------------------------------------------------------------------------
# A whole run on a small crops folder (random pixels: the plumbing, not the learning)
# ----------------------------------------------------------------------------------------------


def _write_work(work, n_patients=6, seed=0):
    rng = np.random.default_rng(seed)
    os.makedirs(work, exist_ok=True)
    studies, ax_rows, g_rows = [], [], []
    diag = ["healthy", "bulge", "central", "left", "right"]
    for i in range(n_patients):
        s, p = f"S{i:03d}", f"P{i:03d}"
        levels = {"L4-L5": diag[i % 5], "L5-S1": diag[(i + 1) % 5], "L3-L4": "healthy"}
        studies.append({"study": s, "patient": p, "levels": levels})
        for level in ("L4-L5", "L5-S1"):
            for k in range(2):
                ax_rows.append(
                    {"study": s, "patient": p, "level": level, "area": 900 + 100 * k, "diagnosis": levels[level]}
                )
        for b, level in enumerate(("L5-S1", "L4-L5", "L3-L4")):
            g_rows.append(
                {
                    "study": s,
                    "patient": p,
                    "level": level,
                    "fromBottom": b + 1,
                    "herniation": int(levels[level] in FT.HERNIATED),
                    "bulging": None,
                    "narrowing": None,
                    "pfirrmann": None,
                }
            )
    (rng.random((len(ax_rows), 3, 64, 64)) * 255).astype(np.uint8).tofile(os.path.join(work, "axial.u8"))
    (rng.random((len(g_rows), 3, 64, 64)) * 255).astype(np.uint8).tofile(os.path.join(work, "grading.u8"))
    with open(os.path.join(work, "inputs.json"), "w") as f:
        json.dump(
            {
                "format": FT.INPUTS_FORMAT,
                "studies": studies,
                "axial": {"file": "axial.u8", "shape": [3, 64, 64], "rows": ax_rows},
                "grading": {"file": "grading.u8", "shape": [3, 64, 64], "rows": g_rows},
            },
            f,
        )


def test_run_writes_a_complete_models_folder(tmp_path):
    work, out = str(tmp_path / "out" / "work"), str(tmp_path / "out")
    _write_work(work)
    logs = []
    rep = FT.run(work, MODELS, out, (50, 25, 25), None, FT.Recipe(epochs=2), log=logs.append)
    for name in os.listdir(MODELS):  # every shipped model is there, new or copied
        assert os.path.exists(os.path.join(out, name)), name
    assert os.path.isfile(os.path.join(out, "sag-grading", "orientation.onnx"))
    with open(os.path.join(out, FT.REPORT_FILE)) as f:
        saved = json.load(f)
    assert saved["site"]["studies"] == 6 and saved["site"]["patients"] == 6
    assert saved["split"]["test"] == rep["split"]["test"] and len(rep["split"]["test"]) == 2
    held = saved["held_out"]
    assert held["axial_levels"]["before"]["n_levels"] == held["axial_levels"]["after"]["n_levels"] == 4
    assert held["grading"]["before"]["herniation"]["n"] == 6
    for folder in (FT.AX_FOLDER, FT.GRADING_FOLDER):
        card = json.load(open(os.path.join(out, folder, "model.json")))
        v = saved["models"][folder]
        assert card["version"] == v["new"]
        if "kept" in v:  # no epoch beat the start on validation: the folder is the base's
            assert card == json.load(open(os.path.join(MODELS, folder, "model.json")))
        else:
            assert v["new"].startswith(v["base"] + "+site.")
            assert (
                card["training_data"][-1]["what"]
                == "fine-tuned at a site on 6 studies / 6 patients (site data, no identifiers)"
            )
            assert card["base_model"]["version"] == v["base"]
            assert card["export_check"]["max_abs_diff"] < 1e-4
    assert any(line.startswith("held-out figures") for line in logs)


def test_bad_work_folder(tmp_path):
    with pytest.raises(FT.FinetuneError, match="inputs.json: not found"):
        FT.load_inputs(str(tmp_path))
    _write_work(str(tmp_path))
    with open(tmp_path / "axial.u8", "ab") as f:
        f.write(b"\0")
    with pytest.raises(FT.FinetuneError, match="bytes, expected"):
        FT.load_inputs(str(tmp_path))
