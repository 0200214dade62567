"""Throughput of ``optbasin shards`` (tokens per second) without GPT-2's real files: a stand-in
tokenizer in GPT-2's file format whose merges build the 5,000 most frequent pre-tokens of the
standard-library docstring corpus (text_data.py; about 0.75 MB, 270k tokens) as chains of merges.

    PYTHONPATH=. python benchmarks/bench_shards.py [--copies 8] [--workers 1 2] [--repeats 3]

Prints tokens/s for one copy of the corpus (every pre-token met for the first time: cold cache)
and for ``--copies`` copies as separate documents (later copies hit the BPE cache, as the common
words of a large corpus do), per worker count. GPT-2's vocabulary has 50,000 merges: its cache
misses cost more merge rounds, so this is an indication, not GPT-2's figure.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from tokenizers.pre_tokenizers import ByteLevel

from optbasin.tasks.shards import write_shards
from optbasin.tasks.text_data import build_stdlib_text
from optbasin.tasks.tokenizer import bytes_to_unicode


def stand_in_tokenizer(text: str, directory: Path, words: int = 5000) -> int:
    """Write encoder.json + vocab.bpe; returns the number of merges."""
    symbol = bytes_to_unicode()
    counts = Counter(w for w, _ in ByteLevel(add_prefix_space=False).pre_tokenize_str(text))  # as byte symbols
    vocab = {s: i for i, s in enumerate(symbol.values())}
    merges = []
    for word, _ in counts.most_common(words):
        prefix = word[0]
        for ch in word[1:]:
            if prefix + ch not in vocab:
                vocab[prefix + ch] = len(vocab)
                merges.append(f"{prefix} {ch}")
            prefix += ch
    vocab["<|endoftext|>"] = len(vocab)
    (directory / "encoder.json").write_text(json.dumps(vocab), encoding="utf-8")
    (directory / "vocab.bpe").write_text("#version: 0.2\n" + "".join(m + "\n" for m in merges), encoding="utf-8")
    return len(merges)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--copies", type=int, default=8)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    text = build_stdlib_text().decode("utf-8")
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tok").mkdir()
        merges = stand_in_tokenizer(text, root / "tok")
        (root / "one").mkdir()
        (root / "one" / "doc.txt").write_text(text, encoding="utf-8")
        (root / "many").mkdir()
        for i in range(args.copies):
            (root / "many" / f"doc{i}.txt").write_text(text, encoding="utf-8")
        print(f"stand-in tokenizer: {merges} merges; corpus copy {len(text.encode()) / 1e6:.2f} MB")
        for corpus in ("one", "many"):
            for workers in args.workers:
                rates = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    s = write_shards([root / corpus], root / "tok", root / "out", force=True, workers=workers)
                    rates.append((s.train_tokens + s.val_tokens) / (time.perf_counter() - t0))
                print(
                    f"{corpus if corpus == 'one' else f'{args.copies} copies':>9}  workers={workers}  "
                    f"{s.train_tokens + s.val_tokens:>10,} tokens  "
                    + "  ".join(f"{r / 1e6:.2f}" for r in rates)
                    + "  M tokens/s"
                )


if __name__ == "__main__":
    main()
