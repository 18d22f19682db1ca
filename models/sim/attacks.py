"""Manipulation: accounts that try to put one item in front of every viewer of a room.

A room's pushes share its statistics (an item's choice ratio, momentum, the learned weights),
so whoever floods them with choices of one item steers what everyone is shown. This module
adds such accounts to any event stream; ``models.sim.attack_outcome`` runs the job's rooms
over it (no engine) and says how often the attacked item reached the *other* viewers' pushes
and how well those pushes still predicted what those viewers did. ``roomrank lab --attacks``
prints it per regime.

Three shapes, each against the last item of every showcase (an arbitrary item, not the
room's best), from a few hundred milliseconds after the showcase starts until it changes:

* ``one-vote``: one account clicks the item once and carts it once: what any single honest
  viewer can do, the floor a defence can bring the others down to.
* ``click-farm``: one account clicks the item every ``period_ms``, carting it every fifth
  click: one identity, hundreds of choices.
* ``sybil``: twenty accounts take turns at the same pace: many identities, each choosing a
  little. Bounding one identity's voice does not bound these (docs/evaluation.md).

Two more forge what the job trusts rather than vote (docs/evaluation.md, "Forged ids and
clocks"); their target is the same item, so the share says whether the room still follows:

* ``id-squat``: one account sends a heartbeat carrying the room's *next* showcase's
  ``event_id`` a millisecond before it: were ids one namespace, the showcase would be a
  ``reused_id`` dead letter and the room would never change what it shows.
* ``clock-jump``: two accounts each send, every ``period_ms`` × 10/3 (10 s by default), a
  heartbeat 599 s ahead of the newest time the room has seen (their own included), within
  ``max_ahead_ms``; these arrive when they are sent, ahead of their ``ts``. Were the room's
  time one account's, or one that two must agree on, every other viewer would be forgotten
  at each jump (the red team's shape was one account; two defeat a pair's agreement).
* ``clock-hold``: the opposite: ``HOLDERS`` accounts (more than a lab room's audience heard
  within a presence timeout) each send, every 10 s, a heartbeat stamped with the showcase's
  own time, which is never more than a presence timeout old beside the platform's newest
  event. They are a majority of the sources heard lately, and the room's time may not run
  more than half a presence timeout past that majority's (``features.state.clock``): it
  stands still 45 s after each showcase until the next one, so the momentum window stops
  ageing and nobody is forgotten on time (docs/evaluation.md, "A crowd that holds the
  room's time back").

Two more teach the room's learner rather than push one item (the red team's shapes), each
by ``accounts`` fresh accounts per showcase (20 by default), each account used for one
showcase only; they aim at what the room pushed on the clean stream (``pushes``, from
``models.sim.attack_outcome.replay_pushes``), which an attacker reads off its own accounts'
pushes:

* ``poison``: every 1.5 s an account clicks an item ``a``, carts another ``b`` and clicks a
  third ``c``, all drawn from the showcase's coldest half (the items least pushed to the
  others, spotlight left out): cart after a click of something else, and cold items chosen,
  teach the room that intent means nothing and cold items sell. The target is the last item.
* ``demote``: each account clicks every item on show but the one the room pushed most,
  50 ms apart: that item is the target, and its share says how far it was pushed out.

The room's learner is judged by its *established* viewers, who chose something before the
showcase on show began (``models.learners.judged``), so fresh accounts can teach it but not
make it rank with what they taught. One more shape makes its accounts established first:

* ``sleeper``: ``poison``'s accounts and choices, each account made established one showcase
  ahead: during the previous showcase it enters and clicks the item the room pushed most
  there, as a fan would (the most pushed one it will not poison with, so that the click stays
  among the last few a viewer's standing is read from). Every showcase but each room's first
  is poisoned, by accounts the room has seen choose before.

The judge also waits for the established viewers' purchases to agree, the one action that
costs; the last shape pays it:

* ``paying-sleeper``: ``sleeper`` whose accounts buy, at its price, the item they would cart.

>>> stream = [{"event_id": "s", "type": "showcase", "ts": 0, "room_id": "r",
...            "spotlight": None, "items": [{"item_id": "a", "price": 1.0, "category": "c"},
...                                         {"item_id": "b", "price": 2.0, "category": "c"}]},
...           {"event_id": "h", "type": "heartbeat", "ts": 10_000, "room_id": "r",
...            "user_id": "u", "watch_ms": 1000}]
>>> attacked, targets = inject(stream, "click-farm", period_ms=3_000)
>>> targets
[Target(room_id='r', start=300, end=10000, item_id='b')]
>>> sum(e["type"] == "item_click" for e in attacked)
4
>>> pushed = [("r", "u", 5_000, ("a",))]
>>> attacked, targets = inject(stream, "demote", accounts=2, pushes=pushed)
>>> targets[0].item_id, [(e["user_id"], e.get("item_id")) for e in attacked if "item_id" in e]
('a', [('attacker-r-0-0', 'b'), ('attacker-r-0-1', 'b')])
>>> attacked, targets = inject(stream, "sleeper", accounts=2, pushes=pushed)
>>> targets  # a sleeper needs a showcase before the one it poisons: this stream has one only
[]
"""

from __future__ import annotations

import bisect
import random
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Final

ATTACKS: Final = ("one-vote", "click-farm", "sybil", "id-squat", "clock-jump", "clock-hold",
                  "poison", "demote", "sleeper", "paying-sleeper")
SLEEPERS: Final = ("sleeper", "paying-sleeper")
AIMED: Final = ("poison", "demote", *SLEEPERS)  # aimed at the clean stream's pushes
ATTACKER: Final = "attacker-"  # every injected account's user_id starts with this
START_MS: Final = 300  # after the showcase starts
SYBILS: Final = 20
AHEAD_MS: Final = 599_000  # a clock-jump's lead: inside the default max_ahead_ms (600 s)
JUMPERS: Final = 2  # clock-jump's accounts, jumping together
HOLDERS: Final = 60  # clock-hold's accounts: the lab's rooms hear a few dozen viewers in 90 s
POISON_PACE_MS: Final = 1_500  # a new poisoning account every 1.5 s
DEMOTE_PACE_MS: Final = 50  # a demoting account's clicks, 50 ms apart
ACTIONS: Final = ("item_click", "add_to_cart", "purchase")


@dataclass(frozen=True, slots=True)
class Target:
    room_id: str
    start: int
    end: int
    item_id: str


Push = tuple[str, str, int, tuple[str, ...]]  # (room, viewer, trigger ts, items best first)


def inject(events: Iterable[dict[str, Any]], attack: str, period_ms: int = 3_000,
           accounts: int = SYBILS, pushes: Iterable[Push] | None = None,
           ) -> tuple[list[dict[str, Any]], list[Target]]:
    """``events`` with the attack's events added, in arrival order (by ``ts``, but a
    clock-jump's heartbeats arrive when sent, ahead of their ``ts``, and a clock-hold's
    after it), and what they target.
    ``poison``, ``demote`` and ``sleeper`` need ``pushes``, what the room pushed on
    ``events``, and send ``accounts`` accounts per showcase, each used for one showcase
    (``sleeper``'s also choose once in the showcase before)."""
    if attack not in ATTACKS:
        raise ValueError(f"unknown attack {attack!r}; attacks: {', '.join(ATTACKS)}")
    if attack in AIMED and pushes is None:
        raise ValueError(f"{attack} aims at what the room pushes: pass the clean stream's "
                         "pushes (replay_pushes) as pushes=")
    stream = list(events)
    pushed = _pushed_by_room(pushes or ())
    spans: dict[str, list[dict[str, Any]]] = {}
    for e in stream:
        if e.get("type") == "showcase" and e.get("items"):
            spans.setdefault(e["room_id"], []).append(e)
    end_of_stream = max((e["ts"] for e in stream), default=0)
    added: list[tuple[int, dict[str, Any]]] = []  # (arrival, event)
    targets: list[Target] = []
    for room, shows in sorted(spans.items()):
        future = -1  # the clock-jumper's newest ts in this room
        for n, show in enumerate(shows):
            start = show["ts"] + START_MS
            end = shows[n + 1]["ts"] if n + 1 < len(shows) else end_of_stream
            if end <= start:
                continue
            target = Target(room, start, end, show["items"][-1]["item_id"])
            tag = f"{room}-{n}"
            if attack in AIMED:
                counts = _pushed_between(pushed.get(room), start, end)
                if attack in SLEEPERS:
                    if n == 0:  # no showcase before this one to establish accounts in
                        continue
                    before = _pushed_between(pushed.get(room), shows[n - 1]["ts"] + START_MS,
                                             show["ts"])
                    aimed = _sleeper(shows[n - 1], show, target, tag, accounts, counts, before,
                                     pays=attack == "paying-sleeper")
                else:
                    aimed = (_poison if attack == "poison" else _demote)(
                        show, target, tag, accounts, counts)
                if aimed is None:
                    continue
                target, shaped = aimed
                added.extend((e["ts"], e) for e in shaped)
            targets.append(target)
            if attack == "id-squat":
                if n + 1 < len(shows):
                    nxt = shows[n + 1]
                    added.append((nxt["ts"] - 1, _heartbeat(room, nxt["ts"] - 1, tag,
                                                            event_id=nxt["event_id"])))
            elif attack == "clock-jump":
                for arrival in range(start, end, period_ms * 10 // 3):
                    future = max(future, arrival) + AHEAD_MS
                    added.extend((arrival, _heartbeat(room, future, f"{tag}-{arrival}-{k}",
                                                      account=k)) for k in range(JUMPERS))
            elif attack == "clock-hold":
                for arrival in range(start, end, period_ms * 10 // 3):
                    added.extend((arrival, _heartbeat(room, show["ts"], f"{tag}-{arrival}-{k}",
                                                      account=k)) for k in range(HOLDERS))
            elif attack not in AIMED:
                added.extend((e["ts"], e) for e in _attack_span(attack, target, tag, period_ms))
    timed = [(e["ts"], e) for e in stream] + added
    return [e for _, e in sorted(timed, key=lambda pair: pair[0])], targets


def _heartbeat(room: str, ts: int, tag: str, event_id: str = "", account: int = 0,
               ) -> dict[str, Any]:
    """A forging account's heartbeat (no watch time: it moves nothing but the clock)."""
    return {"event_id": event_id or f"{ATTACKER}{tag}", "type": "heartbeat", "ts": ts,
            "room_id": room, "user_id": f"{ATTACKER}{room}" + (f"-{account}" if account else ""),
            "watch_ms": 0}


def _attack_span(attack: str, t: Target, tag: str, period_ms: int) -> list[dict[str, Any]]:
    accounts = [f"{ATTACKER}{t.room_id}"] if attack != "sybil" else [
        f"{ATTACKER}{tag}-{k}" for k in range(SYBILS)]
    out: list[dict[str, Any]] = []

    def add(kind: str, ts: int, user: str, **fields: Any) -> None:
        out.append({"event_id": f"{ATTACKER}{tag}-{len(out)}", "type": kind, "ts": ts,
                    "room_id": t.room_id, "user_id": user, **fields})

    for user in accounts:
        add("enter", t.start, user)
    ts, k = t.start + 500, 0
    while ts < t.end and (attack != "one-vote" or k < 1):
        user = accounts[k % len(accounts)]
        add("item_click", ts, user, item_id=t.item_id)
        if attack == "one-vote" or k % 5 == 4:
            add("add_to_cart", ts + 1, user, item_id=t.item_id)
        if k % 10 == 0:
            add("heartbeat", ts + 2, user, watch_ms=30_000)
        ts, k = ts + period_ms, k + 1
    return out


def _pushed_by_room(pushes: Iterable[Push]) -> dict[str, tuple[list[int], list[Push]]]:
    """The other viewers' pushes per room, by trigger time (times, pushes)."""
    by_room: dict[str, list[Push]] = {}
    for push in pushes:
        if not push[1].startswith(ATTACKER):
            by_room.setdefault(push[0], []).append(push)
    out = {}
    for room, mine in by_room.items():
        mine.sort(key=lambda p: p[2])
        out[room] = ([p[2] for p in mine], mine)
    return out


def _pushed_between(pushed: tuple[list[int], list[Push]] | None, start: int, end: int,
                    ) -> Counter[str]:
    """How often each item was in the others' pushes triggered in ``[start, end)``."""
    counts: Counter[str] = Counter()
    if pushed is not None:
        times, mine = pushed
        for push in mine[bisect.bisect_left(times, start):bisect.bisect_left(times, end)]:
            counts.update(push[3])
    return counts


def _account(t: Target, tag: str, k: int, out: list[dict[str, Any]],
             ) -> Callable[..., None]:
    """Fresh account ``k`` of a showcase: it enters at the start; returns its ``add``."""
    user = f"{ATTACKER}{tag}-{k}"

    def add(kind: str, ts: int, **fields: Any) -> None:
        out.append({"event_id": f"{ATTACKER}{tag}-{len(out)}", "type": kind, "ts": ts,
                    "room_id": t.room_id, "user_id": user, **fields})

    add("enter", t.start)
    return add


def _poison(show: dict[str, Any], t: Target, tag: str, accounts: int, counts: Counter[str],
            ) -> tuple[Target, list[dict[str, Any]]] | None:
    """Click ``a``, cart ``b``, click ``c``, drawn from the coldest half of the showcase
    (seeded by the showcase and account: the same stream every run)."""
    items = [it["item_id"] for it in show["items"] if it["item_id"] != show.get("spotlight")]
    cold = sorted(items, key=lambda item: counts[item])  # stable: ties in showcase order
    cold = cold[:max(3, len(cold) // 2)]
    if len(cold) < 3:
        return None
    out: list[dict[str, Any]] = []
    for k in range(accounts):
        ts = t.start + 500 + POISON_PACE_MS * k
        if ts + 800 >= t.end:
            break
        a, b, c = random.Random(f"{tag}-{k}").sample(cold, 3)
        add = _account(t, tag, k, out)
        add("item_click", ts, item_id=a)
        add("add_to_cart", ts + 400, item_id=b)
        add("item_click", ts + 800, item_id=c)
    return t, out


def _demote(show: dict[str, Any], t: Target, tag: str, accounts: int, counts: Counter[str],
            ) -> tuple[Target, list[dict[str, Any]]] | None:
    """Every account clicks every item on show but the most pushed one, in turn."""
    if not counts:
        return None
    victim = counts.most_common(1)[0][0]
    others = [it["item_id"] for it in show["items"] if it["item_id"] != victim]
    out: list[dict[str, Any]] = []
    ts = t.start + 500
    for k in range(accounts):
        if ts >= t.end:
            break
        add = _account(t, tag, k, out)
        for item in others:
            if ts < t.end:
                add("item_click", ts, item_id=item)
            ts += DEMOTE_PACE_MS
    return Target(t.room_id, t.start, t.end, victim), out


def _sleeper(previous: dict[str, Any], show: dict[str, Any], t: Target, tag: str,
             accounts: int, counts: Counter[str], before: Counter[str], pays: bool = False,
             ) -> tuple[Target, list[dict[str, Any]]] | None:
    """``_poison``'s accounts and choices, each account first entering during the
    ``previous`` showcase and clicking the item pushed most there (``before``; its spotlight,
    then its first item, when nothing was pushed), leaving out the items it will poison with:
    choosing one of them again would move that item's time past the showcase's start in the
    viewer's last few choices, which is where the room reads who chose before. The clicks are
    spread over the previous showcase (the last one a second before this one starts, so that
    it falls in an earlier second: the room keeps choice times in whole seconds). Accounts
    that ``pays`` buy the item they would cart."""
    poisoned = _poison(show, t, tag, accounts, counts)
    if poisoned is None:
        return None
    t, out = poisoned
    if pays:  # the cart becomes a purchase at the item's price
        price = {it["item_id"]: it["price"] for it in show["items"]}
        out = [{**e, "type": "purchase", "amount": price[e["item_id"]]}
               if e["type"] == "add_to_cart" else e for e in out]
    chosen: dict[str, set[str]] = {}
    for e in out:
        if "item_id" in e:
            chosen.setdefault(e["user_id"], set()).add(e["item_id"])
    on_show = [it["item_id"] for it in previous["items"]]
    liked = sorted(on_show, key=lambda item: (-before[item], item != previous.get("spotlight")))
    first, last = previous["ts"] + START_MS + 500, show["ts"] - 1_000
    if last < first:
        return None
    early: list[dict[str, Any]] = []
    users = list(dict.fromkeys(e["user_id"] for e in out))
    for k, user in enumerate(users):
        item = next((i for i in liked if i not in chosen.get(user, ())), None)
        if item is None:  # it poisons with every item the previous showcase had
            continue
        ts = first + (last - first) * k // len(users)
        for kind, when, fields in (("enter", ts - 100, {}), ("item_click", ts, {"item_id": item})):
            early.append({"event_id": f"{ATTACKER}{tag}-early-{len(early)}", "type": kind,
                          "ts": when, "room_id": t.room_id, "user_id": user, **fields})
    return t, early + out
