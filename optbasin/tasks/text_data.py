"""Token streams for the GPT task: three sources, one shape (train / val token arrays).

- ``stdlib_corpus(name)``: a byte-level corpus built offline from the local Python install, so
  nothing is downloaded. ``docstrings`` (the default, 0.74 MB): the docstrings of a fixed list of
  standard-library modules (read with ``ast``, never imported), in a fixed order. ``source``
  (about 10 MB on CPython 3.11): the source text of every pure-Python standard-library module
  outside the test suites, IDLE, tkinter, lib2to3 and site-packages, in sorted path order; the
  corpus for long budgets, where the docstrings would be read many times over. Both change a
  little between Python versions: ``TokenData.digest`` identifies the exact corpus of a run.
- ``text_file_tokens(path)``: any text file, as bytes (vocabulary 256).
- ``shard_tokens(data_dir)``: nanoGPT-format token shards, ``train.bin`` and ``val.bin`` of raw
  uint16 token ids, memory-mapped.

Byte sources are split into 4 KiB chunks; every 10th chunk goes to validation (so both splits
cover the whole text). Parsed data is cached per process; the stdlib corpus also on disk.
Missing or malformed files raise DataError naming the file and what is wrong.
"""

from __future__ import annotations

import ast
import hashlib
import os
import sys
import sysconfig
import tempfile
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from optbasin.errors import DataError

BYTE_VOCAB = 256
CHUNK = 4096  # bytes per split chunk
VAL_EVERY = 10  # every 10th chunk is validation

# Pure-Python modules present in CPython 3.10 to 3.14 (a missing one is skipped, so the corpus
# of an exotic install is smaller but still deterministic). Order matters: do not sort.
STDLIB_MODULES = (
    "argparse",
    "ast",
    "asyncio.events",
    "asyncio.tasks",
    "base64",
    "bisect",
    "calendar",
    "collections",
    "configparser",
    "contextlib",
    "copy",
    "csv",
    "dataclasses",
    "datetime",
    "_pydecimal",
    "difflib",
    "doctest",
    "email.message",
    "enum",
    "fractions",
    "ftplib",
    "functools",
    "getopt",
    "glob",
    "heapq",
    "hmac",
    "http.client",
    "http.server",
    "imaplib",
    "inspect",
    "ipaddress",
    "json",
    "json.decoder",
    "logging",
    "mailbox",
    "optparse",
    "os",
    "pathlib",
    "pdb",
    "pickle",
    "pickletools",
    "pprint",
    "pydoc",
    "queue",
    "random",
    "re",
    "shlex",
    "shutil",
    "smtplib",
    "socket",
    "socketserver",
    "statistics",
    "string",
    "subprocess",
    "tarfile",
    "tempfile",
    "textwrap",
    "threading",
    "tokenize",
    "trace",
    "traceback",
    "turtle",
    "typing",
    "unittest.case",
    "urllib.parse",
    "urllib.request",
    "uuid",
    "warnings",
    "weakref",
    "zipfile",
)


@dataclass(frozen=True)
class TokenData:
    train: np.ndarray  # 1-D token ids (uint8 for bytes, uint16 for shards; maybe a memmap)
    val: np.ndarray
    vocab_size: int  # the smallest vocabulary that holds the ids of this source
    source: str  # what it was read from, for messages and provenance
    digest: str = ""  # sha256 of the bytes (byte sources), empty for shards


# ---------------------------------------------------------------------------------------------
# Byte sources
# ---------------------------------------------------------------------------------------------
def _docstrings(node: ast.AST):
    """Docstrings of a module, its classes and functions, in source order."""
    if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
        doc = ast.get_docstring(node, clean=True)
        if doc:
            yield doc
    for child in getattr(node, "body", []):
        if isinstance(child, (ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            yield from _docstrings(child)


def _module_file(stdlib: Path, name: str) -> Path | None:
    base = stdlib.joinpath(*name.split("."))
    for path in (base.with_suffix(".py"), base / "__init__.py"):
        if path.is_file():
            return path
    return None


def build_stdlib_text(modules: tuple[str, ...] = STDLIB_MODULES) -> bytes:
    """The corpus: per module a header line, then its docstrings, blank-line separated (UTF-8)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for name in modules:
        path = _module_file(stdlib, name)
        if path is None:
            continue
        try:
            tree = ast.parse(path.read_bytes(), filename=str(path))
        except (SyntaxError, ValueError, OSError):
            continue  # an unreadable stdlib file: leave the module out
        parts.append(f"# {name}\n\n" + "\n\n".join(_docstrings(tree)))
    return ("\n\n\n".join(parts) + "\n").encode("utf-8")


SOURCE_SKIP = ("site-packages", "test", "tests", "idlelib", "lib2to3", "tkinter", "turtledemo")


def build_stdlib_source() -> bytes:
    """Corpus ``source``: per file a header line, then the file's text, in sorted path order."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    parts = []
    for path in sorted(stdlib.rglob("*.py")):
        rel = path.relative_to(stdlib)
        if any(part in SOURCE_SKIP for part in rel.parts):
            continue
        try:
            text = path.read_bytes()
        except OSError:
            continue
        parts.append(f"# {rel.as_posix()}\n\n".encode() + text)
    return b"\n\n\n".join(parts) + b"\n"


CORPORA = {"docstrings": build_stdlib_text, "source": build_stdlib_source}


def _cache_dir() -> Path:
    return Path(os.environ.get("OPTBASIN_CACHE") or Path.home() / ".cache" / "optbasin")


@lru_cache(maxsize=2)
def stdlib_corpus(name: str = "docstrings") -> TokenData:
    """A stdlib corpus (CORPORA), cached on disk per Python minor version and module list."""
    if name not in CORPORA:
        raise ValueError(f"corpus: got {name!r}; expected one of {', '.join(CORPORA)}")
    recipe = STDLIB_MODULES if name == "docstrings" else SOURCE_SKIP
    key = hashlib.sha256(repr((sys.version_info[:2], sysconfig.get_paths()["stdlib"], recipe, CHUNK)).encode())
    cache = _cache_dir() / f"stdlib-{name}-{key.hexdigest()[:16]}.txt"
    text = None
    if cache.is_file():
        text = cache.read_bytes()
    if not text:
        text = CORPORA[name]()
        try:  # best effort, atomic: concurrent trials may race to write it
            cache.parent.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=cache.parent, prefix=cache.name + ".")
            with os.fdopen(fd, "wb") as f:
                f.write(text)
            os.chmod(tmp, 0o644)
            os.replace(tmp, cache)
        except OSError:
            pass
    return split_bytes(text, f"python standard library {name}")


def split_bytes(text: bytes, source: str, min_len: int = 0) -> TokenData:
    """Chunked train/val split of a byte string (every VAL_EVERY-th CHUNK is validation); a text
    too short for 2 x VAL_EVERY chunks is split 90/10 instead."""
    data = np.frombuffer(text, dtype=np.uint8)
    n_chunks = -(-len(data) // CHUNK)
    if n_chunks >= 2 * VAL_EVERY:
        chunks = np.arange(len(data)) // CHUNK
        is_val = chunks % VAL_EVERY == VAL_EVERY - 1
        train, val = data[~is_val], data[is_val]
    else:
        cut = int(len(data) * 0.9)
        train, val = data[:cut], data[cut:]
    if min(len(train), len(val)) < min_len:
        raise DataError(
            f"{source}: too short: {len(data)} bytes gives {len(train)} training and "
            f"{len(val)} validation bytes; need at least {min_len} in each (block_size + 1)"
        )
    return TokenData(train, val, BYTE_VOCAB, source, hashlib.sha256(text).hexdigest())


@lru_cache(maxsize=8)
def _read_text_file(path: str, mtime_ns: int, size: int) -> bytes:
    return Path(path).read_bytes()


def text_file_tokens(path: str | os.PathLike, min_len: int = 0) -> TokenData:
    """A user's text file as bytes. Missing, unreadable, empty or too short: DataError."""
    p = Path(path).expanduser()
    if not p.exists():
        raise DataError(f"{p}: text file not found")
    if not p.is_file():
        raise DataError(f"{p}: not a regular file (text_file must name a text file)")
    try:
        st = p.stat()
        text = _read_text_file(str(p.resolve()), st.st_mtime_ns, st.st_size)
    except OSError as e:
        raise DataError(f"{p}: cannot read: {e.strerror or e}") from None
    if not text:
        raise DataError(f"{p}: the text file is empty")
    if b"\x00" in text[: CHUNK * 4]:
        raise DataError(f"{p}: looks binary (NUL bytes), expected a text file; for token shards use data_dir")
    return split_bytes(text, str(p), min_len)


# ---------------------------------------------------------------------------------------------
# nanoGPT token shards
# ---------------------------------------------------------------------------------------------
def _open_shard(path: Path, min_len: int, vocab_size: int) -> np.ndarray:
    if not path.is_file():
        raise DataError(
            f"{path}: token shard not found (data_dir needs train.bin and val.bin, "
            "raw uint16 token ids as nanoGPT's prepare.py writes them)"
        )
    size = path.stat().st_size
    if size % 2:
        raise DataError(f"{path}: malformed token shard: {size} bytes is not a whole number of uint16 tokens")
    if size // 2 < min_len:
        raise DataError(f"{path}: too short: {size // 2} tokens, need at least {min_len} (block_size + 1)")
    try:
        tokens = np.memmap(path, dtype=np.uint16, mode="r")
    except (OSError, ValueError) as e:
        raise DataError(f"{path}: cannot memory-map: {e}") from None
    head = tokens[: 1 << 20]  # check a prefix: scanning billions of tokens per trial is too slow
    top = int(head.max())
    if top >= vocab_size:
        raise DataError(
            f"{path}: malformed token shard: token id {top} >= vocab_size {vocab_size} "
            "(wrong file, or set the task's vocab_size)"
        )
    return tokens


@lru_cache(maxsize=4)
def _shards(directory: str, min_len: int, vocab_size: int) -> TokenData:
    d = Path(directory)
    train = _open_shard(d / "train.bin", min_len, vocab_size)
    val = _open_shard(d / "val.bin", min_len, vocab_size)
    return TokenData(train, val, vocab_size, str(d))


def shard_tokens(data_dir: str | os.PathLike, vocab_size: int, min_len: int = 0) -> TokenData:
    d = Path(data_dir).expanduser()
    if not d.is_dir():
        raise DataError(f"{d}: data_dir not found or not a directory (expected train.bin and val.bin)")
    return _shards(str(d.resolve()), min_len, vocab_size)
