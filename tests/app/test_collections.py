"""One `rag api` serving three collections, with keys scoped to one or two of them: every REST
route, the OpenAI routes and the MCP tools are walked with each key, and none reads or changes a
collection outside its scopes; a refusal is 403 naming the collection asked for and nothing else,
the same for a collection that does not exist. Engines load on first use, each with its memory."""

from __future__ import annotations

import asyncio

import httpx
import pytest
from servers import rag_api

from ingest.pipeline import Ingestor
from rag.config import Settings
from rag.keys import KeyStore

pytestmark = pytest.mark.slow
FACTS = {
    "contracts": ("lease.txt", "The lease with Acme Corp runs until March 2031.", "When does the Acme lease end?"),
    "research": ("enzyme.txt", "The enzyme ZX-4 doubles the yield at 40 degrees.", "What does the enzyme ZX-4 do?"),
    "tickets": ("printer.txt", "Ticket 881 was closed after the printer driver was updated.", "Why was ticket 881 closed?"),
}
SCOPES = {  # key name -> (reads, writes)
    "reader": (["contracts"], []),
    "team": (["contracts", "research"], ["contracts"]),
    "admin": (None, None),  # every collection
}
ASKED = ["contracts", "research", "tickets", "ghost"]  # ghost: no such collection


@pytest.fixture(scope="module")
def server(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("collections")
    args = []
    for name, (file, text, _) in FACTS.items():
        docs = root / name / "docs"
        docs.mkdir(parents=True)
        (docs / file).write_text(text + "\n", encoding="utf-8")
        (docs / "about.txt").write_text(f"This folder holds the {name} of the team, kept since 2019.\n", encoding="utf-8")  # BM25 needs more than one document
        Ingestor(Settings(index_dir=root / name / "index"), lambda: embedder, interactive=False).run(docs, root / name / "index")
        args += ["--collection", f"{name}={root / name / 'index'}"]
    store = KeyStore(root / "keys.json")
    keys = {name: store.create(name, read, write) for name, (read, write) in SCOPES.items()}
    with rag_api(None, None, root / "server.log", {"RAG_API__KEYS_FILE": str(store.path)}, tuple(args)) as running:
        yield {**running, "keys": keys}


def client(server, key: str | None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {server['keys'][key]}"} if key else {}
    return httpx.Client(base_url=server["url"], headers=headers, timeout=120)


def may(key: str, collection: str, write: bool) -> bool:
    read, written = SCOPES[key]
    names = written if write else read
    return names is None or collection in names


def calls(name: str, upload: int) -> list[tuple[bool, str, str, dict]]:
    """Every route of collection `name`: (writes, method, path, request keywords)."""
    base, question = f"/v1/collections/{name}", FACTS.get(name, FACTS["contracts"])[2]
    return [
        (False, "POST", f"{base}/retrieve", {"json": {"question": question}}),
        (False, "POST", f"{base}/ask", {"json": {"question": question, "extractive": True}}),
        (False, "GET", f"{base}/documents", {}),
        (True, "POST", f"{base}/documents", {"files": {"files": (f"note-{upload}.txt", f"Upload number {upload} of the walk.\n".encode())}}),
        (True, "DELETE", f"{base}/documents/missing.txt", {}),
        (True, "POST", f"{base}/ingest", {}),
        (True, "GET", f"{base}/jobs/no-such-job", {}),
    ]


def test_every_route_holds_each_key_to_its_collections(server):
    upload = 0
    for key in SCOPES:
        with client(server, key) as http:
            for name in ASKED:
                for writes, method, path, kw in calls(name, upload := upload + 1):
                    response = http.request(method, path, **kw)
                    others = [n for n in FACTS if n != name and not may(key, n, False) and not may(key, n, True)]
                    assert not any(n in response.text for n in others), (key, path, response.text)  # nothing of what it may not see
                    if name in FACTS and may(key, name, writes):
                        assert response.status_code in (200, 202, 404, 409), (key, path, response.text)
                        assert response.status_code != 404 or path.endswith(("missing.txt", "no-such-job")), (key, path, response.text)
                    elif name == "ghost" and key == "admin":
                        assert response.status_code == 404 and "no collection named 'ghost'" in response.text
                    else:
                        assert response.status_code == 403, (key, path, response.text)
                        assert response.json()["detail"] == f"this key may not {'change' if writes else 'read'} the collection {name!r}"
            listed = http.get("/v1/collections").json()["collections"]
            assert [c["name"] for c in listed] == [n for n in FACTS if may(key, n, False) or may(key, n, True)]


def test_answers_come_from_the_collection_asked(server):
    with client(server, "team") as http:
        for name in ("contracts", "research"):
            file, text, question = FACTS[name]
            answer = http.post(f"/v1/collections/{name}/ask", json={"question": question, "extractive": True}).json()
            assert answer["citations"] and answer["citations"][0]["path"] == file and text.split()[1] in answer["answer"], answer
        refused = http.post("/v1/ask", json={"question": "When does the Acme lease end?"})  # today's route needs a collection here
        assert refused.status_code == 404 and "several collections" in refused.json()["detail"]
    with client(server, None) as http:
        assert http.get("/v1/collections").status_code == 401 and http.get("/healthz").json() == {"status": "ok"}
    with client(server, "admin") as http:  # loaded on first use, each with the memory its load added
        listed = {c["name"]: c for c in http.get("/v1/collections").json()["collections"]}
        assert all(c["loaded"] and c["resident_mb"] is not None and c["load_seconds"] >= 0 for c in listed.values()), listed


def test_openai_models_name_only_the_readable_collections(server):
    from openai import NotFoundError, OpenAI

    openai = OpenAI(base_url=f"{server['url']}/v1", api_key=server["keys"]["reader"], max_retries=0)
    assert {m.id for m in openai.models.list()} == {"rag-local/contracts", "rag-local/contracts-extractive"}
    reply = openai.chat.completions.create(model="rag-local/contracts-extractive", messages=[{"role": "user", "content": FACTS["contracts"][2]}])
    assert "2031" in reply.choices[0].message.content and reply.model_extra["citations"][0]["path"] == "lease.txt"
    with pytest.raises(NotFoundError) as refused:
        openai.chat.completions.create(model="rag-local/research", messages=[{"role": "user", "content": FACTS["research"][2]}])
    assert "research" in str(refused.value) and "tickets" not in str(refused.value)


def test_mcp_tools_take_the_collection_and_hold_the_key_to_it(server):
    import httpx2
    from mcp import Client
    from mcp.client.streamable_http import streamable_http_client

    async def walk(key: str) -> tuple:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {server['keys'][key]}"}, timeout=120) as http:
            async with Client(streamable_http_client(f"{server['url']}/mcp", http_client=http)) as mcp:
                names = (await mcp.call_tool("list_collections", {})).structured_content["result"]
                results = {}
                for name in ASKED:
                    question = FACTS.get(name, FACTS["contracts"])[2]
                    found = await mcp.call_tool("search", {"question": question, "collection": name})
                    chunk = found.structured_content["result"][0]["chunk_id"] if not found.is_error else 1
                    calls = [("ask", {"question": question}), ("list_documents", {}), ("get_passage", {"chunk_id": chunk})]
                    results[name] = [found] + [await mcp.call_tool(tool, {**args, "collection": name}) for tool, args in calls]
                unnamed = await mcp.call_tool("search", {"question": "lease"})
                return names, results, unnamed

    for key in SCOPES:
        names, results, unnamed = asyncio.run(asyncio.wait_for(walk(key), timeout=300))
        assert names == [n for n in FACTS if may(key, n, False) or may(key, n, True)]
        for name, replies in results.items():
            hidden = [n for n in FACTS if n != name and n not in names]
            for reply in replies:
                text = " ".join(getattr(c, "text", "") for c in reply.content)
                assert not any(n in text for n in hidden), (key, name, text)
                if name in FACTS and may(key, name, False):
                    assert not reply.is_error, (key, name, text)
                elif name == "ghost" and key == "admin":
                    assert reply.is_error and text.endswith("no collection named 'ghost'")
                else:
                    assert reply.is_error and text.endswith(f": this key may not read the collection {name!r}"), (key, name, text)
        if key == "reader":
            file, fact, _ = FACTS["contracts"]
            asked = results["contracts"][1].structured_content
            assert "2031" in asked["answer"] and asked["citations"][0]["file"] == file and fact in asked["citations"][0]["quote"]
        assert unnamed.is_error and "several collections" in unnamed.content[0].text
