"""HF transformers on CPU or CUDA: fp32 / bf16 / fp16, a PEFT adapter, or a GPTQ checkpoint.

The same always-valid contract as llama.cpp: the decoder walks the same token tries, reading the
model's logits only for the allowed tokens (a logits mask, in effect), and forced tokens are fed
without a decision. Requests are served one at a time by a worker thread holding the model; the
catalog prefix is evaluated once per distinct catalog and its KV cache reused (bounded LRU).
"""

from __future__ import annotations

import copy
import queue
import threading
import time
from collections import OrderedDict
from typing import Any

from app.backends.base import BackendError, ModelLoadError, Query, Result
from app.backends.queued import Job, QueuedBackend
from app.core import metrics
from app.decoding import AnswerDecoder, Grammar, Node, build_product_trie
from app.prompt import catalog_prefix, query_suffix


class HFBackend(QueuedBackend):
    name = "hf"

    def __init__(self, model: str, adapter: str | None = None, *, dtype: str = "auto", device: str | None = None,
                 model_name: str = "", max_quantity: int = 999, queue_size: int = 256, cache_entries: int = 32,
                 warmup: bool = True, no_product_bias: float = 0.0, other_bias: float = 0.0,
                 attribute_bias: float = 0.0, word_bias: float = 0.0) -> None:
        self.model_id = model
        self.adapter: str | None = adapter
        self.base: str | None = model
        self.model_name = model_name or f"hf:{model}"
        self.dtype_name = dtype
        self.device_name = device
        self.max_quantity = max_quantity
        self.cache_entries = cache_entries
        self.warmup = warmup
        self.no_product_bias = no_product_bias
        self.other_bias = other_bias
        self.attribute_bias = attribute_bias
        self.word_bias = word_bias
        self.format = "hf"
        super().__init__(queue_size)
        self._prefixes: OrderedDict[tuple[str, ...], tuple[Any, int, Node]] = OrderedDict()
        self.load_seconds = 0.0

    def start(self) -> None:
        started = time.perf_counter()
        try:
            import torch
            from transformers import AutoModelForCausalLM, AutoTokenizer
        except ImportError as exc:
            raise ModelLoadError("the hf backend needs torch and transformers (pip install '.[train]')") from exc
        self._torch = torch
        device = self.device_name or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}.get(
            self.dtype_name, torch.float16 if device == "cuda" else torch.float32)
        try:
            self.tokenizer = AutoTokenizer.from_pretrained(self.model_id)
            model = AutoModelForCausalLM.from_pretrained(self.model_id, dtype=dtype)
            if self.adapter:
                from peft import PeftModel

                model = PeftModel.from_pretrained(model, self.adapter).merge_and_unload()
        except Exception as exc:
            raise ModelLoadError(f"could not load {self.model_id}: {exc}") from exc
        self.model = model.to(device).eval()
        self.device = torch.device(device)
        self.format = f"hf-{str(dtype).removeprefix('torch.')}" + ("+lora" if self.adapter else "")
        quant = getattr(self.model.config, "quantization_config", None)
        if quant is not None:
            method = quant.get("quant_method") if isinstance(quant, dict) else getattr(quant, "quant_method", "")
            self.format = f"hf-{method}"
        self._bos = list(self.tokenizer("", add_special_tokens=True)["input_ids"])
        self.grammar = Grammar.build(self.tokenize, self.max_quantity, self.no_product_bias, self.other_bias,
                                     self.attribute_bias, self.word_bias)
        self._thread = threading.Thread(target=self._run, name="hf-worker", daemon=True)
        self._thread.start()
        if self.warmup:
            self.classify_sync([Query("add 2 apples", ("Apples", "Milk"))], timeout_s=300)
        self.load_seconds = time.perf_counter() - started
        metrics.MODEL_LOAD_SECONDS.set(self.load_seconds)

    def tokenize(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=30)

    # -- worker ----------------------------------------------------------------------------------
    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                job: Job = self._queue.get(timeout=0.05)
            except queue.Empty:
                continue
            if not self._claim(job):
                continue
            started = time.perf_counter()
            try:
                job.future.set_result(self._answer(job.query))
                self._record_work(time.perf_counter() - started, job.cost)
            except Exception as exc:
                job.future.set_exception(BackendError(f"model failure: {exc}"))

    def _forward(self, ids: list[int], cache: Any) -> tuple[Any, Any]:
        torch = self._torch
        with torch.inference_mode():
            out = self.model(input_ids=torch.tensor([ids], device=self.device), past_key_values=cache,
                             use_cache=True, logits_to_keep=1)
        return out.logits[0, -1].float().cpu(), out.past_key_values

    def _prefix(self, catalog: tuple[str, ...]) -> tuple[Any, int, Node]:
        entry = self._prefixes.get(catalog)
        if entry is not None:
            self._prefixes.move_to_end(catalog)
            metrics.PREFIX_CACHE.labels("hit").inc()
            return entry
        metrics.PREFIX_CACHE.labels("miss").inc()
        ids = self._bos + self.tokenize(catalog_prefix(list(catalog)))
        _, cache = self._forward(ids, None)
        entry = (cache, len(ids), build_product_trie(self.tokenize, catalog))
        self._prefixes[catalog] = entry
        while len(self._prefixes) > self.cache_entries:
            self._prefixes.popitem(last=False)
        return entry

    def _answer(self, query: Query) -> Result:
        cache, _, products = self._prefix(query.catalog)
        cache = copy.deepcopy(cache)  # the shared prefix must stay clean for the next request
        decoder = AnswerDecoder(self.grammar, products, query.text)
        pending = self.tokenize(query_suffix(query.text))
        while True:
            logits, cache = self._forward(pending, cache)
            decoder.choose(logits)
            if decoder.done:
                break
            pending, decoder.pending = decoder.pending, []
        answer = decoder.answer
        assert answer is not None
        return Result(answer.intent, answer.product, answer.quantity, answer.confidence)
