"""
The dashboard draws tag names (data from HighLevel: a location admin names tags) and its title as plain
text: ``$...$`` is not read as mathtext (issue 22, item 5).
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from matplotlib.image import imread
from matplotlib.text import Text

from airflow_provider_contacts.reporting.chart import render_chart

HOSTILE = r"promo $\foo$ deal"
VALID_MATH = r"$x^2$ club"
TITLE = "Spend $5 to $10"


def _rows(tags: dict[str, int]) -> list[dict[str, object]]:
    start = datetime(2026, 12, 31, 23, 0, tzinfo=timezone.utc)
    return [
        {"computed_at": start + timedelta(hours=i), "contacts_total": 5 + i, "top_tags": json.dumps(tags)}
        for i in range(2)
    ]


def test_a_tag_with_dollar_signs_does_not_break_the_chart(tmp_path: Path) -> None:
    path = render_chart(_rows({HOSTILE: 3, "vip": 2}), tmp_path / "chart.png", title=TITLE)
    image = imread(path)
    assert image.shape[0] >= 600 and image.std() > 0.05


def _tags_axis(figure):  # type: ignore[no-untyped-def]
    from airflow_provider_contacts.reporting.chart import TAGS_TITLE

    (axis,) = [ax for ax in figure.axes if ax.get_title(loc="left") == TAGS_TITLE]
    return axis


def _plain_width(figure, text: Text) -> float:  # type: ignore[no-untyped-def]
    """The width ``text``'s string takes drawn as plain characters, in the same font."""
    renderer = figure.canvas.get_renderer()
    reference = Text(0, 0, text.get_text(), fontproperties=text.get_fontproperties(), parse_math=False)
    reference.set_figure(figure)
    return reference.get_window_extent(renderer).width


def test_tag_names_and_the_title_are_drawn_literally() -> None:
    from airflow_provider_contacts.reporting.chart import draw_chart

    figure = draw_chart(_rows({HOSTILE: 3, VALID_MATH: 2, "vip": 1}), title=TITLE)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    labels = {t.get_text(): t for t in _tags_axis(figure).get_yticklabels() if t.get_text()}
    assert set(labels) == {HOSTILE, VALID_MATH, "vip"}
    for name in (HOSTILE, VALID_MATH):
        drawn = labels[name].get_window_extent(renderer).width
        assert abs(drawn - _plain_width(figure, labels[name])) < 0.5, f"{name!r} was not drawn as plain text"
    title = figure._suptitle
    assert title.get_text() == TITLE
    assert abs(title.get_window_extent(renderer).width - _plain_width(figure, title)) < 0.5
