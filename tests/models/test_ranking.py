"""The vectorised ``rank`` against its readable oracle ``rank_reference``."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import models.ranking as ranking
from models.ranking import Ranked, from_logits, rank, rank_reference

TOL = 1e-5
PROPERTY = settings(
    max_examples=100, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow]
)


@dataclass
class Case:
    queries: np.ndarray  # (V, d) float32
    keys: np.ndarray  # (N, d) float32
    logits: np.ndarray  # (V, N) float32
    k: int
    override: np.ndarray  # (N,) float32
    flagged: np.ndarray  # (V,) bool

    def odds_fn(self, calls: list[tuple[int, int]] | None = None):
        """``rank``'s ``inverse_odds`` for these logits, recording the blocks asked for."""

        def fn(start: int, stop: int) -> np.ndarray:
            if calls is not None:
                calls.append((start, stop))
            return self.logits[start:stop].copy()

        return from_logits(fn)


def f32(lo: float, hi: float) -> st.SearchStrategy[float]:
    return st.floats(lo, hi, width=32, allow_nan=False, allow_infinity=False)


@st.composite
def cases(draw: st.DrawFn, max_viewers: int = 50) -> Case:
    v = draw(st.integers(1, max_viewers))
    n = draw(st.integers(1, 30))
    d = draw(st.integers(1, 16))
    k = draw(st.integers(1, 5))
    return Case(
        queries=draw(hnp.arrays(np.float32, (v, d), elements=f32(-2, 2))),
        keys=draw(hnp.arrays(np.float32, (n, d), elements=f32(-2, 2))),
        logits=draw(hnp.arrays(np.float32, (v, n), elements=f32(-8, 8))),
        k=k,
        override=draw(hnp.arrays(np.float32, (n,), elements=f32(0, 2))),
        flagged=draw(hnp.arrays(np.bool_, (v,))),
    )


def reference_rows(case: Case, use_override: bool) -> list[dict[str, list]]:
    """Per viewer: the oracle's top k, and its score/attention/propensity of every item."""
    out = []
    keys = case.keys.astype(np.float64).tolist()
    override = case.override.astype(np.float64).tolist()
    n = len(keys)
    for v in range(len(case.queries)):
        query = case.queries[v].astype(np.float64).tolist()
        logits = case.logits[v].astype(np.float64).tolist()
        ov = override if use_override and case.flagged[v] else None
        full = rank_reference(query, keys, logits, n, ov)
        by_item = sorted(full)
        out.append(
            {
                "top": rank_reference(query, keys, logits, case.k, ov),
                "score": [s for _, s, _, _ in by_item],
                "attention": [a for _, _, a, _ in by_item],
                "propensity": [p for _, _, _, p in by_item],
            }
        )
    return out


def run(case: Case, use_override: bool = False) -> Ranked:
    if use_override:
        return rank(case.queries, case.keys, case.odds_fn(), case.k, case.override, case.flagged)
    return rank(case.queries, case.keys, case.odds_fn(), case.k)


def assert_valid_row(
    top: np.ndarray, scores: np.ndarray, ref_scores: list[float], k: int, tol: float = TOL
):
    """``top`` is a best-first top-k of ``ref_scores`` up to near-ties."""
    n = len(ref_scores)
    chosen = top.tolist()
    assert len(chosen) == min(k, n)
    assert all(0 <= j < n for j in chosen), chosen
    assert len(set(chosen)) == len(chosen), f"repeated item in {chosen}"
    best = sorted(ref_scores, reverse=True)
    for r, j in enumerate(chosen):
        assert ref_scores[j] == pytest.approx(best[r], abs=tol), (r, chosen, ref_scores)
        assert float(scores[r]) == pytest.approx(best[r], abs=tol)


def assert_matches_reference(
    ranked: Ranked, case: Case, use_override: bool, tol: float = TOL
) -> None:
    refs = reference_rows(case, use_override)
    n = len(case.keys)
    k = min(case.k, n)
    assert ranked.top.shape == ranked.score.shape == (len(case.queries), k)
    assert ranked.attention.shape == ranked.propensity.shape == (len(case.queries), k)
    for v, ref in enumerate(refs):
        top = ranked.top[v]
        assert_valid_row(top, ranked.score[v], ref["score"], case.k, tol)
        for r, (j_ref, s_ref, _, _) in enumerate(ref["top"]):
            j = int(top[r])
            if j != j_ref:  # allowed only between near-equal scores
                assert ref["score"][j] == pytest.approx(s_ref, abs=tol), (v, r, j, j_ref)
            assert float(ranked.score[v, r]) == pytest.approx(ref["score"][j], abs=tol)
            assert float(ranked.attention[v, r]) == pytest.approx(ref["attention"][j], abs=tol)
            assert float(ranked.propensity[v, r]) == pytest.approx(ref["propensity"][j], abs=tol)


# -- properties ------------------------------------------------------------------------------


@PROPERTY
@given(cases())
def test_fast_rank_agrees_with_reference(case: Case) -> None:
    assert_matches_reference(run(case), case, use_override=False)


@PROPERTY
@given(cases())
def test_override_rows_rank_by_override_scores(case: Case) -> None:
    ranked = run(case, use_override=True)
    assert_matches_reference(ranked, case, use_override=True)
    # Override scores are used as they are, so flagged rows follow them exactly, ties by index.
    expected = sorted(range(len(case.keys)), key=lambda j: (-float(case.override[j]), j))
    for v in np.flatnonzero(case.flagged):
        assert ranked.top[v].tolist() == expected[: ranked.top.shape[1]]
        assert ranked.score[v].tolist() == case.override[ranked.top[v]].tolist()


@PROPERTY
@given(cases(), st.floats(85, 150))
def test_large_logits_take_the_shifted_softmax_and_agree(case: Case, bound: float) -> None:
    """Vectors scaled so that the Cauchy-Schwarz bound on q·k/√d is past the float32 exp
    limit: rank must shift by the row maximum and still agree with the oracle (to float32
    precision at logits of ~100, ~1e-5 relative), never produce inf or NaN."""
    d = case.queries.shape[1]
    norm_q = float(np.linalg.norm(case.queries, axis=1).max())
    norm_k = float(np.linalg.norm(case.keys, axis=1).max())
    assume(norm_q * norm_k > 1e-3)
    scale = np.float32(math.sqrt(bound * math.sqrt(d) / (norm_q * norm_k)))
    big = Case(case.queries * scale, case.keys * scale, case.logits, case.k, case.override,
               case.flagged)
    ranked = run(big)
    assert np.isfinite(ranked.attention).all() and np.isfinite(ranked.score).all()
    assert_matches_reference(ranked, big, use_override=False, tol=1e-4)


def test_gathered_rows_match_a_gathered_matrix() -> None:
    rng = np.random.default_rng(5)
    matrix = rng.normal(size=(40, 6))
    rows = rng.permutation(40)[:25]
    dense = matrix[rows].astype(np.float32)
    keys = rng.normal(size=(7, 6)).astype(np.float32)
    logits = rng.normal(size=(25, 7)).astype(np.float32)
    odds = from_logits(lambda s, e: logits[s:e])
    lazy = rank(ranking.GatheredRows(matrix, rows), keys, odds, 3)
    eager = rank(dense, keys, from_logits(lambda s, e: logits[s:e]), 3)
    assert np.array_equal(lazy.top, eager.top)
    np.testing.assert_array_equal(lazy.score, eager.score)


@PROPERTY
@given(cases())
def test_rank_is_deterministic(case: Case) -> None:
    first = run(case, use_override=True)
    second = run(case, use_override=True)
    for name in ("top", "score", "attention", "propensity"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name


@PROPERTY
@given(cases(), st.randoms(use_true_random=False))
def test_rank_is_invariant_to_item_order(case: Case, rnd) -> None:
    n = len(case.keys)
    perm = np.array(rnd.sample(range(n), n), dtype=np.int64)
    permuted = Case(
        queries=case.queries,
        keys=case.keys[perm],
        logits=np.ascontiguousarray(case.logits[:, perm]),
        k=case.k,
        override=case.override[perm],
        flagged=case.flagged,
    )
    original = run(case, use_override=True)
    shuffled = run(permuted, use_override=True)
    refs = reference_rows(case, use_override=True)
    as_original = perm[shuffled.top]  # item identities in the original numbering
    for v, ref in enumerate(refs):
        assert_valid_row(as_original[v], shuffled.score[v], ref["score"], case.k)
        np.testing.assert_allclose(shuffled.score[v], original.score[v], atol=TOL)
        for r in range(original.top.shape[1]):
            a, b = int(original.top[v, r]), int(as_original[v, r])
            if a != b:
                assert ref["score"][a] == pytest.approx(ref["score"][b], abs=TOL)
            else:
                assert shuffled.attention[v, r] == pytest.approx(original.attention[v, r], abs=TOL)
                assert shuffled.propensity[v, r] == pytest.approx(
                    original.propensity[v, r], abs=TOL
                )


@PROPERTY
@given(cases(), st.integers(1, 7))
def test_block_boundaries(case: Case, block: int) -> None:
    whole = run(case, use_override=True)
    calls: list[tuple[int, int]] = []
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(ranking, "BLOCK_ROWS", block)
        blocked = rank(
            case.queries, case.keys, case.odds_fn(calls), case.k, case.override, case.flagged
        )
    finally:
        mp.undo()
    v = len(case.queries)
    assert calls == [(s, min(s + block, v)) for s in range(0, v, block)]
    assert_matches_reference(blocked, case, use_override=True)
    np.testing.assert_allclose(blocked.score, whole.score, atol=TOL)
    np.testing.assert_allclose(blocked.attention, whole.attention, atol=TOL)
    np.testing.assert_allclose(blocked.propensity, whole.propensity, atol=TOL)
    for row in np.flatnonzero(case.flagged):  # exact override order survives the split
        assert blocked.top[row].tolist() == whole.top[row].tolist()


# -- examples --------------------------------------------------------------------------------


def test_blocks_with_many_viewers(monkeypatch: pytest.MonkeyPatch) -> None:
    rng = np.random.default_rng(7)
    v, n, d = 203, 12, 8
    case = Case(
        queries=rng.normal(size=(v, d)).astype(np.float32),
        keys=rng.normal(size=(n, d)).astype(np.float32),
        logits=rng.normal(scale=2, size=(v, n)).astype(np.float32),
        k=4,
        override=rng.random(n).astype(np.float32),
        flagged=rng.random(v) < 0.3,
    )
    monkeypatch.setattr(ranking, "BLOCK_ROWS", 16)
    calls: list[tuple[int, int]] = []
    ranked = rank(
        case.queries, case.keys, case.odds_fn(calls), case.k, case.override, case.flagged
    )
    assert len(calls) == 13 and calls[-1] == (192, 203)
    assert_matches_reference(ranked, case, use_override=True)


def test_hand_computed_example() -> None:
    # d = 1: attention = softmax(q * key); a zero query attends uniformly.
    keys = np.array([[0.0], [1.0], [2.0]], dtype=np.float32)
    queries = np.array([[0.0], [3.0]], dtype=np.float32)
    logits = np.array([[0.0, 0.0, 2.0], [4.0, 0.0, -4.0]], dtype=np.float32)
    ranked = rank(queries, keys, from_logits(lambda s, e: logits[s:e].copy()), 2)
    sig = [1 / (1 + math.exp(-z)) for z in (0.0, 2.0, 4.0, -4.0)]
    # viewer 0: uniform attention; propensity decides: item 2, then items 0/1 tie -> lower index
    assert ranked.top[0].tolist() == [2, 0]
    assert ranked.attention[0].tolist() == pytest.approx([1 / 3, 1 / 3], abs=1e-6)
    assert ranked.propensity[0].tolist() == pytest.approx([sig[1], sig[0]], abs=1e-6)
    assert ranked.score[0].tolist() == pytest.approx([sig[1] / 3, sig[0] / 3], abs=1e-6)
    # viewer 1: attention exp(0), exp(3), exp(6) normalised
    z = [math.exp(0), math.exp(3), math.exp(6)]
    att = [a / sum(z) for a in z]
    scores = [att[0] * sig[2], att[1] * sig[0], att[2] * sig[3]]
    order = sorted(range(3), key=lambda j: -scores[j])[:2]
    assert ranked.top[1].tolist() == order
    assert ranked.score[1].tolist() == pytest.approx([scores[j] for j in order], abs=1e-6)


def test_ties_go_to_the_lower_index() -> None:
    keys = np.zeros((5, 3), dtype=np.float32)
    queries = np.ones((4, 3), dtype=np.float32)
    logits = np.zeros((4, 5), dtype=np.float32)
    ranked = rank(queries, keys, from_logits(lambda s, e: logits[s:e].copy()), 3)
    assert ranked.top.tolist() == [[0, 1, 2]] * 4
    assert rank_reference([1.0] * 3, keys.tolist(), [0.0] * 5, 3)[0][0] == 0


def test_k_larger_than_showcase_is_clamped() -> None:
    keys = np.eye(2, 4, dtype=np.float32)
    queries = np.ones((3, 4), dtype=np.float32)
    logits = np.zeros((3, 2), dtype=np.float32)
    ranked = rank(queries, keys, from_logits(lambda s, e: logits[s:e].copy()), 5)
    assert ranked.top.shape == (3, 2)
    assert sorted(ranked.top[0].tolist()) == [0, 1]


def test_no_viewers_gives_empty_arrays() -> None:
    keys = np.ones((3, 4), dtype=np.float32)
    queries = np.zeros((0, 4), dtype=np.float32)

    def never(start: int, stop: int) -> np.ndarray:
        raise AssertionError("no logits needed for no viewers")

    ranked = rank(queries, keys, from_logits(never), 3)
    assert ranked.top.shape == (0, 3)


def test_rank_does_not_modify_its_inputs() -> None:
    """``rank`` is a pure function of its inputs: a caller that keeps its logits (for
    instance one matrix sliced per block) must get them back unchanged."""
    rng = np.random.default_rng(3)
    queries = rng.normal(size=(6, 4)).astype(np.float32)
    keys = rng.normal(size=(5, 4)).astype(np.float32)
    logits = rng.normal(size=(6, 5)).astype(np.float32)
    override = rng.random(5).astype(np.float32)
    flagged = np.array([True, False, True, False, False, True])
    before = [a.copy() for a in (queries, keys, logits, override, flagged)]
    first = rank(queries, keys, from_logits(lambda s, e: logits[s:e]), 3, override, flagged)
    after = (queries, keys, logits, override, flagged)
    for name, old, new in zip(
        ("queries", "keys", "logits", "override", "flagged"), before, after, strict=True
    ):
        assert np.array_equal(old, new), f"rank modified its {name}"
    second = rank(queries, keys, from_logits(lambda s, e: logits[s:e]), 3, override, flagged)
    assert np.array_equal(first.top, second.top)
    assert np.array_equal(first.score, second.score)


def test_rank_leaves_a_callers_inverse_odds_alone() -> None:
    """An ``inverse_odds`` that hands out views of the caller's array gets them back intact:
    rank works on a copy of anything it does not own."""
    rng = np.random.default_rng(8)
    queries = rng.normal(size=(6, 4)).astype(np.float32)
    keys = rng.normal(size=(5, 4)).astype(np.float32)
    odds = rng.random((5, 6)).astype(np.float32)  # items down, viewers across
    kept = odds.copy()
    first = rank(queries, keys, lambda s, e: odds[:, s:e], 3)
    assert np.array_equal(odds, kept)
    second = rank(queries, keys, lambda s, e: odds[:, s:e], 3)
    assert np.array_equal(first.top, second.top) and np.array_equal(first.score, second.score)


@PROPERTY
@given(cases(), st.integers(0, 12), st.integers(1, 7))
def test_uniform_rows_equal_zero_queries_bit_for_bit(case: Case, split: int, block: int) -> None:
    """Rows from ``uniform_from`` on skip the attention; they must come out exactly as if
    their queries were zeros (and those queries are never read), whatever the blocks; the
    other rows stay right."""
    v = len(case.queries)
    split = min(split, v)
    zeroed = case.queries.copy()
    zeroed[split:] = 0.0
    poisoned = case.queries.copy()
    poisoned[split:] = np.nan  # would spread NaN if the uniform rows were read
    mp = pytest.MonkeyPatch()
    try:
        mp.setattr(ranking, "BLOCK_ROWS", block)
        calls: list[tuple[int, int]] = []
        skipped = rank(poisoned, case.keys, case.odds_fn(calls), case.k, case.override,
                       case.flagged, uniform_from=split)
        full = rank(zeroed, case.keys, case.odds_fn(), case.k, case.override, case.flagged)
    finally:
        mp.undo()
    for name in ("top", "score", "attention", "propensity"):
        # the uniform rows exactly; the others to rounding (BLAS rounds by block shape)
        assert np.array_equal(getattr(skipped, name)[split:], getattr(full, name)[split:]), name
        if name != "top":
            np.testing.assert_allclose(getattr(skipped, name), getattr(full, name), atol=TOL)
    assert_matches_reference(skipped, Case(zeroed, case.keys, case.logits, case.k,
                                           case.override, case.flagged), use_override=True)
    assert all(stop <= split or start >= split for start, stop in calls)  # no block straddles
    assert sorted(calls) == calls and sum(stop - start for start, stop in calls) == v


@PROPERTY
@given(
    st.integers(1, 300),  # items: past 255 the equality weights are uint16
    st.integers(1, 40),  # viewers
    st.integers(1, 6),  # k (capped at items)
    st.sampled_from(["ties", "spread", "nan"]),
    st.integers(0, 2**32 - 1),
)
def test_top_k_of_columns_equals_argmax_passes(
    n_items: int, n_viewers: int, k: int, kind: str, seed: int
) -> None:
    """``TopK`` (items × viewers, max down columns) against ``_top_k`` (argmax along rows),
    ties to the lower index included: scores drawn from a few values tie often."""
    rng = np.random.default_rng(seed)
    k = min(k, n_items)
    if kind == "ties":
        score = rng.integers(0, 4, (n_viewers, n_items)).astype(np.float32)
        score[rng.random(score.shape) < 0.1] = -np.inf
    else:
        score = rng.random((n_viewers, n_items), dtype=np.float32)
    if kind == "nan":
        score[rng.random(score.shape) < 0.05] = np.nan
    expected = ranking._top_k(score.copy(), k)
    top_k = ranking.TopK(n_items, k, max(1, n_viewers // 2))  # grows its scratch on demand
    got = top_k(score.T.copy())  # TopK overwrites what it ranks
    assert got.shape == (n_viewers, k)
    assert np.array_equal(got, expected)
    again = top_k(score.T.copy())  # the scratch is reused safely
    assert np.array_equal(again, expected)
