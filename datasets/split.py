"""Planning a train/test split that keeps every label on both sides (pure, no database).

Entries are grouped by their rarest label (unlabeled entries form a group of their own), each group is
shuffled with the seed and cut at the fraction, so rare labels are balanced first. A repair pass then
moves single entries so that every label with at least two entries has one on each side, which the cut
alone cannot guarantee for multi-label entries. Same input and seed, same plan.
"""

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping

REPAIR_PASSES = 3


def _cut(count: int, fraction: float, *, keep_both_sides: bool) -> int:
    """How many of `count` entries go to the test side."""
    wanted = round(count * fraction)
    if not keep_both_sides:
        return wanted
    # A label's only entry stays for training (a test set may lack a label, a training set may not).
    return min(max(wanted, 1), count - 1) if count >= 2 else 0


def plan_split(entries: Mapping[int, Iterable[int]], *, fraction: float, seed: int) -> set[int]:
    """The ids of the entries to move to the test side.

    `entries` maps entry id -> the ids of its labels (image-level or on a box). `0 < fraction < 1`.
    """
    if not 0 < fraction < 1:
        raise ValueError("fraction must be between 0 and 1")
    labels_of = {entry: frozenset(labels) for entry, labels in entries.items()}
    frequency = Counter(label for labels in labels_of.values() for label in labels)
    groups: dict[int | None, list[int]] = defaultdict(list)
    for entry in sorted(labels_of):
        labels = labels_of[entry]
        groups[min(labels, key=lambda label: (frequency[label], label)) if labels else None].append(entry)

    rng = random.Random(seed)  # noqa: S311 - reproducible sampling, not security
    test: set[int] = set()
    for key in sorted(groups, key=lambda k: (k is None, k if k is not None else 0)):
        members = groups[key]
        rng.shuffle(members)
        test.update(members[: _cut(len(members), fraction, keep_both_sides=key is not None)])
    _repair(labels_of, frequency, test)
    return test


def _repair(labels_of: Mapping[int, frozenset[int]], frequency: Counter, test: set[int]) -> None:
    entries_of: dict[int, list[int]] = defaultdict(list)
    for entry in sorted(labels_of):
        for label in labels_of[entry]:
            entries_of[label].append(entry)

    def side_count(label: int, *, on_test: bool, without: int) -> int:
        return sum(1 for other in entries_of[label] if other != without and (other in test) == on_test)

    def harmless(entry: int, *, to_test: bool) -> bool:
        # Moving `entry` must not take the last entry of another balanced label off its current side.
        return all(
            frequency[label] < 2 or side_count(label, on_test=not to_test, without=entry) > 0
            for label in labels_of[entry]
        )

    for _ in range(REPAIR_PASSES):
        changed = False
        for label in sorted(entries_of):
            if frequency[label] < 2:
                continue
            members = entries_of[label]
            on_test = sum(1 for entry in members if entry in test)
            if on_test in (0, len(members)):
                to_test = on_test == 0
                candidates = [entry for entry in members if (entry in test) != to_test]
                chosen = next((e for e in candidates if harmless(e, to_test=to_test)), candidates[0])
                if to_test:
                    test.add(chosen)
                else:
                    test.discard(chosen)
                changed = True
        if not changed:
            return
