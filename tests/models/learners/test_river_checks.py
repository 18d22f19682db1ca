"""River's own estimator checks (``river.checks``), on the River estimators the adapters run."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pytest
from river.checks import clf, common
from river.checks import reco as reco_checks

from models.learners.river_adapters import RiverFunkMF, RiverLogisticRegression

D = 4
NAMES = tuple(f"f{n}" for n in range(6))

# -- River's own estimator checks, on the estimators the adapters run -----------------------
# ``river.checks.check_estimator`` draws its datasets from scikit-learn, which the project
# does not install: the same checks run here on a stream of the adapters' own shape.

GENERAL_CHECKS = [
    common.check_repr,
    common.check_str,
    common.check_tags,
    common.check_clone_same_class,
    common.check_clone_is_idempotent,
    common.check_init_has_default_params_for_tests,
    common.check_init_default_params_are_not_mutable,
    common.check_doc,
    common.check_clone_changes_memory_addresses,
    common.check_mutate_can_be_idempotent,
    common.check_pickling_supports_roundtrip,
    common.check_repr_roundtrips_clone,
    common.check_clone_with_new_params_applies,
    common.check_get_params_matches_signature,
]
CLASSIFIER_CHECKS = [
    common.check_learn_one,
    common.check_pickling,
    common.check_shuffle_features_no_impact,
    common.check_predict_one_pure,
    common.check_predict_one_before_any_learn,
    common.check_no_state_aliasing_with_input,
    common.check_clone_is_independent,
    clf.check_predict_proba_one,
    clf.check_predict_proba_one_binary,
    clf.check_classifier_tracks_seen_labels,
]


@pytest.mark.parametrize(
    "estimator",
    [
        RiverLogisticRegression(NAMES, lr=0.05, l2=1e-4).river,
        RiverFunkMF(n_factors=D, lr=0.05).river,
    ],
    ids=["LogisticRegression", "FunkMF"],
)
@pytest.mark.parametrize("check", GENERAL_CHECKS, ids=lambda c: c.__name__)
def test_river_general_estimator_checks(estimator: Any, check: Callable[[Any], None]) -> None:
    assert check.__name__ not in estimator._unit_test_skips()
    check(estimator.clone())


@pytest.mark.parametrize("check", CLASSIFIER_CHECKS, ids=lambda c: c.__name__)
def test_river_classifier_checks(check: Callable[[Any, Any], None]) -> None:
    rng = np.random.default_rng(0)
    stream = [
        (dict(zip(NAMES, rng.normal(0, 1, len(NAMES)).tolist(), strict=True)), bool(y))
        for y in rng.random(200) < 0.4
    ]
    check(RiverLogisticRegression(NAMES, lr=0.05, l2=1e-4).river.clone(), stream)


def test_river_ranker_routine() -> None:
    reco_checks.check_reco_routine(RiverFunkMF(n_factors=D, lr=0.05).river.clone())
