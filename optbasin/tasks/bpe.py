"""GPT-2's byte-level BPE tokenizer, read from the user's tokenizer files (nothing is downloaded).

The arithmetic follows OpenAI's ``gpt-2/src/encoder.py``, the code that produced GPT-2's tokens:

1. pre-tokenization: the text is split by GPT-2's pattern (``PATTERN``) into pre-tokens;
2. each pre-token's UTF-8 bytes are mapped to printable characters (``bytes_to_unicode``: the
   188 printable bytes map to themselves, the other 68 to U+0100 onwards in byte order, so a
   space is 'Ġ' and a newline 'Ċ');
3. BPE per pre-token: repeatedly take the adjacent pair of symbols with the lowest merge rank
   (its line in the merges file) and merge every occurrence of it, left to right, until no
   adjacent pair has a rank; each final symbol is looked up in the vocabulary.

Files: OpenAI's ``encoder.json`` + ``vocab.bpe``, or Hugging Face's ``vocab.json`` +
``merges.txt`` (same content). The end-of-text token is the vocabulary's ``<|endoftext|>``
(50256 in GPT-2).

Pre-tokenization needs ``\\p{L}`` (letters) and ``\\p{N}`` (numbers), which Python's ``re``
lacks. With the ``regex`` package installed, GPT-2's pattern is used as written (exact). Without
it, ``\\p{L}`` and ``\\p{N}`` become explicit character classes of the Unicode general categories
L* and N* built from ``unicodedata``, so the split is the same except for two points:
- ``\\s`` in ``re`` is ``str.isspace()``, which also counts U+001C..U+001F (file, group, record
  and unit separators) as whitespace; ``regex`` (Unicode White_Space) does not. A text with these
  control characters may split differently around them.
- the Unicode version is Python's ``unicodedata.unidata_version``, not the one ``regex`` ships;
  characters assigned in between may be classified differently.
(The shortcut classes ``\\d`` and ``[^\\W\\d_]`` would be worse: ``\\d`` is only Nd, so '²', '½'
or 'Ⅻ' would count as letters, not numbers.)
"""

from __future__ import annotations

import json
import math
import sys
import unicodedata
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from optbasin.errors import DataError

EOT = "<|endoftext|>"
PATTERN = r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"""
FILE_PAIRS = (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt"))  # OpenAI, Hugging Face
CACHE_WORDS = 1 << 20  # pre-tokens whose BPE is remembered (per process)


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


def _category_class(prefix: str) -> str:
    """The code points whose general category starts with ``prefix``, as ``re`` class ranges."""
    ranges, start = [], None
    for cp in range(sys.maxunicode + 2):
        inside = cp <= sys.maxunicode and unicodedata.category(chr(cp)).startswith(prefix)
        if inside and start is None:
            start = cp
        elif not inside and start is not None:
            ranges.append(f"\\U{start:08x}-\\U{cp - 1:08x}")
            start = None
    return "".join(ranges)


@lru_cache(maxsize=1)
def pretokenizer():
    """GPT-2's pre-tokenization pattern, compiled (see the module docstring for the two engines)."""
    try:
        import regex
    except ImportError:
        import re

        letters, numbers = _category_class("L"), _category_class("N")
        pattern = (PATTERN.replace(r"[^\s\p{L}\p{N}]", f"[^\\s{letters}{numbers}]")
                   .replace(r"\p{L}", f"[{letters}]").replace(r"\p{N}", f"[{numbers}]"))
        return re.compile(pattern)
    return regex.compile(PATTERN)


def _find_files(directory: Path) -> tuple[Path, Path]:
    if not directory.is_dir():
        raise DataError(f"{directory}: tokenizer directory not found (expected GPT-2's encoder.json + vocab.bpe, "
                        "or vocab.json + merges.txt)")
    for vocab, merges in FILE_PAIRS:
        if (directory / vocab).is_file() or (directory / merges).is_file():
            for name in (vocab, merges):
                if not (directory / name).is_file():
                    raise DataError(f"{directory / name}: tokenizer file not found (it comes with "
                                    f"{vocab if name == merges else merges}: GPT-2's files come in pairs)")
            return directory / vocab, directory / merges
    raise DataError(f"{directory}: no GPT-2 tokenizer files: need encoder.json + vocab.bpe (OpenAI) "
                    "or vocab.json + merges.txt (Hugging Face)")


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (byte {e.start})") from None


def _read_vocab(path: Path) -> dict[str, int]:
    try:
        vocab = json.loads(_read_text(path))
    except json.JSONDecodeError as e:
        raise DataError(f"{path}: not valid JSON (line {e.lineno}: {e.msg})") from None
    if not (isinstance(vocab, dict) and vocab
            and all(isinstance(v, int) and not isinstance(v, bool) for v in vocab.values())):
        raise DataError(f"{path}: expected a JSON object mapping tokens to integer ids")
    return vocab


def _read_merges(path: Path) -> list[tuple[str, str]]:
    merges = []
    for n, line in enumerate(_read_text(path).splitlines(), 1):
        if not line or (n == 1 and line.startswith("#version")):
            continue
        pair = line.split(" ")
        if len(pair) != 2 or not all(pair):
            raise DataError(f"{path}: line {n}: expected two symbols separated by one space, got {line!r}")
        merges.append((pair[0], pair[1]))
    return merges


@dataclass
class Tokenizer:
    """GPT-2's byte-level BPE: ``encode(text) -> token ids``, ``decode(ids) -> text``."""

    vocab: dict[str, int] = field(repr=False)  # symbol -> id
    ranks: dict[tuple[str, str], int] = field(repr=False)  # merge pair -> rank (line order)
    eot: int  # id of <|endoftext|>
    source: str = ""

    def __post_init__(self):
        self.byte_symbol = bytes_to_unicode()
        self.symbol_byte = {s: b for b, s in self.byte_symbol.items()}
        self.id_symbol = {i: s for s, i in self.vocab.items()}
        self.pattern = pretokenizer()
        self._bpe = lru_cache(maxsize=CACHE_WORDS)(self._merge)

    @classmethod
    def load(cls, directory: str | Path) -> Tokenizer:
        """Read and check the tokenizer files in ``directory``; DataError names the file at fault."""
        vocab_path, merges_path = _find_files(Path(directory).expanduser())
        vocab, merges = _read_vocab(vocab_path), _read_merges(merges_path)
        missing = [s for s in bytes_to_unicode().values() if s not in vocab]
        if missing:
            raise DataError(f"{vocab_path}: not a byte-level BPE vocabulary: {len(missing)} of the 256 byte "
                            f"symbols are missing (e.g. {missing[0]!r})")
        for n, (a, b) in enumerate(merges):
            if a + b not in vocab or a not in vocab or b not in vocab:
                raise DataError(f"{merges_path}: merge {n + 1} ({a} {b}) makes or uses a symbol that "
                                f"{vocab_path.name} lacks: the two files do not belong together")
        if EOT not in vocab:
            raise DataError(f"{vocab_path}: no {EOT} token (GPT-2's end-of-text token, 50256)")
        top = max(vocab.values())
        if top > np.iinfo(np.uint16).max or min(vocab.values()) < 0:
            raise DataError(f"{vocab_path}: token ids must lie in [0, 65535] for uint16 shards; the largest is {top}")
        ranks = {pair: r for r, pair in reversed(list(enumerate(merges)))}  # a repeated line keeps its first rank
        return cls(vocab, ranks, vocab[EOT], f"{vocab_path}, {merges_path}")

    def _merge(self, word: str) -> tuple[int, ...]:
        """BPE of one pre-token (already mapped to byte symbols): lowest-rank pair first."""
        parts = list(word)
        while len(parts) > 1:
            rank, pair = min((self.ranks.get(p, math.inf), p) for p in zip(parts, parts[1:]))
            if rank == math.inf:
                break
            merged, i = [], 0
            while i < len(parts):
                if i + 1 < len(parts) and (parts[i], parts[i + 1]) == pair:
                    merged.append(parts[i] + parts[i + 1])
                    i += 2
                else:
                    merged.append(parts[i])
                    i += 1
            parts = merged
        return tuple(self.vocab[p] for p in parts)

    def pretokens(self, text: str) -> list[str]:
        return self.pattern.findall(text)

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no end-of-text token added)."""
        ids: list[int] = []
        for piece in self.pattern.findall(text):
            ids.extend(self._bpe("".join(self.byte_symbol[b] for b in piece.encode("utf-8"))))
        return ids

    def decode(self, ids) -> str:
        """The text of token ids, as GPT-2's decoder gives it: the end-of-text token reads
        '<|endoftext|>', bytes that are not UTF-8 become U+FFFD."""
        data = bytes(self.symbol_byte[c] for i in ids for c in self.id_symbol[int(i)])
        return data.decode("utf-8", errors="replace")
