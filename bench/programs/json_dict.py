"""hakmem bench, programs mode: python3 (run with PYTHONMALLOC=malloc, so every object goes
through the allocator under test) on a JSON and dict workload.

Each round builds 5000 records (dicts with nested lists, dicts and strings) from a fixed LCG,
serialises them with json.dumps, parses the text back, indexes the parsed records by tag in a
dict of lists, keeps every 10th record in a long-lived dict (the oldest half evicted past 12000
entries, so the survivors are scattered over the heap) and folds a summary into a CRC. The last
line is a JSON object with the CRC: the same for every allocator.

usage: python3 json_dict.py [SCALE]   (SCALE 1: 32 rounds, about 2 s on one core)
"""

import json
import sys
import zlib

RECORDS_PER_ROUND = 5000
ROUNDS_AT_SCALE_1 = 32
KEEP_EVERY = 10
INDEX_LIMIT = 12000


def main() -> None:
    scale = float(sys.argv[1]) if len(sys.argv) > 1 else 1.0
    rounds = max(1, round(ROUNDS_AT_SCALE_1 * scale))
    state = 12345

    def rnd() -> int:
        nonlocal state
        state = (state * 1103515245 + 12345) & 0x7FFFFFFF
        return state

    crc = 0
    index: dict[str, dict] = {}
    for r in range(rounds):
        records = []
        for i in range(RECORDS_PER_ROUND):
            v = rnd()
            records.append({
                "id": r * RECORDS_PER_ROUND + i,
                "name": f"user-{v % 100000:05d}",
                "tags": [f"t{(v >> k) % 50}" for k in range(v % 6)],
                "score": (v % 10000) / 100.0,
                "nested": {"a": v % 7, "b": [v % 3, v % 5, v % 11], "c": str(v)},
            })
        text = json.dumps(records, sort_keys=True)
        parsed = json.loads(text)
        by_tag: dict[str, list[int]] = {}
        for rec in parsed:
            for t in rec["tags"]:
                by_tag.setdefault(t, []).append(rec["id"])
        for rec in parsed[::KEEP_EVERY]:
            index[f'{rec["name"]}/{rec["id"]}'] = rec
        if len(index) > INDEX_LIMIT:
            for k in list(index)[: INDEX_LIMIT // 2]:
                del index[k]
        summary = {t: [len(ids), sum(ids) % 1000003] for t, ids in sorted(by_tag.items())}
        crc = zlib.crc32(json.dumps(summary).encode(), crc)
        crc = zlib.crc32(text[:4096].encode(), crc)
    kept = sum(rec["nested"]["a"] for rec in index.values())
    print(json.dumps({"rounds": rounds, "records": rounds * RECORDS_PER_ROUND,
                      "index": len(index), "kept": kept, "crc": crc}))


if __name__ == "__main__":
    main()
