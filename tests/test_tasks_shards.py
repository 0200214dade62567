"""`optbasin shards`: GPT-2's byte-level BPE (tokenizer.py, on Hugging Face tokenizers) and nanoGPT token
shards (shards.py).

Expected tokens are derived by hand from GPT-2's rules (pattern, byte map, lowest-rank-first
merges), or are GPT-2's published token ids; none is produced by the code under test."""

from __future__ import annotations

import json
import math
import random

import numpy as np
import pytest
import yaml

from optbasin.cli import main
from optbasin.tasks.common import quick_train
from optbasin.tasks.gpt import make_task
from optbasin.tasks.shards import text_pieces
from optbasin.tasks.tokenizer import Tokenizer, bytes_to_unicode
from tests.conftest import adamw

HELLO_MERGES = ["h e", "l l", "he ll", "Ġ w", "o r", "Ġw or"]
SMALL = dict(n_layer=1, n_head=2, n_embd=32, block_size=32, batch_size=8, eval_batches=2)


def write_tokenizer(d, merges, flavour="openai", eot_id=None):
    """A byte-level BPE tokenizer in GPT-2's file formats: the 256 byte symbols first (in the
    order of bytes_to_unicode, GPT-2's own), then one token per merge, then <|endoftext|>."""
    vocab = {s: i for i, s in enumerate(bytes_to_unicode().values())}
    for m in merges:
        vocab.setdefault(m.replace(" ", ""), len(vocab))
    vocab["<|endoftext|>"] = len(vocab) if eot_id is None else eot_id
    d.mkdir(parents=True, exist_ok=True)
    names = ("encoder.json", "vocab.bpe") if flavour == "openai" else ("vocab.json", "merges.txt")
    (d / names[0]).write_text(json.dumps(vocab), encoding="utf-8")
    (d / names[1]).write_text("#version: 0.2\n" + "".join(m + "\n" for m in merges), encoding="utf-8")
    return d


def symbols(tok, text):
    return [tok.id_symbol[i] for i in tok.encode(text)]


# ----------------------------------------------------------------------------------------------
# The tokenizer
# ----------------------------------------------------------------------------------------------
def test_byte_map_is_gpt2s():
    m = bytes_to_unicode()
    assert len(set(m.values())) == 256
    assert m[ord("!")] == "!" and m[ord("~")] == "~" and m[0xA1] == "¡" and m[0xFF] == "ÿ"  # printable: itself
    # the 68 others, in byte order, from U+0100: 0..32 -> U+0100..U+0120, 127..160 -> U+0121..U+0142, 173 -> U+0143
    assert (m[0], m[ord("\n")], m[ord(" ")]) == ("\u0100", "\u010a", "\u0120")  # 'Ā', 'Ċ', 'Ġ'
    assert (m[127], m[160], m[173]) == ("\u0121", "\u0142", "\u0143")
    from tokenizers.pre_tokenizers import ByteLevel

    assert set(ByteLevel.alphabet()) == set(m.values())  # the symbols tokenizers' byte-level BPE uses


def test_separator_controls_split_as_in_gpt2(tmp_path):
    # GPT-2's pattern (the `regex` package: \s is Unicode White_Space) does not count U+001C..U+001F
    # as whitespace: a run of them is one [^\s\p{L}\p{N}]+ pre-token. (Python's re, the former
    # fallback here, counted them as whitespace and split the run.)
    tok = Tokenizer.load(write_tokenizer(tmp_path / "tok", []))
    assert tok.pretokens("x\x1f\x1fy") == ["x", "\x1f\x1f", "y"]


def test_pretokens_follow_gpt2s_pattern(tmp_path):
    tok = Tokenizer.load(write_tokenizer(tmp_path / "tok", []))
    text = "I'm here's  3.14 x² ½ naïve\tdone!!\n\n  end a_b 日本語 😀x I'LL"
    assert tok.pretokens(text) == [
        "I",
        "'m",
        " here",
        "'s",
        " ",
        " 3",
        ".",
        "14",  # two spaces before a number: the first stands alone (\s+(?!\S))
        " x",
        "²",
        " ½",  # '²' and '½' are \p{N} (No), not letters
        " naïve",
        "\t",
        "done",
        "!!",
        "\n\n ",
        " end",  # a whitespace run gives its last space to the next word
        " a",
        "_",
        "b",
        " 日本語",
        " 😀",
        "x",
        " I",
        "'",
        "LL",  # the contractions are lower case only
    ]


def test_bpe_merges_the_lowest_rank_pair_first(tmp_path):
    tok = Tokenizer.load(write_tokenizer(tmp_path / "hello", HELLO_MERGES))
    # hello: (h e) rank 0 -> he l l o; (l l) rank 1 -> he ll o; (he ll) rank 2 -> hell o; (hell o): no rank
    # ' world' = Ġ w o r l d: (Ġ w) 3 -> Ġw o r l d; (o r) 4 -> Ġw or l d; (Ġw or) 5 -> Ġwor l d
    assert symbols(tok, "hello world") == ["hell", "o", "Ġwor", "l", "d"]
    tok = Tokenizer.load(write_tokenizer(tmp_path / "abc", ["b c", "a b"]))
    assert symbols(tok, "abc") == ["a", "bc"]  # (b c) outranks (a b) although it comes second in the word
    tok = Tokenizer.load(write_tokenizer(tmp_path / "aa", ["a a", "aa aa"]))
    assert symbols(tok, "aaa") == ["aa", "a"]  # every occurrence, left to right, without overlap
    assert symbols(tok, "aaaa") == ["aaaa"]
    assert symbols(tok, "aaaaa") == ["aaaa", "a"]


def test_hugging_face_files_give_the_same_tokens(tmp_path):
    a = Tokenizer.load(write_tokenizer(tmp_path / "openai", HELLO_MERGES))
    b = Tokenizer.load(write_tokenizer(tmp_path / "hf", HELLO_MERGES, flavour="hf"))
    assert a.encode("hello world, hello") == b.encode("hello world, hello")


def test_real_gpt2_token_ids(tmp_path):
    # GPT-2's vocabulary holds the 256 byte symbols first (ids 0-255), then one token per line of
    # vocab.bpe (id 256 + rank); its first seven lines are: Ġ t / Ġ a / h e / i n / r e / o n / Ġt he.
    # Published GPT-2 ids: '!' 0, ',' 11, '\n' 198, ' ' 220, ' the' 262, '<|endoftext|>' 50256.
    tok = Tokenizer.load(
        write_tokenizer(tmp_path / "gpt2", ["Ġ t", "Ġ a", "h e", "i n", "r e", "o n", "Ġt he"], eot_id=50256)
    )
    assert tok.encode("!") == [0] and tok.encode(",") == [11] and tok.encode("\n") == [198] and tok.encode(" ") == [220]
    assert tok.encode(" the") == [262] and tok.encode(" the\n!") == [262, 198, 0]
    assert tok.eot == 50256


def test_hello_world_gets_gpt2s_ids(tmp_path):
    # GPT-2 encodes "Hello, world!" as [15496, 11, 995, 0]: 'Hello', ',', 'Ġworld', '!'. Real ids:
    # the byte symbols (GPT-2's order), 'Ġw' 266, 'or' 273, 'll' 297 (lines 11, 18, 42 of vocab.bpe),
    # 'Hello' 15496, 'Ġworld' 995. GPT-2's other merge lines for these two words are not reproduced:
    # a minimal chain (ids 60000+) stands in for them; only the final tokens reach the output.
    vocab = {s: i for i, s in enumerate(bytes_to_unicode().values())}
    vocab |= {
        "Ġw": 266,
        "or": 273,
        "ll": 297,
        "Hello": 15496,
        "Ġworld": 995,
        "<|endoftext|>": 50256,
        "He": 60000,
        "Hell": 60001,
        "ld": 60002,
        "Ġwor": 60003,
    }
    merges = ["Ġ w", "o r", "l l", "H e", "He ll", "Hell o", "l d", "Ġw or", "Ġwor ld"]
    d = tmp_path / "gpt2"
    d.mkdir()
    (d / "encoder.json").write_text(json.dumps(vocab), encoding="utf-8")
    (d / "vocab.bpe").write_text("#version: 0.2\n" + "\n".join(merges) + "\n", encoding="utf-8")
    assert Tokenizer.load(d).encode("Hello, world!") == [15496, 11, 995, 0]


@pytest.mark.parametrize(
    "text",
    [
        "",
        "hello world",
        "  leading and trailing  ",
        "tabs\tand\r\nwindows\rlines\n\n\n",
        "naïve café, Ærøskøbing; Ελληνικά; русский; 日本語のテキスト; عربى",
        "emoji 😀🏳️‍🌈 and ZWJ\u200d, NBSP\u00a0x",
        "x² ½ Ⅻ ٣٤ 1,000.5",
        "don't won't I'LL 's'",
        "\x00\x1c\x7f\u2028\ufeffcontrol",
        "<|endoftext|> literal",
    ],
)
def test_decode_inverts_encode(tmp_path, text):
    tok = Tokenizer.load(write_tokenizer(tmp_path / "tok", HELLO_MERGES + ["Ġ Ġ", "e r"]))
    assert tok.decode(tok.encode(text)) == text


def test_pieces_tokenize_like_the_whole_file(tmp_path):
    tok = Tokenizer.load(write_tokenizer(tmp_path / "tok", HELLO_MERGES))
    alphabet = [
        "hello",
        "world",
        " ",
        "  ",
        "\n",
        "\n\n",
        "\t",
        "'s",
        "'",
        "12",
        "²",
        "!",
        "?!",
        "é",
        "日本",
        "😀",
        "_",
    ]
    rng = random.Random(0)
    for trial in range(40):
        text = "".join(rng.choice(alphabet) for _ in range(rng.randint(1, 120)))
        path = tmp_path / f"t{trial}.txt"
        path.write_text(text, encoding="utf-8")
        for block in (1, 2, 3, 7, 64):  # 1-3 bytes: multi-byte characters are split across blocks
            pieces = list(text_pieces(path, block_bytes=block))
            assert "".join(pieces) == text
            assert [t for p in pieces for t in tok.encode(p)] == tok.encode(text), (text, block)


# ----------------------------------------------------------------------------------------------
# The shards command
# ----------------------------------------------------------------------------------------------
DOC1 = "hello world. " * 60 + "\nthe end\n"
DOC2 = "Ωmega: hello again, world 42 times.\n" * 20


@pytest.fixture
def corpus(tmp_path):
    (tmp_path / "corpus" / "more").mkdir(parents=True)
    (tmp_path / "corpus" / "a.txt").write_text(DOC1, encoding="utf-8")
    (tmp_path / "corpus" / "more" / "b.txt").write_text(DOC2, encoding="utf-8")
    (tmp_path / "corpus" / ".hidden").write_text("not a document", encoding="utf-8")
    return tmp_path / "corpus"


def test_jsonl_lines_are_documents(tmp_path):
    tok_dir = write_tokenizer(tmp_path / "tok", HELLO_MERGES)
    tok = Tokenizer.load(tok_dir)
    docs = ["hello world\n\nsecond paragraph", "", 'x² "quoted" \u00e9t\u00e9 ' * 50, "last"]
    path = tmp_path / "docs.jsonl"
    path.write_text("".join(json.dumps({"text": d, "id": i}) + "\n" for i, d in enumerate(docs)), encoding="utf-8")
    out = tmp_path / "out"
    assert main(["shards", str(path), "--tokenizer", str(tok_dir), "--out", str(out), "--val-fraction", "0.01"]) == 0
    tokens = np.concatenate([np.fromfile(out / "train.bin", np.uint16), np.fromfile(out / "val.bin", np.uint16)])
    expected = [t for d in docs if d for t in tok.encode(d) + [tok.eot]]  # the empty document is skipped
    assert tokens.tolist() == expected


def test_shards_are_the_corpus_tokens_with_end_of_text_tokens(tmp_path, corpus, capsys):
    tok_dir = write_tokenizer(tmp_path / "tok", HELLO_MERGES)
    tok = Tokenizer.load(tok_dir)
    out = tmp_path / "shards"
    assert main(["shards", str(corpus), "--tokenizer", str(tok_dir), "--out", str(out), "--val-fraction", "0.1"]) == 0
    train, val = (np.fromfile(out / f"{s}.bin", dtype=np.uint16) for s in ("train", "val"))
    expected = tok.encode(DOC1) + [tok.eot] + tok.encode(DOC2) + [tok.eot]  # sorted paths: a.txt, more/b.txt
    assert (out / "train.bin").stat().st_size == 2 * len(train)  # raw uint16, no header
    assert train.tolist() + val.tolist() == expected
    assert len(val) == math.ceil(0.1 * len(expected))
    assert not list(out.glob("*.partial"))
    assert f"{len(train):,} tokens" in capsys.readouterr().out

    out2 = tmp_path / "shards2"  # two worker processes: the same bytes
    assert (
        main(
            [
                "shards",
                str(corpus),
                "--tokenizer",
                str(tok_dir),
                "--out",
                str(out2),
                "--val-fraction",
                "0.1",
                "--workers",
                "2",
            ]
        )
        == 0
    )
    for s in ("train.bin", "val.bin"):
        assert (out2 / s).read_bytes() == (out / s).read_bytes()


def test_shards_feed_the_gpt_task_and_a_sweep(tmp_path, corpus, capsys):
    tok_dir = write_tokenizer(tmp_path / "tok", HELLO_MERGES)
    out = tmp_path / "shards"
    assert main(["shards", str(corpus), "--tokenizer", str(tok_dir), "--out", str(out), "--val-fraction", "0.2"]) == 0
    vocab = Tokenizer.load(tok_dir).eot + 1
    task = make_task(data_dir=str(out), vocab_size=vocab, **SMALL)
    first, last, losses = quick_train(task, adamw(1e-2), steps=30)
    assert math.isfinite(last) and last < first  # the shards are read and learned from
    sweep = {
        "name": "shards",
        "output": str(tmp_path / "run"),
        "seeds": 1,
        "tasks": [{"name": "gpt-tiny", "steps": 2, "params": {"data_dir": str(out), "vocab_size": vocab}}],
        "optimizers": [{"name": "adamw", "grid": {"lr": [1e-3]}}],
    }
    (tmp_path / "sweep.yaml").write_text(yaml.safe_dump(sweep))
    assert main(["validate", str(tmp_path / "sweep.yaml")]) == 0, capsys.readouterr().err


def _bad(tmp_path, corpus, tok_dir, case):
    """Set up one kind of bad input; returns (argv, the text the message must hold)."""
    out = tmp_path / "out"

    def args(*texts, tok=tok_dir, extra=()):
        return ["shards", *map(str, texts), "--tokenizer", str(tok), "--out", str(out), *extra]

    if case == "no tokenizer dir":
        return args(corpus, tok=tmp_path / "nope"), f"{tmp_path / 'nope'}: tokenizer directory not found"
    if case == "half a pair":
        (tok_dir / "vocab.bpe").unlink()
        return args(corpus), f"{tok_dir / 'vocab.bpe'}: tokenizer file not found"
    if case == "bad json":
        (tok_dir / "encoder.json").write_text("{not json")
        return args(corpus), f"{tok_dir / 'encoder.json'}: not valid JSON"
    if case == "files that do not match":
        (tok_dir / "vocab.bpe").write_text("#version: 0.2\nx y\n")
        return args(corpus), f"{tok_dir / 'vocab.bpe'}: merge 1 (x y)"
    if case == "missing text":
        return args(tmp_path / "missing.txt"), f"{tmp_path / 'missing.txt'}: text file not found"
    if case == "not utf-8":
        (tmp_path / "latin1.txt").write_bytes("caf\u00e9".encode("latin-1") + b" ok")
        bad = tmp_path / "latin1.txt"
        return args(corpus, bad), f"{bad}: not UTF-8 text (invalid bytes near byte 3)"
    if case == "bad jsonl":
        (tmp_path / "docs.jsonl").write_text('{"text": "fine"}\n{"txt": "no text field"}\n')
        return args(corpus, tmp_path / "docs.jsonl"), f"{tmp_path / 'docs.jsonl'}: line 2: expected a JSON object"
    if case == "jsonl not utf-8 on line 6":  # read line by line: the line of the bad byte, not of a read-ahead block
        (tmp_path / "docs.jsonl").write_bytes(b'{"text": "fine"}\n' * 5 + '{"text": "caf\u00e9"}\n'.encode("latin-1"))
        return args(corpus, tmp_path / "docs.jsonl"), f"{tmp_path / 'docs.jsonl'}: line 6: not UTF-8 text"
    if case == "unwritable output":
        (tmp_path / "file").write_text("a file, not a directory")
        return (
            ["shards", str(corpus), "--tokenizer", str(tok_dir), "--out", str(tmp_path / "file" / "out")],
            f"{tmp_path / 'file' / 'out'}: cannot write the shards",
        )
    if case == "binary":
        (tmp_path / "x.bin").write_bytes(b"\x00\x01\x02" * 10)
        return args(tmp_path / "x.bin"), f"{tmp_path / 'x.bin'}: looks binary"
    if case == "empty corpus":
        (tmp_path / "empty.txt").write_bytes(b"")
        return args(tmp_path / "empty.txt"), f"{tmp_path / 'empty.txt'}: empty"
    if case == "existing output":
        out.mkdir()
        (out / "train.bin").write_bytes(b"keep")
        return args(corpus), f"{out / 'train.bin'}: already exists; pass --force"
    if case == "bad fraction":
        return args(corpus, extra=["--val-fraction", "1.5"]), "--val-fraction: got 1.5"
    if case == "no workers":
        return args(corpus, extra=["--workers", "0"]), "--workers: got 0"
    raise AssertionError(case)


@pytest.mark.parametrize(
    "case",
    [
        "no tokenizer dir",
        "half a pair",
        "bad json",
        "files that do not match",
        "missing text",
        "not utf-8",
        "bad jsonl",
        "jsonl not utf-8 on line 6",
        "unwritable output",
        "binary",
        "empty corpus",
        "existing output",
        "bad fraction",
        "no workers",
    ],
)
def test_bad_input_exits_2_naming_the_file(tmp_path, corpus, capsys, case):
    tok_dir = write_tokenizer(tmp_path / "tok", HELLO_MERGES)
    argv, message = _bad(tmp_path, corpus, tok_dir, case)
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    out = tmp_path / "out"
    if case == "existing output":
        assert (out / "train.bin").read_bytes() == b"keep"  # untouched
    else:  # nothing written, not even a partial file (the bad UTF-8 file comes after a good document)
        assert not out.exists() or not any(out.iterdir())


def test_force_replaces_existing_shards(tmp_path, corpus):
    tok_dir = write_tokenizer(tmp_path / "tok", HELLO_MERGES)
    out = tmp_path / "out"
    out.mkdir()
    (out / "train.bin").write_bytes(b"old!")
    assert main(["shards", str(corpus), "--tokenizer", str(tok_dir), "--out", str(out), "--force"]) == 0
    assert (out / "train.bin").read_bytes() != b"old!" and (out / "val.bin").stat().st_size >= 2
