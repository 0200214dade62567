"""GPT-2's byte-level BPE tokenizer, read from the user's tokenizer files (nothing is downloaded),
run by Hugging Face ``tokenizers`` (its Rust BPE model and ``ByteLevel`` pre-tokenizer, which
implement GPT-2's rules as OpenAI's ``gpt-2/src/encoder.py`` does):

1. pre-tokenization: the text is split by GPT-2's pattern
   ``'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+`` into pre-tokens;
2. each pre-token's UTF-8 bytes are mapped to printable characters (``bytes_to_unicode``: the
   188 printable bytes map to themselves, the other 68 to U+0100 onwards in byte order, so a
   space is 'Ġ' and a newline 'Ċ');
3. BPE per pre-token: the adjacent pair of symbols with the lowest merge rank (its line in the
   merges file) is merged first, until no adjacent pair has a rank; each final symbol is looked
   up in the vocabulary.

Files: OpenAI's ``encoder.json`` + ``vocab.bpe``, or Hugging Face's ``vocab.json`` +
``merges.txt`` (same content). They are read and checked here (a bad file is named with what is
wrong), then handed to ``tokenizers``. The end-of-text token is the vocabulary's
``<|endoftext|>`` (50256 in GPT-2); in a text it is ordinary text, as in GPT-2's encoder (the
shards writer appends the token itself after each document).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

import numpy as np

from optbasin.errors import DataError

EOT = "<|endoftext|>"
FILE_PAIRS = (("encoder.json", "vocab.bpe"), ("vocab.json", "merges.txt"))  # OpenAI, Hugging Face


@lru_cache(maxsize=1)
def bytes_to_unicode() -> dict[int, str]:
    """GPT-2's reversible map from the 256 byte values to printable characters (GPT-2's vocabulary
    lists them first, in this order: ids 0-255)."""
    printable = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    others = [b for b in range(256) if b not in printable]
    return {**{b: chr(b) for b in printable}, **{b: chr(256 + n) for n, b in enumerate(others)}}


def _find_files(directory: Path) -> tuple[Path, Path]:
    if not directory.is_dir():
        raise DataError(
            f"{directory}: tokenizer directory not found (expected GPT-2's encoder.json + vocab.bpe, "
            "or vocab.json + merges.txt)"
        )
    for vocab, merges in FILE_PAIRS:
        if (directory / vocab).is_file() or (directory / merges).is_file():
            for name in (vocab, merges):
                if not (directory / name).is_file():
                    raise DataError(
                        f"{directory / name}: tokenizer file not found (it comes with "
                        f"{vocab if name == merges else merges}: GPT-2's files come in pairs)"
                    )
            return directory / vocab, directory / merges
    raise DataError(
        f"{directory}: no GPT-2 tokenizer files: need encoder.json + vocab.bpe (OpenAI) "
        "or vocab.json + merges.txt (Hugging Face)"
    )


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
    if not (
        isinstance(vocab, dict)
        and vocab
        and all(isinstance(v, int) and not isinstance(v, bool) for v in vocab.values())
    ):
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
    merges: list[tuple[str, str]] = field(repr=False)  # in rank order (line order)
    eot: int  # id of <|endoftext|>
    source: str = ""

    def __post_init__(self):
        from tokenizers import Tokenizer as Rust
        from tokenizers import decoders, models, pre_tokenizers

        self.id_symbol = {i: s for s, i in self.vocab.items()}
        self._rust = Rust(models.BPE(self.vocab, self.merges))
        self._rust.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
        self._rust.decoder = decoders.ByteLevel()

    @classmethod
    def load(cls, directory: str | Path) -> Tokenizer:
        """Read and check the tokenizer files in ``directory``; DataError names the file at fault."""
        vocab_path, merges_path = _find_files(Path(directory).expanduser())
        vocab, merges = _read_vocab(vocab_path), _read_merges(merges_path)
        missing = [s for s in bytes_to_unicode().values() if s not in vocab]
        if missing:
            raise DataError(
                f"{vocab_path}: not a byte-level BPE vocabulary: {len(missing)} of the 256 byte "
                f"symbols are missing (e.g. {missing[0]!r})"
            )
        for n, (a, b) in enumerate(merges):
            if a + b not in vocab or a not in vocab or b not in vocab:
                raise DataError(
                    f"{merges_path}: merge {n + 1} ({a} {b}) makes or uses a symbol that "
                    f"{vocab_path.name} lacks: the two files do not belong together"
                )
        if EOT not in vocab:
            raise DataError(f"{vocab_path}: no {EOT} token (GPT-2's end-of-text token, 50256)")
        top = max(vocab.values())
        if top > np.iinfo(np.uint16).max or min(vocab.values()) < 0:
            raise DataError(f"{vocab_path}: token ids must lie in [0, 65535] for uint16 shards; the largest is {top}")
        first = list(dict.fromkeys(merges))  # a repeated line keeps its first rank
        return cls(vocab, first, vocab[EOT], f"{vocab_path}, {merges_path}")

    def pretokens(self, text: str) -> list[str]:
        """GPT-2's pre-tokens of ``text`` (as substrings of it)."""
        return [text[a:b] for _, (a, b) in self._rust.pre_tokenizer.pre_tokenize_str(text)]

    def encode(self, text: str) -> list[int]:
        """Token ids of ``text`` (no end-of-text token added)."""
        return self._rust.encode(text, add_special_tokens=False).ids

    def encode_batch(self, texts: list[str]) -> list[list[int]]:
        """``encode`` of each text."""
        return [e.ids for e in self._rust.encode_batch(texts, add_special_tokens=False)]

    def decode(self, ids) -> str:
        """The text of token ids, as GPT-2's decoder gives it: the end-of-text token reads
        '<|endoftext|>', bytes that are not UTF-8 become U+FFFD."""
        return self._rust.decode([int(i) for i in ids], skip_special_tokens=False)
