"""The room's online learners, behind two River-shaped Protocols (``protocols``).

* ``protocols``: ``VectorLearner`` (``learn_one(user, item, y)``/``predict_one``, plus the
  matrix rows, update counts, ``init_user``/``init_item`` and ``learn_many`` a room needs to
  rank all its viewers at once) and ``ChoiceLearner`` (``learn_matrix`` on a showcase and the
  chosen item, ``parts`` giving every item's attention and propensity, ``weights`` as one
  array for the snapshot).
* ``factorization``, ``listwise``: the fast learners (``--learner fast``, the default):
  River's ``FunkMF`` update rule on numpy rows, and the listwise choice model.
* ``river_adapters``: River's own ``reco.FunkMF``, and ``linear_model.LogisticRegression``
  on the choice features, pointwise (``--learner river``: the River peer); ``river_fm``:
  River's ``facto.FMClassifier`` in its place (``--learner river-fm``).
* ``choice``: builds a room's learners from ``RoomParams.learner``.

Every learner refuses a non-finite update (NaN or ±inf in a target, feature, sample weight or
result) and leaves the model as it was; ``refused`` counts them
(``roomrank_learner_refused_total``). ``tests/models/learners/test_contract.py`` is the
contract they all pass.
"""
