"""The server-drawn charts are well-formed SVG that the CSP lets through, and say what they show."""

import xml.etree.ElementTree as ET

import pytest

from labelhub.charts import (
    NOT_ENOUGH_DATA,
    Chart,
    IntervalRow,
    Series,
    bar_chart,
    chart_download,
    histogram,
    interval_chart,
    stacked_columns,
)

SVG = "{http://www.w3.org/2000/svg}"
HOSTILE = 'Eve <script>alert(1)</script> & "co"'
COMMON = {"title": "A <b>title</b>", "description": "What & how"}


def drawings() -> dict[str, str]:
    rows = [IntervalRow(HOSTILE, 0.8, 0.6, 0.9, "80%"), IntervalRow("bob", None, note="no gold answered")]
    return {
        "interval": interval_chart(name="i", rows=rows, reference=0.7, reference_label="bar 70%", **COMMON),
        "bar": bar_chart(name="b", rows=rows, reference=0.5, reference_label="50%", **COMMON),
        "stacked": stacked_columns(
            name="s",
            columns=[("01 Dec", {"a": 3, "b": 1}), ("02 Dec", {})],
            series=[Series("a", "A better", "#0072B2"), Series("b", HOSTILE, "#E69F00")],
            **COMMON,
        ),
        "histogram": histogram(name="h", bins=[(0, 1, 2), (1, 2, 0), (2, 5, 7)], axis_label="s", **COMMON),
    }


@pytest.mark.parametrize("kind", ["interval", "bar", "stacked", "histogram"])
def test_every_chart_is_well_formed_svg_with_its_title_and_description(kind):
    root = ET.fromstring(drawings()[kind])
    assert root.tag == f"{SVG}svg"
    assert root.get("role") == "img"
    assert root.find(f"{SVG}title").text == "A <b>title</b>"
    assert root.find(f"{SVG}desc").text == "What & how"
    assert set(root.get("aria-labelledby").split()) == {
        root.find(f"{SVG}title").get("id"),
        root.find(f"{SVG}desc").get("id"),
    }


@pytest.mark.parametrize("kind", ["interval", "bar", "stacked", "histogram"])
def test_no_chart_carries_a_style_the_csp_would_block(kind):
    root = ET.fromstring(drawings()[kind])
    assert not [element.tag for element in root.iter() if "style" in element.attrib]
    assert root.find(f".//{SVG}style") is None
    assert root.find(f".//{SVG}script") is None


def test_a_label_is_text_in_the_drawing_never_markup():
    svg = drawings()["interval"]
    assert "<script>" not in svg
    texts = [element.text for element in ET.fromstring(svg).iter(f"{SVG}text")]
    assert any(text and text.startswith("Eve <script>") for text in texts)


def test_a_row_without_a_figure_reads_its_note_not_a_bar_of_zero():
    root = ET.fromstring(bar_chart(name="b", rows=[IntervalRow("bob", None)], **COMMON))
    assert root.find(f".//{SVG}rect") is None
    assert NOT_ENOUGH_DATA in [element.text for element in root.iter(f"{SVG}text")]


def test_the_stacked_columns_heights_add_up_to_the_days_total():
    root = ET.fromstring(drawings()["stacked"])
    columns = root.findall(f"{SVG}g")
    heights = [float(rect.get("height")) for rect in columns[0].findall(f"{SVG}rect")]
    assert len(heights) == 2
    assert heights[0] == pytest.approx(3 * heights[1], abs=0.2)
    assert columns[1].findall(f"{SVG}rect") == []  # a day without labels has an empty column


def test_a_download_is_an_attachment_of_the_right_type_and_an_empty_chart_still_draws():
    chart = Chart(
        name="gold", title="Gold", description="d", columns=["who", "share"], empty="not enough data"
    )
    svg = chart_download(chart, fmt="svg", stem="acme")
    assert svg["Content-Type"].startswith("image/svg+xml")
    assert svg["Content-Disposition"] == 'attachment; filename="acme-gold.svg"'
    assert "not enough data" in [e.text for e in ET.fromstring(svg.content).iter(f"{SVG}text")]
    csv = chart_download(chart, fmt="csv", stem="acme")
    assert csv["Content-Type"].startswith("text/csv")
    assert csv.content.decode() == "who,share\n"
    with pytest.raises(ValueError, match="svg or csv"):
        chart_download(chart, fmt="png", stem="acme")
