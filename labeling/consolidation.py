"""Consolidating the answers of several workers for one image into one result (pure, no Django).

Called once per image when its answers are in (``workers_per_image`` of them, 1-9). Below, ``n`` is the number
of answers passed in; whether a partial set is consolidated (say, when the availability lifetime ends) is the
caller's decision.

Every rule is a plain majority of the ``n`` workers. Ground Truth uses a reliability-weighted (EM) vote; a plain
vote can be explained to a reviewer by counting, and per-worker reliability can come later from `agreement`.

- Single label: the label with strictly more votes than any other wins. A tie for first place is not guessed:
  the result has no label, lists the tied labels and needs review.
- Multi-label: a label chosen by more than half of the workers is kept. An empty set is a valid result.
- Boxes: per label, boxes of different workers are clustered (`match_boxes`) and averaged. A cluster is kept
  when more than half of the workers drew a box in it.
- Verification: majority of yes/no verdicts, a tie needs review. Every non-blank comment is kept.

Confidence is always the share of the ``n`` workers that gave the consolidated answer (votes for the winning
label or verdict, workers choosing a label, workers with a box in a cluster), so it lies in [0, 1]. A tie has
no answer and confidence 0.0. Unlike Ground Truth we do not report 0.00 when ``n == 1``: the lone worker is the
whole vote and gets 1.0, so the number means the same in every job. Callers who want to discount unreplicated
answers have the counts at hand (``votes``, ``worker_count``).

Review, beyond ties for first place:
- a label or box cluster chosen by exactly half of the workers is dropped, since it has no majority, and
  flags the image, since keeping and dropping tie;
- an empty multi-label or box result flags the image when most workers did choose a label or draw a box,
  since "nothing here" is then a minority view. An empty result that most workers agree on needs no review.
"""

import math
from collections import Counter, defaultdict
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from typing import Any, overload

DEFAULT_IOU_THRESHOLD = 0.5


@dataclass(frozen=True)
class Box:
    """One box drawn by a worker, in pixels. The label must be non-empty and the size positive."""

    label: str
    left: float
    top: float
    width: float
    height: float

    def __post_init__(self) -> None:
        _check_label(self.label)
        if not all(math.isfinite(v) for v in (self.left, self.top, self.width, self.height)):
            raise ValueError(f"box coordinates must be finite numbers: {self!r}")
        if self.width <= 0 or self.height <= 0:
            raise ValueError(f"box width and height must be positive: {self!r}")


@dataclass(frozen=True)
class ClassificationResult:
    label: str | None
    confidence: float
    needs_review: bool
    tied: tuple[str, ...]
    votes: dict[str, int]


@dataclass(frozen=True)
class MultiLabelResult:
    labels: tuple[str, ...]
    # Every label that at least one worker chose, kept or not, so a reviewer sees the near misses.
    confidences: dict[str, float]
    needs_review: bool


@dataclass(frozen=True)
class ConsolidatedBox:
    label: str
    left: int
    top: int
    width: int
    height: int
    confidence: float
    worker_count: int


@dataclass(frozen=True)
class BoxesResult:
    boxes: tuple[ConsolidatedBox, ...]
    needs_review: bool


@dataclass(frozen=True)
class VerificationResult:
    verdict: bool | None
    confidence: float
    needs_review: bool
    comments: tuple[str, ...]


Cluster = tuple[tuple[int, Box], ...]
"""Boxes of one object as ``(worker index into the answers, box)`` pairs, at most one per worker."""


def iou(a: Box | ConsolidatedBox, b: Box | ConsolidatedBox) -> float:
    """Intersection over union of two boxes (labels ignored), in [0, 1]; 0.0 when they do not overlap."""
    inter_w = min(a.left + a.width, b.left + b.width) - max(a.left, b.left)
    inter_h = min(a.top + a.height, b.top + b.height) - max(a.top, b.top)
    if inter_w <= 0 or inter_h <= 0:
        return 0.0
    inter = inter_w * inter_h
    return inter / (a.width * a.height + b.width * b.height - inter)


def consolidate_single_label(answers: Sequence[str]) -> ClassificationResult:
    """One label per worker -> the label with strictly the most votes, or no label and a review on a tie.

    ``confidence`` is the winner's share of the votes (0.0 on a tie); ``votes`` holds every label given, and
    ``tied`` the labels sharing first place (sorted; empty without a tie). Raises ValueError when there is no
    answer or an answer is not a non-empty string.
    """
    n = _count(answers)
    for label in answers:
        _check_label(label)
    votes = dict(sorted(Counter(answers).items()))
    top = max(votes.values())
    leaders = tuple(label for label, count in votes.items() if count == top)
    if len(leaders) > 1:
        return ClassificationResult(label=None, confidence=0.0, needs_review=True, tied=leaders, votes=votes)
    return ClassificationResult(label=leaders[0], confidence=top / n, needs_review=False, tied=(), votes=votes)


def consolidate_multi_label(answers: Sequence[Collection[str]]) -> MultiLabelResult:
    """A set of labels per worker -> the labels chosen by more than half of the workers (sorted).

    A label repeated within one answer counts once. ``confidences`` maps every label chosen by anyone to the
    share of workers choosing it. Review: see the module docstring. Raises ValueError on no answers or an
    empty label, TypeError when an answer is a bare string (it would read as a set of characters).
    """
    n = _count(answers)
    chosen = [_label_set(answer) for answer in answers]
    counts = Counter(label for labels in chosen for label in labels)
    kept = tuple(sorted(label for label, count in counts.items() if count * 2 > n))
    half = any(count * 2 == n for count in counts.values())
    most_chose_some = sum(1 for labels in chosen if labels) * 2 > n
    return MultiLabelResult(
        labels=kept,
        confidences={label: counts[label] / n for label in sorted(counts)},
        needs_review=half or (not kept and most_chose_some),
    )


def match_boxes(
    answers: Sequence[Sequence[Box]], *, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> tuple[Cluster, ...]:
    """Group the boxes of different workers that show the same object; every box lands in exactly one cluster.

    Greedy complete-linkage clustering, per label: the pairs of boxes from different workers with IoU >=
    ``iou_threshold`` are taken in descending IoU order, and a pair joins its two clusters when they have no
    worker in common and every box of one matches every box of the other. So a cluster holds at most one box
    per worker, and its boxes all match pairwise: no chain A~B~C where A and C are apart. (Matching each box
    to the nearest cluster mean, worker by worker, depends on worker order and on a mean that moves as boxes
    join.)

    Order independence by construction: each worker's boxes are sorted, workers are sorted by their boxes, and
    IoU ties are broken by position in that canonical order, so permuting workers or boxes yields the same
    clusters (in the same order); only the indices of two workers with identical answers may swap.
    Raises ValueError on no answers or a threshold outside (0, 1].
    """
    if not 0 < iou_threshold <= 1:
        raise ValueError("iou_threshold must be in (0, 1]")
    _count(answers)
    own = [sorted(answer, key=_box_key) for answer in answers]
    order = sorted(range(len(own)), key=lambda w: [_box_key(box) for box in own[w]])
    flat = [(w, box) for w in order for box in own[w]]

    by_label: dict[str, list[int]] = defaultdict(list)
    for i, (_, box) in enumerate(flat):
        by_label[box.label].append(i)
    # Best matches first; equal IoUs in canonical position order.
    pairs = sorted(pair for indices in by_label.values() for pair in _matching_pairs(flat, indices, iou_threshold))
    matched = {(i, j) for _, i, j in pairs}

    cluster_of = list(range(len(flat)))
    members = {i: [i] for i in range(len(flat))}
    workers = {i: {flat[i][0]} for i in range(len(flat))}
    for _, i, j in pairs:
        a, b = cluster_of[i], cluster_of[j]
        if a == b or workers[a] & workers[b]:
            continue
        # Complete linkage: every box of one cluster must match every box of the other.
        if not all((min(m, k), max(m, k)) in matched for m in members[a] for k in members[b]):
            continue
        for k in members[b]:
            cluster_of[k] = a
        members[a].extend(members.pop(b))
        workers[a] |= workers.pop(b)
    return tuple(tuple(flat[i] for i in group) for group in sorted(sorted(group) for group in members.values()))


def consolidate_boxes(answers: Sequence[Sequence[Box]], *, iou_threshold: float = DEFAULT_IOU_THRESHOLD) -> BoxesResult:
    """The boxes of each worker -> the average box of every cluster drawn by more than half of the workers.

    A worker may have drawn no box. Clusters come from `match_boxes`, averages from `average_box` (edge means
    rounded half up to whole pixels); ``confidence`` is ``worker_count / n``. Boxes are sorted by label, top,
    left, width, height, worker count. Raises ValueError on no answers or a bad threshold (an invalid box
    fails when the `Box` is built).
    """
    n = _count(answers)
    clusters = match_boxes(answers, iou_threshold=iou_threshold)
    kept = sorted(
        (average_box([box for _, box in cluster], worker_total=n) for cluster in clusters if len(cluster) * 2 > n),
        key=lambda b: (b.label, b.top, b.left, b.width, b.height, b.worker_count),
    )
    half = any(len(cluster) * 2 == n for cluster in clusters)
    most_drew_some = sum(1 for answer in answers if answer) * 2 > n
    return BoxesResult(boxes=tuple(kept), needs_review=half or (not kept and most_drew_some))


def average_box(boxes: Sequence[Box], *, worker_total: int) -> ConsolidatedBox:
    """The consolidated box of one cluster (boxes of one label, one per worker) out of ``worker_total`` workers.

    Each edge (left, top, right, bottom) is the members' mean rounded half up to a whole pixel, so the box lies
    within the members' union bounds widened to whole pixels (floor of the lowest edge, ceiling of the
    highest); a mean box thinner than a pixel is widened outward to the pixels it touches. ``confidence`` is
    ``len(boxes) / worker_total``. Raises ValueError on no boxes, mixed labels or more boxes than workers.
    """
    k = len(boxes)
    if not boxes or len({box.label for box in boxes}) != 1:
        raise ValueError("a cluster needs at least one box, all of one label")
    if k > worker_total:
        raise ValueError("a cluster holds at most one box per worker")
    left, width = _pixel_span(sum(b.left for b in boxes) / k, sum(b.left + b.width for b in boxes) / k)
    top, height = _pixel_span(sum(b.top for b in boxes) / k, sum(b.top + b.height for b in boxes) / k)
    return ConsolidatedBox(
        label=boxes[0].label,
        left=left,
        top=top,
        width=width,
        height=height,
        confidence=k / worker_total,
        worker_count=k,
    )


def consolidate_verification(answers: Sequence[tuple[bool, str | None]]) -> VerificationResult:
    """(verdict, comment) per worker -> the majority verdict, or None and a review on a tie.

    ``confidence`` is the winning verdict's share (0.0 on a tie). ``comments`` keeps every non-blank comment,
    stripped, in answer order. Raises ValueError on no answers, TypeError on a verdict that is not a bool or a
    comment that is neither a string nor None.
    """
    n = _count(answers)
    comments = []
    for verdict, comment in answers:
        if not isinstance(verdict, bool):
            raise TypeError(f"a verdict must be True or False, not {verdict!r}")
        if comment is not None and not isinstance(comment, str):
            raise TypeError(f"a comment must be a string or None, not {comment!r}")
        if comment and comment.strip():
            comments.append(comment.strip())
    yes = sum(1 for verdict, _ in answers if verdict)
    no = n - yes
    if yes == no:
        return VerificationResult(verdict=None, confidence=0.0, needs_review=True, comments=tuple(comments))
    return VerificationResult(
        verdict=yes > no, confidence=max(yes, no) / n, needs_review=False, comments=tuple(comments)
    )


def agreement_single_label(answer: str, result: ClassificationResult) -> float | None:
    """1.0 when the worker gave the consolidated label, 0.0 otherwise; None when the result has no label.

    None rather than 0.0 on a tie: there is nothing to agree with, so the image should be left out of the
    worker's statistics, not counted as a miss for everyone.
    """
    if result.label is None:
        return None
    return 1.0 if answer == result.label else 0.0


def agreement_multi_label(answer: Collection[str], result: MultiLabelResult) -> float:
    """Jaccard index of the worker's labels and the consolidated ones; 1.0 when both are empty."""
    mine, theirs = _label_set(answer), set(result.labels)
    union = mine | theirs
    return len(mine & theirs) / len(union) if union else 1.0


def agreement_boxes(
    answer: Sequence[Box], result: BoxesResult, *, iou_threshold: float = DEFAULT_IOU_THRESHOLD
) -> float:
    """F1 of the worker's boxes against the consolidated ones; 1.0 when both are empty.

    Boxes are matched one-to-one within a label by IoU >= ``iou_threshold``, greedily by descending IoU.
    A worker's box rarely falls below the threshold against its own cluster's average, and then counts as a
    miss: the statistic is about the published result, not about the clustering.
    """
    mine = sorted(answer, key=_box_key)
    theirs = result.boxes
    if not mine and not theirs:
        return 1.0
    pairs = [
        (value, i, j)
        for i, a in enumerate(mine)
        for j, b in enumerate(theirs)
        if a.label == b.label and (value := iou(a, b)) >= iou_threshold
    ]
    used_mine: set[int] = set()
    used_theirs: set[int] = set()
    for _, i, j in sorted(pairs, key=lambda p: (-p[0], p[1], p[2])):
        if i not in used_mine and j not in used_theirs:
            used_mine.add(i)
            used_theirs.add(j)
    return 2 * len(used_mine) / (len(mine) + len(theirs))


def agreement_verification(answer: tuple[bool, str | None], result: VerificationResult) -> float | None:
    """1.0 when the worker's verdict is the consolidated one, 0.0 otherwise; None on a tie (as single label)."""
    if result.verdict is None:
        return None
    return 1.0 if answer[0] == result.verdict else 0.0


@overload
def agreement(answer: str, result: ClassificationResult) -> float | None: ...
@overload
def agreement(answer: Collection[str], result: MultiLabelResult) -> float: ...
@overload
def agreement(answer: Sequence[Box], result: BoxesResult) -> float: ...
@overload
def agreement(answer: tuple[bool, str | None], result: VerificationResult) -> float | None: ...
def agreement(answer: Any, result: Any) -> float | None:
    """A worker's agreement with the consolidated result, in [0, 1], chosen by the result's type.

    Single label and verification: 1.0 or 0.0, None when the result is a tie. Multi-label: Jaccard index.
    Boxes: matched-box F1 at the default IoU threshold. See the ``agreement_*`` functions.
    """
    if isinstance(result, ClassificationResult):
        return agreement_single_label(answer, result)
    if isinstance(result, MultiLabelResult):
        return agreement_multi_label(answer, result)
    if isinstance(result, BoxesResult):
        return agreement_boxes(answer, result)
    if isinstance(result, VerificationResult):
        return agreement_verification(answer, result)
    raise TypeError(f"not a consolidation result: {result!r}")


def _count(answers: Sequence[Any]) -> int:
    if isinstance(answers, str | bytes):
        raise TypeError("answers must be a sequence with one answer per worker, not a string")
    if not answers:
        raise ValueError("there are no answers to consolidate")
    return len(answers)


def _check_label(label: object) -> None:
    if not isinstance(label, str) or not label:
        raise ValueError(f"a label must be a non-empty string, not {label!r}")


def _label_set(answer: Collection[str]) -> set[str]:
    if isinstance(answer, str | bytes):
        raise TypeError(f"a multi-label answer must be a collection of labels, not the string {answer!r}")
    for label in answer:
        _check_label(label)
    return set(answer)


def _box_key(box: Box) -> tuple[str, float, float, float, float]:
    return (box.label, box.left, box.top, box.width, box.height)


def _matching_pairs(
    flat: Sequence[tuple[int, Box]], indices: Sequence[int], threshold: float
) -> Iterator[tuple[float, int, int]]:
    """``(-iou, i, j)`` with i < j for the boxes of different workers that match, found by a sweep over x."""
    # The hot loop when many boxes overlap in x: plain tuples, cheap tests first, and `iou` inlined with the
    # same float operations (right = left + width, area = width * height), so the values are bit-identical.
    rows = []
    for i in indices:
        worker, box = flat[i]
        rows.append((box.left, box.left + box.width, box.top, box.top + box.height, box.width * box.height, worker, i))
    rows.sort()
    for pos, (_, right, top, bottom, area, worker, i) in enumerate(rows):
        for k in range(pos + 1, len(rows)):
            left_b, right_b, top_b, bottom_b, area_b, other, j = rows[k]
            if left_b >= right:  # sorted by left: no later box overlaps this one either
                break
            if other == worker or top_b >= bottom or bottom_b <= top:
                continue
            inter = (min(right, right_b) - left_b) * (min(bottom, bottom_b) - max(top, top_b))
            value = inter / (area + area_b - inter)
            if value >= threshold:
                yield -value, min(i, j), max(i, j)


def _pixel_span(low: float, high: float) -> tuple[int, int]:
    """(start, length) in whole pixels for the mean edges ``low < high``; the length is at least 1."""
    # Half up, not Python's half-to-even: it commutes with whole-pixel shifts, so a mean at least one pixel
    # wide stays at least one pixel wide.
    start, end = math.floor(low + 0.5), math.floor(high + 0.5)
    if end <= start:
        start, end = math.floor(low), math.ceil(high)
    return start, max(end - start, 1)
