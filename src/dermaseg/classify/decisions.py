"""What a reader needs beside the probabilities: confidence that means what it says, the set of
classes the answer may be, and whether to refer.

All three are fitted on the validation split (never the test split) by
`dermaseg classify calibrate` and stored in the model or ensemble file under "decisions":

- temperature: the ensemble's mean probabilities, softmax(log p / T), T minimising the
  validation negative log-likelihood (temperature scaling, Guo et al. 2017). One number: it
  changes no prediction and cannot overfit 800 images the way a per-class or binned method
  (vector scaling, isotonic regression) can. A single network carries its own T already.
- prediction set: split conformal prediction (Vovk; Sadinle et al. 2019, "least ambiguous
  set-valued classifiers"): with s = 1 - p(true class) on the n validation images, q the
  ceil((n+1) c)/n quantile of s, the set is every class with p >= 1 - q, and the most probable
  class when none reaches it. On new images from the same population the set holds the true
  class with probability >= c (marginally: not for every class or every image; not on other
  populations). c = 0.90 by default.
- triage: "refer" when the melanoma probability reaches a threshold set on validation as the
  highest one that still refers 90 % of the melanomas there. Melanoma alone and not the
  malignant classes together: on validation, at the same melanoma sensitivity, the melanoma
  probability referred fewer other lesions (specificity 0.62 against 0.59 for mel + bcc +
  akiec). "routine" is not "benign": it means below this model's melanoma threshold.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

COVERAGE = 0.90
SENSITIVITY = 0.90
TRIAGE_CLASSES = ("mel",)


def adjust(probs: np.ndarray, shift: np.ndarray | None, temperature: float | None = None) -> np.ndarray:
    """softmax((log probs + shift) / temperature): the prior correction and the temperature that
    `dermaseg classify calibrate` stores in a model file. The temperature changes confidence only,
    never the predicted class."""
    if shift is None and temperature is None:
        return probs
    logits = np.log(np.clip(np.asarray(probs, dtype=np.float64), 1e-12, None))
    if shift is not None:
        logits = logits + np.asarray(shift, dtype=np.float64)[None]
    if temperature is not None:
        logits = logits / float(temperature)
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    return p / p.sum(axis=1, keepdims=True)


TEMPERATURES = tuple(np.round(np.exp(np.linspace(np.log(0.25), np.log(4.0), 161)), 4))


def fit_temperature(probs: np.ndarray, y: np.ndarray, shift: np.ndarray | None = None,
                    temperatures=TEMPERATURES) -> float:
    """The T (on a log grid, 0.25..4) minimising the negative log-likelihood of adjust(probs, shift, T)."""
    y = np.asarray(y, dtype=np.int64)

    def nll(t: float) -> float:
        p = adjust(probs, shift, t)
        return float(-np.mean(np.log(np.clip(p[np.arange(len(y)), y], 1e-12, None))))

    return float(min(temperatures, key=nll))


@dataclass
class Decisions:
    temperature: float | None = None       # applied to an ensemble's mean; None: as the model gives them
    set_threshold: float | None = None     # classes with p >= this are in the prediction set
    coverage: float | None = None          # the coverage the set threshold was fitted for
    triage_classes: list[str] = field(default_factory=lambda: list(TRIAGE_CLASSES))
    triage_threshold: float | None = None  # refer when p(triage classes) >= this
    fitted_on: dict = field(default_factory=dict)   # what data, how many images, validation figures

    @classmethod
    def from_dict(cls, d: dict | None) -> Decisions | None:
        if not d:
            return None
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        return cls(**known)

    def to_dict(self) -> dict:
        return asdict(self)

    def calibrate(self, probs: np.ndarray) -> np.ndarray:
        return probs if self.temperature is None else adjust(probs, None, self.temperature)

    def prediction_set(self, p: np.ndarray, class_names: list[str]) -> list[str]:
        """Classes in the set, most probable first ([] without a fitted threshold)."""
        if self.set_threshold is None:
            return []
        order = np.argsort(-np.asarray(p), kind="stable")
        return [class_names[i] for i in order if p[i] >= self.set_threshold or i == order[0]]

    def triage(self, p: np.ndarray, class_names: list[str]) -> str:
        """'refer' or 'routine' ('' without a fitted threshold)."""
        if self.triage_threshold is None:
            return ""
        score = sum(float(p[class_names.index(c)]) for c in self.triage_classes if c in class_names)
        return "refer" if score >= self.triage_threshold else "routine"


def conformal_threshold(probs: np.ndarray, y: np.ndarray, coverage: float = COVERAGE) -> float:
    """1 - q: q the finite-sample conformal quantile of 1 - p(true class)."""
    n = len(y)
    scores = 1.0 - np.asarray(probs)[np.arange(n), np.asarray(y)]
    level = min(1.0, np.ceil((n + 1) * coverage) / n)
    return float(1.0 - np.quantile(scores, level, method="higher"))


def sensitivity_threshold(score: np.ndarray, positive: np.ndarray, sensitivity: float = SENSITIVITY) -> float:
    """The highest threshold t with mean(score[positive] >= t) >= sensitivity."""
    pos = np.sort(np.asarray(score)[np.asarray(positive, bool)])[::-1]
    if not len(pos):
        raise ValueError("no positive image to set a sensitivity threshold on")
    k = int(np.ceil(sensitivity * len(pos)))   # refer at least the k most probable positives
    return float(pos[k - 1])


def fit_decisions(probs: np.ndarray, y: np.ndarray, class_names: list[str], *, ensemble: bool,
                  coverage: float = COVERAGE, sensitivity: float = SENSITIVITY, about: dict | None = None) -> Decisions:
    """Fit temperature (ensembles only), the set threshold and the triage threshold on (probs, y)."""
    from dermaseg.classify.metrics import expected_calibration_error

    probs, y = np.asarray(probs, np.float64), np.asarray(y)
    d = Decisions(coverage=coverage)
    if ensemble:
        d.temperature = fit_temperature(probs, y)
    calibrated = d.calibrate(probs)
    d.set_threshold = conformal_threshold(calibrated, y, coverage)
    columns = [class_names.index(c) for c in d.triage_classes if c in class_names]
    if not columns:
        raise ValueError(f"no class {d.triage_classes} among {class_names} to triage on")
    score = calibrated[:, columns].sum(axis=1)
    positive = np.isin(y, columns)
    d.triage_threshold = sensitivity_threshold(score, positive, sensitivity)
    refer = score >= d.triage_threshold
    alternative = _malignant_rule(calibrated, positive, class_names, sensitivity)
    d.fitted_on = {**(about or {}), "n": int(len(y)), "n_triage_positive": int(positive.sum()),
                   "ece_before": expected_calibration_error(y, probs),
                   "ece_after": expected_calibration_error(y, calibrated),
                   "triage_sensitivity": float(refer[positive].mean()),
                   "triage_specificity": float((~refer[~positive]).mean()) if (~positive).any() else None,
                   "malignant_rule": alternative}
    return d


MALIGNANT = ("mel", "bcc", "akiec")


def _malignant_rule(probs: np.ndarray, positive: np.ndarray, class_names: list[str], sensitivity: float) -> dict | None:
    """The rule not chosen, for the record: p(mel + bcc + akiec) at the same melanoma sensitivity."""
    columns = [class_names.index(c) for c in MALIGNANT if c in class_names]
    if len(columns) < 2 or not positive.any() or positive.all():
        return None
    score = probs[:, columns].sum(axis=1)
    t = sensitivity_threshold(score, positive, sensitivity)
    return {"classes": list(MALIGNANT), "threshold": t, "sensitivity": float((score[positive] >= t).mean()),
            "specificity": float((score[~positive] < t).mean())}


def decision_metrics(probs: np.ndarray, y: np.ndarray | None, class_names: list[str], decisions: Decisions | None,
                     positive: np.ndarray | None = None) -> dict:
    """Coverage and set sizes (overall, per true class) and triage sensitivity/specificity on scored data.
    `probs` are the model's outputs (already calibrated); y indexes class_names. For data labelled
    only melanoma or not, pass y=None and `positive` (melanoma): the triage figures alone."""
    if decisions is None:
        return {}
    out: dict = {}
    probs = np.asarray(probs)
    if y is not None:
        y = np.asarray(y)
        positive = np.isin(y, [class_names.index(c) for c in decisions.triage_classes if c in class_names])
    if decisions.set_threshold is not None and y is not None:
        sets = [decisions.prediction_set(p, class_names) for p in probs]
        hit = np.array([class_names[t] in s for s, t in zip(sets, y)])
        size = np.array([len(s) for s in sets])
        out["prediction_sets"] = {
            "coverage_target": decisions.coverage, "coverage": float(hit.mean()), "mean_size": float(size.mean()),
            "by_true_class": {c: {"n": int((y == i).sum()), "coverage": float(hit[y == i].mean()),
                                  "mean_size": float(size[y == i].mean())}
                              for i, c in enumerate(class_names) if (y == i).any()}}
    if decisions.triage_threshold is not None:
        refer = np.array([decisions.triage(p, class_names) == "refer" for p in probs])
        positive = np.asarray(positive, bool)
        out["triage"] = {"rule": f"refer when p({'+'.join(decisions.triage_classes)}) >= "
                                 f"{decisions.triage_threshold:.4g}",
                         "n_positive": int(positive.sum()), "referred": float(refer.mean()),
                         "sensitivity": float(refer[positive].mean()) if positive.any() else None,
                         "specificity": float((~refer[~positive]).mean()) if (~positive).any() else None}
    return out
