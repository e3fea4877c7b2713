"""Tolerant parsing of answers whose shape is not documented."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st
from ltx2_nodes.api.providers import get_provider
from ltx2_nodes.api.types import JobState

URL = "https://cdn.example.com/tasks/abc/video.mp4"


def _case_variants(word: str) -> st.SearchStrategy[str]:
    return st.sampled_from([word, word.upper(), word.capitalize(), word.replace("_", " ").title()])


# API in One: the finished task's URL under ``data`` as video_url / url / output / output.video_url /
# result.video_url, or a list of URLs under any of them.
APIINONE_FINISHED_DATA: list[dict[str, Any]] = [
    {"video_url": [URL]},
    {"url": [URL]},
    {"output": [URL]},
    {"output": {"url": URL}},
    {"output": [{"url": URL}]},
    {"output": {"video_url": [URL]}},
    {"result": {"video_url": [URL]}},
    {"result": [URL]},
    {"result": {"videos": [URL]}},
    {"videos": [{"url": URL}]},
    {"video_urls": [URL]},
]


@given(
    st.sampled_from(APIINONE_FINISHED_DATA),
    st.sampled_from(["completed", "succeeded", "success"]).flatmap(_case_variants),
)
def test_apiinone_finds_a_url_in_a_list(data: dict[str, Any], word: str) -> None:
    body = {"code": 200, "message": "success", "data": {"task_id": "t1", "status": word, **data}}
    status = get_provider("apiinone").parse_status(body)
    assert status.state is JobState.SUCCEEDED
    assert status.video_url == URL
