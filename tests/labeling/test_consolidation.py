import math
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from labeling.consolidation import (
    Box,
    BoxesResult,
    ClassificationResult,
    ConsolidatedBox,
    MultiLabelResult,
    VerificationResult,
    agreement,
    agreement_boxes,
    average_box,
    consolidate_boxes,
    consolidate_multi_label,
    consolidate_single_label,
    consolidate_verification,
    iou,
    match_boxes,
)


def box(left, top, width, height, label="cat"):
    return Box(label=label, left=left, top=top, width=width, height=height)


def same_box(b: Box, confidence=1.0, worker_count=1):
    return ConsolidatedBox(b.label, b.left, b.top, b.width, b.height, confidence, worker_count)


# --- single label ---------------------------------------------------------------------------------------------


def test_majority_label_wins_with_its_share_of_votes_as_confidence():
    result = consolidate_single_label(["cat", "dog", "cat"])

    assert result == ClassificationResult(
        label="cat", confidence=2 / 3, needs_review=False, tied=(), votes={"cat": 2, "dog": 1}
    )


def test_strictly_most_votes_wins_without_an_absolute_majority():
    result = consolidate_single_label(["cat", "cat", "dog", "bird"])

    assert (result.label, result.confidence, result.needs_review) == ("cat", 0.5, False)


def test_tie_for_first_place_is_marked_for_review():
    result = consolidate_single_label(["dog", "cat", "dog", "cat", "bird"])

    assert result.label is None
    assert result.needs_review
    assert result.tied == ("cat", "dog")
    assert result.confidence == 0.0
    assert result.votes == {"bird": 1, "cat": 2, "dog": 2}


def test_all_different_labels_tie_and_need_review():
    result = consolidate_single_label(["cat", "dog", "bird"])

    assert (result.label, result.tied, result.needs_review) == (None, ("bird", "cat", "dog"), True)


def test_one_worker_decides_alone_with_confidence_one_unlike_ground_truth():
    assert consolidate_single_label(["cat"]) == ClassificationResult("cat", 1.0, False, (), {"cat": 1})


def test_nine_workers_five_to_four_gives_the_five():
    result = consolidate_single_label(["cat"] * 4 + ["dog"] * 5)

    assert (result.label, result.confidence) == ("dog", 5 / 9)


def test_empty_or_non_string_labels_are_rejected():
    with pytest.raises(ValueError, match="non-empty string"):
        consolidate_single_label(["cat", ""])
    with pytest.raises(ValueError, match="non-empty string"):
        consolidate_single_label(["cat", None])


def test_a_bare_string_is_not_a_list_of_answers():
    with pytest.raises(TypeError):
        consolidate_single_label("cat")


# --- multi-label ----------------------------------------------------------------------------------------------


def test_label_chosen_by_more_than_half_is_kept_and_every_choice_gets_a_confidence():
    result = consolidate_multi_label([{"cat", "dog"}, {"cat"}, {"cat", "bird"}])

    assert result == MultiLabelResult(
        labels=("cat",), confidences={"bird": 1 / 3, "cat": 1.0, "dog": 1 / 3}, needs_review=False
    )


def test_label_chosen_by_exactly_half_is_dropped_and_needs_review():
    result = consolidate_multi_label([{"cat", "dog"}, {"cat", "dog"}, {"cat"}, {"cat"}])

    assert result.labels == ("cat",)
    assert result.confidences["dog"] == 0.5
    assert result.needs_review


def test_nothing_kept_from_scattered_choices_needs_review():
    result = consolidate_multi_label([{"cat"}, {"dog"}, {"bird"}])

    assert (result.labels, result.needs_review) == ((), True)


def test_empty_set_that_most_workers_chose_is_a_valid_result():
    result = consolidate_multi_label([set(), set(), {"cat"}])

    assert (result.labels, result.needs_review) == ((), False)
    assert result.confidences == {"cat": 1 / 3}


def test_label_repeated_in_one_answer_counts_once():
    result = consolidate_multi_label([["cat", "cat"], [], []])

    assert result.labels == ()
    assert result.confidences == {"cat": 1 / 3}


def test_one_worker_multi_label_answer_is_the_result():
    assert consolidate_multi_label([["dog", "cat"]]) == MultiLabelResult(
        ("cat", "dog"), {"cat": 1.0, "dog": 1.0}, False
    )


def test_a_bare_string_is_not_a_set_of_labels():
    with pytest.raises(TypeError):
        consolidate_multi_label(["cat", "dog"])


# --- boxes ----------------------------------------------------------------------------------------------------


def test_iou_of_identical_disjoint_and_touching_boxes():
    assert iou(box(0, 0, 10, 10), box(0, 0, 10, 10)) == 1.0
    assert iou(box(0, 0, 10, 10), box(20, 20, 5, 5)) == 0.0
    assert iou(box(0, 0, 10, 10), box(10, 0, 10, 10)) == 0.0
    assert iou(box(0, 0, 10, 10), box(5, 0, 10, 10)) == 50 / 150


def test_boxes_of_three_workers_on_one_object_are_averaged():
    result = consolidate_boxes([[box(10, 20, 30, 40)], [box(12, 22, 30, 40)], [box(11, 18, 33, 40)]])

    assert result == BoxesResult(boxes=(ConsolidatedBox("cat", 11, 20, 31, 40, 1.0, 3),), needs_review=False)


def test_iou_of_exactly_one_half_counts_as_a_match():
    a, b = box(0, 0, 30, 10), box(10, 0, 30, 10)
    assert iou(a, b) == 0.5

    assert consolidate_boxes([[a], [b]]).boxes == (ConsolidatedBox("cat", 5, 0, 30, 10, 1.0, 2),)


def test_iou_just_below_one_half_does_not_match():
    a, b = box(0, 0, 30, 10), box(11, 0, 30, 10)
    assert iou(a, b) < 0.5

    assert consolidate_boxes([[a], [b]]) == BoxesResult(boxes=(), needs_review=True)


def test_two_boxes_of_one_worker_never_merge():
    twice = box(0, 0, 10, 10)

    result = consolidate_boxes([[twice, twice]])

    assert result.boxes == (same_box(twice), same_box(twice))


def test_a_worker_contributes_at_most_one_box_to_a_cluster():
    # Worker 0's two boxes both match worker 1's box; only the better one joins it.
    answers = [[box(0, 0, 10, 10), box(1, 0, 10, 10)], [box(0, 0, 10, 10)]]

    clusters = match_boxes(answers)

    assert sorted(len(cluster) for cluster in clusters) == [1, 2]
    assert all(len({worker for worker, _ in cluster}) == len(cluster) for cluster in clusters)
    assert consolidate_boxes(answers) == BoxesResult((ConsolidatedBox("cat", 0, 0, 10, 10, 1.0, 2),), True)


def test_a_box_joins_the_box_of_another_worker_it_overlaps_most():
    near, nearer, mine = box(7, 0, 10, 10), box(9, 0, 10, 10), box(10, 0, 10, 10)
    assert 0.5 <= iou(near, mine) < iou(nearer, mine)

    result = consolidate_boxes([[mine], [near, nearer]])

    assert result == BoxesResult((ConsolidatedBox("cat", 10, 0, 10, 10, 1.0, 2),), needs_review=True)


def test_chained_boxes_do_not_form_one_cluster():
    # a~b and b~c match, a and c do not: complete linkage keeps c out of the a+b cluster.
    a, b, c = box(0, 0, 10, 10), box(2, 0, 10, 10), box(4, 0, 10, 10)
    assert min(iou(a, b), iou(b, c)) >= 0.5 > iou(a, c)

    result = consolidate_boxes([[c], [a], [b]])

    assert result == BoxesResult((ConsolidatedBox("cat", 1, 0, 10, 10, 2 / 3, 2),), needs_review=False)


def test_cluster_drawn_by_half_the_workers_is_dropped_and_needs_review():
    shared, half = box(0, 0, 10, 10), box(50, 50, 10, 10)

    result = consolidate_boxes([[shared, half], [shared, half], [shared], [shared]])

    assert result == BoxesResult((same_box(shared, 1.0, 4),), needs_review=True)


def test_cluster_drawn_by_a_minority_is_dropped_without_review():
    shared, stray = box(0, 0, 10, 10), box(50, 50, 10, 10)

    result = consolidate_boxes([[shared, stray], [shared], [shared]])

    assert result == BoxesResult((same_box(shared, 1.0, 3),), needs_review=False)


def test_boxes_of_different_labels_overlapping_perfectly_stay_separate():
    cat, dog = box(0, 0, 10, 10, "cat"), box(0, 0, 10, 10, "dog")

    assert consolidate_boxes([[cat], [cat], [dog]]).boxes == (same_box(cat, 2 / 3, 2),)
    assert consolidate_boxes([[cat, dog]]).boxes == (same_box(cat), same_box(dog))


def test_identical_boxes_consolidate_to_the_same_box():
    b = box(3, 4, 5, 6)

    assert consolidate_boxes([[b]] * 5) == BoxesResult((same_box(b, 1.0, 5),), needs_review=False)


def test_one_worker_keeps_every_box_with_confidence_one():
    boxes = [box(0, 0, 10, 10), box(5, 5, 10, 10, "dog"), box(40, 40, 3, 3)]

    result = consolidate_boxes([boxes])

    assert sorted(result.boxes, key=lambda b: (b.left, b.label)) == [same_box(b) for b in boxes]
    assert not result.needs_review


def test_nine_workers_keep_a_box_drawn_by_five_and_drop_one_drawn_by_four():
    five, four = box(0, 0, 10, 10), box(50, 0, 10, 10)
    answers = [[five, four]] * 4 + [[five]] + [[]] * 4

    result = consolidate_boxes(answers)

    assert result == BoxesResult((same_box(five, 5 / 9, 5),), needs_review=False)


def test_rounding_is_half_up_on_the_mean_edges():
    # Mean left 0.5 -> 1, mean right 10.5 -> 11; half-to-even would give 0 and 10.
    result = consolidate_boxes([[box(0, 2, 10, 10)], [box(1, 3, 10, 10)]])

    assert result.boxes == (ConsolidatedBox("cat", 1, 3, 10, 10, 1.0, 2),)


def test_a_sub_pixel_box_widens_to_the_pixels_it_touches():
    (result,) = consolidate_boxes([[box(0.6, 2.2, 0.3, 0.5)]]).boxes

    assert (result.left, result.top, result.width, result.height) == (0, 2, 1, 1)


def test_workers_who_drew_nothing_count_in_the_majority():
    b = box(0, 0, 10, 10)

    assert consolidate_boxes([[b], [], []]) == BoxesResult((), needs_review=False)


def test_empty_result_needs_review_when_most_workers_drew_boxes():
    answers = [[box(0, 0, 10, 10)], [box(30, 0, 10, 10)], [box(60, 0, 10, 10)]]

    assert consolidate_boxes(answers) == BoxesResult((), needs_review=True)


def test_all_workers_drawing_nothing_gives_an_empty_result_without_review():
    assert consolidate_boxes([[], [], []]) == BoxesResult((), needs_review=False)


def test_consolidated_boxes_are_sorted_by_label_then_position():
    answers = [[box(50, 0, 5, 5, "dog"), box(0, 9, 5, 5), box(30, 0, 5, 5), box(0, 0, 5, 5, "dog")]]

    result = consolidate_boxes(answers)

    assert [(b.label, b.top, b.left) for b in result.boxes] == [
        ("cat", 0, 30),
        ("cat", 9, 0),
        ("dog", 0, 0),
        ("dog", 0, 50),
    ]


@pytest.mark.parametrize(
    ("left", "top", "width", "height"),
    [(0, 0, 0, 5), (0, 0, 5, 0), (0, 0, -1, 5), (0, 0, 5, -2), (math.nan, 0, 5, 5), (0, 0, math.inf, 5)],
)
def test_boxes_without_a_positive_finite_size_are_rejected(left, top, width, height):
    with pytest.raises(ValueError, match="box"):
        Box("cat", left, top, width, height)


def test_a_box_without_a_label_is_rejected():
    with pytest.raises(ValueError, match="label"):
        Box("", 0, 0, 5, 5)


@pytest.mark.parametrize("threshold", [0, -0.5, 1.01])
def test_iou_threshold_outside_zero_to_one_is_rejected(threshold):
    with pytest.raises(ValueError, match="iou_threshold"):
        consolidate_boxes([[box(0, 0, 5, 5)]], iou_threshold=threshold)


def test_average_box_rejects_mixed_labels_and_more_boxes_than_workers():
    with pytest.raises(ValueError, match="one label"):
        average_box([box(0, 0, 5, 5), box(0, 0, 5, 5, "dog")], worker_total=2)
    with pytest.raises(ValueError, match="one box per worker"):
        average_box([box(0, 0, 5, 5)] * 3, worker_total=2)


# --- verification ---------------------------------------------------------------------------------------------


def test_majority_verdict_wins_and_non_blank_comments_are_collected_in_order():
    result = consolidate_verification([(True, " looks right "), (False, "box too loose"), (True, None), (True, "  ")])

    assert result == VerificationResult(
        verdict=True, confidence=0.75, needs_review=False, comments=("looks right", "box too loose")
    )


def test_tied_verdicts_need_review():
    result = consolidate_verification([(True, None), (False, "wrong label")])

    assert result == VerificationResult(verdict=None, confidence=0.0, needs_review=True, comments=("wrong label",))


def test_one_worker_verdict_is_the_result():
    assert consolidate_verification([(False, None)]) == VerificationResult(False, 1.0, False, ())


def test_a_verdict_must_be_a_bool():
    with pytest.raises(TypeError, match="verdict"):
        consolidate_verification([("no", None)])


@pytest.mark.parametrize(
    "consolidate", [consolidate_single_label, consolidate_multi_label, consolidate_boxes, consolidate_verification]
)
def test_no_answers_is_an_error(consolidate):
    with pytest.raises(ValueError, match="no answers"):
        consolidate([])


# --- agreement ------------------------------------------------------------------------------------------------


def test_single_label_agreement_is_one_or_zero_and_none_on_a_tie():
    result = consolidate_single_label(["cat", "cat", "dog"])

    assert (agreement("cat", result), agreement("dog", result)) == (1.0, 0.0)
    assert agreement("cat", consolidate_single_label(["cat", "dog"])) is None


def test_multi_label_agreement_is_the_jaccard_index():
    result = consolidate_multi_label([{"cat", "dog"}, {"cat", "dog"}, {"bird"}])

    assert agreement({"cat", "bird"}, result) == 1 / 3
    assert agreement({"dog", "cat"}, result) == 1.0
    assert agreement(set(), consolidate_multi_label([set()])) == 1.0


def test_box_agreement_is_the_f1_of_matched_boxes():
    a, b = box(0, 0, 10, 10), box(50, 50, 10, 10)
    result = consolidate_boxes([[a, b], [a, b], [a]])

    assert agreement([a, b], result) == 1.0
    assert agreement([a], result) == 2 / 3
    assert agreement([box(1, 1, 10, 10), box(80, 80, 5, 5)], result) == 0.5
    assert agreement([], result) == 0.0
    assert agreement([box(0, 0, 10, 10, "dog")], result) == 0.0
    assert agreement([], consolidate_boxes([[], []])) == 1.0


def test_a_box_matches_at_most_one_consolidated_box():
    a = box(0, 0, 10, 10)
    result = consolidate_boxes([[a, a]])

    assert agreement_boxes([a], result) == 2 / 3


def test_verification_agreement_is_one_or_zero_and_none_on_a_tie():
    result = consolidate_verification([(True, None), (True, None), (False, None)])

    assert (agreement((True, None), result), agreement((False, "no"), result)) == (1.0, 0.0)
    assert agreement((True, None), consolidate_verification([(True, None), (False, None)])) is None


def test_agreement_with_something_else_than_a_result_is_a_type_error():
    with pytest.raises(TypeError):
        agreement("cat", {"label": "cat"})


# --- properties -----------------------------------------------------------------------------------------------

LABELS = st.sampled_from(["cat", "dog", "bird", "fox"])
label_answers = st.lists(LABELS, min_size=1, max_size=9)
multi_answers = st.lists(st.frozensets(LABELS), min_size=1, max_size=9)
verification_answers = st.lists(st.tuples(st.booleans(), st.none() | st.text(max_size=5)), min_size=1, max_size=9)

coordinates, sizes = st.integers(0, 40), st.integers(1, 20)
int_boxes = st.builds(
    Box, label=st.sampled_from(["cat", "dog"]), left=coordinates, top=coordinates, width=sizes, height=sizes
)
float_boxes = st.builds(
    Box,
    label=st.sampled_from(["cat", "dog"]),
    left=st.floats(-10, 40),
    top=st.floats(-10, 40),
    width=st.floats(0.01, 20),
    height=st.floats(0.01, 20),
)


@st.composite
def scenes(draw, boxes=int_boxes):
    """Workers drawing jittered copies of a few objects plus stray boxes: many near matches and IoU ties."""
    objects = draw(st.lists(boxes, min_size=1, max_size=4))
    jitter = st.integers(-3, 3)
    answers = []
    for _ in range(draw(st.integers(1, 7))):
        answer = [
            Box(
                o.label,
                o.left + draw(jitter),
                o.top + draw(jitter),
                max(1, o.width + draw(jitter)),
                max(1, o.height + draw(jitter)),
            )
            for o in objects
            if draw(st.booleans())
        ]
        answers.append(answer + draw(st.lists(boxes, max_size=2)))
    # Identical answers of two workers are what a tie-break on worker position would get wrong.
    if draw(st.booleans()):
        answers.append(list(answers[0]))
    return answers


box_answers = st.one_of(
    st.lists(st.lists(int_boxes, max_size=5), min_size=1, max_size=6),
    st.lists(st.lists(float_boxes, max_size=4), min_size=1, max_size=5),
    scenes(),
)


@st.composite
def shuffled(draw, answers):
    return [draw(st.permutations(answer)) for answer in draw(st.permutations(answers))]


def geometry(clusters):
    return [[b for _, b in cluster] for cluster in clusters]


@given(answers=box_answers, data=st.data())
def test_box_result_does_not_depend_on_worker_or_box_order(answers, data):
    permuted = data.draw(shuffled(answers))

    assert consolidate_boxes(permuted) == consolidate_boxes(answers)
    assert geometry(match_boxes(permuted)) == geometry(match_boxes(answers))


@given(answers=label_answers, data=st.data())
def test_label_results_do_not_depend_on_worker_order(answers, data):
    assert consolidate_single_label(data.draw(st.permutations(answers))) == consolidate_single_label(answers)
    multi = [frozenset(answers[: i + 1]) for i in range(len(answers))]
    assert consolidate_multi_label(data.draw(st.permutations(multi))) == consolidate_multi_label(multi)


@given(label_answers)
def test_single_label_winner_has_strictly_most_votes(answers):
    result = consolidate_single_label(answers)

    counts = Counter(answers)
    assert result.votes == counts
    top = max(counts.values())
    if result.label is None:
        assert result.needs_review
        assert result.tied == tuple(sorted(label for label, count in counts.items() if count == top))
        assert len(result.tied) >= 2
    else:
        assert all(count < counts[result.label] for label, count in counts.items() if label != result.label)
        assert result.confidence == counts[result.label] / len(answers)


@given(multi_answers)
def test_multi_label_keeps_exactly_the_labels_chosen_by_more_than_half(answers):
    result = consolidate_multi_label(answers)

    counts = Counter(label for answer in answers for label in answer)
    assert result.labels == tuple(sorted(label for label, count in counts.items() if count * 2 > len(answers)))
    assert result.confidences == {label: count / len(answers) for label, count in counts.items()}


@given(verification_answers)
def test_verification_verdict_is_the_majority(answers):
    result = consolidate_verification(answers)

    yes = sum(verdict for verdict, _ in answers)
    no = len(answers) - yes
    assert result.verdict == (None if yes == no else yes > no)
    assert result.needs_review == (yes == no)


@given(box_answers)
def test_clusters_hold_every_box_once_from_distinct_workers_that_match_pairwise(answers):
    clusters = match_boxes(answers)

    assert Counter((w, b) for cluster in clusters for w, b in cluster) == Counter(
        (w, b) for w, answer in enumerate(answers) for b in answer
    )
    for cluster in clusters:
        assert len({w for w, _ in cluster}) == len(cluster)
        assert len({b.label for _, b in cluster}) == 1
        assert all(iou(a, b) >= 0.5 for i, (_, a) in enumerate(cluster) for _, b in cluster[i + 1 :])


@given(a=st.one_of(int_boxes, float_boxes), b=st.one_of(int_boxes, float_boxes), threshold=st.floats(0.05, 1))
def test_boxes_of_two_workers_match_exactly_when_their_iou_reaches_the_threshold(a, b, threshold):
    b = Box(a.label, b.left, b.top, b.width, b.height)

    clusters = match_boxes([[a], [b]], iou_threshold=threshold)

    assert len(clusters) == (1 if iou(a, b) >= threshold else 2)


@given(box_answers)
def test_every_consolidated_box_lies_within_the_union_bounds_of_its_members(answers):
    n = len(answers)
    clusters = match_boxes(answers)

    for cluster in clusters:
        members = [b for _, b in cluster]
        average = average_box(members, worker_total=n)
        assert min(average.width, average.height) >= 1
        assert math.floor(min(b.left for b in members)) <= average.left
        assert math.floor(min(b.top for b in members)) <= average.top
        assert average.left + average.width <= math.ceil(max(b.left + b.width for b in members))
        assert average.top + average.height <= math.ceil(max(b.top + b.height for b in members))
    kept = [average_box([b for _, b in c], worker_total=n) for c in clusters if len(c) * 2 > n]
    assert sorted(consolidate_boxes(answers).boxes, key=repr) == sorted(kept, key=repr)


@given(singles=label_answers, multis=multi_answers, boxes=box_answers, verdicts=verification_answers)
def test_confidences_and_agreements_are_between_zero_and_one(singles, multis, boxes, verdicts):
    single, multi = consolidate_single_label(singles), consolidate_multi_label(multis)
    boxed, verified = consolidate_boxes(boxes), consolidate_verification(verdicts)

    confidences = [single.confidence, verified.confidence, *multi.confidences.values()]
    assert all(0 <= c <= 1 for c in confidences + [b.confidence for b in boxed.boxes])
    agreements = (
        [agreement(a, single) for a in singles]
        + [agreement(a, multi) for a in multis]
        + [agreement(a, boxed) for a in boxes]
        + [agreement(a, verified) for a in verdicts]
    )
    assert all(a is None or 0 <= a <= 1 for a in agreements)


@given(label=LABELS, n=st.integers(1, 9))
def test_unanimous_single_label_consolidates_to_itself(label, n):
    assert consolidate_single_label([label] * n) == ClassificationResult(label, 1.0, False, (), {label: n})


@given(labels=st.frozensets(LABELS), n=st.integers(1, 9))
def test_unanimous_multi_label_consolidates_to_itself(labels, n):
    result = consolidate_multi_label([labels] * n)

    assert result == MultiLabelResult(tuple(sorted(labels)), dict.fromkeys(sorted(labels), 1.0), False)


@given(answer=st.lists(int_boxes, max_size=8), n=st.integers(1, 9), data=st.data())
def test_unanimous_boxes_consolidate_to_themselves(answer, n, data):
    answers = [data.draw(st.permutations(answer)) for _ in range(n)]

    result = consolidate_boxes(answers)

    assert sorted(result.boxes, key=repr) == sorted((same_box(b, 1.0, n) for b in answer), key=repr)
    assert not result.needs_review
    assert all(agreement(a, result) == 1.0 for a in answers)
