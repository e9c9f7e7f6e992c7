"""`trace_leak` names the guideline view a leaked excerpt was copied from, or says it cannot."""

import html
import io
import random
import re
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from labelhub.markdown import render_markdown
from labelhub.models import AuditEvent, User
from labelhub.pseudonyms import annotator_pseudonym
from projects.fingerprints import DIGITS, END, START, encode_mark, fingerprint_html, trace_text
from projects.models import GuidelineView, Project
from projects.services import guideline_publish

INVISIBLE = re.compile(f"[{''.join(DIGITS)}{START}{END}]")
ISO_TIME = re.compile(r"at (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00)")
RICH_BODY = """# Rules

Prefer correct answers. Then prefer clear ones: short, kind & direct!

- Check the facts. Do not guess.
- Judge *tone* last.

Single sentence paragraph here.

| Case | Verdict |
|---|---|
| Both wrong | Both bad |

Use `x: int` in examples.

```
def f(x): return x. y
```
"""


def view_guidelines(client: Client, user: User, project: Project) -> str:
    client.force_login(user)
    response = client.get(reverse("annotations:guidelines", args=[project.code]))
    assert response.status_code == 200
    return response.content.decode()


def guideline_markup(page: str) -> str:
    match = re.search(r'<div class="markdown">(.*?)</div>', page, re.S)
    assert match, "no guideline body on the page"
    return match.group(1)


def block_texts(page: str, tag: str) -> list[str]:
    """The text of each `tag` element of the guideline body, as a copy would carry it."""
    blocks = re.findall(rf"<{tag}(?:\s[^>]*)?>(.*?)</{tag}>", guideline_markup(page), re.S)
    return [html.unescape(re.sub(r"<[^>]+>", "", block)) for block in blocks]


def latest_view(user: User) -> GuidelineView:
    return GuidelineView.objects.filter(viewer=user).latest("pk")


def excerpt_file(tmp_path: Path, text: str, name: str = "leak.txt") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def trace_leak(source: Path | str) -> str:
    out = io.StringIO()
    call_command("trace_leak", str(source), stdout=out)
    return out.getvalue()


def trace_leak_failure(source: Path | str) -> CommandError:
    with pytest.raises(CommandError) as failure:
        trace_leak(source)
    return failure.value


def with_altered_check(mark: str) -> str:
    """`mark` with its last digit (the lowest two bits of its MAC) changed."""
    last_digit = mark[-2]
    return mark[:-2] + next(d for d in DIGITS if d != last_digit) + END


def described(view: GuidelineView) -> str:
    pseudonym = annotator_pseudonym(project_id=view.guideline.project_id, user_id=view.viewer_id)
    when = view.viewed_at.astimezone(UTC).isoformat(timespec="seconds")
    return (
        f"view {view.pk}: {view.viewer.username} ({pseudonym}) saw the guidelines of project "
        f"acme-helpfulness (Aurora) version {view.guideline.version} at {when}"
    )


def test_a_pasted_paragraph_names_its_viewer_the_version_and_the_time(
    client, acme, annotator, manager, tmp_path
):
    annotator_page = view_guidelines(client, annotator, acme)
    manager_page = view_guidelines(client, manager, acme)
    [annotator_paragraph] = block_texts(annotator_page, "p")
    [manager_paragraph] = block_texts(manager_page, "p")
    assert INVISIBLE.sub("", annotator_paragraph) == "Prefer correct answers."

    out = trace_leak(excerpt_file(tmp_path, annotator_paragraph))

    view = latest_view(annotator)
    assert out.splitlines() == [described(view)]
    assert "acme-expert (ann_" in out
    assert "version 1 " in out
    assert "acme-manager" not in out
    [when] = ISO_TIME.findall(out)
    assert abs(datetime.fromisoformat(when) - timezone.now()) < timedelta(minutes=1)

    out = trace_leak(excerpt_file(tmp_path, manager_paragraph))
    assert out.splitlines() == [described(latest_view(manager))]


def test_any_one_paragraph_list_item_heading_or_table_cell_names_the_viewer(
    client, acme, annotator, tmp_path
):
    guideline_publish(project=acme, body=RICH_BODY, author=None)
    page = view_guidelines(client, annotator, acme)
    excerpts = [text for tag in ("p", "li", "h1", "td", "th") for text in block_texts(page, tag)]
    assert len(excerpts) == 10

    expected = [described(latest_view(annotator))]
    for excerpt in excerpts:
        assert trace_leak(excerpt_file(tmp_path, excerpt)).splitlines() == expected, excerpt


def test_a_paragraph_selected_from_its_first_letter_still_names_the_viewer(client, acme, annotator, tmp_path):
    # A selection dragged from a block's first letter starts after the marks that open the block.
    guideline_publish(project=acme, body=RICH_BODY, author=None)
    page = view_guidelines(client, annotator, acme)
    one_sentence = [text for text in block_texts(page, "p") + block_texts(page, "li") if text.count(".") == 1]
    assert len(one_sentence) >= 3  # "Judge tone last.", "Single sentence …", "Use x: int …"
    mark = encode_mark(latest_view(annotator).pk)

    for text in one_sentence:
        assert text.startswith(mark)
        out = trace_leak(excerpt_file(tmp_path, text.removeprefix(mark)))
        assert out.splitlines() == [described(latest_view(annotator))], text


def test_an_excerpt_mixing_two_viewers_copies_names_both(client, acme, annotator, manager, tmp_path):
    [first] = block_texts(view_guidelines(client, annotator, acme), "p")
    [second] = block_texts(view_guidelines(client, manager, acme), "p")

    out = trace_leak(excerpt_file(tmp_path, f"{first}\n\n{second}\n"))

    assert out.splitlines() == [
        "The excerpt mixes text from 2 views (e.g. two people's copies pasted together):",
        described(latest_view(annotator)),
        described(latest_view(manager)),
    ]


def test_text_without_marks_fails_with_status_1_saying_it_carries_no_fingerprint(
    client, acme, annotator, tmp_path
):
    [paragraph] = block_texts(view_guidelines(client, annotator, acme), "p")
    retyped = INVISIBLE.sub("", paragraph)

    error = trace_leak_failure(excerpt_file(tmp_path, retyped))

    assert error.returncode == 1
    assert "carries no fingerprint" in str(error)
    assert "retyped" in str(error)


def test_a_mark_whose_check_byte_was_altered_is_reported_as_damaged_and_fails(
    client, acme, annotator, tmp_path
):
    view_guidelines(client, annotator, acme)
    altered = with_altered_check(encode_mark(latest_view(annotator).pk))

    error = trace_leak_failure(excerpt_file(tmp_path, f"{altered}Prefer correct answers."))

    assert error.returncode == 1
    assert "damaged or forged" in str(error)
    assert "cannot be attributed" in str(error)


def test_damaged_marks_beside_a_good_one_are_mentioned_and_the_view_still_named(
    client, acme, annotator, tmp_path
):
    [paragraph] = block_texts(view_guidelines(client, annotator, acme), "p")
    forged = with_altered_check(encode_mark(latest_view(annotator).pk + 1))

    out = trace_leak(excerpt_file(tmp_path, forged * 2 + paragraph))

    assert out.splitlines()[0] == described(latest_view(annotator))
    assert "2 further mark(s) were damaged or forged" in out


def test_random_marks_sprayed_into_a_text_never_frame_a_viewer(client, acme, annotator):
    # A forger without the key can only guess: with a short check, about one guess in 256 held.
    view_guidelines(client, annotator, acme)
    view_id = latest_view(annotator).pk
    rng = random.Random(12)
    guesses = []
    for _ in range(3000):
        value = (view_id << 64) | rng.getrandbits(64)
        digits = []
        while value:
            value, digit = divmod(value, 4)
            digits.append(DIGITS[digit])
        guesses.append(START + "".join(reversed(digits)) + END)

    trace = trace_text("Prefer correct answers.".join(guesses))

    assert trace.view_ids == [] and trace.damaged == 3000


def test_more_damaged_or_forged_marks_than_valid_ones_are_not_attributed(client, acme, annotator, tmp_path):
    [paragraph] = block_texts(view_guidelines(client, annotator, acme), "p")
    view = latest_view(annotator)
    valid = trace_text(paragraph).valid
    forged = with_altered_check(encode_mark(view.pk + 1))

    error = trace_leak_failure(excerpt_file(tmp_path, forged * (valid + 1) + paragraph))

    assert error.returncode == 1
    assert f"{valid + 1} damaged or forged fingerprint mark(s) and only {valid} valid" in str(error)
    assert "tampered with" in str(error) and f"view(s) {view.pk}" in str(error)
    # As many damaged as valid: the valid marks still count.
    assert trace_leak(excerpt_file(tmp_path, forged * valid + paragraph)).splitlines()[0] == described(view)


def test_every_viewer_with_valid_marks_is_reported_beside_a_few_damaged_marks(
    client, acme, annotator, manager, tmp_path
):
    [first] = block_texts(view_guidelines(client, annotator, acme), "p")
    [second] = block_texts(view_guidelines(client, manager, acme), "p")
    damaged = with_altered_check(encode_mark(latest_view(manager).pk))

    out = trace_leak(excerpt_file(tmp_path, f"{first}{damaged}\n\n{second}"))

    assert described(latest_view(annotator)) in out.splitlines()
    assert described(latest_view(manager)) in out.splitlines()
    assert "1 further mark(s) were damaged or forged" in out


def test_a_genuine_mark_of_an_unrecorded_view_is_reported_and_fails(acme, tmp_path):
    out = io.StringIO()
    with pytest.raises(CommandError) as failure:
        call_command("trace_leak", str(excerpt_file(tmp_path, encode_mark(987_654) + "Text.")), stdout=out)

    assert "view 987654: the mark is genuine, but no such view is recorded" in out.getvalue()
    assert failure.value.returncode == 1
    assert "cannot be attributed" in str(failure.value)


def test_the_excerpt_can_come_on_standard_input(client, acme, annotator, monkeypatch):
    [paragraph] = block_texts(view_guidelines(client, annotator, acme), "p")
    monkeypatch.setattr(sys, "stdin", io.StringIO(paragraph))

    assert trace_leak("-").splitlines() == [described(latest_view(annotator))]


def test_a_missing_or_non_utf8_file_is_refused_naming_it(acme, tmp_path):
    missing = tmp_path / "nowhere.txt"
    assert str(missing) in str(trace_leak_failure(missing))

    latin1 = tmp_path / "latin1.txt"
    latin1.write_bytes("Préférez les réponses correctes.".encode("latin-1"))
    error = trace_leak_failure(latin1)
    assert str(latin1) in str(error)
    assert "not UTF-8" in str(error)


def test_a_view_of_a_later_version_is_reported_as_that_version(client, acme, annotator, tmp_path):
    [old] = block_texts(view_guidelines(client, annotator, acme), "p")
    guideline_publish(project=acme, body="# Be *precise*\nPrefer correct, sourced answers.", author=None)
    [new] = block_texts(view_guidelines(client, annotator, acme), "p")
    old_view, new_view = GuidelineView.objects.filter(viewer=annotator).order_by("pk")
    assert (old_view.guideline.version, new_view.guideline.version) == (1, 2)

    assert trace_leak(excerpt_file(tmp_path, old)).splitlines() == [described(old_view)]
    assert "version 2 at" in trace_leak(excerpt_file(tmp_path, new))
    assert trace_leak(excerpt_file(tmp_path, new)).splitlines() == [described(new_view)]


def test_the_marks_change_nothing_visible(client, acme, annotator):
    guideline = guideline_publish(project=acme, body=RICH_BODY, author=None)
    page = view_guidelines(client, annotator, acme)
    markup = guideline_markup(page)

    assert INVISIBLE.search(markup), "the page carries no fingerprint"
    assert INVISIBLE.sub("", markup) == render_markdown(guideline.body)


def test_code_in_guidelines_is_left_unmarked_so_a_copied_example_still_runs(client, acme, annotator):
    guideline_publish(project=acme, body=RICH_BODY, author=None)
    page = view_guidelines(client, annotator, acme)

    assert block_texts(page, "code") == ["x: int", "def f(x): return x. y\n"]


def test_marks_pasted_into_a_guideline_source_do_not_name_their_first_viewer_again(acme):
    stale = encode_mark(41)
    marked = fingerprint_html(f"<p>{stale}Prefer{stale} correct answers.</p>", 42)

    assert stale not in marked
    assert INVISIBLE.sub("", marked) == "<p>Prefer correct answers.</p>"


def test_fingerprints_leave_joiners_in_emoji_and_words_alone(acme):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"  # one emoji, joined by ZWJs
    persian = "\u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u0645"  # "mi-khaham": a ZWNJ inside
    text = f"Family {family} ok. Persian {persian} yes."

    marked = fingerprint_html(f"<p>{text}</p>", 42)

    assert family in marked
    assert persian in marked


def test_every_guideline_view_is_audited(client, acme, annotator, manager):
    view_guidelines(client, annotator, acme)
    view_guidelines(client, manager, acme)
    view_guidelines(client, annotator, acme)

    views = list(GuidelineView.objects.order_by("pk"))
    assert len(views) == 3
    for view in views:
        event = AuditEvent.objects.get(action=AuditEvent.Action.GUIDELINE_VIEWED, detail__view_id=view.pk)
        assert (event.actor_id, event.project_id, event.target) == (view.viewer_id, acme.pk, "guidelines v1")


def test_guidelines_pasted_back_from_a_rendered_page_are_stored_without_anyones_marks(acme):
    from projects.fingerprints import encode_mark
    from projects.services import guideline_publish

    pasted = f"Prefer{encode_mark(41)} correct answers.{encode_mark(41)} Emoji 👩\u200d💻 stay whole."
    guideline = guideline_publish(project=acme, body=pasted, author=None)
    assert guideline.body == "Prefer correct answers. Emoji 👩\u200d💻 stay whole."
