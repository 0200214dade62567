"""The GPT language-modelling task: a GPT (gpt_model.py) on one of three token sources
(text_data.py): a built-in stdlib corpus (``corpus``: docstrings, the default, or source), a
user's ``text_file`` (bytes), or nanoGPT token shards in ``data_dir``. Catalog presets: ``gpt-tiny`` (CPU, seconds) and
``gpt2-small`` (124M, GPUs).

Training batches are ``batch_size`` random windows of ``block_size + 1`` tokens (offsets from
the trial seed). ``evaluate`` is the mean next-token cross-entropy (nats) over a fixed set of
``eval_batches`` x ``batch_size`` validation windows at evenly spaced offsets: the same windows
for every trial and every call. With ``bf16`` the forward pass runs under bfloat16 autocast on
CUDA (weights and optimizer state stay float32, as in nanoGPT); it is ignored on CPU.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from optbasin.catalog import builtin, check_task_params
from optbasin.tasks.base import Task
from optbasin.tasks.common import build_seeded, evaluating, generator
from optbasin.tasks.gpt_model import GPT, GPTConfig
from optbasin.tasks.text_data import BYTE_VOCAB, TokenData, shard_tokens, stdlib_corpus, text_file_tokens

GPT2_VOCAB = 50304  # GPT-2's 50257 BPE tokens padded to a multiple of 64, as nanoGPT does


def _windows(tokens: np.ndarray, offsets: np.ndarray, length: int) -> torch.Tensor:
    """(len(offsets), length) int64 tensor of tokens[o : o + length] (works on memmaps)."""
    idx = offsets[:, None] + np.arange(length)[None, :]
    return torch.from_numpy(np.asarray(tokens[idx]).astype(np.int64))


class GPTTask(Task):
    name = "gpt"
    head = "lm_head"  # tied to the token embedding: "other" either way
    default_steps = 800  # gpt-tiny; the catalog entry sets the budget of each preset

    def __init__(
        self,
        n_layer: int = 2,
        n_head: int = 4,
        n_embd: int = 128,
        block_size: int = 64,
        dropout: float = 0.0,
        bias: bool = True,
        vocab_size: int | None = None,
        batch_size: int = 16,
        eval_batches: int = 8,
        text_file: str | None = None,
        data_dir: str | None = None,
        corpus: str = "docstrings",
        bf16: bool = False,
    ):
        check_task_params(
            type(self),
            "gpt-tiny",
            dict(
                n_layer=n_layer,
                n_head=n_head,
                n_embd=n_embd,
                block_size=block_size,
                dropout=dropout,
                bias=bias,
                vocab_size=vocab_size,
                batch_size=batch_size,
                eval_batches=eval_batches,
                text_file=text_file,
                data_dir=data_dir,
                corpus=corpus,
                bf16=bf16,
            ),
        )
        if text_file and data_dir:
            raise ValueError("give text_file or data_dir, not both")
        self.batch_size, self.eval_batches = int(batch_size), int(eval_batches)
        self.text_file, self.data_dir = text_file or None, data_dir or None
        self.corpus = str(corpus)
        self.bf16 = bool(bf16)
        if self.data_dir is None:
            if vocab_size is not None and vocab_size < BYTE_VOCAB:  # depends on the data source: not a bound
                raise ValueError(f"vocab_size: got {vocab_size!r}; byte-level text needs >= {BYTE_VOCAB}")
            vocab_size = vocab_size or BYTE_VOCAB
        else:
            vocab_size = vocab_size or GPT2_VOCAB
        self.config = GPTConfig(
            vocab_size=int(vocab_size),
            block_size=int(block_size),
            n_layer=int(n_layer),
            n_head=int(n_head),
            n_embd=int(n_embd),
            dropout=float(dropout),
            bias=bool(bias),
        )
        self._eval_windows: torch.Tensor | None = None

    def data(self) -> TokenData:
        """The token source (parsed once per process; DataError if a file is missing/malformed)."""
        need = self.config.block_size + 2
        if self.data_dir:
            return shard_tokens(self.data_dir, self.config.vocab_size, need)
        if self.text_file:
            return text_file_tokens(self.text_file, need)
        data = stdlib_corpus(self.corpus)
        if min(len(data.train), len(data.val)) < need:
            raise ValueError(f"block_size {self.config.block_size} is too long for the stdlib {self.corpus} corpus")
        return data

    def check_data(self) -> None:
        self.data()

    def build_model(self, seed: int) -> nn.Module:
        return build_seeded(seed, lambda: GPT(self.config))

    def train_batches(self, seed: int, device: torch.device) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        tokens = self.data().train
        length = self.config.block_size + 1
        gen = generator(seed, "data")
        high = len(tokens) - length + 1
        pin = device.type == "cuda"
        while True:
            offsets = torch.randint(high, (self.batch_size,), generator=gen).numpy()
            w = _windows(tokens, offsets, length)
            if pin:
                w = w.pin_memory()
            w = w.to(device, non_blocking=pin)
            yield w[:, :-1], w[:, 1:]

    def loss(self, model: nn.Module, batch: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        x, y = batch
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=self.bf16 and x.is_cuda):
            logits = model(x)
        return F.cross_entropy(logits.float().reshape(-1, logits.size(-1)), y.reshape(-1))

    def eval_windows(self) -> torch.Tensor:
        """The fixed validation windows, (eval_batches * batch_size, block_size + 1), on CPU."""
        if self._eval_windows is None:
            tokens, length = self.data().val, self.config.block_size + 1
            n = self.eval_batches * self.batch_size
            offsets = np.linspace(0, len(tokens) - length, n).round().astype(np.int64)
            self._eval_windows = _windows(tokens, offsets, length)
        return self._eval_windows

    def evaluate(self, model: nn.Module, device: torch.device) -> float:
        windows = self.eval_windows()
        total = 0.0
        with evaluating(model):
            for w in windows.split(self.batch_size):
                total += float(self.loss(model, (w[:, :-1].to(device), w[:, 1:].to(device)))) * len(w)
        return total / len(windows)

    def reference_losses(self) -> dict[str, float]:
        """The bigram loss of its own data (counted on the train split, scored on the validation
        windows ``evaluate`` uses): what a model must beat to have learned more than token pairs."""
        if getattr(self, "_reference", None) is None:
            from optbasin.tasks.reference import bigram_loss

            w = self.eval_windows().numpy()
            self._reference = {
                "ref_loss": bigram_loss(self.data().train, w[:, :-1], w[:, 1:], self.config.vocab_size),
                "floor_loss": float("nan"),
            }
        return self._reference


def make_task(**params) -> GPTTask:
    """Any GPT; the defaults are gpt-tiny's."""
    return GPTTask(**params)


def make_gpt2_small(**params) -> GPTTask:
    """GPT-2 small (124M): the defaults of catalog entry gpt2-small, overridden by ``params``; a
    10k-step default budget."""
    task = GPTTask(**{**builtin().task("gpt2-small").defaults(), **params})
    task.default_steps = 10000
    return task
