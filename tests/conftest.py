"""Hypothesis runs without its per-example deadline: the suite shares two cores with a broker
(a 200 ms deadline failed a property test under that load), and speed is measured by
``roomrank bench``, never by a timed test."""

from hypothesis import settings

settings.register_profile("roomrank", deadline=None)
settings.load_profile("roomrank")
