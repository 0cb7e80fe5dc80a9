"""Training the answer scorer on benchmark years: each question's passages read once and labelled
(qa/evaluation/examples.py), the LightGBM models fit, every year scored by models trained on the other years only
(leave one year out; a dataset the choices were tuned on, by cross-validation), and the shipped models trained on
all of them. `qa eval train DATASET...` runs it and prints the held-out figures."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from qa.answer.periods import PERIOD_FEATURES
from qa.answer.reading import CANDIDATE_FEATURES, SENTENCE_FEATURES
from qa.answer.scorer import (
    ANSWER_MODEL,
    CANDIDATE_MODEL,
    MODEL_FILES,
    SENTENCE_MODEL,
    Calibration,
    file_sha256,
    write_manifest,
)
from qa.evaluation import metrics
from qa.evaluation.examples import Example
from qa.evaluation.runner import RIGHT_F1

# LightGBM, small and regularised: ~10-40 candidates a question, a few thousand questions a year.
PARAMS = {
    "objective": "binary",
    "learning_rate": 0.05,
    "num_leaves": 15,
    "min_data_in_leaf": 40,
    "feature_fraction": 0.8,
    "bagging_fraction": 0.8,
    "bagging_freq": 1,
    "lambda_l2": 1.0,
    "verbose": -1,
    "num_threads": 2,
    "seed": 7,
    "deterministic": True,
}
ROUNDS = 300
# The candidate model ranks the candidates of one question (LambdaRank: only the order within a question is learned,
# the top place weighed most); its labels are grades of token F1 with the gold answer, 0-3. Measured against a
# binary model on the same features, fit on one of 2022/2023 and read on the other: EM 0.180 -> 0.198 and
# 0.115 -> 0.120. A binary model of the same features judges the first-ranked candidate for the confidence: its
# probability separates right from wrong answers better (AUC 0.84 and 0.86 against 0.83 and 0.82).
RANKING = {"objective": "lambdarank", "lambdarank_truncation_level": 5}
GRADES = 3
# Folds of a dataset scored by cross-validation, fit with the other datasets on its other folds.
CROSS_VALIDATION_FOLDS = 5
# Folds of the training questions whose out-of-fold scores fit the calibration and choose the thresholds.
CALIBRATION_FOLDS = 3
# Precision the bold short answer is shown at, and that a refusal must have (the share of refused questions whose
# best answer would have been wrong), both chosen on the training years.
SHOWN_PRECISION = 0.75
REFUSAL_PRECISION = 0.9
MAX_REFUSED_ANSWERABLE = 0.10


@dataclass
class Models:
    """The three fitted boosters."""

    candidates: Any
    answers: Any
    sentences: Any


def fit(examples: Sequence[Example], exclude: Sequence[str] = ()) -> Models:
    """The three models on the examples, leaving out the named features (zeroed: the ablation)."""
    import lightgbm

    def train(features: list[np.ndarray], labels: list[np.ndarray], names: list[str], ranked: bool = False) -> Any:
        x = np.concatenate(features)
        x[:, [names.index(name) for name in exclude if name in names]] = 0.0
        groups = [len(f) for f in features] if ranked else None
        data = lightgbm.Dataset(x, np.concatenate(labels), group=groups, feature_name=names, free_raw_data=False)
        return lightgbm.train({**PARAMS, **(RANKING if ranked else {})}, data, num_boost_round=ROUNDS)

    with_candidates = [e for e in examples if len(e.candidate_texts)]
    candidates = train(
        [e.candidate_features for e in with_candidates],
        [np.floor(e.candidate_f1 * GRADES) for e in with_candidates],
        CANDIDATE_FEATURES,
        ranked=True,
    )
    answers = train(
        [e.candidate_features for e in with_candidates],
        [(e.candidate_f1 >= RIGHT_F1).astype(float) for e in with_candidates],
        CANDIDATE_FEATURES,
    )
    with_sentences = [e for e in examples if len(e.sentence_right)]
    sentences = train(
        [e.sentence_features for e in with_sentences],
        [e.sentence_right for e in with_sentences],
        SENTENCE_FEATURES,
    )
    return Models(candidates, answers, sentences)


@dataclass
class Outcome:
    """What a model does on one question: its best candidate and sentence, their raw scores, and if right."""

    question_id: str
    answerable: bool
    best_text: str | None
    best_score: float
    right: float  # best candidate's F1 ≥ RIGHT_F1
    f1: float
    em: float
    sentence_score: float
    sentence_right: float


def outcomes(models: Models, examples: Sequence[Example], exclude: Sequence[str] = ()) -> list[Outcome]:
    """Each example's best candidate and best sentence by the models."""
    found = []
    for e in examples:
        best_text, best_score, right, f1, em = None, 0.0, 0.0, 0.0, 0.0
        if e.candidate_texts:
            x = e.candidate_features.copy()
            x[:, [CANDIDATE_FEATURES.index(name) for name in exclude if name in CANDIDATE_FEATURES]] = 0.0
            best = int(np.argmax(models.candidates.predict(x)))
            best_text, best_score = e.candidate_texts[best], float(models.answers.predict(x[best : best + 1])[0])
            f1 = float(e.candidate_f1[best])
            right = float(f1 >= RIGHT_F1)
            em = float(f1 == 1.0)
        sentence_score, sentence_right = 0.0, 0.0
        if len(e.sentence_right):
            y = e.sentence_features.copy()
            y[:, [SENTENCE_FEATURES.index(name) for name in exclude if name in SENTENCE_FEATURES]] = 0.0
            scores = models.sentences.predict(y)
            best = int(np.argmax(scores))
            sentence_score, sentence_right = float(scores[best]), float(e.sentence_right[best])
        found.append(
            Outcome(e.question_id, e.answerable, best_text, best_score, right, f1, em, sentence_score, sentence_right)
        )
    return found


def calibration(scores: Sequence[float], right: Sequence[float]) -> Calibration:
    """Isotonic regression of rightness on score, as the steps Calibration interpolates."""
    from sklearn.isotonic import IsotonicRegression

    if not len(scores):
        return Calibration(x=[], y=[])
    iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip").fit(scores, right)
    return Calibration(x=[float(v) for v in iso.X_thresholds_], y=[float(v) for v in iso.y_thresholds_])


def thresholds(
    confidence: np.ndarray, support: np.ndarray, right: np.ndarray, answerable: np.ndarray
) -> tuple[float, float]:
    """(refusal, shown). Refuse when the support (the probability that the best sentence holds the answer) is below
    the highest threshold at which refused questions would still be answered wrongly REFUSAL_PRECISION of the time
    and at most MAX_REFUSED_ANSWERABLE of answerable questions are refused; bold the short answer from the lowest
    confidence at which shown answers are SHOWN_PRECISION right."""
    refusal = 0.0
    for t in np.unique(support):
        refused = support < t
        if not refused.any():
            continue
        wrong = 1 - right[refused].mean()
        if wrong < REFUSAL_PRECISION or refused[answerable].mean() > MAX_REFUSED_ANSWERABLE:
            break
        refusal = float(t)
    shown = 1.0
    for t in np.unique(confidence)[::-1]:
        above = confidence >= t
        if right[above].mean() >= SHOWN_PRECISION:
            shown = float(t)
        elif above.sum() >= 20:
            break
    return refusal, shown


@dataclass
class Scorer:
    """Fitted models with their calibration and thresholds: what a model folder holds."""

    models: Models
    steps: dict[str, Calibration]
    refusal: float
    shown: float


def fit_scorer(years: dict[str, list[Example]], names: Sequence[str], exclude: Sequence[str] = ()) -> Scorer:
    """Models fit on the named years; calibration and thresholds from their out-of-fold scores (CALIBRATION_FOLDS
    contiguous folds, so that a quiz week rarely lands on both sides)."""
    train = [e for name in names for e in years[name]]
    models = fit(train, exclude)
    bounds = np.linspace(0, len(train), CALIBRATION_FOLDS + 1).astype(int)
    inner: list[Outcome] = []
    for start, end in itertools.pairwise(bounds):
        inner += outcomes(fit(train[:start] + train[end:], exclude), train[start:end], exclude)
    steps = _confidence_steps(inner)
    refusal, shown = _thresholds(inner, steps)
    return Scorer(models, steps, refusal, shown)


def held_out(years: dict[str, list[Example]], target: str, exclude: Sequence[str] = ()) -> tuple[Scorer, dict]:
    """A scorer fit on every year but `target`, and its figures on `target`."""
    scorer = fit_scorer(years, [name for name in years if name != target], exclude)
    return scorer, _figures([(outcomes(scorer.models, years[target], exclude), scorer)])


def cross_validated(datasets: dict[str, list[Example]], target: str, exclude: Sequence[str] = ()) -> dict:
    """Figures on `target` from CROSS_VALIDATION_FOLDS scorers, each fit on every other dataset and the other folds
    of it, each scoring its own fold: for a dataset that choices were tuned on (timeqa-train). A fold holds whole
    groups (a page's questions), so no page is both read and scored."""
    scored = []
    for fold in folds(datasets[target]):
        rest = {name: found for name, found in datasets.items() if name != target}
        scored_ids = {e.question_id for e in fold}
        rest[target] = [e for e in datasets[target] if e.question_id not in scored_ids]
        scorer = fit_scorer(rest, list(rest), exclude)
        scored.append((outcomes(scorer.models, fold, exclude), scorer))
    return _figures(scored)


def folds(examples: Sequence[Example]) -> list[list[Example]]:
    """CROSS_VALIDATION_FOLDS folds of the examples, each group (a page's questions) whole in one of them."""
    groups = sorted({e.group for e in examples})
    fold_of = {group: index % CROSS_VALIDATION_FOLDS for index, group in enumerate(groups)}
    return [[e for e in examples if fold_of[e.group] == fold] for fold in range(CROSS_VALIDATION_FOLDS)]


def _confidence_steps(found: Sequence[Outcome]) -> dict[str, Calibration]:
    with_candidate = [o for o in found if o.best_text is not None]
    return {
        "confidence": calibration([o.best_score for o in with_candidate], [o.right for o in with_candidate]),
        "sentence_confidence": calibration([o.sentence_score for o in found], [o.sentence_right for o in found]),
    }


def confidence_of(found: Sequence[Outcome], steps: dict[str, Calibration]) -> np.ndarray:
    """An answer's confidence: of its short answer when it has one, else of its best sentence."""
    return np.array(
        [
            steps["confidence"](o.best_score)
            if o.best_text is not None
            else steps["sentence_confidence"](o.sentence_score)
            for o in found
        ]
    )


def _rightness(found: Sequence[Outcome]) -> np.ndarray:
    return np.array([o.right if o.best_text is not None else o.sentence_right for o in found])


def _thresholds(found: Sequence[Outcome], steps: dict[str, Calibration]) -> tuple[float, float]:
    answerable = np.array([o.answerable for o in found], dtype=bool)
    return thresholds(confidence_of(found, steps), support_of(found, steps), _rightness(found), answerable)


def support_of(found: Sequence[Outcome], steps: dict[str, Calibration]) -> np.ndarray:
    """The probability that each answer's best sentence holds the answer: what the refusal reads."""
    return steps["sentence_confidence"].many([o.sentence_score for o in found])


def _figures(scored: Sequence[tuple[Sequence[Outcome], Scorer]]) -> dict[str, Any]:
    """EM, F1, calibration and refusals of outcomes, each part judged by the scorer that scored it."""
    found = [o for part, _ in scored for o in part]
    confidence = np.concatenate([confidence_of(part, scorer.steps) for part, scorer in scored])
    answered = np.concatenate([support_of(part, scorer.steps) >= scorer.refusal for part, scorer in scored])
    shown = np.concatenate([np.full(len(part), scorer.shown) for part, scorer in scored])
    right = _rightness(found)
    answerable = np.array([o.answerable for o in found], dtype=bool)
    bold = answered & (confidence >= shown) & np.array([o.best_text is not None for o in found])
    return {
        "questions": len(found),
        "em": round(float(np.mean([o.em if a else 0.0 for o, a in zip(found, answered, strict=True)])), 4),
        "f1": round(float(np.mean([o.f1 if a else 0.0 for o, a in zip(found, answered, strict=True)])), 4),
        "right": round(float(right.mean()), 4),
        "ece": round(metrics.expected_calibration_error(confidence, right), 4),
        "refusal_threshold": round(float(np.mean([scorer.refusal for _, scorer in scored])), 4),
        "shown_threshold": round(float(np.mean([scorer.shown for _, scorer in scored])), 4),
        "refused_answerable": round(float((~answered[answerable]).mean()), 4) if answerable.any() else None,
        "shown": round(float(bold.mean()), 4),
        "shown_right": round(float(right[bold].mean()), 4) if bold.any() else None,
        "calibration": metrics.calibration_table(confidence, right),
    }


def save(scorer: Scorer, folder: Path, trained_on: Sequence[str], figures: dict[str, Any]) -> Path:
    """The scorer as a model folder qa.answer.scorer loads: two LightGBM text files and the manifest."""
    folder.mkdir(parents=True, exist_ok=True)
    scorer.models.candidates.save_model(str(folder / CANDIDATE_MODEL))
    scorer.models.answers.save_model(str(folder / ANSWER_MODEL))
    scorer.models.sentences.save_model(str(folder / SENTENCE_MODEL))
    write_manifest(
        folder,
        {
            "candidate_features": CANDIDATE_FEATURES,
            "sentence_features": SENTENCE_FEATURES,
            "sha256": {name: file_sha256(folder / name) for name in MODEL_FILES},
            "confidence": scorer.steps["confidence"],
            "sentence_confidence": scorer.steps["sentence_confidence"],
            "refusal_threshold": scorer.refusal,
            "shown_threshold": scorer.shown,
            "trained_on": sorted(trained_on),
            "figures": figures,
        },
    )
    return folder


# Features left out together in the ablation (`qa eval train --ablation NAME`): what each kind of evidence buys.
ABLATIONS = {
    "meaning": ["dense", "max_dense", "sum_dense", "question_fit"],
    "shared-terms": ["max_lexical", "sum_lexical"],
    "redundancy": [
        "mentions",
        "sentences",
        "articles",
        "support_share",
        "support_rank",
        "inside_others",
        "holds_others",
        "in_passages",
        "in_titles",
    ],
    "answer-kind": [
        "kind_fit",
        "from_entity",
        *[f for f in CANDIDATE_FEATURES if f.startswith("is_")],
    ],
    "head-noun": ["head_fit", "from_head"],
    "proximity": ["proximity"],
    "passage-rank": ["best_passage_rank", "best_order"],
    "period": [*PERIOD_FEATURES, "period_share"],
}


def train(
    datasets: dict[str, list[Example]],
    folder: Path,
    held_out_dir: Path | None,
    ablations: Sequence[str] = (),
    cross_validate: Sequence[str] = (),
) -> dict[str, Any]:
    """Held-out figures of each dataset (leave one year out; by cross-validation for those named in
    `cross_validate`), the held-out scorers in held_out_dir, the named ablations, and the shipped scorer."""
    figures: dict[str, Any] = {"held_out": {}, "ablation": {}}
    names = sorted(datasets)

    def scored(name: str, exclude: Sequence[str] = ()) -> dict[str, Any]:
        if name in cross_validate:
            return cross_validated(datasets, name, exclude)
        scorer, found = held_out(datasets, name, exclude)
        if held_out_dir and not exclude:
            save(scorer, held_out_dir / f"without-{name}", [n for n in names if n != name], found)
        return found

    # A lone dataset has nothing to be left out of, but it may be cross-validated.
    scored_names = [name for name in names if len(names) > 1 or name in cross_validate]
    for name in scored_names:
        figures["held_out"][name] = scored(name)
    for label in ablations:
        figures["ablation"][label] = {
            name: {key: found[key] for key in ("em", "f1", "right")}
            for name in scored_names
            for found in [scored(name, ABLATIONS[label])]
        }
    save(fit_scorer(datasets, names), folder, names, figures)
    return figures


def figures_table(figures: dict[str, Any]) -> str:
    """The held-out figures, the calibration and the ablation as Markdown tables."""
    lines = [
        "| held-out year | questions | EM | F1 | short answer right | ECE | refused answerable | bold shown "
        "| bold right |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for name, found in figures["held_out"].items():
        lines.append(
            f"| {name} | {found['questions']} | {found['em']:.3f} | {found['f1']:.3f} | {found['right']:.3f} | "
            f"{found['ece']:.3f} | {found['refused_answerable']} | {found['shown']:.3f} | {found['shown_right']} |"
        )
    for name, found in figures["held_out"].items():
        lines += ["", f"Calibration on {name} (held out):", "", "| confidence | n | mean confidence | right |"]
        lines.append("| --- | --- | --- | --- |")
        lines += [
            f"| {b['from']:.1f}–{b['to']:.1f} | {b['n']} | {b['confidence']} | {b['right']} |"
            for b in found["calibration"]
        ]
    if figures["ablation"]:
        names = list(figures["held_out"])
        lines += ["", "Ablation (EM / F1 with the features left out, held out):", ""]
        lines.append("| left out | " + " | ".join(names) + " |")
        lines.append("| --- |" + " --- |" * len(names))
        lines.append(
            "| nothing | "
            + " | ".join(f"{figures['held_out'][n]['em']:.3f} / {figures['held_out'][n]['f1']:.3f}" for n in names)
            + " |"
        )
        for label, per_year in figures["ablation"].items():
            lines.append(
                f"| {label} | " + " | ".join(f"{per_year[n]['em']:.3f} / {per_year[n]['f1']:.3f}" for n in names) + " |"
            )
    return "\n".join(lines)
