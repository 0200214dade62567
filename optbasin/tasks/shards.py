"""``optbasin shards``: local text files -> nanoGPT token shards for the GPT tasks' ``data_dir``.

``train.bin`` and ``val.bin`` hold raw uint16 GPT-2 token ids (what nanoGPT's
``data/openwebtext/prepare.py`` writes and text_data.py reads). Each input file is one document,
except a ``*.jsonl`` file, whose lines are JSON objects with the document in their ``text`` field
(what Hugging Face ``datasets``' ``to_json`` writes, e.g. for OpenWebText or FineWeb). Each
document's tokens are followed by the end-of-text token (50256), as nanoGPT appends it; empty
documents are skipped. A directory stands for the files under it (recursively, sorted by path,
hidden names skipped).

Streaming: files are read in blocks of BLOCK_BYTES and tokens appended to the output, so the
corpus never has to fit in memory. A block is cut after a non-whitespace character followed by
a space or newline: no GPT-2 pre-token spans such a point, and the pattern never looks behind,
so the tokens are those of the whole file. The validation split is the tail of the token stream
(the last ``ceil(val_fraction * tokens)`` tokens, nanoGPT's default fraction 0.0005), like
nanoGPT's shakespeare split; the order of the inputs decides which documents it holds.

Outputs are written to ``*.partial`` files and renamed when complete: an interrupted or failed
run leaves the previous shards (if any) untouched and no half-written ``train.bin``.
"""

from __future__ import annotations

import codecs
import json
import math
import os
import re
import signal
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from multiprocessing import Pool
from pathlib import Path

import numpy as np

from optbasin.errors import NO_SPACE, DataError, OptbasinError
from optbasin.tasks.tokenizer import Tokenizer

BLOCK_BYTES = 1 << 20  # bytes read per block
COPY_TOKENS = 1 << 24  # tokens per copy when moving the validation tail
LOG_EVERY_S = 30.0
_CUT = re.compile(r"\S(?=[ \n])")  # str.isspace() whitespace: a superset of the Unicode White_Space of GPT-2's \s


@dataclass(frozen=True)
class ShardSummary:
    out: Path
    documents: int
    train_tokens: int
    val_tokens: int
    seconds: float


def corpus_files(paths: list[str | Path]) -> list[Path]:
    """The input files, in order: files as given, directories expanded (sorted, no hidden names)."""
    files: list[Path] = []
    for p in (Path(x).expanduser() for x in paths):
        if p.is_dir():
            found = sorted(
                f
                for f in p.rglob("*")
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
            )
            if not found:
                raise DataError(f"{p}: the directory holds no files")
            files += found
        elif p.is_file():
            files.append(p)
        elif p.exists():
            raise DataError(f"{p}: not a regular file or directory")
        else:
            raise DataError(f"{p}: text file not found")
    return files


def safe_cut(text: str) -> int:
    """The last index i with text[i - 1] not whitespace and text[i] a space or newline (0 if none):
    GPT-2's pre-tokenization of text[:i] and text[i:] gives the pre-tokens of text."""
    window = 256
    while True:
        start = max(0, len(text) - window)
        last = None
        for match in _CUT.finditer(text, start):
            last = match
        if last is not None:
            return last.end()
        if start == 0:
            return 0
        window *= 64


def text_pieces(path: Path, block_bytes: int = BLOCK_BYTES) -> Iterator[str]:
    """The UTF-8 text of one file (a leading BOM dropped) in pieces cut by ``safe_cut``."""
    decoder = codecs.getincrementaldecoder("utf-8-sig")()
    carry, offset = "", 0
    try:
        with path.open("rb") as f:
            while block := f.read(block_bytes):
                if offset == 0 and b"\x00" in block:
                    raise DataError(f"{path}: looks binary (NUL bytes), expected a UTF-8 text file")
                text = carry + decoder.decode(block)
                offset += len(block)
                cut = safe_cut(text)
                if cut:
                    yield text[:cut]
                carry = text[cut:]
            carry += decoder.decode(b"", final=True)
    except UnicodeDecodeError as e:
        raise DataError(f"{path}: not UTF-8 text (invalid bytes near byte {offset + e.start})") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None
    if carry:
        yield carry


def jsonl_documents(path: Path) -> Iterator[str]:
    """The ``text`` field of each line of a JSON Lines file (what ``datasets``' ``to_json`` writes)."""
    n = 0
    try:
        with path.open("rb") as f:
            for n, raw in enumerate(f, 1):
                line = raw.decode("utf-8")  # per line, so a bad byte is reported at its own line
                if not line.strip():
                    continue
                try:
                    doc = json.loads(line)
                except json.JSONDecodeError as e:
                    raise DataError(f"{path}: line {n}: not valid JSON ({e.msg})") from None
                if not (isinstance(doc, dict) and isinstance(doc.get("text"), str)):
                    raise DataError(f"{path}: line {n}: expected a JSON object with a string field 'text'")
                yield doc["text"]
    except UnicodeDecodeError:
        raise DataError(f"{path}: line {n}: not UTF-8 text") from None
    except OSError as e:
        raise DataError(f"{path}: cannot read: {e.strerror or e}") from None


def _units(files: list[Path]) -> Iterator[tuple[str, bool]]:
    """(text, whether it ends a document) in corpus order; empty documents are skipped."""
    for f in files:
        if f.suffix == ".jsonl":
            yield from ((doc, True) for doc in jsonl_documents(f) if doc)
        elif f.stat().st_size:
            yield from ((piece, False) for piece in text_pieces(f))
            yield "", True


def _tasks(units: Iterator[tuple[str, bool]], chars: int = BLOCK_BYTES) -> Iterator[list[tuple[str, bool]]]:
    """Units grouped into tasks of about ``chars`` characters (one task = one call of _encode)."""
    task, size = [], 0
    for unit in units:
        task.append(unit)
        size += len(unit[0])
        if size >= chars:
            yield task
            task, size = [], 0
    if task:
        yield task


def _write_error(e: OSError, out: Path) -> DataError:
    where = e.filename or out
    return DataError(
        f"{where}: cannot write the shards: " + ("disk full" if e.errno in NO_SPACE else (e.strerror or str(e)))
    )


# One tokenizer per worker process (set by _init_worker, or directly when workers == 1).
_tokenizer: Tokenizer | None = None


def _init_worker(tokenizer_dir: str) -> None:
    global _tokenizer
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the parent's to handle (no worker tracebacks)
    _tokenizer = Tokenizer.load(tokenizer_dir)


def _encode(task: list[tuple[str, bool]]) -> np.ndarray:
    """Token ids of a task's texts, the end-of-text token after each document's last text."""
    ids: list[int] = []
    for text, ends_document in task:
        ids += _tokenizer.encode(text)
        if ends_document:
            ids.append(_tokenizer.eot)
    return np.asarray(ids, dtype=np.uint16)


def _encoded(files: list[Path], tokenizer: Tokenizer, tokenizer_dir: str, workers: int) -> Iterator[np.ndarray]:
    """Token arrays in corpus order; with workers > 1 a pool encodes 2 x workers tasks at a time
    (bounded memory: the next tasks are read only when those are written)."""
    global _tokenizer
    tasks = _tasks(_units(files))
    if workers <= 1:
        _tokenizer = tokenizer
        yield from map(_encode, tasks)
        return
    with Pool(workers, initializer=_init_worker, initargs=(tokenizer_dir,)) as pool:
        while batch := list(islice(tasks, 2 * workers)):
            yield from pool.map(_encode, batch)


def _move_tail(src: Path, dst: Path, keep: int) -> None:
    """Move the tokens after the first ``keep`` of ``src`` to ``dst``; truncate ``src`` to ``keep``."""
    tokens = np.memmap(src, dtype=np.uint16, mode="r")
    with dst.open("wb") as f:
        for i in range(keep, len(tokens), COPY_TOKENS):
            np.asarray(tokens[i : i + COPY_TOKENS]).tofile(f)
    del tokens
    os.truncate(src, keep * 2)


def write_shards(
    texts: list[str | Path],
    tokenizer_dir: str | Path,
    out: str | Path,
    val_fraction: float = 0.0005,
    force: bool = False,
    workers: int = 1,
    log: Callable[[str], None] = lambda m: None,
) -> ShardSummary:
    """Tokenize ``texts`` with the GPT-2 tokenizer in ``tokenizer_dir`` into ``out``/train.bin and
    ``out``/val.bin. Bad input (missing or unreadable files, empty corpus, existing shards without
    ``force``) raises DataError naming the file, before anything is written where possible."""
    if not 0 < val_fraction < 1:
        raise OptbasinError(f"--val-fraction: got {val_fraction!r}; a fraction in (0, 1) is required")
    if workers < 1:
        raise OptbasinError(f"--workers: got {workers!r}; at least 1 is required")
    out = Path(out).expanduser()
    train, val = out / "train.bin", out / "val.bin"
    if out.exists() and not out.is_dir():
        raise DataError(f"{out}: exists and is not a directory")
    for target in (train, val):
        if target.exists() and not force:
            raise DataError(f"{target}: already exists; pass --force to replace it")
    tokenizer = Tokenizer.load(tokenizer_dir)
    files = corpus_files(texts)
    if not any(f.stat().st_size for f in files):
        raise DataError(
            f"{files[0] if len(files) == 1 else 'the corpus'}: empty: no text to tokenize "
            f"({len(files)} file(s), all empty)"
        )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise _write_error(e, out) from None
    partial_train, partial_val = (p.with_name(p.name + ".partial") for p in (train, val))
    start = last_log = time.monotonic()
    n = documents = 0
    try:
        with partial_train.open("wb") as sink:
            for ids in _encoded(files, tokenizer, str(tokenizer_dir), workers):
                ids.tofile(sink)
                n += len(ids)
                documents += int(np.count_nonzero(ids == tokenizer.eot))
                if time.monotonic() - last_log > LOG_EVERY_S:
                    last_log = time.monotonic()
                    log(f"{n / 1e6:.1f} M tokens, {n / (last_log - start) / 1e6:.2f} M tokens/s")
        n_val = math.ceil(n * val_fraction)
        if n - n_val < 1:
            raise DataError(
                f"{files[0] if len(files) == 1 else 'the corpus'}: too short: {n} tokens cannot be "
                f"split into training and validation tokens at --val-fraction {val_fraction}"
            )
        _move_tail(partial_train, partial_val, n - n_val)
        os.replace(partial_val, val)
        os.replace(partial_train, train)
    except BaseException as e:
        for p in (partial_train, partial_val):
            p.unlink(missing_ok=True)
        if isinstance(e, OSError):
            raise _write_error(e, out) from None
        raise
    return ShardSummary(out, documents, n - n_val, n_val, time.monotonic() - start)
