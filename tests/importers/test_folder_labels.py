import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from core.s3_names import bucket_name_problem
from datasets.validation import clean_label_name
from importers.folder_labels import (
    FolderLabel,
    folder_label_for_key,
    is_folder_marker,
    key_is_under,
    label_for_key,
    looks_like_image_key,
    normalize_prefix,
    parse_s3_folder_uri,
)

# --- prefixes and URIs --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("prefix", "expected"),
    [
        ("", ""),
        ("/", ""),
        ("echo-dot", "echo-dot/"),
        ("echo-dot/", "echo-dot/"),
        ("a/b/", "a/b/"),
        ("a/b", "a/b/"),
        ("/photos", "photos/"),
        ("//photos/", "photos/"),
        ("a//b", "a//b/"),  # S3 keys are literal: "//" is an empty-named folder, not a typo to fix
        ("a/../b", "a/../b/"),
        ("my photos/été", "my photos/été/"),
    ],
)
def test_a_prefix_always_means_a_folder(prefix, expected):
    assert normalize_prefix(prefix) == expected
    assert normalize_prefix(expected) == expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://acme-img", ("acme-img", "")),
        ("s3://acme-img/", ("acme-img", "")),
        ("s3://acme-img/alexa-devices", ("acme-img", "alexa-devices/")),
        ("s3://acme-img/alexa-devices/echo-dot/", ("acme-img", "alexa-devices/echo-dot/")),
        ("S3://acme.img.2024/my photos", ("acme.img.2024", "my photos/")),
        ("s3://abc/a%20b", ("abc", "a%20b/")),  # not percent-decoded
    ],
)
def test_an_s3_folder_uri_gives_bucket_and_folder(uri, expected):
    assert parse_s3_folder_uri(uri) == expected


@pytest.mark.parametrize(
    ("uri", "message"),
    [
        ("https://acme-img.s3.amazonaws.com/photos/", "looks like s3://"),
        ("arn:aws:s3:::acme-img", "looks like s3://"),
        ("acme-img/photos", "looks like s3://"),
        ("s3:/acme-img/photos", "looks like s3://"),
        ("s3://", "no bucket"),
        ("s3:///photos", "no bucket"),
        (" s3://acme-img/photos", "spaces or line breaks"),
        ("s3://acme-img/photos\n", "spaces or line breaks"),
        ("s3://acme-img/pho\ttos", "control characters"),
        ("s3://acme-img/pho\x00tos", "control characters"),
        ("s3://acme img/photos", "not a valid S3 bucket name"),
        ("s3://Acme-Img/photos", "lowercase"),
        ("s3://ab/photos", "3-63"),
        ("s3://" + "a" * 64, "3-63"),
        ("s3://-acme/photos", "begin and end"),
        ("s3://acme-/photos", "begin and end"),
        ("s3://acme_img/photos", "lowercase"),
        ("s3://192.168.5.4/photos", "IP address"),
        ("s3://acme..img", "two dots"),
        ("s3://xn--acme", "reserves"),
        ("s3://acme-s3alias", "reserves"),
        # Keys a proxy or an S3-compatible server may resolve to other objects are refused, never rewritten.
        ("s3://acme-img/a//b/", "empty segment"),
        ("s3://acme-img/photos//", "empty segment"),
        ("s3://acme-img/a/../b", "'..' segment"),
        ("s3://acme-img/..", "'..' segment"),
        ("s3://acme-img/./photos", "'.' segment"),
        ("s3://acme-img/photos/.", "'.' segment"),
        ("s3://acme-img/a\\b", "backslash"),
    ],
)
def test_anything_else_is_refused_with_a_clear_message(uri, message):
    with pytest.raises(ValueError, match=message):
        parse_s3_folder_uri(uri)


@pytest.mark.parametrize("bucket", ["abc", "a" * 63, "acme.img-2024", "1.2.3.com", "0abc9"])
def test_valid_bucket_names_are_accepted(bucket):
    assert bucket_name_problem(bucket) is None


# --- which keys a prefix covers -----------------------------------------------------------------------------


def test_a_prefix_does_not_cover_a_sibling_folder_with_the_same_start():
    assert key_is_under("echo-dot/x.jpg", "echo-dot")
    assert not key_is_under("echo-dot-old/x.jpg", "echo-dot")
    assert not key_is_under("echo-dot-old/x.jpg", "echo-dot/")
    assert not key_is_under("echo-dot.jpg", "echo-dot")


def test_the_whole_bucket_covers_every_key_and_a_folder_does_not_cover_itself():
    assert key_is_under("x.jpg", "")
    assert key_is_under("a/b/c.png", "")
    assert not key_is_under("echo-dot/", "echo-dot")
    assert not key_is_under("", "")


def test_folder_markers_are_not_images():
    assert is_folder_marker("alexa-devices/echo/")
    assert not is_folder_marker("alexa-devices/echo/img.png")
    assert not looks_like_image_key("alexa-devices/echo.png/")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a/b.jpg", True),
        ("a/b.JPEG", True),
        ("a/b.Png", True),
        ("b.jpeg", True),
        ("a/b.gif", False),
        ("a/b.webp", False),
        ("a/jpg", False),
        ("a/b.jpg.txt", False),
        ("a/b", False),
    ],
)
def test_keys_that_look_like_images(key, expected):
    assert looks_like_image_key(key) is expected


# --- labels from folder names (the reference's table, P = bucket/alexa-devices) ---------------------------------


@pytest.mark.parametrize(
    ("key", "label"),
    [
        ("alexa-devices/img.png", None),
        ("alexa-devices/echo/img.png", "echo"),
        ("alexa-devices/echo-dot/img.png", "echo-dot"),
        ("alexa-devices/echo-dot/white-echo-dot/img.png", "echo-dot"),
    ],
)
def test_labels_follow_the_reference_table(key, label):
    assert label_for_key(key, "alexa-devices") == label


def test_a_deeper_prefix_labels_with_deeper_folders():
    prefix = "alexa-devices/echo-dot"
    assert label_for_key("alexa-devices/echo-dot/white-echo-dot/img.png", prefix) == "white-echo-dot"
    assert label_for_key("alexa-devices/echo-dot/img.png", prefix) is None
    assert not key_is_under("alexa-devices/echo/img.png", prefix)


def test_the_whole_bucket_labels_with_the_first_path_segment():
    assert label_for_key("dog/a.jpg", "") == "dog"
    assert label_for_key("dog/puppies/small/b.jpg", "") == "dog"
    assert label_for_key("c.jpg", "") is None


def test_deep_nesting_keeps_the_first_level_folder():
    assert label_for_key("p/dog/a.jpg", "p/") == "dog"
    assert label_for_key("p/dog/puppies/b.jpg", "p/") == "dog"
    assert label_for_key("p/dog/1/2/3/4/5/c.jpg", "p") == "dog"


def test_an_image_at_the_prefix_gets_no_label():
    assert folder_label_for_key("p/a.jpg", "p") == FolderLabel(None, problem=None)


def test_a_key_outside_the_prefix_is_refused_not_left_unlabeled():
    with pytest.raises(ValueError, match="not under the prefix 'echo-dot/'"):
        label_for_key("echo-dot-old/white/x.jpg", "echo-dot")


@pytest.mark.parametrize("folder", ["Hund & Katze", "狗", "café au lait", "émoji 🐶", "a.b", "-"])
def test_unicode_and_space_folder_names_are_labels_as_they_are(folder):
    assert label_for_key(f"pets/{folder}/x.jpg", "pets") == folder


def test_surrounding_spaces_are_dropped_as_the_label_store_does():
    assert label_for_key("pets/ dog /x.jpg", "pets") == "dog"


def test_a_256_character_folder_name_is_a_label():
    assert label_for_key(f"p/{'x' * 256}/a.jpg", "p") == "x" * 256


@pytest.mark.parametrize(
    ("folder", "reason"),
    [("x" * 257, "at most 256"), ("   ", "empty"), ("", "empty"), ("tab\there", "control")],
    ids=["257-chars", "spaces", "empty-folder", "control-char"],
)
def test_a_folder_name_that_cannot_be_a_label_leaves_the_image_unlabeled_with_a_reason(folder, reason):
    result = folder_label_for_key(f"p/{folder}/a.jpg", "p/")
    assert result.name is None
    assert "cannot be a label" in result.problem
    assert reason in result.problem.lower()
    assert len(result.problem) < 200  # a 1000-character folder name is not repeated in full


# --- properties ---------------------------------------------------------------------------------------------

segment = st.text(st.characters(blacklist_characters="/", blacklist_categories=("Cs",)), min_size=1, max_size=20)
clean_segment = st.text(
    st.characters(blacklist_characters="/", blacklist_categories=("Cs", "Cc", "Zs", "Zl", "Zp")), min_size=1
)


@given(prefix=st.lists(segment, max_size=3), first=clean_segment, rest=st.lists(segment, min_size=1, max_size=4))
def test_the_label_is_the_first_segment_below_the_prefix(prefix, first, rest):
    folder = "".join(part + "/" for part in prefix)
    key = folder + "/".join([first, *rest])
    assume(first.strip() == first and len(first) <= 256)
    assert key_is_under(key, folder)
    assert label_for_key(key, folder) == first


@given(prefix=st.lists(segment, max_size=3), parts=st.lists(segment, min_size=1, max_size=5))
def test_any_label_is_the_stored_form_of_the_first_segment(prefix, parts):
    folder = "".join(part + "/" for part in prefix)
    result = folder_label_for_key(folder + "/".join(parts), folder)
    if len(parts) == 1:
        assert result == FolderLabel(None)
    elif result.name is not None:
        assert result.name == clean_label_name(parts[0])
    else:
        assert result.problem


@given(prefix=st.lists(segment, min_size=1, max_size=3), suffix=segment, rest=segment)
def test_a_sibling_whose_name_extends_the_prefix_is_never_covered(prefix, suffix, rest):
    folder = "/".join(prefix)
    assert not key_is_under(f"{folder}{suffix}/{rest}", folder)
