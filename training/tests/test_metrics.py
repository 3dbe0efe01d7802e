import numpy as np
import pytest
from sklearn import metrics as skm

from training import metrics as M


def _fixed():
    rng = np.random.default_rng(42)
    y = rng.integers(0, 4, 200)
    logits = rng.normal(0, 1, (200, 4))
    logits[np.arange(200), y] += 1.2
    prob = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    prob = np.round(prob, 2)  # ties, as real scores have
    return y, prob.argmax(1), prob


def test_classification_metrics_match_sklearn():
    y, pred, prob = _fixed()
    classes = ["a", "b", "c", "d"]
    m = M.classification_metrics(y, pred, classes, prob)
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(y, pred))
    assert m["balanced_accuracy"] == pytest.approx(skm.balanced_accuracy_score(y, pred))
    for avg in ("macro", "weighted"):
        assert m[avg]["precision"] == pytest.approx(skm.precision_score(y, pred, average=avg))
        assert m[avg]["recall"] == pytest.approx(skm.recall_score(y, pred, average=avg))
        assert m[avg]["f1"] == pytest.approx(skm.f1_score(y, pred, average=avg))
    assert np.array_equal(np.array(m["confusion_matrix"]), skm.confusion_matrix(y, pred))
    p, r, f, s = skm.precision_recall_fscore_support(y, pred)
    cm = skm.confusion_matrix(y, pred)
    for i, c in enumerate(classes):
        pc = m["per_class"][c]
        assert pc["precision"] == pytest.approx(p[i]) and pc["recall"] == pytest.approx(r[i])
        assert pc["f1"] == pytest.approx(f[i]) and pc["support"] == s[i]
        tn = cm.sum() - cm[i].sum() - cm[:, i].sum() + cm[i, i]
        assert pc["specificity"] == pytest.approx(tn / (tn + cm[:, i].sum() - cm[i, i]))
        assert pc["roc_auc"] == pytest.approx(skm.roc_auc_score(y == i, prob[:, i]))
        assert pc["average_precision"] == pytest.approx(skm.average_precision_score(y == i, prob[:, i]))
    assert m["macro"]["roc_auc"] == pytest.approx(np.mean([skm.roc_auc_score(y == i, prob[:, i]) for i in range(4)]))


def test_roc_curve_matches_sklearn_points():
    y, _, prob = _fixed()
    fpr, tpr, _ = M.roc_curve(y == 1, prob[:, 1])
    sf, st, _ = skm.roc_curve(y == 1, prob[:, 1], drop_intermediate=False)
    assert np.allclose(fpr, sf) and np.allclose(tpr, st)
    assert M.roc_auc(np.ones(5, bool), np.arange(5)) is None


def test_segmentation_metrics_match_sklearn():
    rng = np.random.default_rng(1)
    preds = [rng.random((16, 16)) > 0.6 for _ in range(3)]
    truths = [rng.random((16, 16)) > 0.5 for _ in range(3)]
    m = M.segmentation_metrics(preds, truths)
    p = np.concatenate([x.ravel() for x in preds])
    t = np.concatenate([x.ravel() for x in truths])
    assert m["dice"] == pytest.approx(skm.f1_score(t, p))
    assert m["iou"] == pytest.approx(skm.jaccard_score(t, p))
    assert m["accuracy"] == pytest.approx(skm.accuracy_score(t, p))
    assert m["precision"] == pytest.approx(skm.precision_score(t, p))
    assert m["recall"] == pytest.approx(skm.recall_score(t, p))
    assert m["mean_dice"] == pytest.approx(np.mean([skm.f1_score(b.ravel(), a.ravel()) for a, b in zip(preds, truths)]))
    # Dice = 2|S n G| / (|S| + |G|) by hand
    s = np.array([[1, 1, 0, 0]], bool)
    g = np.array([[0, 1, 1, 0]], bool)
    assert M.dice(s, g) == pytest.approx(0.5) and M.iou(s, g) == pytest.approx(1 / 3)
    assert M.dice(np.zeros((2, 2)), np.zeros((2, 2))) == 1.0
