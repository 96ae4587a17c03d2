"""Fold the LoRA adapter into the base GGUF, without torch: the served model file.

    python -m app.merge BASE.gguf ADAPTER.gguf OUT.gguf

llama.cpp applies a runtime LoRA as extra matrix products in every layer, which a merged file
does without. Merging naively, then requantizing to Q4_K_M, loses part of the fine-tune: the LoRA
delta drowns in 4-bit steps. So only the weights the adapter touches change: each is dequantized,
gets ``alpha / rank * B @ A`` added, and is stored at Q8_0, fine enough to keep the delta. The
tied token embedding (also the LM head, most of the file) can be requantized (``embedding_type``;
the service uses Q4_0, whose repacked kernels make the LM head cheap); everything else is copied
byte for byte. Pure numpy through llama.cpp's own gguf-py. The formats' speed and accuracy, as
measured: docs/results.md and docs/experiments.md.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

import numpy as np

MERGED_TYPE_NAME = "Q8_0"


def requantize(tensor: Any, type_name: str, rows_per_chunk: int = 16384) -> np.ndarray[Any, Any]:
    """A quantized tensor at another type, a chunk of rows at a time (the embedding is 262k rows)."""
    import gguf
    from gguf.quants import dequantize, quantize

    kind = gguf.GGMLQuantizationType[type_name]
    chunks = [quantize(dequantize(tensor.data[i : i + rows_per_chunk], tensor.tensor_type), kind)
              for i in range(0, tensor.data.shape[0], rows_per_chunk)]
    return np.concatenate(chunks)


def merge_lora(base: Path, adapter: Path, out: Path, scale: float = 1.0, embedding_type: str | None = None,
               block_type: str = MERGED_TYPE_NAME) -> Path:
    import gguf
    from gguf.quants import dequantize, quantize

    started = time.perf_counter()
    reader = gguf.GGUFReader(base)
    lora = gguf.GGUFReader(adapter)
    alpha = float(lora.fields["adapter.lora.alpha"].contents())
    pairs: dict[str, dict[str, Any]] = {}
    for tensor in lora.tensors:
        adapted, part = tensor.name.rsplit(".", 1)
        pairs.setdefault(adapted, {})[part] = tensor
    names = {t.name for t in reader.tensors}
    if missing := sorted(set(pairs) - names):
        raise ValueError(f"{adapter} adapts tensors {base} lacks: {missing[:3]} (another base model?)")

    block_kind = gguf.GGMLQuantizationType[block_type]
    replaced: dict[str, tuple[np.ndarray[Any, Any], Any]] = {}  # name -> (data, quantization type)
    for tensor in reader.tensors:
        if tensor.name not in pairs:
            continue
        a = np.asarray(pairs[tensor.name]["lora_a"].data, dtype=np.float32)  # (rank, n_in)
        b = np.asarray(pairs[tensor.name]["lora_b"].data, dtype=np.float32)  # (n_out, rank)
        weight = dequantize(tensor.data, tensor.tensor_type).astype(np.float32)  # (n_out, n_in)
        if weight.shape != (b.shape[0], a.shape[1]):
            raise ValueError(f"{tensor.name}: base {weight.shape} vs adapter {b.shape} @ {a.shape}")
        weight += (scale * alpha / a.shape[0]) * (b @ a)
        replaced[tensor.name] = (quantize(weight, block_kind), block_kind)
    if embedding_type:  # requantize the (tied) embedding, which is also the LM head
        embedding = next(t for t in reader.tensors if t.name == "token_embd.weight")
        replaced[embedding.name] = (requantize(embedding, embedding_type), gguf.GGMLQuantizationType[embedding_type])

    arch = str(reader.fields[gguf.Keys.General.ARCHITECTURE].contents())
    tmp = out.with_suffix(".partial")
    writer = gguf.GGUFWriter(tmp, arch=arch, endianess=reader.endianess)
    for field in reader.fields.values():
        if field.name == gguf.Keys.General.ARCHITECTURE or field.name.startswith("GGUF."):
            continue
        value_type = field.types[0]
        sub_type = field.types[-1] if value_type == gguf.GGUFValueType.ARRAY else None
        writer.add_key_value(field.name, field.contents(), value_type, sub_type=sub_type)
    writer.add_string("shopintent.merged_adapter", adapter.name)
    for tensor in reader.tensors:
        data, kind = replaced.get(tensor.name, (tensor.data, tensor.tensor_type))
        writer.add_tensor_info(tensor.name, data.shape, data.dtype, data.nbytes, kind)
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_ti_data_to_file()
    for tensor in reader.tensors:
        data, _kind = replaced.get(tensor.name, (tensor.data, tensor.tensor_type))
        writer.write_tensor_data(data, tensor_endianess=reader.endianess)
    writer.close()
    tmp.replace(out)  # a half-written file never looks like a model
    print(f"merged {len(pairs)} adapted tensors at {block_type} into {out} "
          f"({out.stat().st_size / 1e6:.0f} MB) in {time.perf_counter() - started:.0f} s")
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("base", type=Path)
    parser.add_argument("adapter", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--block-type", default=MERGED_TYPE_NAME,
                        help="type of the adapted weights (Q4_0 is faster but too coarse for the LoRA delta: "
                        "docs/experiments.md)")
    parser.add_argument("--embedding-type", help="requantize the token embedding (tied LM head) to this type")
    args = parser.parse_args(argv)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    merge_lora(args.base, args.adapter, args.out, embedding_type=args.embedding_type, block_type=args.block_type)


if __name__ == "__main__":
    main()
