"""bench.json as the table `rag bench` prints: one row per figure, with its target where the
issue sets one."""

from __future__ import annotations


def _row(what: str, value, target: str = "") -> str:
    return f"| {what} | {value} | {target} |"


def format_table(r: dict) -> str:
    lines = ["| what | measured | target |", "| --- | --- | --- |"]
    ing = r.get("ingest", {})
    if "error" in ing:
        lines.append(_row("ingest", f"failed: {ing['error']}"))
    elif ing:
        lines += [
            _row("ingest: pipeline", f"{ing['pipeline_chunks_per_s']} chunks/s ({ing['chunks']} chunks, {ing['pipeline_seconds']} s)"),
            _row("ingest: raw encode, same model", f"{ing['raw_encode_chunks_per_s']} chunks/s ({ing['raw_encode_chunks']} chunks)"),
            _row("ingest: throughput_ratio", ing["throughput_ratio"], ">= 0.9"),
            _row("re-ingest, unchanged", f"{ing['reingest_seconds']} s, {ing['reingest_chunks_embedded']} embedded", "< 5 s, 0"),
        ]
    lines += _precision_rows(r.get("precision", {}))
    for key, device in (("query", ""), ("query_cpu", " (CPU)")):
        q = r.get(key, {})
        if "error" in q:
            lines.append(_row(f"query{device}", f"failed: {q['error']}"))
        for stage, s in q.get("stages", {}).items():
            target = "< 10 ms" if stage == "hybrid" else ""
            lines.append(_row(f"query{device}: {stage} p50 / p95", f"{s['p50_ms']} / {s['p95_ms']} ms", target))
        if "hybrid_ndcg@10" in q:
            lines.append(_row(f"query{device}: hybrid nDCG@10", q["hybrid_ndcg@10"]))
    load = r.get("load", {})
    if "error" in load:
        lines.append(_row("load", f"failed: {load['error']}"))
    for name in ("retrieve", "ask_extractive"):
        if name in load:
            s = load[name]
            lines.append(
                _row(
                    f"load: {name}, {s['clients']} clients, {s['seconds']:g} s",
                    f"{s['requests_per_s']} req/s, p50 / p95 / p99 {s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} ms, {s['errors']} errors",
                    "0 errors",
                )
            )
    if "rss_before_mb" in load:
        lines.append(_row("load: rag api RSS before / after", f"{load['rss_before_mb']} / {load['rss_after_mb']} MB"))
    lines += _collections_rows(r.get("load_collections", {}))
    g = r.get("generate", {})
    if "first_token_ms" in g:
        lines.append(_row(f"generate: {g['generator']}", f"first token {g['first_token_ms']} ms, {g['tokens_per_s']} tokens/s"))
    elif g:
        lines.append(_row("generate", g.get("skipped") or g.get("error")))
    p = r.get("peer", {})
    if "error" in p:
        lines.append(_row("peer (llama-index)", f"failed: {p['error']}"))
    elif p:
        ours = p.get("ours", {})
        lines += [
            _row("peer: ingest s (ours)", f"{p['ingest_seconds']} ({ours.get('ingest_seconds')})"),
            _row("peer: query p50 ms (ours)", f"{p['p50_ms']} ({ours.get('p50_ms')})"),
            _row("peer: nDCG@10 (ours)", f"{p['ndcg@10']} ({ours.get('ndcg@10')})", "ours >= peer"),
            _row("query_speedup", p.get("query_speedup"), ">= 5"),
            _row("ingest_speedup", p.get("ingest_speedup")),
        ]
    for label, s in r.get("scale", {}).items():
        if "error" in s:
            lines.append(_row(f"scale {label}", f"failed: {s['error']}"))
            continue
        lines += [
            _row(f"scale {label}: flat", f"build {s['flat']['build_s']} s, p50 {s['flat']['p50_ms']} ms"),
            _row(
                f"scale {label}: IVF (nlist {s['ivf']['nlist']}, nprobe {s['ivf']['nprobe']})",
                f"build {s['ivf']['build_s']} s, recall@10 {s['ivf']['recall@10']}, p50 {s['ivf']['p50_ms']} ms",
            ),
            _row(
                f"scale {label}: {s['dense']['kind']} (product)",
                f"build {s['dense']['build_s']} s, recall@10 {s['dense']['recall@10']}, p50 {s['dense']['p50_ms']} ms",
                "recall >= 0.95",
            ),
            _row(f"scale {label}: BM25", f"build {s['bm25']['build_s']} s, p50 {s['bm25']['p50_ms']} ms"),
            _row(f"scale {label}: hybrid p50 / p95", f"{s['hybrid']['p50_ms']} / {s['hybrid']['p95_ms']} ms (query vectors given)", "< 100 ms"),
            _row(f"scale {label}: hybrid peak RSS", f"{s['hybrid']['peak_rss_mb']} MB"),
        ]
    for label, s in r.get("segments", {}).items():
        lines += _segment_rows(label, s)
    for label, s in r.get("scale_large", {}).items():
        lines += _large_rows(label, s)
    for stage, mb in r.get("memory", {}).items():
        lines.append(_row(f"peak RSS: {stage}", f"{mb} MB"))
    return "\n".join(lines)


def _precision_rows(p: dict) -> list[str]:
    if "error" in p:
        return [_row("precision", f"failed: {p['error']}")]
    rows = []
    for name, v in p.get("variants", {}).items():
        rows += [
            _row(
                f"precision {name}: pipeline / raw encode",
                f"{v['pipeline_chunks_per_s']} / {v['raw_encode_chunks_per_s']} chunks/s = {v['pipeline_to_raw']}",
                ">= 0.95" if name == "onnx-int8" else "",
            ),
            _row(f"precision {name}: query embedding p50 / p95", f"{v['query_embedding']['p50_ms']} / {v['query_embedding']['p95_ms']} ms"),
            _row(f"precision {name}: hybrid p50 / p95", f"{v['hybrid']['p50_ms']} / {v['hybrid']['p95_ms']} ms", "p50 <= 6 ms" if name == "onnx-int8" else ""),
            _row(f"precision {name}: hybrid nDCG@10", v["hybrid_ndcg@10"]),
        ]
    if "int8_over_torch_fp32_pipeline" in p:
        rows.append(_row("precision: int8 pipeline over PyTorch fp32", f"{p['int8_over_torch_fp32_pipeline']}x", ">= 2.5x"))
    if "int8_ndcg_minus_fp32" in p:
        rows.append(_row("precision: int8 nDCG@10 minus fp32", p["int8_ndcg_minus_fp32"], ">= -0.005"))
    return rows


def _segment_rows(label: str, s: dict) -> list[str]:
    if "error" in s:
        return [_row(f"segments {label}", f"failed: {s['error']}")]
    u, ten = s["updates"], s["ten_segments"]
    rows = [
        _row(f"segments {label}: add one file (rag ingest)", f"{u['add one file']['seconds']} s", "< 10 s"),
        _row(f"segments {label}: change it", f"{u['change it']['seconds']} s", "< 10 s"),
        _row(f"segments {label}: delete one file", f"{u['delete one file']['seconds']} s", "< 2 s"),
        _row(f"segments {label}: hybrid p50 after the updates", f"{u['after_updates']['p50_ms']} ms ({u['after_updates']['segments']} segments)"),
        _row(
            f"segments {label}: hybrid p50, 10 equal segments / merged",
            f"{ten['ten']['p50_ms']} / {ten['merged']['p50_ms']} ms = {ten['ratio']}x (merge {ten['merge_s']} s)",
            "<= 1.5x",
        ),
    ]
    if "scifact" in s:
        once, steps = s["scifact"]["at once"], s["scifact"]["10 increments"]
        rows.append(_row("SciFact nDCG@10: at once / 10 increments", f"{once['ndcg@10']} / {steps['ndcg@10']} ({steps['segments']} segments)", "equal"))
    return rows


def _large_rows(label: str, s: dict) -> list[str]:
    if "error" in s:
        return [_row(f"scale {label}", f"failed: {s['error']}")]
    b, d = s["build"], s["dense"]
    return [
        _row(
            f"scale {label}: build (store / dense / BM25)",
            f"{b['store_build_s']} / {b['dense_build_s']} / {b['bm25_build_s']} s, peak RSS {b['peak_rss_mb']} MB",
        ),
        _row(f"scale {label}: on disk (store / dense / BM25)", f"{b['store_mb']} / {b['dense_mb']} / {b['bm25_mb']} MB"),
        _row(f"scale {label}: {s['open']['kind']} (product)", f"recall@10 {d['recall@10']}, p50 {d['p50_ms']} ms", "recall >= 0.95"),
        _row(f"scale {label}: BM25 p50 / p95", f"{s['bm25']['p50_ms']} / {s['bm25']['p95_ms']} ms"),
        _row(f"scale {label}: hybrid p50 / p95", f"{s['hybrid']['p50_ms']} / {s['hybrid']['p95_ms']} ms (query vectors given)", "p50 < 50 ms"),
        _row(f"scale {label}: resident after open / peak querying", f"{s['open']['rss_mb']} / {s['hybrid']['peak_rss_mb']} MB"),
    ]


def _collections_rows(c: dict) -> list[str]:
    """Three collections of one `rag api`: each one's first-use load and memory, then the load."""
    if "error" in c:
        return [_row("load, 3 collections", f"failed: {c['error']}")]
    rows = [
        _row(f"load, 3 collections: {name} loaded on first use", f"{one['load_seconds']} s, +{one['resident_mb']} MB resident")
        for name, one in c.get("collections", {}).items()
    ]
    if "rss_before_mb" in c:
        rows.append(
            _row("load, 3 collections: rag api RSS none loaded / all loaded / after", f"{c['rss_before_mb']} / {c['rss_loaded_mb']} / {c['rss_after_mb']} MB")
        )
    for name in ("retrieve", "ask_extractive"):
        if name in c:
            s = c[name]
            figures = f"{s['requests_per_s']} req/s, p50 / p95 / p99 {s['p50_ms']} / {s['p95_ms']} / {s['p99_ms']} ms, {s['errors']} errors"
            rows.append(_row(f"load, 3 collections: {name}, {s['clients']} clients across them", figures, "0 errors"))
    return rows
