"""What is wrong with bytes that are not a usable JSON message, said in the producer's
terms (gzip, UTF-16, a BOM, a C string's NUL, a line cut inside a character) rather than the
parser's, so the dead letter tells them what to fix."""

from __future__ import annotations


def framing(raw: bytes) -> str:
    """What a whole file written wrongly looks like from one of its lines, said in a sentence
    (else ""): UTF-16 (a byte order mark, or NUL bytes, which UTF-8 text never holds) or
    lines ended by a lone carriage return, which make the whole file one line."""
    head = raw[:256]
    if raw.endswith(b"\x00") and b"\x00" not in raw.rstrip(b"\x00"):
        return (". It ends with a NUL byte (a C string's terminator, written with the message):"
                " send the message's bytes without it")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in head:
        return ". The bytes look like UTF-16 (a byte order mark or NUL bytes): write UTF-8"
    if b"\r" in raw.rstrip(b"\r"):
        return (". It holds carriage returns (\\r) inside it: end each message with a newline"
                " (\\n); a file whose lines end in \\r alone reads as one line")
    return ""


def not_json(raw: bytes, err: Exception) -> str:
    """Say what is wrong in the producer's terms: gzip, bad UTF-8 at a byte, a BOM, or bad
    JSON."""
    if raw.startswith(b"\x1f\x8b"):  # the parser's words would be about UTF-8 or UTF-16
        return "not valid UTF-8 JSON: the bytes look like gzip-compressed data; unpack it first"
    if not raw:  # a Kafka message with no value (or a tombstone) arrives as b""
        return ("not valid UTF-8 JSON: the message is empty (a Kafka message with an empty or"
                " null value, a tombstone): send one event per message")
    whole = framing(raw)
    if whole:
        return f"not valid UTF-8 JSON ({err}){whole}"
    if raw.startswith(b"\xef\xbb\xbf"):
        return "not valid UTF-8 JSON: it starts with a byte order mark (BOM); remove it"
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        return f"not valid UTF-8 JSON: invalid UTF-8 at byte {bad.start} ({bad.reason})"
    return f"not valid UTF-8 JSON: {err}"


def cut_inside_a_character(raw: bytes) -> str:
    """Why ``raw`` of a cut UTF-8 line is base64 in the letter: the cut fell inside a
    character, so its bytes are no UTF-8 text (else "").

    >>> cut_inside_a_character("é".encode()[:1]), cut_inside_a_character(b"ab")
    (' (base64: the cut fell inside a UTF-8 character)', '')
    """
    try:
        raw.decode("utf-8")
    except UnicodeDecodeError as bad:
        if bad.reason == "unexpected end of data" and bad.start >= len(raw) - 3:
            return " (base64: the cut fell inside a UTF-8 character)"
    return ""
