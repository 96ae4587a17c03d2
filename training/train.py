"""LoRA / QLoRA fine-tuning of a base model on the cart-command data.

    python -m training.train --config training/configs/gemma3-270m.yaml
    python -m training.train --config training/configs/gemma3-270m.yaml --resume   # after an interruption

The loss covers only the answer tokens: the catalog and the shopper's text are context, never
targets. Logits are computed at those few positions only, because Gemma's 262k-entry vocabulary
makes full-sequence logits the single most expensive part of a step (2.4x slower here).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from app.prompt import (
    ENTRY_HEADER,
    USER_CUE,
    answer_pieces,
    catalog_prefix,
    entry_piece,
    paper_completion,
    paper_prompt,
    query_suffix,
)
from training.config import load_config
from training.jsonl import read_jsonl

IGNORE = -100


@dataclass
class TrainConfig:
    base: str = "gemma3-270m"  # a packaged base, or any HF model id / directory
    mode: str = "compact"  # "compact": our short answer; "paper": the study's prompt and JSON
    train_file: str = "data/train.jsonl"
    val_file: str = "data/val.jsonl"
    out_dir: str = "runs/gemma3-270m"
    seed: int = 0
    steps: int = 350
    batch_size: int = 16
    lr: float = 3e-4
    warmup_steps: int = 20
    min_lr_ratio: float = 0.1
    weight_decay: float = 0.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.05
    target_modules: list[str] = field(
        default_factory=lambda: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]
    )
    qlora: str = "auto"  # "auto": NF4 4-bit base when CUDA is present; "on" / "off" to force
    threads: int = 2
    bf16: bool = True  # bf16 autocast: 1.3-1.5x faster than fp32 with AMX; off where the CPU lacks bf16 (native_bf16)
    max_length: int = 512  # tokens; a 20-item catalog plus text is about 150
    # Rows encoded with independent entries (app.prompt: each entry sees only the header and itself,
    # at the same positions; the shopper's text sees all), the rest with ordinary causal attention.
    # Training on both lets one model serve either way; a batch holds rows of one kind only.
    p_independent_entries: float = 0.0
    # Rows whose catalog has more than this many entries go in batches of `long_batch_size` (their
    # own pool), so a 200-entry row does not pad fifteen 12-entry rows to 1,500 tokens.
    long_catalog_entries: int = 40
    long_batch_size: int = 4
    max_long_length: int = 2048  # tokens, for rows with independent entries (positions stay short)
    eval_every: int = 50
    eval_rows: int = 192
    save_every: int = 50
    # Also keep the adapter every this many steps as <out_dir>/adapter-step<N>, for choosing a
    # checkpoint on the dev split or souping several (python -m training.soup). None: only the last.
    snapshot_every: int | None = None
    max_train_rows: int | None = None
    # Start from this PEFT adapter (a directory) instead of a fresh LoRA: continued training on new
    # data. Its rank and modules win over lora_r / target_modules.
    init_adapter: str | None = None
    # Wall-clock budget (s): after the warm-up steps the step count is cut to what fits, so the cosine
    # schedule still ends at min_lr. For a lent GPU with a hard time box; None trains all `steps`.
    time_budget_s: float | None = None


@dataclass
class Example:
    ids: list[int]
    labels: list[int]  # IGNORE on the prompt
    # Independent entries only: each token's position, and its segment (0 the header, i >= 1 the
    # i-th entry, -1 the shopper's part and the answer). None: causal, positions 0..n-1.
    positions: list[int] | None = None
    segments: list[int] | None = None
    long: bool = False

    @property
    def pool(self) -> tuple[bool, bool]:
        return self.segments is not None, self.long


def encode(tokenizer: Any, row: dict[str, Any], mode: str, independent: bool = False) -> Example:
    """Token ids and labels (IGNORE on the prompt) built piece by piece, exactly as served."""

    def ids(text: str) -> list[int]:
        return list(tokenizer(text, add_special_tokens=False)["input_ids"])

    start = list(tokenizer("", add_special_tokens=True)["input_ids"])  # BOS where the model uses one
    if mode == "paper":
        prompt = start + ids(paper_prompt(row["catalog"], row["text"]) + "\n")
        answer = ids(paper_completion(row["intent"], row["product"], row["quantity"]))
        answer.append(tokenizer.eos_token_id)
        return Example(prompt + answer, [IGNORE] * len(prompt) + answer)
    answer = [t for piece in answer_pieces(row["intent"], row["product"], row["quantity"]) for t in ids(piece)]
    if not independent:
        prompt = start + ids(catalog_prefix(row["catalog"])) + ids(query_suffix(row["text"]))
        return Example(prompt + answer, [IGNORE] * len(prompt) + answer)
    header = start + ids(ENTRY_HEADER)
    tokens, positions, segments = list(header), list(range(len(header))), [0] * len(header)
    widest = 0
    for i, entry in enumerate(row["catalog"], start=1):
        piece = ids(entry_piece(entry))
        tokens += piece
        positions += range(len(header), len(header) + len(piece))
        segments += [i] * len(piece)
        widest = max(widest, len(piece))
    tail = ids(USER_CUE) + ids(query_suffix(row["text"])) + answer
    tokens += tail
    positions += range(len(header) + widest, len(header) + widest + len(tail))
    segments += [-1] * len(tail)
    labels = [IGNORE] * (len(tokens) - len(answer)) + answer
    return Example(tokens, labels, positions, segments)


def attention_mask_4d(segments: list[list[int]], width: int) -> Any:
    """Boolean (batch, 1, width, width) mask: key k is visible to query q when k <= q and k is in the
    header, in q's own entry, or q is in the shopper's part. Padding sees only itself (no empty row)."""
    import torch

    mask = torch.zeros((len(segments), 1, width, width), dtype=torch.bool)
    causal = torch.ones((width, width), dtype=torch.bool).tril()
    for b, seg in enumerate(segments):
        n = len(seg)
        s = torch.tensor(seg)
        visible = (s[None, :] == 0) | (s[:, None] == -1) | (s[:, None] == s[None, :])
        mask[b, 0, :n, :n] = visible & causal[:n, :n]
        idx = torch.arange(n, width)
        mask[b, 0, idx, idx] = True
    return mask


def collate(examples: list[Example], pad_id: int) -> dict[str, Any]:
    import torch

    width = max(len(ex.ids) for ex in examples)
    input_ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for i, ex in enumerate(examples):
        input_ids[i, : len(ex.ids)] = torch.tensor(ex.ids)
        labels[i, : len(ex.labels)] = torch.tensor(ex.labels)
        mask[i, : len(ex.ids)] = 1
    batch: dict[str, Any] = {"input_ids": input_ids, "labels": labels, "attention_mask": mask}
    if examples[0].segments is not None:
        if any(ex.segments is None or ex.positions is None for ex in examples):
            raise ValueError("a batch mixes causal rows and rows with independent entries")
        positions = torch.zeros((len(examples), width), dtype=torch.long)
        for i, ex in enumerate(examples):
            assert ex.positions is not None
            positions[i, : len(ex.positions)] = torch.tensor(ex.positions)
            positions[i, len(ex.positions):] = ex.positions[-1] + 1 + torch.arange(width - len(ex.positions))
        batch["attention_mask"] = attention_mask_4d([ex.segments or [] for ex in examples], width)
        batch["position_ids"] = positions
    return batch


def answer_loss(model: Any, batch: dict[str, Any]) -> tuple[Any, Any, Any]:
    """Cross-entropy over the answer tokens only; also returns argmax hits for a cheap accuracy."""
    import torch.nn.functional as F

    causal_lm = model.get_base_model() if hasattr(model, "get_base_model") else model
    hidden = causal_lm.model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"],
                             position_ids=batch.get("position_ids")).last_hidden_state
    targets = batch["labels"][:, 1:]
    selected = targets != IGNORE
    logits = causal_lm.lm_head(hidden[:, :-1][selected]).float()
    cap = getattr(causal_lm.config, "final_logit_softcapping", None)
    if cap:
        logits = (logits / cap).tanh() * cap
    gold = targets[selected]
    loss = F.cross_entropy(logits, gold)
    hits = (logits.argmax(-1) == gold).long()
    # A row is right when all its answer tokens are.
    row_ids = selected.nonzero()[:, 0]
    wrong_rows = row_ids[hits == 0].unique()
    return loss, hits.float().mean(), 1 - len(wrong_rows) / batch["input_ids"].shape[0]


def load_model(config: TrainConfig) -> tuple[Any, Any]:
    import torch
    from peft import LoraConfig, get_peft_model, prepare_model_for_kbit_training
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from training.models import hf_dir

    source = hf_dir(config.base)
    tokenizer = AutoTokenizer.from_pretrained(source)
    use_4bit = config.qlora == "on" or (config.qlora == "auto" and torch.cuda.is_available())
    kwargs: dict[str, Any] = {"dtype": torch.float32}
    if use_4bit:
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
        )
        kwargs["device_map"] = {"": 0} if torch.cuda.is_available() else {"": "cpu"}
    model = AutoModelForCausalLM.from_pretrained(source, **kwargs)
    if use_4bit:
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    elif torch.cuda.is_available():
        model = model.cuda()
    if config.init_adapter:
        from peft import PeftModel

        return PeftModel.from_pretrained(model, config.init_adapter, is_trainable=True), tokenizer
    lora = LoraConfig(
        r=config.lora_r,
        lora_alpha=config.lora_alpha,
        lora_dropout=config.lora_dropout,
        target_modules=config.target_modules,
        task_type="CAUSAL_LM",
    )
    return get_peft_model(model, lora), tokenizer


def lr_at(step: int, config: TrainConfig) -> float:
    if step < config.warmup_steps:
        return config.lr * (step + 1) / config.warmup_steps
    progress = (step - config.warmup_steps) / max(1, config.steps - config.warmup_steps)
    cosine = 0.5 * (1 + math.cos(math.pi * min(1.0, progress)))
    return config.lr * (config.min_lr_ratio + (1 - config.min_lr_ratio) * cosine)


def evaluate(model: Any, rows: list[Example], pad_id: int, batch_size: int, device: Any) -> dict[str, float]:
    import torch

    model.eval()
    losses, exact = [], []
    with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16):
        for i in range(0, len(rows), batch_size):
            batch = {k: v.to(device) for k, v in collate(rows[i : i + batch_size], pad_id).items()}
            loss, _, row_acc = answer_loss(model, batch)
            losses.append(float(loss))
            exact.append(float(row_acc))
    model.train()
    return {"val_loss": sum(losses) / len(losses), "val_exact": sum(exact) / len(exact)}


def native_bf16() -> bool:
    """Whether bf16 matrix products run natively here: a GPU, or a CPU with AVX512-BF16 or AMX."""
    import torch

    from app.doctor import cpu_info

    return torch.cuda.is_available() or bool(cpu_info().flags & {"avx512_bf16", "amx_bf16"})


def train(config: TrainConfig, resume: bool = False) -> Path:
    import torch
    from tqdm import tqdm

    torch.set_num_threads(config.threads)
    if config.bf16 and not native_bf16():
        # Measured on the AVX2-only EPYC: no step finished in 7 minutes under bf16 autocast
        # (emulated), against about 9 s per step in bf16 on the AVX-512 + AMX Xeon.
        print(f"bf16 autocast off: this CPU ({torch.backends.cpu.get_cpu_capability()}) has no bf16 "
              "instructions, so it would be emulated, many times slower than fp32")
        config = replace(config, bf16=False)
    random.seed(config.seed)
    torch.manual_seed(config.seed)
    out = Path(config.out_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "train_config.json").write_text(json.dumps(asdict(config), indent=2))

    model, tokenizer = load_model(config)
    device = next(model.parameters()).device
    pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    train_rows = read_jsonl(config.train_file)[: config.max_train_rows]
    choose = random.Random(config.seed + 1)  # its own stream: which rows get independent entries
    train_set = []
    for row in train_rows:
        long = len(row["catalog"]) > config.long_catalog_entries
        independent = long or choose.random() < config.p_independent_entries
        example = encode(tokenizer, row, config.mode, independent)
        example.long = long
        if len(example.ids) <= (config.max_long_length if long else config.max_length):
            train_set.append(example)
    val_rows = read_jsonl(config.val_file)[: config.eval_rows]
    val_sets = {"": [encode(tokenizer, row, config.mode) for row in val_rows]}
    if config.p_independent_entries:
        val_sets["_independent"] = [encode(tokenizer, row, config.mode, True) for row in val_rows]
    pools: dict[tuple[bool, bool], list[int]] = {}
    for i, example in enumerate(train_set):
        pools.setdefault(example.pool, []).append(i)
    print("train rows by (independent entries, long catalog):", {k: len(v) for k, v in sorted(pools.items())})

    def epoch() -> list[list[int]]:
        """Every row once, in batches of one pool each, the batches shuffled."""
        batches = []
        for (_independent, long), members in sorted(pools.items()):
            size = config.long_batch_size if long else config.batch_size
            order = random.sample(members, len(members))
            batches += [order[i : i + size] for i in range(0, len(order) - size + 1, size)]
        random.shuffle(batches)
        return batches

    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    start_step = 0
    checkpoint = out / "checkpoint.pt"
    if resume and checkpoint.exists():
        state = torch.load(checkpoint, weights_only=False)
        model.load_state_dict(state["model"], strict=False)
        optimizer.load_state_dict(state["optimizer"])
        start_step = state["step"]
        random.setstate(state["python_rng"])
        print(f"resumed from step {start_step}")

    queue: list[list[int]] = []
    log = (out / "log.jsonl").open("a")
    bar = tqdm(range(start_step, config.steps), initial=start_step, total=config.steps, desc="train", unit="step")
    started = time.time()
    model.train()
    for step in bar:
        if not queue:
            queue = epoch()
        batch_ids = queue.pop()
        batch = {k: v.to(device) for k, v in collate([train_set[i] for i in batch_ids], pad_id).items()}
        for group in optimizer.param_groups:
            group["lr"] = lr_at(step, config)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=config.bf16):
            loss, token_acc, row_acc = answer_loss(model, batch)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        record: dict[str, Any] = {"step": step + 1, "loss": float(loss), "token_acc": float(token_acc),
                                  "row_acc": float(row_acc), "lr": lr_at(step, config)}
        bar.set_postfix(loss=f"{float(loss):.3f}", acc=f"{float(row_acc):.2f}")
        if (step + 1) % config.eval_every == 0 or step + 1 == config.steps:
            for suffix, val_set in val_sets.items():
                scores = evaluate(model, val_set, pad_id, config.batch_size, device)
                record.update({key + suffix: value for key, value in scores.items()})
            bar.write(f"step {step + 1}: " + " ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith("val")))
        log.write(json.dumps(record) + "\n")
        log.flush()
        if config.time_budget_s and step + 1 == start_step + config.warmup_steps:
            per_step = (time.time() - started) / config.warmup_steps
            fits = step + 1 + int((config.time_budget_s - (time.time() - started)) / per_step)
            if fits < config.steps:
                bar.write(f"time budget {config.time_budget_s:.0f} s at {per_step * 1000:.0f} ms/step: {fits} steps")
                config.steps = max(fits, step + 2)
                bar.total = config.steps
        if (step + 1) % config.save_every == 0 or step + 1 == config.steps:
            trainable = {k: v for k, v in model.state_dict().items() if "lora_" in k}
            torch.save({"model": trainable, "optimizer": optimizer.state_dict(), "step": step + 1,
                        "python_rng": random.getstate()}, checkpoint)
        if config.snapshot_every and (step + 1) % config.snapshot_every == 0 and step + 1 < config.steps:
            model.save_pretrained(out / f"adapter-step{step + 1}")
        overrun = config.time_budget_s is not None and time.time() - started > config.time_budget_s * 1.1
        if step + 1 >= config.steps or overrun:
            config.steps = step + 1
            break
    adapter_dir = out / "adapter"
    model.save_pretrained(adapter_dir)
    tokenizer.save_pretrained(adapter_dir)
    minutes = (time.time() - started) / 60
    summary = {"steps": config.steps, "minutes": round(minutes, 1), "train_rows": len(train_set)}
    (out / "summary.json").write_text(json.dumps(summary, indent=2))
    print(f"adapter saved to {adapter_dir} after {minutes:.1f} min")
    return adapter_dir


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True)
    parser.add_argument("--resume", action="store_true")
    parser.add_argument("--steps", type=int)
    parser.add_argument("--out-dir")
    args = parser.parse_args(argv)
    config = load_config(TrainConfig, args.config, steps=args.steps, out_dir=args.out_dir)
    train(config, resume=args.resume)


if __name__ == "__main__":
    main()
