"""The issue CSV never hands a spreadsheet a formula: a title that looks like one opens as text."""

import csv
import io

import pytest

from tests.issues import builders
from tests.issues.test_views import client_for

TITLES = ["=1+1", "@SUM(A1)", "-2+3", "+cmd|' /C calc'!A0"]


@pytest.fixture
def world(app):
    builders.world(app)


def test_formula_like_titles_are_quoted_and_numbers_stay_numbers(app, world):
    ids = [builders.file_report(app, "clerk", description=title) for title in TITLES]
    ids.append(builders.file_report(app, "clerk", description="三楼卫生间水龙头漏水"))
    body = client_for(app, "boss").get("/s/TEST/issues/export.csv").get_data(as_text=True).lstrip("\ufeff")
    rows = list(csv.reader(io.StringIO(body)))
    titles = {int(row[0]): row[6] for row in rows[1:]}
    assert [titles[i] for i in ids] == ["'" + t for t in TITLES] + ["三楼卫生间水龙头漏水"]
    assert all(not value.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for value in row)
    assert [row[-1] for row in rows[1:]] == ["0"] * len(ids)  # a number cell stays a bare number
    assert not any(line.startswith("'") for line in body.splitlines())  # the id column is a number, never quoted
