"""Kafka mode's four topics, checked before anything is created: each a name Kafka accepts,
and no two roles on one topic. Two roles on one topic is always a mistake: dead letters
written to the input are read again and dead-lettered again, nested deeper, without end;
pushes written to it are read as events; ghost pushes on the output topic reach viewers the
holdout keeps from them.

>>> check_topics({"--input-topic": "a", "--output-topic": "b", "--dead-letter-topic": "a"})
Traceback (most recent call last):
...
ValueError: --input-topic and --dead-letter-topic name the same topic ('a'); give each its own
>>> check_topics({"--input-topic": "bad topic!"})  # doctest: +ELLIPSIS
Traceback (most recent call last):
...
ValueError: --input-topic 'bad topic!' is not a Kafka topic name: at most 249 of the letters ...
"""

from __future__ import annotations

import re
from typing import Final

TOPICS: Final = ("input_topic", "output_topic", "dead_letter_topic", "experiment_topic")
_NAME: Final = re.compile(r"[a-zA-Z0-9._-]{1,249}")  # Kafka's own rule


def check_topics(topics: dict[str, str]) -> None:
    """``topics`` maps each flag to its topic; ``ValueError`` naming the flag(s) if wrong."""
    seen: dict[str, str] = {}
    for flag, topic in topics.items():
        if not _NAME.fullmatch(topic) or topic in (".", ".."):
            raise ValueError(
                f"{flag} {topic!r} is not a Kafka topic name: at most 249 of the letters a-z,"
                " A-Z, digits, '.', '_' and '-'"
            )
        if topic in seen:
            raise ValueError(f"{seen[topic]} and {flag} name the same topic ({topic!r});"
                             " give each its own")
        seen[topic] = flag
