"""The learned answer scorer: its files are verified, a broken one is one clear line, its confidence calibrated."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from qa.answer.reading import CANDIDATE_FEATURES, SENTENCE_FEATURES
from qa.answer.scorer import SHIPPED, AnswerScorer, Calibration, ScorerModelError, read_manifest
from qa.cli import app
from qa.evaluation import metrics, training
from qa.evaluation.examples import Example

# What the shipped scorer is fit on: the three benchmark years (`make train-scorer`).
TRAINED_ON = ["realtimeqa-2022", "realtimeqa-2023", "realtimeqa-2024"]


@pytest.fixture
def model(tmp_path: Path) -> Path:
    """A copy of the shipped scorer to break."""
    return Path(shutil.copytree(SHIPPED, tmp_path / "scorer"))


def test_the_shipped_scorer_loads_and_scores_in_its_feature_order(model: Path):
    scorer = AnswerScorer(model)
    assert scorer.manifest.candidate_features == CANDIDATE_FEATURES
    assert scorer.manifest.trained_on == TRAINED_ON
    assert set(scorer.manifest.figures["held_out"]) == set(TRAINED_ON)  # every year also scored held out
    rows = np.zeros((3, len(CANDIDATE_FEATURES)), dtype=np.float32)
    rows[0, CANDIDATE_FEATURES.index("kind_fit")] = 1.0
    rows[1, CANDIDATE_FEATURES.index("kind_fit")] = 0.0
    assert scorer.candidate_scores(rows).shape == scorer.answer_scores(rows).shape == (3,)
    assert np.all((0 <= scorer.answer_scores(rows)) & (scorer.answer_scores(rows) <= 1))  # a probability
    assert 0 <= scorer.manifest.refusal_threshold < scorer.manifest.shown_threshold <= 1


def test_a_changed_model_file_is_one_clear_error(model: Path):
    weights = model / "candidates.txt"
    weights.write_text(weights.read_text().replace("num_leaves=", "num_leaves= ", 1))
    with pytest.raises(ScorerModelError, match=r"^the answer scorer's candidates.txt in .* has changed \(sha256"):
        AnswerScorer(model)


def test_a_missing_model_file_is_one_clear_error(model: Path):
    (model / "sentences.txt").unlink()
    with pytest.raises(ScorerModelError, match=r"^the answer scorer's sentences.txt is missing in "):
        AnswerScorer(model)
    (model / "manifest.json").unlink()
    with pytest.raises(ScorerModelError, match=r"^the answer scorer's manifest.json is missing in "):
        read_manifest(model)


def test_a_scorer_for_other_features_is_refused(model: Path):
    manifest = json.loads((model / "manifest.json").read_text())
    manifest["candidate_features"] = manifest["candidate_features"][:-1]
    (model / "manifest.json").write_text(json.dumps(manifest))
    with pytest.raises(ScorerModelError, match="trained on other features: retrain it"):
        AnswerScorer(model)


def test_the_cli_says_so_in_one_line_and_stores_nothing_wrong(model: Path, tmp_path: Path, monkeypatch):
    (model / "candidates.txt").write_text("tree\n")
    monkeypatch.setenv("QA_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("QA_ANSWER_MODEL", str(model))
    result = CliRunner().invoke(app, ["ask", "Who won?"])
    assert result.exit_code == 1
    assert result.stderr.strip().count("\n") == 0
    assert "the answer scorer's candidates.txt" in result.stderr and "has changed" in result.stderr


def test_calibration_is_monotone_and_clipped():
    calibration = Calibration(x=[0.1, 0.4, 0.8], y=[0.05, 0.3, 0.9])
    assert calibration(0.0) == 0.05 and calibration(1.0) == 0.9
    assert calibration(0.1) < calibration(0.25) < calibration(0.4) < calibration(0.6)


def test_risk_coverage_and_calibration_error_on_hand_made_cases():
    curve = metrics.risk_coverage([0.9, 0.2, 0.6, 0.4], [1, 0, 1, 0])
    assert curve == [(0.25, 1.0), (0.5, 1.0), (0.75, 2 / 3), (1.0, 0.5)]
    assert metrics.expected_calibration_error([0.95, 0.95], [1, 1]) == pytest.approx(0.05)
    assert metrics.expected_calibration_error([0.25, 0.25, 0.75, 0.75], [0, 1, 1, 1]) == pytest.approx(0.25)


def _year(name: str, seed: int) -> list[Example]:
    """Questions of five candidates each where the one of the asked-for kind is right, when there is one."""
    rng = np.random.default_rng(seed)
    examples = []
    for i in range(240):
        x = rng.random((5, len(CANDIDATE_FEATURES))).astype(np.float32)
        x[:, CANDIDATE_FEATURES.index("kind_fit")] = 0.0
        f1 = np.zeros(5)
        if i % 3:  # a third have no right candidate
            right = rng.integers(5)
            x[right, CANDIDATE_FEATURES.index("kind_fit")] = 1.0
            f1[right] = 1.0
        sentences = rng.random((4, len(SENTENCE_FEATURES))).astype(np.float32)
        examples.append(
            Example(
                name,
                f"{name}-{i}",
                f"{name}-page-{i // 4}",
                bool(i % 3),
                [f"c{j}" for j in range(5)],
                [[j % 4] for j in range(5)],
                x,
                f1,
                sentences,
                f1[:4],
            )
        )
    return examples


def test_every_ablated_feature_is_one_the_scorer_reads():
    """A name left behind by a renamed feature would leave nothing out and still print a row."""
    features = set(CANDIDATE_FEATURES) | set(SENTENCE_FEATURES)
    assert {name for names in training.ABLATIONS.values() for name in names} <= features


def test_training_learns_the_signal_scores_years_held_out_and_saves_a_scorer_that_loads(tmp_path: Path):
    years = {"year-a": _year("year-a", 1), "year-b": _year("year-b", 2)}
    figures = training.train(years, tmp_path / "scorer", tmp_path / "held-out")
    for name in years:
        assert figures["held_out"][name]["em"] == pytest.approx(2 / 3, abs=0.01)  # every right candidate found
        assert (tmp_path / "held-out" / f"without-{name}" / "answers.txt").is_file()
    scorer = AnswerScorer(tmp_path / "scorer")
    assert scorer.manifest.trained_on == ["year-a", "year-b"]
    question = _year("year-c", 3)[1].candidate_features
    first = int(np.argmax(scorer.candidate_scores(question)))
    assert question[first, CANDIDATE_FEATURES.index("kind_fit")] == 1.0
    confidence = scorer.manifest.confidence.many(scorer.answer_scores(question))
    assert confidence[first] > 0.5 > confidence[(first + 1) % 5]


def test_a_dataset_named_for_cross_validation_is_scored_fold_by_fold_on_every_question(tmp_path: Path):
    years = {"year-a": _year("year-a", 1), "tuned": _year("tuned", 2)}
    figures = training.train(
        years, tmp_path / "scorer", tmp_path / "held-out", ablations=["answer-kind"], cross_validate=["tuned"]
    )
    assert figures["held_out"]["tuned"]["questions"] == len(years["tuned"])
    assert figures["held_out"]["tuned"]["em"] == pytest.approx(2 / 3, abs=0.01)
    assert not (tmp_path / "held-out" / "without-tuned").exists()  # no one scorer left it out whole
    # Without the kind of the candidates, the one signal there is, the right one is found by chance at best.
    assert figures["ablation"]["answer-kind"]["tuned"]["em"] < 0.4


def test_cross_validation_folds_keep_a_page_whole():
    examples = _year("tuned", 2)
    found = training.folds(examples)
    assert len(found) == training.CROSS_VALIDATION_FOLDS and all(found)
    assert sorted(e.question_id for fold in found for e in fold) == sorted(e.question_id for e in examples)
    pages = [{e.group for e in fold} for fold in found]
    assert all(a.isdisjoint(b) for i, a in enumerate(pages) for b in pages[i + 1 :])
