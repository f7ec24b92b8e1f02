from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from datasets.split import plan_split


def both_sides(entries, test):
    per_label = Counter(label for labels in entries.values() for label in labels)
    on_test = Counter(label for entry, labels in entries.items() if entry in test for label in labels)
    return {label: (on_test[label], per_label[label] - on_test[label]) for label in per_label}


def test_twenty_percent_of_a_single_label_dataset_moves():
    entries = {i: [i % 4] for i in range(100)}

    test = plan_split(entries, fraction=0.2, seed=7)

    assert len(test) == 20
    assert all(sides == (5, 20) for sides in both_sides(entries, test).values())


def test_same_seed_same_plan_other_seed_other_plan():
    entries = {i: [i % 5] for i in range(200)}

    assert plan_split(entries, fraction=0.2, seed=1) == plan_split(entries, fraction=0.2, seed=1)
    assert plan_split(entries, fraction=0.2, seed=1) != plan_split(entries, fraction=0.2, seed=2)


def test_a_label_with_two_entries_lands_on_both_sides():
    entries = {1: ["rare"], 2: ["rare"], **{i: ["common"] for i in range(3, 50)}}

    test = plan_split(entries, fraction=0.2, seed=3)

    assert both_sides(entries, test)["rare"] == (1, 1)


def test_a_label_with_one_entry_stays_in_training():
    entries = {1: ["lonely"], **{i: ["common"] for i in range(2, 20)}}

    assert 1 not in plan_split(entries, fraction=0.2, seed=3)


def test_unlabeled_entries_are_split_too():
    entries = {i: [] for i in range(50)}

    assert len(plan_split(entries, fraction=0.2, seed=0)) == 10


def test_multi_label_entries_keep_every_label_on_both_sides():
    # Every entry has a common label and one of several rarer ones: cutting by the rarest label alone
    # could put all of "common" on one side; the repair pass must prevent it.
    entries = {i: ["common", f"rare{i % 10}"] for i in range(30)}

    test = plan_split(entries, fraction=0.1, seed=5)

    assert all(a > 0 and b > 0 for a, b in both_sides(entries, test).values())


@pytest.mark.parametrize("fraction", [0.0, 1.0, -0.1, 1.5])
def test_fraction_must_be_strictly_between_0_and_1(fraction):
    with pytest.raises(ValueError, match="fraction"):
        plan_split({1: ["a"], 2: ["a"]}, fraction=fraction, seed=0)


@settings(max_examples=200, deadline=None)
@given(
    labels=st.lists(st.integers(min_value=0, max_value=30), min_size=2, max_size=300),
    fraction=st.floats(min_value=0.05, max_value=0.95),
    seed=st.integers(),
)
def test_single_label_datasets_always_keep_labels_with_two_entries_on_both_sides(labels, fraction, seed):
    entries = {index: [label] for index, label in enumerate(labels)}

    test = plan_split(entries, fraction=fraction, seed=seed)

    assert test <= entries.keys()
    for on_test, on_train in both_sides(entries, test).values():
        if on_test + on_train >= 2:
            assert on_test > 0
            assert on_train > 0
        else:
            assert on_test == 0


@settings(max_examples=100, deadline=None)
@given(
    count=st.integers(min_value=20, max_value=400), fraction=st.floats(min_value=0.1, max_value=0.9), seed=st.integers()
)
def test_the_test_side_is_close_to_the_fraction(count, fraction, seed):
    entries = {i: [i % 7] for i in range(count)}

    test = plan_split(entries, fraction=fraction, seed=seed)

    assert abs(len(test) - count * fraction) <= 7  # at most one entry of rounding per label group
