"""Fine-tuning: deterministic with a seed, progress on standard error, resumable from checkpoints.

A training run lives in one folder (``build/train/<name>/`` by convention; it
holds report text, so keep it out of the repository)::

    run.json              settings, model spec, data fingerprint and summary, status, loss history
    data/                 the train/heldout splits (datasets, Arrow) and summary.json
    checkpoints/          step-00000200.pt ...: weights, optimizer, scheduler, RNG state, position
    final/                model.pt (weights), spec.json, tokenizer.json: what export-model reads

Determinism: the seed fixes the head's initialisation (and the ``tiny``
encoder's), the order of batches (a permutation per epoch drawn from the seed
and the epoch number, then length-bucketed so each batch pads to a similar
length), and dropout (torch's generator, saved in every checkpoint);
``torch.use_deterministic_algorithms`` is on. A run interrupted at any point
resumes from its last checkpoint (``resume=True``) and ends with the same
weights as an uninterrupted run on the same machine and thread count.

Loss: the mean over labels of a class-weighted cross-entropy per label head;
``class_weighting="sqrt-inverse"`` weights class ``c`` of a label by
``sqrt(N / (4 n_c))`` (clipped to [0.05, 20]) so that the rare positive,
negative and uncertain classes are not drowned by blanks.

Needs the ``train`` extra. CPU by default; ``device="cuda"`` when a GPU is there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import random
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields
from pathlib import Path
from typing import Any, TextIO

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")  # deterministic cuBLAS

import numpy as np
import torch
from numpy.typing import NDArray

from ..errors import ModelError, SettingsError
from ..io import durable
from .dataset import TrainingData, class_counts
from .manifest import CLASSES
from .model import LabelClassifier, ModelSpec, build_model, load_tokenizer

Array = NDArray[Any]

RUN_FILE = "run.json"
RUN_FORMAT = "reportlab-nlp training run"
DATA_DIR = "data"
CHECKPOINT_DIR = "checkpoints"
FINAL_DIR = "final"
WEIGHTS_FILE = "model.pt"
SPEC_FILE = "spec.json"
TOKENIZER_FILE = "tokenizer.json"
CLASS_WEIGHTINGS = ("sqrt-inverse", "none")
_BUCKET = 50  # batches per length bucket

# settings that may change between an interrupted run and its resumption
_MAY_CHANGE = ("device", "threads", "checkpoint_every", "keep_checkpoints")


@dataclass(frozen=True)
class TrainConfig:
    """Settings of a training run (recorded in ``run.json`` and the model's manifest).

    Parameters
    ----------
    base
        ``minilm`` (pretrained) or ``tiny`` (random, for tests).
    epochs
        Passes over the training split.
    batch_size
        Reports per optimisation step.
    learning_rate, weight_decay, warmup_ratio
        AdamW with a linear warm-up over ``warmup_ratio`` of the steps, then linear decay to 0.
    head_learning_rate
        The label heads' learning rate (None: ``learning_rate``). The heads start
        from random weights while the encoder is pretrained: at the encoder's rate
        they barely move in the few hundred steps a CPU run affords.
    max_length
        Tokens per report at most.
    max_steps
        Stop after this many steps (None: ``epochs`` full passes).
    checkpoint_every
        Steps between checkpoints.
    keep_checkpoints
        Checkpoints kept (the newest).
    seed
        Seeds everything; the data split uses it too.
    device
        ``cpu`` or ``cuda``.
    threads
        torch intra-op threads (None: torch's default).
    class_weighting
        ``sqrt-inverse`` or ``none``.
    pooling, dropout
        See :class:`~reportlab_nlp.classifier.model.ModelSpec`.
    heldout_fraction
        Share of reports held out for the export gates and calibration.
    """

    base: str = "minilm"
    epochs: int = 3
    batch_size: int = 16
    learning_rate: float = 5e-5
    head_learning_rate: float | None = None
    weight_decay: float = 0.01
    warmup_ratio: float = 0.1
    max_length: int = 256
    max_steps: int | None = None
    checkpoint_every: int = 200
    keep_checkpoints: int = 2
    seed: int = 0
    device: str = "cpu"
    threads: int | None = None
    class_weighting: str = "sqrt-inverse"
    pooling: str = "mean"
    dropout: float = 0.1
    heldout_fraction: float = 0.15

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size", "checkpoint_every", "keep_checkpoints"):
            if getattr(self, name) < 1:
                raise SettingsError(name, "a whole number of at least 1", getattr(self, name))
        if self.max_steps is not None and self.max_steps < 1:
            raise SettingsError("max_steps", "a whole number of at least 1, or none", self.max_steps)
        if self.class_weighting not in CLASS_WEIGHTINGS:
            expected = f"one of: {', '.join(CLASS_WEIGHTINGS)}"
            raise SettingsError("class_weighting", expected, self.class_weighting)
        if self.device not in ("cpu", "cuda") and not self.device.startswith("cuda:"):
            raise SettingsError("device", "cpu, cuda or cuda:N", self.device)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any], *, source: str | None = None) -> TrainConfig:
        """Settings from a mapping (a run file's ``config``); ``source`` names the file in errors.

        Raises
        ------
        SettingsError
            For a key that is not a setting (all of them named), or a value out of range.
        """
        names = [f.name for f in fields(cls)]
        unknown = sorted(k for k in data if k not in names)
        if unknown:
            expected = f"only the training settings ({', '.join(names)})"
            raise SettingsError("unknown keys", expected, unknown, source=source)
        return cls(**data)

    def identity(self) -> dict[str, Any]:
        """The settings a resumed run must share with the interrupted one."""
        return {k: v for k, v in self.to_dict().items() if k not in _MAY_CHANGE}


@dataclass
class TrainResult:
    """What a run did."""

    run_dir: Path
    steps: int
    total_steps: int
    resumed_from: int | None
    final_loss: float | None
    elapsed: float
    reports: int


def set_seed(seed: int) -> None:
    """Seed Python, numpy and torch, and ask torch for deterministic kernels."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    torch.use_deterministic_algorithms(True, warn_only=True)


def fingerprint(data: TrainingData) -> str:
    """sha256 of what the run learns from: labels, and every report's id, text and targets per split."""
    h = hashlib.sha256(json.dumps(data.labels).encode())
    for split in ("train", "heldout"):
        ds = data.splits[split]
        h.update(f"\0{split}\0{len(ds)}".encode())
        for rid, text, targets in zip(ds["id"], ds["text"], ds["targets"], strict=True):
            h.update(rid.encode() + b"\0" + hashlib.sha256(text.encode()).digest() + bytes(targets))
    return h.hexdigest()


def class_weights(targets: Sequence[Sequence[int]], n_labels: int, how: str) -> torch.Tensor:
    """(labels, 4) weights of each class of each label head."""
    if how == "none":
        return torch.ones(n_labels, len(CLASSES))
    counts = torch.zeros(n_labels, len(CLASSES))
    for row in targets:
        for i, c in enumerate(row):
            counts[i, c] += 1
    n = counts.sum(dim=1, keepdim=True)
    weights = torch.sqrt(n / (len(CLASSES) * counts.clamp(min=1.0)))
    return weights.clamp(0.05, 20.0)


def epoch_batches(lengths: Sequence[int], batch_size: int, *, seed: int, epoch: int) -> list[list[int]]:
    """The batches of one epoch: a seeded permutation, sorted by length within buckets, batches shuffled."""
    rng = np.random.default_rng([seed, epoch])
    order = rng.permutation(len(lengths))
    bucket = batch_size * _BUCKET
    batches: list[list[int]] = []
    for start in range(0, len(order), bucket):
        chunk = sorted(order[start : start + bucket].tolist(), key=lambda i: lengths[i])
        batches.extend(chunk[j : j + batch_size] for j in range(0, len(chunk), batch_size))
    perm = rng.permutation(len(batches))
    return [batches[i] for i in perm]


def pad_batch(encoded: Sequence[Sequence[int]], pad_id: int = 0) -> tuple[Array, Array]:
    """(input_ids, attention_mask), int64, padded to the longest sequence of the batch."""
    width = max(len(e) for e in encoded)
    ids = np.full((len(encoded), width), pad_id, dtype=np.int64)
    mask = np.zeros((len(encoded), width), dtype=np.int64)
    for i, e in enumerate(encoded):
        ids[i, : len(e)] = e
        mask[i, : len(e)] = 1
    return ids, mask


def _read_run(run_dir: Path) -> dict[str, Any] | None:
    path = run_dir / RUN_FILE
    if not path.exists():
        return None
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as e:
        raise ModelError(f"{path}: cannot be read ({e}); remove the folder to start again") from e
    if data.get("format") != RUN_FORMAT:
        raise ModelError(f"{path}: not a training run of this toolkit")
    return data


def _write_json(path: Path, data: dict[str, Any]) -> None:
    durable.write_json(path, data, ensure_ascii=True)


def _checkpoints(run_dir: Path) -> list[Path]:
    return sorted((run_dir / CHECKPOINT_DIR).glob("step-*.pt"))


def _save_checkpoint(run_dir: Path, state: dict[str, Any], keep: int) -> Path:
    folder = run_dir / CHECKPOINT_DIR
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"step-{state['step']:08d}.pt"
    durable.save_with(path, lambda tmp: torch.save(state, tmp))
    for old in _checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def _optimizer(model: LabelClassifier, config: TrainConfig) -> torch.optim.AdamW:
    decay: list[torch.nn.Parameter] = []
    no_decay: list[torch.nn.Parameter] = []
    heads: list[torch.nn.Parameter] = []
    for name, p in model.named_parameters():
        if name.startswith("heads."):
            heads.append(p)
        else:
            (no_decay if p.ndim < 2 or "LayerNorm" in name or "norm" in name.lower() else decay).append(p)
    groups = [
        {"params": decay, "weight_decay": config.weight_decay},
        {"params": no_decay, "weight_decay": 0.0},
        {
            "params": heads,
            "weight_decay": config.weight_decay,
            "lr": config.head_learning_rate or config.learning_rate,
        },
    ]
    return torch.optim.AdamW(groups, lr=config.learning_rate)


def _schedule(total: int, warmup_ratio: float) -> Callable[[int], float]:
    warm = max(1, int(total * warmup_ratio))

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return max(0.0, (total - step) / max(1, total - warm))

    return factor


def _device(name: str) -> torch.device:
    if name.startswith("cuda") and not torch.cuda.is_available():
        raise ModelError(
            f"--device {name}: no CUDA GPU is available here (torch {torch.__version__}); use cpu"
        )
    return torch.device(name)


def train(
    data: TrainingData,
    config: TrainConfig,
    run_dir: str | Path,
    *,
    resume: bool = False,
    progress: bool = True,
    stderr: TextIO | None = None,
    on_step: Callable[[int, float], None] | None = None,
) -> TrainResult:
    """Train a model on ``data`` into ``run_dir`` (see the module for the folder's layout).

    Parameters
    ----------
    data
        The training set (:func:`~reportlab_nlp.classifier.dataset.build_dataset`).
    config
        The settings.
    run_dir
        The run's folder.
    resume
        Continue the run in ``run_dir`` from its last checkpoint; its settings
        (but device, threads and checkpoint frequency) and data must be unchanged.
    progress
        Show a progress bar (steps, loss) on ``stderr``.
    stderr
        Where progress and notes go (default ``sys.stderr``); never report text.
    on_step
        Called after every optimisation step with (step, loss).

    Raises
    ------
    ModelError
        ``run_dir`` holds another run and ``resume`` is false; or the settings
        or data differ from the run being resumed; or no GPU for ``cuda``.
    """
    err = stderr if stderr is not None else sys.stderr
    root = Path(run_dir)
    started = time.perf_counter()
    spec = ModelSpec(
        labels=tuple(data.labels),
        base=config.base,
        max_length=config.max_length,
        pooling=config.pooling,
        dropout=config.dropout,
    )
    fp = fingerprint(data)
    prior = _read_run(root)
    checkpoint_path: Path | None = None
    if prior is not None:
        if not resume:
            raise ModelError(
                f"{root} already holds a training run (step {prior.get('step', 0)} of "
                f"{prior.get('total_steps', '?')}); pass --resume to continue it, or choose another --out"
            )
        was = TrainConfig.from_dict(prior["config"], source=str(root / RUN_FILE)).identity()
        for key, now in config.identity().items():
            if was.get(key) != now:
                raise ModelError(
                    f"cannot resume the run in {root}: setting {key} was {was.get(key)!r}, now {now!r}; "
                    "resume with the same settings, or choose another --out"
                )
        if prior.get("fingerprint") != fp:
            raise ModelError(
                f"cannot resume the run in {root}: the training data changed (corpora, gold, rules or "
                "split); resume with the same inputs, or choose another --out"
            )
        found = _checkpoints(root)
        checkpoint_path = found[-1] if found else None
    elif resume:
        err.write(f"reportlab-nlp: nothing to resume in {root}; starting a new run\n")

    device = _device(config.device)
    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    tokenizer = load_tokenizer(config.max_length)
    train_ds = data.splits["train"]
    encoded = [e.ids for e in tokenizer.encode_batch(list(train_ds["text"]))]
    targets_all = torch.tensor(np.asarray(train_ds["targets"], dtype=np.int64).reshape(len(train_ds), -1))
    lengths = [len(e) for e in encoded]
    steps_per_epoch = math.ceil(len(encoded) / config.batch_size)
    total = steps_per_epoch * config.epochs
    if config.max_steps is not None:
        total = min(total, config.max_steps)

    model = build_model(spec, pretrained=True).to(device)
    optimizer = _optimizer(model, config)
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _schedule(total, config.warmup_ratio))
    weights = class_weights(train_ds["targets"], len(data.labels), config.class_weighting).to(device)

    step, epoch, batch_pos = 0, 0, 0
    history: list[dict[str, float]] = []
    if checkpoint_path is not None:
        state = torch.load(checkpoint_path, map_location=device, weights_only=False)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        torch.set_rng_state(state["rng"]["torch"])
        if device.type == "cuda" and state["rng"].get("cuda") is not None:
            torch.cuda.set_rng_state(state["rng"]["cuda"], device)
        np.random.set_state(state["rng"]["numpy"])
        random.setstate(state["rng"]["python"])
        step, epoch, batch_pos = int(state["step"]), int(state["epoch"]), int(state["batch"])
        history = list(state.get("history", []))
        err.write(f"reportlab-nlp: resuming {root} from step {step} of {total} ({checkpoint_path.name})\n")
    resumed_from = step if checkpoint_path is not None else None

    if prior is None:
        root.mkdir(parents=True, exist_ok=True)
        data.save(root / DATA_DIR)
    run_record: dict[str, Any] = {
        "format": RUN_FORMAT,
        "config": config.to_dict(),
        "spec": spec.to_dict(),
        "fingerprint": fp,
        "summary": data.summary,
        "status": "running",
        "step": step,
        "total_steps": total,
        "versions": _versions(),
    }
    _write_json(root / RUN_FILE, run_record)

    bar: Any = None
    if progress:
        from tqdm import tqdm

        bar = tqdm(total=total, initial=step, unit=" steps", file=err, mininterval=1.0, dynamic_ncols=True)
    model.train()
    last_loss: float | None = history[-1]["loss"] if history else None
    running: list[float] = []
    try:
        while step < total:
            batches = epoch_batches(lengths, config.batch_size, seed=config.seed, epoch=epoch)
            while batch_pos < len(batches) and step < total:
                idx = batches[batch_pos]
                ids, mask = pad_batch([encoded[i] for i in idx])
                logits = model(torch.from_numpy(ids).to(device), torch.from_numpy(mask).to(device))
                target = targets_all[idx].to(device)
                logp = torch.log_softmax(logits, dim=-1)
                nll = -logp.gather(-1, target.unsqueeze(-1)).squeeze(-1)  # (batch, labels)
                w = weights.gather(1, target.T).T  # weight of each cell's target class
                loss = (w * nll).sum() / w.sum()
                optimizer.zero_grad(set_to_none=True)
                loss.backward()  # type: ignore[no-untyped-call]
                torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
                optimizer.step()
                scheduler.step()
                step += 1
                batch_pos += 1
                last_loss = float(loss.detach())
                running.append(last_loss)
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{last_loss:.4f}", refresh=False)
                if on_step is not None:
                    on_step(step, last_loss)
                if step % config.checkpoint_every == 0 or step == total:
                    history.append({"step": step, "loss": float(np.mean(running))})
                    running = []
                    # where the next step starts: the next batch, or the next epoch's first
                    at_end = batch_pos >= len(batches)
                    _save_checkpoint(
                        root,
                        {
                            "step": step,
                            "epoch": epoch + 1 if at_end else epoch,
                            "batch": 0 if at_end else batch_pos,
                            "model": model.state_dict(),
                            "optimizer": optimizer.state_dict(),
                            "scheduler": scheduler.state_dict(),
                            "rng": {
                                "torch": torch.get_rng_state(),
                                "cuda": torch.cuda.get_rng_state(device) if device.type == "cuda" else None,
                                "numpy": np.random.get_state(),
                                "python": random.getstate(),
                            },
                            "history": history,
                            "fingerprint": fp,
                        },
                        config.keep_checkpoints,
                    )
                    _write_json(root / RUN_FILE, {**run_record, "step": step, "history": history})
            if batch_pos >= len(batches):
                epoch, batch_pos = epoch + 1, 0
    finally:
        if bar is not None:
            bar.close()

    # the final loss is the mean over the last checkpoint interval: the same figure
    # whether the run went straight through or was resumed (even after its last step)
    if history:
        last_loss = history[-1]["loss"]
    final = root / FINAL_DIR
    final.mkdir(parents=True, exist_ok=True)
    model.cpu()
    state_dict = model.state_dict()
    durable.save_with(final / WEIGHTS_FILE, lambda tmp: torch.save(state_dict, tmp))
    durable.write_json(final / SPEC_FILE, spec.to_dict(), ensure_ascii=True)
    durable.save_with(final / TOKENIZER_FILE, lambda tmp: tokenizer.save(str(tmp)))
    elapsed = time.perf_counter() - started
    _write_json(
        root / RUN_FILE,
        {
            **run_record,
            "status": "done",
            "step": step,
            "history": history,
            "final_loss": last_loss,
            "train_class_counts": class_counts(train_ds["targets"], data.labels),
            "seconds_last_session": round(elapsed, 1),
        },
    )
    return TrainResult(root, step, total, resumed_from, last_loss, elapsed, len(train_ds))


def load_trained(
    run_dir: str | Path, *, attention: str = "eager"
) -> tuple[LabelClassifier, ModelSpec, dict[str, Any]]:
    """The trained model of a finished run (eval mode, CPU), its spec and ``run.json``.

    Raises
    ------
    ModelError
        If the run has not finished (no ``final/`` weights).
    """
    root = Path(run_dir)
    run = _read_run(root)
    weights = root / FINAL_DIR / WEIGHTS_FILE
    if run is None or run.get("status") != "done" or not weights.is_file():
        raise ModelError(
            f"{root} holds no finished training run (run.json with status done and final/{WEIGHTS_FILE}); "
            "run reportlab-nlp train first, or resume it with --resume"
        )
    spec = ModelSpec.from_dict(json.loads((root / FINAL_DIR / SPEC_FILE).read_text(encoding="utf-8")))
    model = build_model(spec, pretrained=False, attention=attention)
    model.load_state_dict(torch.load(weights, map_location="cpu", weights_only=True))
    model.eval()
    return model, spec, run


def _versions() -> dict[str, str]:
    import transformers

    from .._version import __version__

    return {
        "reportlab-nlp": __version__,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }


__all__ = [
    "CLASS_WEIGHTINGS",
    "TrainConfig",
    "TrainResult",
    "class_weights",
    "epoch_batches",
    "fingerprint",
    "load_trained",
    "pad_batch",
    "set_seed",
    "train",
]
